//! RRD archives end to end: probes replay captures into a controller whose archive runs every
//! second; the interface and host files appear, `rrdtool info` and `rrdtool fetch` read them,
//! the fetched integral of `ethernetBytes` is the stored interface bytes, a restart and a
//! `rrd rebuild` leave the same content, and the graph and files endpoints keep to the
//! caller's sites and to the archive root.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use wirewatch_e2e::*;
use wirewatch_model::archive::dir_name;

const CAPTURE_A: &str = "alexa-app.pcapng"; // 176 s of 2017
const CAPTURE_B: &str = "icmp.pcap"; // 3 s of 2011
const ENV: &[(&str, &str)] =
    &[("WIREWATCH_RRD_UPDATE_EVERY_SECS", "1"), ("WIREWATCH_RRD_SETTLE_SECS", "1"), ("WIREWATCH_RRD_HOSTS_TOP_N", "5")];

/// A GET whose body stays bytes: (status, content type, body).
fn get_bytes(addr: SocketAddr, path: &str, token: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n").expect("write");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let ct = head
        .lines()
        .find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, ct, raw[split + 4..].to_vec())
}

fn png_size(b: &[u8]) -> (u32, u32) {
    assert!(b.len() > 24 && &b[..8] == b"\x89PNG\r\n\x1a\n", "not a PNG");
    (u32::from_be_bytes([b[16], b[17], b[18], b[19]]), u32::from_be_bytes([b[20], b[21], b[22], b[23]]))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn archives_follow_the_store_and_graphs_keep_to_the_callers_sites() {
    let mut s = two_sites("rrd", CAPTURE_A, CAPTURE_B, ENV);
    let db = "rrd";
    let root = s.c.data_dir.join("rrd");
    let iface =
        s.pg.psql(db, "SELECT i.name FROM interfaces i JOIN probes p ON p.id = i.probe_id WHERE p.name = 'pa'")
            .expect("interface")
            .trim()
            .to_string();
    let rel = format!("pa/interfaces/{}/ethernetBytes.rrd", dir_name(&iface));
    let file = root.join(&rel);
    let first = s.pg.scalar(db, "SELECT min(b.interval_start_ns) / 1000000000 FROM batches b JOIN probes p ON p.id = b.probe_id WHERE p.name = 'pa'");
    let last = s.pg.scalar(db, "SELECT max(b.interval_end_ns) / 1000000000 FROM batches b JOIN probes p ON p.id = b.probe_id WHERE p.name = 'pa'");
    let stored =
        s.pg.scalar(db, "SELECT i.bytes FROM interfaces i JOIN probes p ON p.id = i.probe_id WHERE p.name = 'pa'");
    assert!(stored > 0);
    // The archive holds every committed interval: the file's last update is the last interval's end.
    wait_until("the archive holds the last interval", Duration::from_secs(60), || {
        Command::new("rrdtool")
            .arg("lastupdate")
            .arg(&file)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("{last}:")))
            .unwrap_or(false)
    });
    let info = Command::new("rrdtool").arg("info").arg(&file).output().expect("rrdtool info");
    assert!(info.status.success());
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("ds[counter].type = \"ABSOLUTE\""), "{info}");
    assert!(info.contains("step = 10"), "the step is the probe's interval: {info}");
    // The fetched integral is the committed bytes (first interval included).
    let (from, to) = (first - 3600, last + 3600);
    let got = rrd_integral(&rrd_fetch(&file, from, to));
    let err = (got - stored as f64).abs() / stored as f64;
    eprintln!("ethernetBytes: fetched integral {got:.1}, stored {stored} bytes ({:.4} %)", err * 100.0);
    assert!(err < 0.01, "integral {got} vs stored {stored} bytes ({:.3} %)", err * 100.0);
    // The other files of the interface and of the top hosts are there and readable.
    for name in ["ethernetPkts", "throughput", "knownHostsNum", "tcpBytes", "udpBytes", "ipv4Bytes"] {
        let f = root.join(format!("pa/interfaces/{}/{name}.rrd", dir_name(&iface)));
        assert!(f.is_file(), "{}", f.display());
    }
    let pkts =
        rrd_integral(&rrd_fetch(&root.join(format!("pa/interfaces/{}/ethernetPkts.rrd", dir_name(&iface))), from, to));
    let stored_pkts =
        s.pg.scalar(db, "SELECT i.packets FROM interfaces i JOIN probes p ON p.id = i.probe_id WHERE p.name = 'pa'");
    assert!((pkts - stored_pkts as f64).abs() / (stored_pkts as f64) < 0.01, "packets {pkts} vs {stored_pkts}");
    let hosts: Vec<PathBuf> = rrd_files(&root.join("pa/hosts"));
    assert_eq!(hosts.len(), 5 * 4, "top 5 hosts, 4 files each: {hosts:?}");
    let top = s.pg.psql(db, "SELECT host(h.ip) FROM hosts h JOIN probes p ON p.id = h.probe_id WHERE p.name = 'pa' GROUP BY h.ip ORDER BY sum(h.tx_bytes + h.rx_bytes) DESC, h.ip LIMIT 1")
        .expect("top host")
        .trim()
        .replace(':', "_");
    let sent = s.pg.scalar(db, &format!("SELECT sum(h.tx_bytes) FROM hosts h JOIN probes p ON p.id = h.probe_id WHERE p.name = 'pa' AND host(h.ip) = '{}'", top.replace('_', ":")));
    let got_sent = rrd_integral(&rrd_fetch(&root.join(format!("pa/hosts/{top}/bytesSent.rrd")), from, to));
    eprintln!("ethernetPkts {pkts:.1} vs {stored_pkts}; host {top} bytesSent {got_sent:.1} vs {sent}");
    assert!((got_sent - sent as f64).abs() <= sent as f64 * 0.01, "host {top} sent {got_sent} vs {sent}");

    // What is not derived from the store (rrdAlarm's history, written after the periodic
    // check; a script's file) is part of the archive and survives what follows.
    wait_until("rrdAlarm's history after the periodic check", Duration::from_secs(30), || {
        root.join("rrdAlarm/duration.rrd").is_file() && root.join("rrdAlarm/results.rrd").is_file()
    });
    std::fs::create_dir_all(root.join("scripts/kept")).expect("mkdir");
    let now = chrono::Utc::now().timestamp();
    wirewatch_rrd::files::update_at(
        &root.join("scripts/kept/gauge.rrd"),
        wirewatch_rrd::files::Value::Gauge(1.0),
        60,
        now,
    )
    .expect("a script's file");

    // Passes after everything is in write nothing twice; neither does a crash and restart.
    let before = rrd_contents(&root, from, to);
    assert!(before.contains_key(Path::new("scripts/kept/gauge.rrd")), "{:?}", before.keys());
    eprintln!("{} archive files", before.len());
    assert!(before.len() > 20, "{}", before.len());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(rrd_contents(&root, from, to), before, "later passes changed the archive");
    s.c.kill9();
    s.c.restart();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(rrd_contents(&root, from, to), before, "a restart changed the archive");
    // `rrd rebuild` recreates the same content from PostgreSQL.
    let out =
        s.c.cli_env(&["rrd", "rebuild"], &[("WIREWATCH_RRD_HOSTS_TOP_N", "5"), ("WIREWATCH_RRD_SETTLE_SECS", "1")])
            .expect("rrd rebuild");
    assert!(out.contains("rebuilt"), "{out}");
    assert_eq!(rrd_contents(&root, from, to), before, "the rebuild differs");
    assert!(root.join("rrdAlarm/results.rrd").is_file() && root.join("scripts/kept/gauge.rrd").is_file());

    // Graphs: the requested size, for the caller's sites only; paths stay in the root.
    let admin = login(s.c.http, "admin", ADMIN_PASSWORD);
    let q = |path: &str, w: u32, h: u32| {
        format!("/api/v1/rrd/graph?path={}&start={from}&end={to}&width={w}&height={h}", enc(path))
    };
    let (status, ct, png) = get_bytes(s.c.http, &q(&rel, 640, 240), &admin);
    assert_eq!((status, ct.as_str()), (200, "image/png"), "{}", String::from_utf8_lossy(&png));
    assert_eq!(png_size(&png), (640, 240));
    let (status, ct, svg) = get_bytes(s.c.http, &format!("{}&format=svg", q(&rel, 300, 100)), &admin);
    assert_eq!((status, ct.as_str()), (200, "image/svg+xml"));
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    s.c.cli_stdin(
        &["user", "add", "bee", "--role", "viewer", "--sites", "site-b", "--password-stdin"],
        "bee-password-123\n",
    )
    .expect("user add");
    let bee = login(s.c.http, "bee", "bee-password-123");
    let (status, _, _) = get_bytes(s.c.http, &q(&rel, 640, 240), &bee);
    assert_eq!(status, 404, "another site's probe is not found");
    let b_files = http(s.c.http, "GET", "/api/v1/rrd/files?prefix=pb/interfaces/", Some(&bee), None).json();
    let b_first = b_files["files"][0].as_str().expect("pb has files").to_string();
    let (status, _, png) = get_bytes(s.c.http, &q(&b_first, 400, 150), &bee);
    assert_eq!(status, 200);
    assert_eq!(png_size(&png), (400, 150));
    for bad in [
        "../rrd/pa/x.rrd",
        "pa/../pb/interfaces/x/ethernetBytes.rrd",
        "/etc/passwd.rrd",
        "pa/interfaces/x/ethernetBytes.txt",
    ] {
        let (status, _, body) = get_bytes(s.c.http, &q(bad, 400, 150), &admin);
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&body));
    }
    let (status, _, _) = get_bytes(s.c.http, &q("pa/interfaces/none/ethernetBytes.rrd", 400, 150), &admin);
    assert_eq!(status, 404);
    let (status, _, _) = get_bytes(s.c.http, &q(&rel, 5, 5), &admin);
    assert_eq!(status, 400, "a size outside the bounds");

    // Files: by prefix, of the caller's probes only.
    let all = http(s.c.http, "GET", "/api/v1/rrd/files?prefix=pa/interfaces/", Some(&admin), None).json();
    let all: Vec<&str> = all["files"].as_array().expect("files").iter().filter_map(|v| v.as_str()).collect();
    assert!(all.contains(&rel.as_str()), "{all:?}");
    assert!(all.iter().all(|f| f.starts_with("pa/interfaces/")), "{all:?}");
    let mine = http(s.c.http, "GET", "/api/v1/rrd/files", Some(&bee), None).json();
    let mine: Vec<&str> = mine["files"].as_array().expect("files").iter().filter_map(|v| v.as_str()).collect();
    assert!(!mine.is_empty() && mine.iter().all(|f| f.starts_with("pb/")), "{mine:?}");
    let bad = http(s.c.http, "GET", "/api/v1/rrd/files?prefix=../", Some(&admin), None);
    assert_eq!(bad.status, 400);
    // rrdAlarm's history and scripts' files: listed and drawn for callers who see every site
    // only (a site's user gets what it gets for another site's probe).
    let ours = http(s.c.http, "GET", "/api/v1/rrd/files?prefix=rrdAlarm/", Some(&admin), None).json();
    assert_eq!(ours["files"], serde_json::json!(["rrdAlarm/duration.rrd", "rrdAlarm/results.rrd"]));
    let ours = http(s.c.http, "GET", "/api/v1/rrd/files?prefix=scripts/", Some(&admin), None).json();
    assert_eq!(ours["files"], serde_json::json!(["scripts/kept/gauge.rrd"]));
    let (status, _, png) = get_bytes(s.c.http, &q("rrdAlarm/duration.rrd", 400, 150), &admin);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&png));
    for prefix in ["rrdAlarm/", "scripts/", "r"] {
        let theirs = http(s.c.http, "GET", &format!("/api/v1/rrd/files?prefix={prefix}"), Some(&bee), None).json();
        assert_eq!(theirs["files"], serde_json::json!([]), "{prefix}");
    }
    for file in ["rrdAlarm/duration.rrd", "scripts/kept/gauge.rrd"] {
        let (status, _, _) = get_bytes(s.c.http, &q(file, 400, 150), &bee);
        assert_eq!(status, 404, "{file}");
    }
}

fn host(ip: &str, bytes: u64) -> wirewatch_wire::HostDelta {
    let t = wirewatch_wire::Traffic { tx_packets: 1, tx_bytes: bytes, rx_packets: 0, rx_bytes: 0 };
    wirewatch_wire::HostDelta {
        ip: ip.parse().expect("ip"),
        mac: None,
        vlan: 0,
        first_seen_ns: 1_000,
        last_seen_ns: 2_000,
        traffic: t,
        l4: [t, Default::default(), Default::default(), Default::default()],
        services: vec![],
        syn_sent: 0,
        tcp_sessions_total: 0,
        udp_flows: 0,
        gauges: Default::default(),
    }
}

/// A batch of interface `eth0` for the 10 s interval ending at `end_ns` (100 bytes).
fn batch(seq: u64, end_ns: u64, hosts: Vec<wirewatch_wire::HostDelta>) -> wirewatch_wire::Batch {
    wirewatch_wire::Batch {
        seq,
        interval_start_ns: end_ns - 10_000_000_000,
        interval_end_ns: end_ns,
        spool: Default::default(),
        interfaces: vec![wirewatch_wire::InterfaceDelta {
            name: "eth0".into(),
            link_type: "EN10MB".into(),
            counters: wirewatch_wire::InterfaceCounters { packets: 1, bytes: 100, ..Default::default() },
            gauges: Default::default(),
            hosts,
            macs: vec![],
        }],
    }
}

/// The archive against the store, batch by batch: an interval is archived once all its parts
/// committed (a later interval arrived, or its last part settled), exactly once across passes,
/// a restart and a late batch; a quiet gap is a zero; an interval before what a file holds (a
/// probe's clock went back) is not placed; the integral is every placed byte, once.
#[test]
fn split_late_and_repeated_intervals_are_archived_once() {
    use wirewatch_rrd::files::{integral, last_update};
    let pg = Pg::start();
    let url = pg.create_db("rrdstore");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = scratch();
    let root = dir.path().join("rrd");
    rt.block_on(async {
        let now =
            chrono::DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z").expect("time").with_timezone(&chrono::Utc);
        let clock = wirewatch_store::Clock::fixed(now);
        let store = wirewatch_store::Store::connect(wirewatch_store::parse_url(&url).expect("url"), 4)
            .await
            .expect("connect")
            .with_clock(clock.clone());
        store.migrate().await.expect("migrate");
        let p = store.enroll("p", "s", &[1; 32], false).await.expect("enroll");
        let cfg = wirewatch_rrd::RrdConfig { settle_secs: 60, hosts_top_n: 10, ..Default::default() };
        let archiver = wirewatch_rrd::Archiver::new(store.clone(), cfg.clone(), root.clone());
        let t = 1_456_833_600i64; // 2016-03-01T12:00:00Z
        let end = |secs: i64| ((t + secs) * 1_000_000_000) as u64;
        let eth = root.join("p/interfaces/eth0/ethernetBytes.rrd");
        let sent = |ip: &str| root.join(format!("p/hosts/{ip}/bytesSent.rrd"));
        // An interval in two parts: nothing is archived while it may still be arriving.
        store.write_batch(p.id, "t", &batch(0, end(0), vec![host("192.0.2.1", 100)])).await.expect("b0");
        assert_eq!(archiver.sync().await.expect("sync").intervals_written, 0);
        store.write_batch(p.id, "t", &batch(1, end(0), vec![host("2001:db8::7", 7)])).await.expect("b1");
        assert_eq!(archiver.sync().await.expect("sync").intervals_written, 0);
        assert!(!eth.exists());
        // The next interval arrives: the first is complete, with both parts.
        store.write_batch(p.id, "t", &batch(2, end(10), vec![host("192.0.2.1", 50)])).await.expect("b2");
        let r = archiver.sync().await.expect("sync");
        assert!(r.intervals_written > 0 && r.errors == 0, "{r:?}");
        assert_eq!(last_update(&eth).expect("last"), Some(t));
        assert_eq!(last_update(&sent("2001_db8__7")).expect("last"), Some(t));
        // Another pass, and a restarted archiver: nothing new, nothing twice.
        assert_eq!(archiver.sync().await.expect("sync").intervals_written, 0);
        let restarted = wirewatch_rrd::Archiver::new(store.clone(), cfg.clone(), root.clone());
        assert_eq!(restarted.sync().await.expect("sync").intervals_written, 0);
        // A batch arriving late, after a quiet gap: the interval before it completes now, and
        // it once it has settled.
        clock.set(now + chrono::Duration::seconds(120));
        store.write_batch(p.id, "t", &batch(3, end(40), vec![host("192.0.2.1", 5)])).await.expect("b3");
        restarted.sync().await.expect("sync");
        assert_eq!(last_update(&eth).expect("last"), Some(t + 10));
        clock.set(now + chrono::Duration::seconds(300));
        restarted.sync().await.expect("sync");
        assert_eq!(last_update(&eth).expect("last"), Some(t + 40));
        // A probe whose clock went back: its interval cannot be placed after what the files
        // hold, and is left out (the store keeps it); nothing already there changes.
        store.write_batch(p.id, "t", &batch(4, end(20), vec![host("192.0.2.1", 1000)])).await.expect("b4");
        clock.set(now + chrono::Duration::seconds(600));
        let r = restarted.sync().await.expect("sync");
        assert_eq!((r.intervals_written, r.errors), (0, 0), "{r:?}");
        assert_eq!(last_update(&eth).expect("last"), Some(t + 40));
        // A hole in the sequence (batch 6 committed before batch 5, as on parallel writers or
        // after a controller died with 6 committed and 5 not): nothing past the hole counts
        // until it is filled; then both intervals are placed.
        store.write_batch(p.id, "t", &batch(6, end(60), vec![])).await.expect("b6");
        store.write_batch(p.id, "t", &batch(7, end(70), vec![])).await.expect("b7");
        assert_eq!(restarted.sync().await.expect("sync").intervals_written, 0);
        assert_eq!(last_update(&eth).expect("last"), Some(t + 40));
        store.write_batch(p.id, "t", &batch(5, end(50), vec![])).await.expect("b5");
        restarted.sync().await.expect("sync");
        assert_eq!(last_update(&eth).expect("last"), Some(t + 60));
        // Every byte of the placed intervals, once: 6 interface batches of 100, the host's 155.
        let span = (t - 3600, t + 3600);
        assert_eq!(integral(&eth, span.0, span.1).expect("integral"), 600.0);
        assert_eq!(integral(&sent("192.0.2.1"), span.0, span.1).expect("integral"), 155.0);
        assert_eq!(integral(&sent("2001_db8__7"), span.0, span.1).expect("integral"), 7.0);
        store.close().await;
    });
}
