//! A looping replay (`wirewatch-probe run --read FILE --replay-speed 1 --loop`) into a real
//! controller: every pass is moved to now and stored exactly once, intervals only move forward,
//! a restarted looping probe numbers after what it sent, and the adversarial captures (empty,
//! one packet) neither spin nor break anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wirewatch_e2e::*;
use wirewatch_probe::run::{LoopOutcome, Speed};
use wirewatch_probe::{RunConfig, RunOutcome, Source};

fn lab() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/lab.pcap")
}

/// Every frame's length on the wire, in file order.
fn wire_lens(path: &Path) -> Vec<u64> {
    let mut r = wirewatch_probe::capture::file::FileReader::open(path).expect("open");
    let mut v = Vec::new();
    while let Some(f) = r.next_frame().expect("frame") {
        v.push(f.wire_len);
    }
    v
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().expect("now")
}

fn config(c: &Controller, identity: &Path, file: &Path) -> RunConfig {
    RunConfig {
        controllers: vec![c.quic.to_string()],
        identity: identity.to_path_buf(),
        spool_dir: identity.join("spool"),
        spool_bounds: wirewatch_probe::spool::Bounds::default(),
        max_batch_bytes: wirewatch_wire::DEFAULT_MAX_BATCH,
        interval: Duration::from_secs(1),
        limits: wirewatch_probe::Limits::default(),
        source: Source::Replay { files: vec![file.to_path_buf()], speed: Speed::Factor(1.0), looping: true },
    }
}

/// Runs a looping probe in this process until `until` says so, then stops it.
fn run_until(cfg: RunConfig, mut until: impl FnMut() -> bool, limit: Duration) -> (RunOutcome, LoopOutcome) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let probe = std::thread::spawn(move || wirewatch_probe::run(cfg, s));
    wait_until("the looping replay to come far enough", limit, &mut until);
    stop.store(true, Ordering::Relaxed);
    let outcome = probe.join().expect("probe thread").expect("run");
    let looped = outcome.looped.clone().expect("a looping outcome");
    (outcome, looped)
}

/// (seq, interval start, interval end) of every stored batch, by sequence.
fn batches(pg: &Pg, db: &str) -> Vec<(i64, i64, i64)> {
    let text = pg
        .psql(db, "SELECT seq || ' ' || interval_start_ns || ' ' || interval_end_ns FROM batches ORDER BY seq")
        .expect("batches");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<i64> = l.split_whitespace().map(|x| x.parse().expect("number")).collect();
            (v[0], v[1], v[2])
        })
        .collect()
}

fn stored_bytes(pg: &Pg, db: &str) -> i64 {
    pg.scalar(db, "SELECT coalesce(sum(bytes), 0)::bigint FROM interfaces")
}

#[test]
fn a_looping_replay_stores_each_pass_at_now_once_and_a_restart_numbers_after_it() {
    let pg = Pg::start();
    let db = "lp";
    let url = pg.create_db(db);
    let dir = scratch();
    let c = Controller::start(&dir.path().join("ctl"), &url, "lp-ctl", free_udp_port(), &[]);
    let id = c.enroll("looper", "s", dir.path());
    let lens = wire_lens(&lab());
    let pass_bytes: u64 = lens.iter().sum();
    let prefix = |frames: u64| -> u64 { lens[..frames as usize].iter().sum() };

    // Run 1: stopped halfway through a pass once two passes are stored (~2.5 passes of the
    // capture's 1.9 s), whatever the machine's speed.
    let t0 = now_ns();
    let mut two_stored: Option<Instant> = None;
    let (out, l1) = run_until(
        config(&c, &id, &lab()),
        || {
            if two_stored.is_none() && stored_bytes(&pg, db) >= 2 * pass_bytes as i64 {
                two_stored = Some(Instant::now());
            }
            two_stored.is_some_and(|t| t.elapsed() >= Duration::from_millis(900))
        },
        Duration::from_secs(60),
    );
    let t1 = now_ns();
    assert!(out.delivered && !out.incomplete, "the stopped loop delivered its spool: {out:?}");
    assert!(out.read_errors.is_empty(), "{:?}", out.read_errors);
    assert!(l1.passes >= 2, "{l1:?}");
    assert!(l1.partial_frames <= lens.len() as u64, "{l1:?}");
    assert_eq!(l1.partial_bytes, prefix(l1.partial_frames), "the stopped pass counted a prefix of the capture");
    // Exactly what was read: every complete pass, and the part of the pass in progress.
    let expected1 = l1.passes * pass_bytes + l1.partial_bytes;
    assert_eq!(stored_bytes(&pg, db), expected1 as i64, "{l1:?}, {pass_bytes} bytes a pass");
    let run1 = batches(&pg, db);
    assert!(run1.len() >= 3, "{run1:?}");
    for w in run1.windows(2) {
        let ((s0, a0, e0), (s1, a1, e1)) = (w[0], w[1]);
        assert!(s1 > s0 && a0 < e0 && a1 < e1, "{w:?}");
        assert!(a1 >= e0, "intervals only move forward (no interval twice): {w:?}");
    }
    // Packet time is now: every interval lies within the run (1 s intervals, aligned).
    for &(_, a, e) in &run1 {
        assert!(a >= t0 - 1_000_000_000 && e <= t1 + 1_000_000_000, "interval [{a}, {e}) outside [{t0}, {t1}]");
    }

    // Run 2, same spool: a new pass at now, numbered after run 1, intervals after run 1's.
    let before = stored_bytes(&pg, db);
    let (out, l2) = run_until(
        config(&c, &id, &lab()),
        || stored_bytes(&pg, db) >= before + pass_bytes as i64,
        Duration::from_secs(60),
    );
    assert!(out.delivered, "{out:?}");
    assert_eq!(stored_bytes(&pg, db), (expected1 + l2.passes * pass_bytes + l2.partial_bytes) as i64, "{l2:?}");
    let all = batches(&pg, db);
    let (last_seq, _, last_end) = *run1.last().expect("run 1");
    let run2: Vec<_> = all.iter().filter(|b| b.0 > last_seq).collect();
    assert_eq!(all.len(), run1.len() + run2.len(), "run 2 reused no number of run 1");
    assert!(run2.first().is_some_and(|b| b.1 >= last_end), "run 2 starts after run 1: {run2:?}");
    assert_eq!(pg.scalar(db, "SELECT refused_batches FROM probes WHERE name = 'looper'"), 0);
}

#[test]
fn a_looping_replay_of_an_empty_or_one_packet_capture_does_not_spin() {
    let pg = Pg::start();
    let db = "lq";
    let url = pg.create_db(db);
    let dir = scratch();
    let c = Controller::start(&dir.path().join("ctl"), &url, "lq-ctl", free_udp_port(), &[]);
    let id = c.enroll("odd", "s", dir.path());
    // A capture with its header only: the loop ends at once, with nothing stored.
    let empty = dir.path().join("empty.pcap");
    let lab_bytes = std::fs::read(lab()).expect("lab");
    std::fs::write(&empty, &lab_bytes[..24]).expect("write");
    let stop = Arc::new(AtomicBool::new(false));
    let t = Instant::now();
    let out = wirewatch_probe::run(config(&c, &id, &empty), stop).expect("run");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(out.looped, Some(LoopOutcome::default()), "{out:?}");
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM batches"), 0);

    // One packet (with a timestamp of 0): one pass a second, not a busy loop.
    let one = dir.path().join("one.pcap");
    let first = u32::from_le_bytes(lab_bytes[32..36].try_into().expect("incl_len")) as usize;
    let mut bytes = lab_bytes[..24 + 16 + first].to_vec();
    bytes[24..32].fill(0);
    std::fs::write(&one, &bytes).expect("write");
    let cpu = || -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
        let f: Vec<&str> = stat.rsplit_once(')').expect("comm").1.split_whitespace().collect();
        (f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime")) / 100.0
    };
    let (cpu0, w0) = (cpu(), Instant::now());
    let (out, l) =
        run_until(config(&c, &id, &one), || w0.elapsed() >= Duration::from_millis(3500), Duration::from_secs(30));
    let (used, wall) = (cpu() - cpu0, w0.elapsed().as_secs_f64());
    assert!(out.delivered, "{out:?}");
    assert!((3..=5).contains(&l.passes), "one pass a second: {l:?} in {wall:.1} s");
    assert!(used < wall * 0.5, "{used:.2} s of CPU in {wall:.1} s");
    let frame = lens_of(&one);
    assert_eq!(stored_bytes(&pg, db), ((l.passes + l.partial_frames) * frame) as i64);
}

fn lens_of(p: &Path) -> u64 {
    wire_lens(p).iter().sum()
}
