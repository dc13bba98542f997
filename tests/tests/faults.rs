//! Faults injected while a probe replays a capture: the controller killed with SIGKILL and
//! restarted, PostgreSQL stopped for 20 s, the probe killed and restarted from its spool, and
//! the same batches delivered twice. The totals in PostgreSQL are exact every time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wirewatch_e2e::*;

/// 590 s of traffic, 3,905 frames, 521 addresses: 5 s intervals make ~118 batches; at 30×
/// the replay takes ~20 s.
const FILE: &str = "gnutella.pcap";
const SPEED: &str = "30";
const INTERVAL: u32 = 5;

fn committed(pg: &Pg, probe: &str) -> i64 {
    pg.psql(
        "ww",
        &format!("SELECT count(*) FROM batches b JOIN probes p ON p.id = b.probe_id WHERE p.name = '{probe}'"),
    )
    .ok()
    .and_then(|s| s.parse().ok())
    .unwrap_or(-1)
}

struct Setup {
    pg: Pg,
    dir: tempfile::TempDir,
    c: Controller,
    id: PathBuf,
}

fn setup() -> Setup {
    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let c = Controller::start(&dir.path().join("c1"), &url, "c1", free_udp_port(), &[]);
    let id = c.enroll("p", "lab", dir.path());
    Setup { pg, dir, c, id }
}

#[test]
fn controller_killed_with_sigkill_and_restarted() {
    let mut s = setup();
    let mut p = Probe::replay(&[s.c.quic], &s.id, &[pcaps().join(FILE)], SPEED, INTERVAL);
    wait_until("20 batches committed", Duration::from_secs(120), || committed(&s.pg, "p") >= 20);
    s.c.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    s.c.restart();
    assert_eq!(p.wait(Duration::from_secs(240)), Some(0), "probe exit");
    assert!(committed(&s.pg, "p") > 40);
    assert_exact(&s.c, "p", FILE);
    drop(s.dir);
}

#[test]
fn postgres_stopped_for_20_seconds() {
    let mut s = setup();
    let mut p = Probe::replay(&[s.c.quic], &s.id, &[pcaps().join(FILE)], SPEED, INTERVAL);
    wait_until("10 batches committed", Duration::from_secs(120), || committed(&s.pg, "p") >= 10);
    s.pg.stop();
    std::thread::sleep(Duration::from_secs(20));
    s.pg.resume();
    assert_eq!(p.wait(Duration::from_secs(240)), Some(0), "probe exit");
    // The controller stayed up through the outage and answered "retry" meanwhile.
    assert!(s.c.child.try_wait().expect("status").is_none(), "controller died");
    let m = s.c.metrics_text();
    assert!(m.contains("wirewatch_batches_total{outcome=\"retry\"}"), "no retried batch seen: {m}");
    assert_exact(&s.c, "p", FILE);
}

/// Copies every batch file that appears in `spool` to `stash` until `stop`.
fn stash_batches(spool: PathBuf, stash: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::fs::create_dir_all(&stash).expect("stash dir");
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            for e in std::fs::read_dir(&spool).into_iter().flatten().flatten() {
                let name = e.file_name();
                if name.to_string_lossy().ends_with(".batch") && !stash.join(&name).exists() {
                    let _ = std::fs::copy(e.path(), stash.join(&name));
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.flatten().count()).unwrap_or(0)
}

#[test]
fn probe_killed_and_restarted_from_its_spool_then_batches_delivered_twice() {
    let s = setup();
    let stash = s.dir.path().join("stash");
    let stop = Arc::new(AtomicBool::new(false));
    let copier = stash_batches(s.id.join("spool"), stash.clone(), stop.clone());
    let mut p = Probe::replay(&[s.c.quic], &s.id, &[pcaps().join(FILE)], SPEED, INTERVAL);
    wait_until("20 batches committed", Duration::from_secs(120), || committed(&s.pg, "p") >= 20);
    p.kill9();
    std::thread::sleep(Duration::from_millis(500));
    p.restart();
    assert_eq!(p.wait(Duration::from_secs(240)), Some(0), "probe exit after restart");
    stop.store(true, Ordering::Relaxed);
    copier.join().expect("copier");
    assert_exact(&s.c, "p", FILE);
    let batches = s.pg.scalar("ww", "SELECT count(*) FROM batches");

    // Deliver batches a second time: put copies of already-acknowledged batches back in the
    // spool and start the probe again (its run is complete, so it only delivers the spool).
    let copied = count_files(&stash);
    assert!(copied >= 10, "only {copied} batch files seen");
    for e in std::fs::read_dir(&stash).expect("stash").flatten() {
        std::fs::copy(e.path(), s.id.join("spool").join(e.file_name())).expect("copy back");
    }
    p.restart();
    assert_eq!(p.wait(Duration::from_secs(120)), Some(0), "probe exit after redelivery");
    assert_eq!(count_files(&s.id.join("spool")), 1, "only state.json left in the spool");
    assert_eq!(s.pg.scalar("ww", "SELECT count(*) FROM batches"), batches, "no batch stored twice");
    let m = s.c.metrics_text();
    let dup: u64 = m
        .lines()
        .find(|l| l.starts_with("wirewatch_batches_total{outcome=\"duplicate\"}"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(dup >= copied as u64, "duplicates acknowledged: {dup} of {copied}");
    assert_exact(&s.c, "p", FILE);
}
