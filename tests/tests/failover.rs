//! Two controllers on one database, three probes listing both. One controller is killed
//! mid-replay: the probes move to the other, totals stay exact, and the periodic jobs keep
//! running — each period on exactly one controller (never two runs of a job at once or
//! within one period), with rollups that add up to the totals.

use std::time::Duration;

use wirewatch_e2e::*;

const FILES: [&str; 3] = ["gnutella.pcap", "netflix.pcap", "alexa-app.pcapng"];

#[test]
fn probes_fail_over_and_jobs_run_once() {
    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let env = [("WIREWATCH_ROLLUP_EVERY_SECS", "1"), ("WIREWATCH_RETENTION_EVERY_SECS", "1")];
    // Retention runs every second with its default ages: the captures are years old but
    // arrived now, so their raw samples stay and the rollups can be checked against them.
    let mut c1 = Controller::start(&dir.path().join("c1"), &url, "c1", free_udp_port(), &env);
    // The second controller shares the database (and so the CA) but not the data directory.
    let c2 = Controller::start(&dir.path().join("c2"), &url, "c2", free_udp_port(), &env);
    let mut probes = Vec::new();
    for (i, f) in FILES.iter().enumerate() {
        let id = c1.enroll(&format!("p{i}"), "hq", dir.path());
        probes.push(Probe::replay(&[c1.quic, c2.quic], &id, &[pcaps().join(f)], "20", 5));
    }
    wait_until("batches on c1", Duration::from_secs(120), || {
        pg.psql("ww", "SELECT count(*) FROM batches WHERE controller = 'c1'")
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
            >= 10
    });
    c1.kill9();
    for (p, f) in probes.iter_mut().zip(FILES) {
        assert_eq!(p.wait(Duration::from_secs(240)), Some(0), "{f}: probe exit");
    }
    for (i, f) in FILES.iter().enumerate() {
        assert_exact(&c2, &format!("p{i}"), f);
    }
    let on_c2 = pg.scalar("ww", "SELECT count(*) FROM batches WHERE controller = 'c2'");
    assert!(on_c2 > 0, "no batch reached the second controller");
    // Jobs: wait for every batch to be rolled up (by whichever controller holds the lease).
    wait_until("rollups", Duration::from_secs(60), || {
        pg.scalar("ww", "SELECT count(*) FROM batches WHERE NOT rolled_up") == 0
    });
    for (table, col) in [("host_hourly", "tx_bytes"), ("host_daily", "tx_bytes"), ("host_daily", "rx_packets")] {
        let rolled = pg.scalar("ww", &format!("SELECT coalesce(sum({col}), 0)::bigint FROM {table}"));
        let total = pg.scalar("ww", &format!("SELECT sum({col})::bigint FROM hosts"));
        assert_eq!(rolled, total, "{table}.{col}");
    }
    let overlapping = pg.scalar(
        "ww",
        "SELECT count(*) FROM job_runs a JOIN job_runs b ON a.name = b.name AND a.id < b.id
         AND b.started_at < a.started_at + interval '900 milliseconds'",
    );
    assert_eq!(overlapping, 0, "two runs of a job within one period");
    let runs = pg.scalar("ww", "SELECT count(*) FROM job_runs WHERE name = 'rollup'");
    assert!(runs >= 3, "{runs} rollup runs");
    let by = pg.psql("ww", "SELECT string_agg(DISTINCT controller, ',') FROM job_runs").expect("job runs");
    assert!(by.contains("c2"), "jobs never ran on c2: {by}");
}
