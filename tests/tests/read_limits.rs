//! Viewers cannot starve ingest: API and Python reads use a pool of their own whose statements
//! are time-limited, ingest writers another. A viewer whose queries are slow (here: top talkers
//! over a million raw samples) gets a clear error, and a probe's replay meanwhile commits every
//! batch, exactly. Top talkers over raw samples refuse a window past the configured cap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wirewatch_e2e::*;

const FILE: &str = "4in4tunnel.pcap";
/// Raw samples written for the viewers' slow question: top talkers over them take well over a
/// second on this machine, far past the read limit below.
const SLOW_ROWS: u64 = 1_000_000;
/// The viewers' question: a day of raw samples, all synthetic (the capture is from 2018).
const SLOW_TOP_TALKERS: &str = "/api/v1/top-talkers?window=86400&to=2001-01-02T00:00:00Z&limit=10";
/// The viewers' top-talkers statements running now (client backends only: a parallel worker
/// shows the same text; the sampler's own statement does not match itself).
const ACTIVE_SLOW: &str = "SELECT count(*) FROM pg_stat_activity
     WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()
       AND query LIKE '%FROM host_samples x JOIN probes%'";

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
            ("WIREWATCH_DATABASE_READ_STATEMENT_TIMEOUT_MS", "300"),
            ("WIREWATCH_DATABASE_READ_CONNECTIONS", "8"),
            // No fold but the first, early one: this is about ingest (the synthetic samples
            // belong to no batch, so a fold would not take them anyway).
            ("WIREWATCH_ROLLUP_EVERY_SECS", "3600"),
        ],
    );
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    // A first probe's data: its replay makes today's arrival partition of the raw samples.
    let id0 = c.enroll("p0", "lab", dir.path());
    let t = Instant::now();
    let mut p0 = Probe::replay(&[c.quic], &id0, &[pcaps().join(FILE)], "max", 5);
    assert_eq!(p0.wait(Duration::from_secs(120)), Some(0));
    let quiet_replay = t.elapsed();
    let id = c.enroll("p", "lab", dir.path());

    // A million raw samples of p0 in a day of 2001, written with SQL into the partition p0's
    // batches arrived in. They belong to no batch (seq -1): `hosts` (p0's totals, added at
    // ingest) and the rollups never see them, so p0 stays exact.
    let t = Instant::now();
    pg.psql(
        "viewer",
        &format!(
            "INSERT INTO host_samples (probe_id, interface_id, ip, ts, seq, mac, vlan, first_seen_ns, last_seen_ns,
                 tx_packets, tx_bytes, rx_packets, rx_bytes, tcp_tx_packets, tcp_tx_bytes, tcp_rx_packets, tcp_rx_bytes,
                 udp_tx_packets, udp_tx_bytes, udp_rx_packets, udp_rx_bytes,
                 icmp_tx_packets, icmp_tx_bytes, icmp_rx_packets, icmp_rx_bytes,
                 other_tx_packets, other_tx_bytes, other_rx_packets, other_rx_bytes,
                 syn_sent, tcp_sessions_total, udp_flows, peers_sent, peers_rcvd, tcp_sessions_active,
                 thpt_actual_tx, thpt_actual_rx, thpt_peak_tx, thpt_peak_rx, roles, services, arrived)
             SELECT i.probe_id, i.id, '198.18.0.0'::inet + g.n,
                    timestamptz '2001-01-01 00:00:00+00' + (g.n % 86000) * interval '1 second', -1, NULL, 0, 0, 0,
                    1, 100 + g.n % 1000, 1, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, a.arrived
             FROM (SELECT min(id) AS id, min(probe_id) AS probe_id FROM interfaces
                   WHERE probe_id = (SELECT id FROM probes WHERE name = 'p0')) i
             CROSS JOIN (SELECT max(arrived) AS arrived FROM host_samples
                         WHERE probe_id = (SELECT id FROM probes WHERE name = 'p0')) a
             CROSS JOIN generate_series(1, {SLOW_ROWS}) g(n);
             ANALYZE host_samples"
        ),
    )
    .expect("synthetic raw samples");
    let written = pg.scalar("viewer", "SELECT count(*) FROM host_samples WHERE seq = -1");
    assert_eq!(written, SLOW_ROWS as i64, "synthetic raw samples");
    eprintln!("{SLOW_ROWS} raw samples written in {:.1} s", t.elapsed().as_secs_f64());

    // Viewers: more concurrent slow questions than the read pool has connections, over and
    // over. Each comes back cancelled at the read limit (or, pool busy, unavailable).
    let stop = Arc::new(AtomicBool::new(false));
    let (timeouts, answered) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut viewers = Vec::new();
    for _ in 0..24 {
        let (stop, timeouts, answered, token, addr) =
            (stop.clone(), timeouts.clone(), answered.clone(), admin.clone(), c.http);
        viewers.push(std::thread::spawn(move || {
            let mut unexpected = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = http(addr, "GET", SLOW_TOP_TALKERS, Some(&token), None);
                answered.fetch_add(1, Ordering::Relaxed);
                if r.status == 504 && r.body.contains("\"timeout\"") {
                    timeouts.fetch_add(1, Ordering::Relaxed);
                } else if r.status != 503 {
                    unexpected.push(format!("{} {}", r.status, r.body));
                }
            }
            unexpected
        }));
    }

    // The viewers hold every connection of the read pool, each running the slow question.
    let t = Instant::now();
    wait_until("8 slow viewer queries running at once", Duration::from_secs(60), || {
        pg.scalar("viewer", ACTIVE_SLOW) >= 8
    });
    eprintln!("8 slow viewer queries running at once after {:.1} s", t.elapsed().as_secs_f64());
    // Meanwhile a probe replays a capture: every batch must commit while the viewers wait.
    // A sampler records how many slow queries ran during the replay.
    let replaying = AtomicBool::new(true);
    let (code, busy_replay, samples) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut samples = Vec::new();
            while replaying.load(Ordering::Relaxed) {
                samples.push(pg.scalar("viewer", ACTIVE_SLOW));
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        });
        let t = Instant::now();
        let mut probe = Probe::replay(&[c.quic], &id, &[pcaps().join(FILE)], "max", 5);
        let code = probe.wait(Duration::from_secs(120));
        let busy_replay = t.elapsed();
        replaying.store(false, Ordering::Relaxed);
        (code, busy_replay, sampler.join().expect("sampler"))
    });
    let stored = pg.scalar("viewer", "SELECT count(*) FROM batches");
    assert_eq!(code, Some(0), "the replay did not finish while viewers waited ({stored} batches stored)");
    eprintln!(
        "replay: {:.1} s alone, {:.1} s under the viewers; slow queries running during it: {samples:?}",
        quiet_replay.as_secs_f64(),
        busy_replay.as_secs_f64()
    );
    // The replay really ran beside the slow queries: the read pool was busy with them in most
    // samples taken during it.
    let busy = samples.iter().filter(|&&n| n >= 1).count();
    assert!(!samples.is_empty() && busy * 2 > samples.len(), "slow queries during the replay: {samples:?}");
    // The viewers' requests come back (cancelled at the read limit): they do not hang.
    wait_until("a viewer's request cancelled at the read limit", Duration::from_secs(60), || {
        timeouts.load(Ordering::Relaxed) > 0
    });
    stop.store(true, Ordering::Relaxed);
    let mut unexpected = Vec::new();
    for v in viewers {
        unexpected.extend(v.join().expect("viewer"));
    }
    eprintln!(
        "viewers: {} requests answered, {} cancelled at the read limit",
        answered.load(Ordering::Relaxed),
        timeouts.load(Ordering::Relaxed)
    );
    assert!(unexpected.is_empty(), "viewers got neither a timeout nor unavailable: {unexpected:?}");
    // Nothing lingers once the viewers are gone: every slow statement was cancelled.
    wait_until("no slow query left running", Duration::from_secs(10), || pg.scalar("viewer", ACTIVE_SLOW) == 0);
    assert_exact(&c, "p", FILE);
    assert_exact(&c, "p0", FILE);
    // Reads work again once the viewers are gone.
    let r = http(c.http, "GET", "/api/v1/hosts?limit=100", Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["items"].as_array().is_some_and(|a| !a.is_empty()), "{}", r.body);
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
