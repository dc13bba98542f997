//! `scripts/bench-api`: the JSON API with 1M hosts stored. A controller process (release build)
//! on a private PostgreSQL; 10 probes in 2 sites enrolled through the CLI; 1M host rows and a
//! year of daily history written with SQL (the ingest path has its own bench); then wrk on
//! `/healthz` (the baseline: routing and the database ping, no auth), the host list sorted by
//! bytes, and a host's daily history. Prints requests/s and p50/p99 latency for each.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use anyhow::{Result, bail};
use wirewatch_e2e::*;

fn main() -> Result<()> {
    let hosts = arg("--hosts", 1_000_000);
    let secs = arg("--seconds", 15);
    let conns = arg("--connections", 8);
    let probes = 10u64;
    let per = hosts / probes;

    let pg = Pg::start();
    let url = pg.create_db("bench");
    let dir = scratch();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "bench-api",
        free_udp_port(),
        &[
            ("WIREWATCH_ADMIN_PASSWORD", "bench-password-1"),
            ("WIREWATCH_ROLLUP_EVERY_SECS", "86400"),
            ("WIREWATCH_API_REVERSE_DNS", "false"),
        ],
    );
    for i in 0..probes {
        c.enroll(&format!("probe{i}"), if i % 2 == 0 { "east" } else { "west" }, dir.path());
    }
    let t = Instant::now();
    pg.psql(
        "bench",
        "INSERT INTO interfaces (probe_id, name, link_type) SELECT id, 'eth0', 'EN10MB' FROM probes ORDER BY id",
    )?;
    // 1M hosts: addresses from 198.18.0.0/15 (RFC 2544), traffic spread over six orders of
    // magnitude so the sort has work to do.
    pg.psql(
        "bench",
        &format!(
            "INSERT INTO hosts (probe_id, interface_id, ip, mac, first_seen_ns, last_seen_ns,
                                tx_packets, tx_bytes, rx_packets, rx_bytes, tcp_tx_packets, tcp_tx_bytes,
                                tcp_rx_packets, tcp_rx_bytes, gauges_seq)
             SELECT i.probe_id, i.id, '198.18.0.0'::inet + (g.n + (i.probe_id - 1) * {per}),
                    ('02:00:' || lpad(to_hex(g.n % 65536 / 256), 2, '0') || ':' || lpad(to_hex(g.n % 256), 2, '0') || ':00:01')::macaddr,
                    1700000000000000000, 1700000000000000000 + g.n::bigint * 1000000,
                    x.p, x.b, x.p / 2, x.b / 3, x.p, x.b, x.p / 2, x.b / 3, 0
             FROM interfaces i CROSS JOIN generate_series(0, {per} - 1) g(n)
             CROSS JOIN LATERAL (SELECT (abs(hashint8(g.n * 31 + i.id)) % 1000000) AS b,
                                        (abs(hashint8(g.n * 17 + i.id)) % 10000) AS p) x"
        ),
    )?;
    // A year of daily history for 1000 hosts of the first probe.
    pg.psql(
        "bench",
        "INSERT INTO host_daily (probe_id, interface_id, ip, ts, tx_packets, tx_bytes, rx_packets, rx_bytes, peak_thpt_tx, peak_thpt_rx)
         SELECT h.probe_id, h.interface_id, h.ip, timestamptz '2023-11-14' - d * interval '1 day', 10, 1000, 5, 500, 1, 1
         FROM (SELECT * FROM hosts WHERE probe_id = (SELECT min(id) FROM probes) ORDER BY ip LIMIT 1000) h
         CROSS JOIN generate_series(0, 364) d",
    )?;
    pg.psql("bench", "VACUUM ANALYZE hosts")?;
    pg.psql("bench", "VACUUM ANALYZE host_daily")?;
    let stored = pg.scalar("bench", "SELECT count(*) FROM hosts");
    eprintln!(
        "stored {stored} hosts and {} daily rows in {:.1} s",
        pg.scalar("bench", "SELECT count(*) FROM host_daily"),
        t.elapsed().as_secs_f64()
    );

    let token = login(c.http, "admin", "bench-password-1");
    let iface = pg.scalar("bench", "SELECT min(id) FROM interfaces");
    let base = format!("http://{}", c.http);
    let list = format!("{base}/api/v1/hosts?sort=bytes&limit=100");
    let history = format!("{base}/api/v1/interfaces/{iface}/hosts/198.18.0.5/history?resolution=daily");
    // Check each answers before timing it.
    for (path, want) in [("/api/v1/hosts?sort=bytes&limit=100", 100usize), (&history[base.len()..], 365)] {
        let r = http(c.http, "GET", path, Some(&token), None);
        let v = r.json();
        let n = v["items"].as_array().or(v["points"].as_array()).map(|a| a.len()).unwrap_or(0);
        if r.status != 200 || n != want {
            bail!("{path}: {} with {n} rows (want {want}): {}", r.status, &r.body[..r.body.len().min(300)]);
        }
    }
    println!(
        "bench-api: {stored} hosts stored; wrk {secs} s per run, 2 threads; one client, then {conns} concurrent \
         (the 2 cores are shared by wrk, the controller and PostgreSQL)"
    );
    println!("{:<58} {:>5} {:>9} {:>8} {:>8} {:>8}", "endpoint", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx");
    let endpoints = [
        ("/healthz (baseline)", format!("{base}/healthz"), None),
        ("/api/v1/hosts?sort=bytes&limit=100", list, Some(token.as_str())),
        ("/api/v1/interfaces/I/hosts/IP/history?resolution=daily", history, Some(token.as_str())),
    ];
    for c in [1, conns] {
        let mut base_rps = 0.0;
        for (i, (name, url, tok)) in endpoints.iter().enumerate() {
            let f = wrk(url, *tok, secs, c)?;
            if i == 0 {
                base_rps = f.rps;
            }
            let verdict = if i == 0 {
                String::new()
            } else {
                format!(
                    "  {:.3}x baseline req/s; p99 target < 20 ms {}",
                    f.rps / f64::max(base_rps, 1.0),
                    if f.p99_ms < 20.0 { "met" } else { "MISSED" }
                )
            };
            println!("{name:<58} {c:>5} {:>9.0} {:>8.2} {:>8.2} {:>8}{verdict}", f.rps, f.p50_ms, f.p99_ms, f.non_2xx);
        }
    }
    drop(c);
    Ok(())
}
