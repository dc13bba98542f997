//! The store against a real PostgreSQL, without QUIC: exactly-once batches, refused batches,
//! rollups, retention dropping old partitions without touching totals, and the job lease.

use std::time::Duration;

use wirewatch_e2e::*;
use wirewatch_store::Store;
use wirewatch_store::ingest::Committed;
use wirewatch_store::jobs::Retention;
use wirewatch_wire::*;

fn host(ip: &str, bytes: u64) -> HostDelta {
    HostDelta {
        ip: ip.parse().expect("ip"),
        mac: Some([2, 0, 0, 0, 0, 1]),
        vlan: 0,
        first_seen_ns: 1_000,
        last_seen_ns: 2_000,
        traffic: Traffic { tx_packets: 1, tx_bytes: bytes, rx_packets: 0, rx_bytes: 0 },
        l4: [
            Traffic { tx_packets: 1, tx_bytes: bytes, rx_packets: 0, rx_bytes: 0 },
            Traffic::default(),
            Traffic::default(),
            Traffic::default(),
        ],
        services: vec![("http".into(), Traffic { tx_packets: 1, tx_bytes: bytes, rx_packets: 0, rx_bytes: 0 })],
        syn_sent: 1,
        tcp_sessions_total: 1,
        udp_flows: 0,
        gauges: HostGauges::default(),
    }
}

fn batch(seq: u64, end_ns: u64, hosts: Vec<HostDelta>) -> Batch {
    Batch {
        seq,
        interval_start_ns: end_ns - 10_000_000_000,
        interval_end_ns: end_ns,
        spool: SpoolStatus::default(),
        interfaces: vec![InterfaceDelta {
            name: "eth0".into(),
            link_type: "EN10MB".into(),
            counters: InterfaceCounters { packets: 1, bytes: 100, ..Default::default() },
            gauges: InterfaceGauges::default(),
            hosts,
            macs: vec![],
        }],
    }
}

fn ns(t: chrono::DateTime<chrono::Utc>) -> u64 {
    t.timestamp_nanos_opt().expect("time in range") as u64
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&chrono::Utc)
}

/// First day of the month after `d`'s.
fn next_month(d: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::Datelike;
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    chrono::NaiveDate::from_ymd_opt(y, m, 1).expect("date")
}

/// The calendar moments retention is checked at: the days around month ends (the 1st, the 2nd,
/// the 30th and 31st), the last second of a day and of a year, a leap day, and today.
fn moments() -> Vec<chrono::DateTime<chrono::Utc>> {
    let mut v: Vec<_> = [
        "2026-12-01T00:00:00Z",
        "2026-12-02T12:00:00Z",
        "2026-12-31T23:59:59Z",
        "2026-11-30T23:59:59Z",
        "2027-03-01T00:00:00Z",
        "2027-03-31T23:59:59Z",
        "2028-02-29T23:59:59Z",
    ]
    .into_iter()
    .map(at)
    .collect();
    v.push(chrono::Utc::now());
    v
}

#[test]
fn batches_rollups_retention_and_the_job_lease() {
    let pg = Pg::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for (k, now) in moments().into_iter().enumerate() {
        let db = format!("ww{k}");
        let url = pg.create_db(&db);
        rt.block_on(scenario(&pg, &db, &url, now));
    }
}

/// Everything the store promises about batches, the fold and retention, with the store's clock
/// standing at `now`: the expectations are derived from the dates written, so they hold on any
/// day of any month at any time of day.
async fn scenario(pg: &Pg, db: &str, url: &str, now: chrono::DateTime<chrono::Utc>) {
    let clock = wirewatch_store::Clock::fixed(now);
    let store = Store::connect(wirewatch_store::parse_url(url).expect("url"), 4)
        .await
        .expect("connect")
        .with_clock(clock.clone());
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrations are idempotent");
    let p = store.enroll("p", "s", &[1; 32], false).await.expect("enroll");
    assert!(store.enroll("p", "s", &[2; 32], false).await.is_err(), "a name is enrolled once");
    let parts = |parent: &str| {
        pg.scalar(
            db,
            &format!(
                "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = '{parent}'"
            ),
        )
    };
    // A batch that arrived 30 days ago carrying a capture from 2016 (packet time is data: it
    // makes no partition of its own), then one arriving now with packets of now.
    let arrived0 = now - chrono::Duration::days(30);
    clock.set(arrived0);
    let replay = ns(at("2016-03-01T12:00:00Z"));
    let b0 = batch(0, replay, vec![host("192.0.2.1", 100), host("2001:db8::1", 7)]);
    assert_eq!(store.write_batch(p.id, "t", &b0).await.expect("b0"), Committed::New { host_rows: 2, mac_rows: 0 });
    assert_eq!(store.write_batch(p.id, "t", &b0).await.expect("again"), Committed::Duplicate);
    assert_eq!(parts("host_samples"), 1, "partitions follow arrival, not packet time");
    clock.set(now);
    let b1 = batch(1, ns(now), vec![host("192.0.2.1", 50)]);
    store.write_batch(p.id, "t", &b1).await.expect("b1");
    assert_eq!(parts("host_samples"), 2);
    // A batch naming a host twice is refused for good, and changes nothing.
    let bad = batch(2, ns(now), vec![host("192.0.2.9", 1), host("192.0.2.9", 1)]);
    let e = store.write_batch(p.id, "t", &bad).await.expect_err("duplicate host");
    assert!(matches!(e, wirewatch_store::StoreError::Invalid(_)) && !e.is_transient(), "{e}");
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM batches"), 2);
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM host_samples"), 3);
    assert_eq!(pg.scalar(db, "SELECT refused_batches FROM probes"), 1, "a refusal is counted on its probe");
    // Not folded yet, and the totals are already there: ingest keeps them.
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM hosts"), 2);
    assert_eq!(pg.scalar(db, "SELECT tx_bytes FROM hosts WHERE ip = '192.0.2.1'"), 150);
    let scope = wirewatch_store::totals::Scope { site: None, probe: Some("p".into()) };
    let before = store.totals(&scope).await.expect("totals");
    let (h, services) = before.hosts.iter().find(|(h, _)| h.key.ip.to_string() == "192.0.2.1").expect("host");
    assert_eq!(
        (h.traffic.tx_bytes, h.last_seen_ns, h.mac),
        (150, 2_000, Some(wirewatch_model::Mac([2, 0, 0, 0, 0, 1])))
    );
    let http = wirewatch_model::Traffic { tx_packets: 2, tx_bytes: 150, rx_packets: 0, rx_bytes: 0 };
    assert_eq!(services, &vec![("http".to_string(), http)]);

    // Rollup: once per period, whoever asks first.
    let r = store.run_job("rollup", Duration::from_secs(3600), "a", Retention::default()).await.expect("rollup");
    assert_eq!(r.as_deref(), Some("rolled up 2 batches"));
    assert_eq!(
        store.run_job("rollup", Duration::from_secs(3600), "b", Retention::default()).await.expect("again"),
        None
    );
    assert_eq!(pg.scalar(db, "SELECT sum(tx_bytes)::bigint FROM host_daily"), 157);
    assert_eq!(pg.scalar(db, "SELECT sum(tx_bytes)::bigint FROM host_hourly"), 157);
    // Folded: the totals did not move (the fold only rolls up).
    assert_eq!(pg.scalar(db, "SELECT tx_bytes FROM hosts WHERE ip = '192.0.2.1'"), 150);
    assert_eq!(pg.scalar(db, "SELECT tx_bytes FROM host_services WHERE ip = '192.0.2.1' AND service = 'http'"), 150);
    let after = store.totals(&scope).await.expect("totals");
    let found = after.hosts.iter().find(|(h, _)| h.key.ip.to_string() == "192.0.2.1").expect("host");
    assert_eq!((&found.0, &found.1), (h, services));

    // Retention (7 days): the samples that arrived 30 days ago go (their day's partitions are
    // dropped), and the hourly partition of their month of arrival if that whole month is
    // older than 7 days; the interface's hourly row of that arrival is deleted. Totals stay.
    let keep = Retention { raw_days: 7, hourly_days: 7, daily_days: 0 };
    let cutoff = now - chrono::Duration::days(7);
    let day0 = arrived0.format("%Y%m%d");
    let mut expected = vec![format!("host_samples_a{day0}"), format!("interface_samples_a{day0}")];
    let month0_gone = next_month(arrived0.date_naive()).and_time(chrono::NaiveTime::MIN).and_utc() <= cutoff;
    if month0_gone {
        expected.push(format!("host_hourly_a{}", arrived0.format("%Y%m")));
    }
    expected.sort();
    // Alarm events age like the hourly data once acknowledged and with no run pending; action
    // runs once finished.
    let old = (cutoff - chrono::Duration::hours(1)).to_rfc3339();
    let recent = now.to_rfc3339();
    pg.psql(
        db,
        &format!(
            "INSERT INTO alarm_events (raised_at, source, name, severity, subject, message, controller, acked_at, acked_by) VALUES \
               ('{old}', 'script', 'old acked', 'info', '', '', 'a', '{old}', 'u'), \
               ('{old}', 'script', 'old open', 'info', '', '', 'a', NULL, NULL), \
               ('{old}', 'script', 'old acked, run pending', 'info', '', '', 'a', '{old}', 'u'), \
               ('{recent}', 'script', 'recent acked', 'info', '', '', 'a', '{recent}', 'u'); \
             INSERT INTO alarm_actions (created_at, action, parameter, event_ids, status) \
               SELECT '{old}', 'savelog', 'x', ARRAY[id], CASE WHEN name = 'old open' THEN 'ok' ELSE 'pending' END \
               FROM alarm_events WHERE name IN ('old open', 'old acked, run pending')"
        ),
    )
    .expect("events");
    let r = store.run_job("retention", Duration::from_secs(3600), "a", keep).await.expect("retention");
    assert_eq!(
        pg.psql(db, "SELECT string_agg(name, ',' ORDER BY id) FROM alarm_events").expect("events"),
        "old open,old acked, run pending,recent acked"
    );
    assert_eq!(pg.psql(db, "SELECT string_agg(status, ',') FROM alarm_actions").expect("actions"), "pending");
    assert_eq!(
        r.as_deref(),
        Some(format!("dropped {} partitions {expected:?}; deleted 1 rollup rows", expected.len()).as_str()),
        "now = {now}"
    );
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM host_samples"), 1);
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM host_hourly"), if month0_gone { 1 } else { 3 });
    assert_eq!(pg.scalar(db, "SELECT sum(tx_bytes)::bigint FROM host_daily"), 157);
    assert_eq!(pg.scalar(db, "SELECT sum(tx_bytes)::bigint FROM hosts"), 157);
    // A late batch with the old packets arrives now: it is kept like today's traffic.
    let late = batch(3, replay, vec![host("192.0.2.1", 1)]);
    store.write_batch(p.id, "t", &late).await.expect("late batch");
    let t = store.totals(&scope).await.expect("totals");
    assert_eq!(
        t.hosts.iter().find(|(h, _)| h.key.ip.to_string() == "192.0.2.1").map(|(h, _)| h.traffic.tx_bytes),
        Some(151)
    );
    let t =
        store.totals(&wirewatch_store::totals::Scope { site: Some("s".into()), probe: None }).await.expect("totals");
    assert_eq!(t.hosts.len(), 2);
    assert!(
        store
            .totals(&wirewatch_store::totals::Scope { site: Some("other".into()), probe: None })
            .await
            .expect("totals")
            .hosts
            .is_empty()
    );
    // Eight days on, retention keeps today's partition while the late batch is not folded…
    clock.set(now + chrono::Duration::days(8));
    let r = store.run_job("retention", Duration::ZERO, "a", keep).await.expect("retention");
    assert!(r.as_deref().is_some_and(|d| !d.contains("samples_a")), "{r:?}");
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM host_samples"), 2);
    // …and drops it once the fold took it.
    store.run_job("rollup", Duration::ZERO, "a", keep).await.expect("rollup");
    let r = store.run_job("retention", Duration::ZERO, "a", keep).await.expect("retention");
    assert!(r.as_deref().is_some_and(|d| d.contains(&format!("host_samples_a{}", now.format("%Y%m%d")))), "{r:?}");
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM host_samples"), 0);
    assert_eq!(pg.scalar(db, "SELECT sum(tx_bytes)::bigint FROM hosts"), 158);
}

#[test]
fn embedded_database_demo_loops_probes_in_two_sites_fires_an_alarm_and_stops_everything() {
    let dir = scratch();
    let data = dir.path().join("data");
    // The demo's captures (public addresses in several countries), made as scripts/demo does.
    let captures = dir.path().join("captures");
    let made = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/make-demo-world"))
        .arg(&captures)
        .output()
        .expect("make-demo-world");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let probe = |spec: &str, file: &str| format!("{spec}={}", captures.join(file).display());
    let password = "demo-test-password-1";
    let out = std::process::Command::new(bin("wirewatch-controller"))
        .arg("--data-dir")
        .arg(&data)
        .args(["demo", "--exit", "--exit-within", "150", "--interval-secs", "2", "--check-every-secs", "2"])
        .args(["--probe", &probe("hq/hq-1", "hq-1.pcap"), "--probe", &probe("hq/hq-2", "hq-2.pcap")])
        .args(["--probe", &probe("branch/branch-1", "branch-1.pcap")])
        .env_remove("DATABASE_URL")
        .env("WIREWATCH_HTTP_LISTEN", "127.0.0.1:0")
        .env("WIREWATCH_METRICS_LISTEN", "127.0.0.1:0")
        .env("WIREWATCH_LOG", "warn")
        .env("WIREWATCH_ADMIN_PASSWORD", password)
        .output()
        .expect("demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    // What to open comes first, before the database starts.
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("wirewatch demo — console http://") && first.contains(password), "{text}");
    assert!(text.contains("first alarm event"), "{text}");
    assert!(text.contains("demo alive: 3 probes online, an alarm fired"), "{text}");
    assert!(text.contains("stopped: 3 probes"), "{text}");
    // The probes it started (by PID) are gone, and so is its PostgreSQL.
    let pids: Vec<String> =
        text.lines().filter_map(|l| l.split("(pid ").nth(1)?.split(')').next().map(str::to_string)).collect();
    assert_eq!(pids.len(), 3, "{text}");
    for pid in &pids {
        assert!(!std::path::Path::new("/proc").join(pid).exists(), "probe {pid} left running");
    }
    assert!(data.join("postgres/PG_VERSION").is_file());
    assert!(!data.join("postgres/postmaster.pid").exists(), "the embedded cluster was left running");
    let log = std::fs::read_to_string(data.join("alarms/demo-alarms.log")).expect("the savelog action's file");
    assert!(log.contains("ethernetBytes.rrd"), "{log}");
    // The stored totals survive: `hosts` starts the cluster again, reads, and stops it. The
    // hosts are the generated capture's, with public addresses.
    let out = std::process::Command::new(bin("wirewatch-controller"))
        .arg("--data-dir")
        .arg(&data)
        .args(["hosts", "--site", "hq", "--format", "json"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("hosts");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stored = String::from_utf8_lossy(&out.stdout);
    for ip in ["85.214.20.11", "78.46.85.12"] {
        assert!(stored.contains(ip), "{ip} not stored: {stored}");
    }
    assert!(!stored.contains("200.160.2.3"), "the branch's server is not in site hq");
    assert!(!data.join("postgres/postmaster.pid").exists());
}

/// A migrated store with probes `a` and `b` of site `s`.
async fn two_probes(
    url: &str,
) -> (Store, wirewatch_store::probes::ProbeIdentity, wirewatch_store::probes::ProbeIdentity) {
    let store = Store::connect(wirewatch_store::parse_url(url).expect("url"), 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    let a = store.enroll("a", "s", &[1; 32], false).await.expect("enroll");
    let b = store.enroll("b", "s", &[2; 32], false).await.expect("enroll");
    (store, a, b)
}

#[test]
fn batches_the_totals_or_the_fold_cannot_take_are_refused_or_quarantined_and_the_others_go_on() {
    let pg = Pg::start();
    let url = pg.create_db("q");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (store, a, b) = two_probes(&url).await;
        let now = ns(chrono::Utc::now());
        store.write_batch(a.id, "t", &batch(0, now, vec![host("192.0.2.1", 100)])).await.expect("a0");
        store.write_batch(b.id, "t", &batch(0, now, vec![host("192.0.2.2", 50)])).await.expect("b0");
        let r = store.run_job("rollup", Duration::ZERO, "c", Retention::default()).await.expect("rollup");
        assert_eq!(r.as_deref(), Some("rolled up 2 batches"));
        // Probe a's host has (somehow) come close to the largest bigint: its next interval
        // cannot be added to the totals. Every ingest bound holds, so only the upsert notices:
        // the batch is refused for good, counted on its probe, and nothing of it stays.
        pg.psql("q", "UPDATE hosts SET tx_bytes = 9223372036854775800 WHERE ip = '192.0.2.1'").expect("update");
        let e = store.write_batch(a.id, "t", &batch(1, now, vec![host("192.0.2.1", 100)])).await.expect_err("a1");
        assert!(matches!(e, wirewatch_store::StoreError::Invalid(_)) && !e.is_transient(), "{e}");
        assert!(e.to_string().contains("out of range"), "{e}");
        assert_eq!(pg.scalar("q", "SELECT count(*) FROM batches WHERE probe_id = 1"), 1);
        assert_eq!(pg.scalar("q", "SELECT refused_batches FROM probes WHERE name = 'a'"), 1);
        store.write_batch(b.id, "t", &batch(1, now, vec![host("192.0.2.2", 50)])).await.expect("b1 goes on");
        // Now the hourly rollup of that host is the one near the limit: the batch commits (its
        // totals fit) and the fold cannot take it.
        pg.psql("q", "UPDATE hosts SET tx_bytes = 100 WHERE ip = '192.0.2.1'").expect("update");
        pg.psql("q", "UPDATE host_hourly SET tx_bytes = 9223372036854775800 WHERE ip = '192.0.2.1'").expect("update");
        store.write_batch(a.id, "t", &batch(1, now, vec![host("192.0.2.1", 100)])).await.expect("a1");
        store.write_batch(a.id, "t", &batch(2, now, vec![host("192.0.2.3", 5)])).await.expect("a2");
        let r = store.run_job("rollup", Duration::ZERO, "c", Retention::default()).await.expect("rollup");
        assert_eq!(r.as_deref(), Some("rolled up 2 batches; quarantined 1"));
        // The other probe folded, and so did the probe's other batch.
        assert_eq!(pg.scalar("q", "SELECT tx_bytes FROM hosts WHERE ip = '192.0.2.2'"), 100);
        assert_eq!(pg.scalar("q", "SELECT tx_bytes FROM hosts WHERE ip = '192.0.2.3'"), 5);
        assert_eq!(pg.scalar("q", "SELECT tx_bytes FROM hosts WHERE ip = '192.0.2.1'"), 200);
        assert_eq!(pg.scalar("q", "SELECT sum(tx_bytes)::bigint FROM host_hourly WHERE ip = '192.0.2.2'"), 100);
        assert_eq!(pg.scalar("q", "SELECT sum(tx_bytes)::bigint FROM host_hourly WHERE ip = '192.0.2.3'"), 5);
        // The bad batch is kept, marked, counted on its probe.
        assert_eq!(pg.scalar("q", "SELECT seq FROM batches WHERE quarantined IS NOT NULL"), 1);
        assert_eq!(pg.scalar("q", "SELECT count(*) FROM host_samples WHERE seq = 1 AND ip = '192.0.2.1'"), 1);
        assert_eq!(pg.scalar("q", "SELECT quarantined_batches FROM probes WHERE name = 'a'"), 1);
        let reason = pg.psql("q", "SELECT last_quarantine FROM probes WHERE name = 'a'").expect("reason");
        assert!(reason.contains("batch 1") && reason.contains("out of range"), "{reason}");
        let scope = wirewatch_store::totals::Scope { site: Some("s".into()), probe: None };
        let t = store.totals(&scope).await.expect("the site's totals still read");
        assert_eq!(t.hosts.len(), 3);
        let listed = store.probe_rows(None, None, None).await.expect("probes");
        let pa = listed.iter().find(|p| p.name == "a").expect("a");
        assert_eq!((pa.refused.batches, pa.quarantined.batches), (1, 1));
        assert_eq!(store.bad_batches().await.expect("bad"), vec![("a".to_string(), 1, 1)]);
        // Nothing is left for the fold.
        let r = store.run_job("rollup", Duration::ZERO, "c", Retention::default()).await.expect("rollup");
        assert_eq!(r.as_deref(), Some("rolled up 0 batches"));
    });
}

/// A database an earlier release filled: some batches folded into the totals, later ones
/// committed as samples only (that release added them at its next fold). Migration 0006 adds
/// the unfolded ones to the totals once, so every reader is exact right after the upgrade, and
/// the fold then only rolls them up.
#[test]
fn the_upgrade_to_totals_at_ingest_adds_what_the_old_fold_had_not_taken() {
    let pg = Pg::start();
    let url = pg.create_db("up");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (store, a, b) = two_probes(&url).await;
        let now = ns(chrono::Utc::now());
        let mut gauged = host("192.0.2.1", 100);
        gauged.gauges.peers_sent = 3;
        store.write_batch(a.id, "t", &batch(0, now, vec![gauged, host("2001:db8::1", 7)])).await.expect("a0");
        store.write_batch(b.id, "t", &batch(0, now, vec![host("192.0.2.2", 50)])).await.expect("b0");
        let r = store.run_job("rollup", Duration::ZERO, "c", Retention::default()).await.expect("rollup");
        assert_eq!(r.as_deref(), Some("rolled up 2 batches"));
        // What the old fold had made of the batches so far.
        pg.psql(
            "up",
            "CREATE TABLE old_hosts AS SELECT * FROM hosts; CREATE TABLE old_services AS SELECT * FROM host_services",
        )
        .expect("save");
        // Later batches: a host seen again with newer gauges and no MAC, and a new host.
        let mut again = host("192.0.2.1", 11);
        again.mac = None;
        again.gauges.peers_sent = 9;
        store.write_batch(a.id, "t", &batch(1, now, vec![again, host("192.0.2.9", 5)])).await.expect("a1");
        store.write_batch(b.id, "t", &batch(1, now, vec![host("192.0.2.2", 1)])).await.expect("b1");
        pg.psql(
            "up",
            "CREATE TABLE want_hosts AS SELECT * FROM hosts; CREATE TABLE want_services AS SELECT * FROM host_services",
        )
        .expect("save");
        // Back to the earlier release's state: the totals as its fold left them, the later
        // batches unfolded, migration 0006 not applied yet.
        pg.psql(
            "up",
            "DELETE FROM hosts; INSERT INTO hosts SELECT * FROM old_hosts;
             DELETE FROM host_services; INSERT INTO host_services SELECT * FROM old_services;
             DELETE FROM _sqlx_migrations WHERE version = 6",
        )
        .expect("restore");
        assert_eq!(pg.scalar("up", "SELECT count(*) FROM batches WHERE NOT rolled_up"), 2);
        assert_eq!(pg.scalar("up", "SELECT count(*) FROM hosts"), 3);
        store.migrate().await.expect("the upgrade");
        let differ = |a: &str, b: &str| {
            pg.scalar(
                "up",
                &format!(
                    "SELECT count(*) FROM ((TABLE {a} EXCEPT TABLE {b}) UNION ALL (TABLE {b} EXCEPT TABLE {a})) d"
                ),
            )
        };
        assert_eq!(differ("hosts", "want_hosts"), 0, "hosts after the upgrade");
        assert_eq!(differ("host_services", "want_services"), 0, "services after the upgrade");
        assert_eq!(pg.scalar("up", "SELECT tx_bytes FROM hosts WHERE ip = '192.0.2.1'"), 111);
        assert_eq!(pg.scalar("up", "SELECT peers_sent FROM hosts WHERE ip = '192.0.2.1'"), 9, "the newer gauges");
        assert_eq!(pg.scalar("up", "SELECT count(*) FROM hosts WHERE ip = '192.0.2.1' AND mac IS NOT NULL"), 1);
        // The fold rolls the two batches up and leaves the totals alone.
        let r = store.run_job("rollup", Duration::ZERO, "c", Retention::default()).await.expect("rollup");
        assert_eq!(r.as_deref(), Some("rolled up 2 batches"));
        assert_eq!(differ("hosts", "want_hosts"), 0, "hosts after the fold");
        assert_eq!(pg.scalar("up", "SELECT sum(tx_bytes)::bigint FROM host_daily"), 100 + 7 + 50 + 11 + 5 + 1);
    });
}
