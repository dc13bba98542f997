//! Viewers cannot starve ingest: API and Python reads use a pool of their own whose statements
//! are time-limited, ingest writers another. A viewer whose queries hang (here: on a lock held
//! on `hosts`) gets a clear error, and a probe's replay meanwhile commits every batch, exactly.
//! Top talkers over raw samples refuse a window past the configured cap.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use wirewatch_e2e::*;

const FILE: &str = "4in4tunnel.pcap";

#[test]
fn a_viewer_stuck_in_slow_queries_neither_hangs_nor_delays_ingest() {
    let pg = Pg::start();
    let url = pg.create_db("viewer");
    let dir = scratch();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "viewer",
        free_udp_port(),
        &[
            ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WIREWATCH_DATABASE_READ_STATEMENT_TIMEOUT_MS", "1500"),
            ("WIREWATCH_DATABASE_READ_CONNECTIONS", "8"),
            // No fold while the lock is held (it writes `hosts`; this is about ingest).
            ("WIREWATCH_ROLLUP_EVERY_SECS", "3600"),
        ],
    );
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    // A first probe's data, so that every host list reads `hosts` (and waits on the lock).
    let id0 = c.enroll("p0", "lab", dir.path());
    let mut p0 = Probe::replay(&[c.quic], &id0, &[pcaps().join(FILE)], "max", 5);
    assert_eq!(p0.wait(Duration::from_secs(120)), Some(0));
    let id = c.enroll("p", "lab", dir.path());

    // Every host list waits on this lock: a stand-in for a viewer's slow query.
    let mut locker = Command::new(wirewatch_store::embedded::find_program("psql").expect("psql"))
        .arg(pg.url("viewer"))
        .args(["-X", "-c", "BEGIN; LOCK TABLE hosts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    wait_until("the lock on hosts", Duration::from_secs(30), || {
        pg.scalar(
            "viewer",
            "SELECT count(*) FROM pg_locks WHERE relation = 'hosts'::regclass AND mode = 'AccessExclusiveLock' AND granted",
        ) == 1
    });

    // Viewers: more concurrent host lists than any pool has connections, over and over.
    let stop = Arc::new(AtomicBool::new(false));
    let (timeouts, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut viewers = Vec::new();
    for _ in 0..24 {
        let (stop, timeouts, answered, token, addr) =
            (stop.clone(), timeouts.clone(), answered.clone(), admin.clone(), c.http);
        viewers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let r = http(addr, "GET", "/api/v1/hosts?limit=100", Some(&token), None);
                answered.fetch_add(1, Ordering::Relaxed);
                if r.status == 504 && r.body.contains("\"timeout\"") {
                    timeouts.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("viewer: {} {}", r.status, r.body);
                }
            }
        }));
    }

    // The viewers hold as many connections as the old shared pool had, all waiting on the lock.
    wait_until("8 viewer queries waiting on the lock", Duration::from_secs(60), || {
        pg.scalar("viewer", "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") >= 8
    });
    // Meanwhile a probe replays a capture: every batch must commit while the viewers wait.
    let mut probe = Probe::replay(&[c.quic], &id, &[pcaps().join(FILE)], "max", 5);
    let code = probe.wait(Duration::from_secs(120));
    let stored = pg.scalar("viewer", "SELECT count(*) FROM batches");
    assert_eq!(code, Some(0), "the replay did not finish while viewers waited ({stored} batches stored)");
    // The viewers' requests come back (cancelled at the read limit): they do not hang.
    wait_until("a viewer's request cancelled at the read limit", Duration::from_secs(60), || {
        timeouts.load(Ordering::Relaxed) > 0
    });
    stop.store(true, Ordering::Relaxed);
    pg.psql(
        "viewer",
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'hosts'::regclass AND mode = 'AccessExclusiveLock'",
    )
    .expect("release the lock");
    let _ = locker.wait();
    for v in viewers {
        v.join().expect("viewer");
    }
    eprintln!(
        "viewers: {} requests answered, {} cancelled at the read limit",
        answered.load(Ordering::Relaxed),
        timeouts.load(Ordering::Relaxed)
    );
    assert_exact(&c, "p", FILE);
    assert_exact(&c, "p0", FILE);
    // Reads work again once the lock is gone.
    let r = http(c.http, "GET", "/api/v1/hosts?limit=100", Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn top_talkers_refuse_a_raw_window_past_the_cap() {
    let pg = Pg::start();
    let url = pg.create_db("rawcap");
    let dir = scratch();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "window",
        free_udp_port(),
        &[("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD), ("WIREWATCH_DATABASE_RAW_WINDOW_MAX_HOURS", "24")],
    );
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    let to = "2026-01-01T00:00:00Z";
    let ok = http(c.http, "GET", &format!("/api/v1/top-talkers?window=86400&to={to}"), Some(&admin), None);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let long = http(c.http, "GET", &format!("/api/v1/top-talkers?window=2678400&to={to}"), Some(&admin), None);
    assert_eq!(long.status, 400, "31 days of raw samples were aggregated: {}", long.body);
    assert!(long.body.contains("raw_window_max_hours"), "{}", long.body);
}
