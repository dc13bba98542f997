//! One host model, one reader: a host committed a moment ago is in every reader with its exact
//! counters before any fold has run, and stays the same after it; and one host followed from a
//! capture through the probe, QUIC and PostgreSQL to the API, the Python `host` module,
//! `wirewatch.hosts()` and `wirewatch-controller hosts` shows the same numbers everywhere,
//! throughput and roles included.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use wirewatch_e2e::*;

const CAPTURE: &str = "1kxun.pcap";
/// One interface, and a host that opens TCP sessions and serves nothing (a workstation).
const FOLLOWED: &str = "netflix.pcap";

/// A controller whose fold is held off, one probe (`p`) that replayed a capture, and a
/// directory of extra scripts.
struct Fx {
    pg: Pg,
    c: Controller,
    admin: String,
    scripts: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

fn replayed(db: &str, capture: &str) -> Fx {
    let pg = Pg::start();
    let url = pg.create_db(db);
    let dir = scratch();
    let scripts = scratch();
    let scripts_dir = scripts.path().display().to_string();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        db,
        free_udp_port(),
        &[
            ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WIREWATCH_ROLLUP_EVERY_SECS", "3600"),
            ("WIREWATCH_API_REVERSE_DNS", "false"),
            ("WIREWATCH_PYTHON_SCRIPTS_DIR", scripts_dir.as_str()),
        ],
    );
    // The fold ran "just now": the next run is an hour away.
    pg.psql(db, "UPDATE jobs SET last_run_at = now() WHERE name = 'rollup'").expect("hold the fold");
    let id = c.enroll("p", "lab", dir.path());
    let mut p = Probe::replay(&[c.quic], &id, &[pcaps().join(capture)], "max", 10);
    assert_eq!(p.wait(Duration::from_secs(120)), Some(0));
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    Fx { pg, c, admin, scripts, _dir: dir }
}

impl Fx {
    fn unfolded(&self) -> i64 {
        self.pg.scalar(&self.c.name, "SELECT count(*) FROM batches WHERE NOT rolled_up")
    }

    /// Lets the fold run now and waits until it took every batch.
    fn fold(&self) {
        self.pg
            .psql(&self.c.name, "UPDATE jobs SET last_run_at = now() - interval '2 hours' WHERE name = 'rollup'")
            .expect("due");
        wait_until("every batch folded", Duration::from_secs(60), || self.unfolded() == 0);
    }

    fn script(&self, rel: &str, source: &str) {
        std::fs::write(self.scripts.path().join(rel), source).expect("write script");
    }

    fn page(&self, path: &str) -> String {
        let r = http(self.c.http, "GET", path, Some(&self.admin), None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.body
    }

    /// Every host of the API's list: ip → the list's item.
    fn api_list(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let mut cursor = String::new();
        loop {
            let v: Value =
                serde_json::from_str(&self.page(&format!("/api/v1/hosts?probe=p&sort=ip&order=asc&limit=37{cursor}")))
                    .expect("JSON");
            for h in v["items"].as_array().into_iter().flatten() {
                out.insert(h["ip"].as_str().expect("ip").to_string(), h.clone());
            }
            match v["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return out,
            }
        }
    }
}

/// "ip a b c d" lines → ip → [a, b, c, d].
fn lines(out: &str) -> BTreeMap<String, [i64; 4]> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 5, "{l}");
            let n = |k: usize| f[k].parse::<i64>().unwrap_or_else(|_| panic!("{l}"));
            (f[0].to_string(), [n(1), n(2), n(3), n(4)])
        })
        .collect()
}

/// Every reader's per-host counters (tx packets, tx bytes, rx packets, rx bytes) equal the
/// oracle's, and the seed's host table lists every host.
fn every_reader_is_exact(fx: &Fx, oracle: &BTreeMap<String, [i64; 4]>, when: &str) {
    let api: BTreeMap<String, [i64; 4]> = fx
        .api_list()
        .into_iter()
        .map(|(ip, h)| {
            let g = |a: &str, b: &str| h[a][b].as_i64().unwrap_or(-1);
            (ip, [g("packets", "sent"), g("bytes", "sent"), g("packets", "rcvd"), g("bytes", "rcvd")])
        })
        .collect();
    assert_eq!(&api, oracle, "{when}: the API's list");

    let cursor = fx.page("/python/cursor.py");
    assert_eq!(&lines(&cursor), oracle, "{when}: ntop.getNextHost and the host module");
    let pythonic = fx.page("/python/pythonic.py");
    assert_eq!(&lines(&pythonic), oracle, "{when}: wirewatch.hosts()");

    let table = fx.page("/python/hosts.py");
    let listed: BTreeSet<&str> =
        oracle.keys().map(String::as_str).filter(|ip| table.contains(&format!(">{ip}</td>"))).collect();
    assert_eq!(listed.len(), oracle.len(), "{when}: the seed's host table lists every host");

    let stored = fx.c.hosts("p");
    let cli: BTreeMap<String, [i64; 4]> =
        counters(&stored, "hosts", "ip").into_iter().map(|(ip, c)| (ip, c.map(|v| v as i64))).collect();
    assert_eq!(&cli, oracle, "{when}: wirewatch-controller hosts");
}

#[test]
fn every_reader_is_exact_before_and_after_the_fold() {
    let fx = replayed("exact_now", CAPTURE);
    let batches = fx.pg.scalar("exact_now", "SELECT count(*) FROM batches");
    assert!(batches > 0);
    assert_eq!(fx.unfolded(), batches, "no fold has run");
    fx.script(
        "cursor.py",
        "import ntop, host\n\
         while ntop.getNextHost(0):\n\
         \x20   print(host.ipAddress(), host.pktSent(), host.bytesSent(), host.pktRcvd(), host.bytesRcvd())\n",
    );
    fx.script(
        "pythonic.py",
        "import wirewatch\n\
         for h in wirewatch.hosts(probe='p'):\n\
         \x20   print(h.ip, h.pkts_sent, h.bytes_sent, h.pkts_rcvd, h.bytes_rcvd)\n",
    );
    let oracle = oracle_hosts(CAPTURE);
    every_reader_is_exact(&fx, &oracle, "before the fold");
    fx.fold();
    every_reader_is_exact(&fx, &oracle, "after the fold");
    // The whole document `hosts` prints is still the probe's own offline reading.
    assert_exact(&fx.c, "p", CAPTURE);
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// The host's figures as one reader names them: the four counters, average throughput each
/// way, actual throughput each way, and the role names (sorted).
#[derive(Debug, Clone)]
struct Seen {
    counters: [u64; 4],
    average: [f64; 2],
    actual: [f64; 2],
    roles: Vec<String>,
}

impl Seen {
    fn assert_same(&self, other: &Seen, what: &str) {
        assert_eq!(self.counters, other.counters, "{what}: counters");
        assert!(
            close(self.average[0], other.average[0]) && close(self.average[1], other.average[1]),
            "{what}: average {self:?} {other:?}"
        );
        // Actual throughput is stored as a 32-bit float.
        let f = |v: f64| f64::from(v as f32);
        assert!(
            close(f(self.actual[0]), f(other.actual[0])) && close(f(self.actual[1]), f(other.actual[1])),
            "{what}: actual {self:?} {other:?}"
        );
        assert_eq!(self.roles, other.roles, "{what}: roles");
    }
}

fn sorted(v: &Value) -> Vec<String> {
    let mut r: Vec<String> = v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect();
    r.sort();
    r
}

/// A row of a `read`/`hosts` report.
fn report_row(report: &Value, ip: &str) -> Seen {
    let h = report["hosts"].as_array().into_iter().flatten().find(|h| h["ip"] == ip).expect("host in report");
    let u = |k: &str| h[k].as_u64().expect(k);
    let f = |a: &str, b: &str| h[a][b].as_f64().expect(b);
    Seen {
        counters: [u("tx_packets"), u("tx_bytes"), u("rx_packets"), u("rx_bytes")],
        average: [f("send_thpt", "average"), f("receive_thpt", "average")],
        actual: [f("send_thpt", "actual"), f("receive_thpt", "actual")],
        roles: sorted(&h["roles"]),
    }
}

fn follow(fx: &Fx, ip: &str, from_capture: &Seen, when: &str) {
    let stored = fx.c.hosts("p");
    report_row(&stored, ip).assert_same(from_capture, &format!("{when}: wirewatch-controller hosts"));

    let list = fx.api_list();
    let item = list.get(ip).expect("listed");
    let iface = item["interface_id"].as_i64().expect("interface");
    let d: Value = serde_json::from_str(&fx.page(&format!("/api/v1/interfaces/{iface}/hosts/{ip}"))).expect("JSON");
    // The detail carries the list item's fields (flattened).
    let s = &d;
    let i = |a: &str, b: &str| s[a][b].as_u64().expect(b);
    let f = |a: &str, b: &str| d[a][b].as_f64().expect(b);
    let api = Seen {
        counters: [i("packets", "sent"), i("bytes", "sent"), i("packets", "rcvd"), i("bytes", "rcvd")],
        average: [f("throughput_sent", "average"), f("throughput_rcvd", "average")],
        actual: [f("throughput_sent", "actual"), f("throughput_rcvd", "actual")],
        roles: sorted(&d["roles"]),
    };
    api.assert_same(from_capture, &format!("{when}: the API's host"));
    assert_eq!(item["bytes"], s["bytes"], "{when}: list and detail");

    // The Python host module (ntop's names) and wirewatch.hosts() (the Pythonic names).
    let role_checks: Vec<String> = [
        ("server", "isServer"),
        ("workstation", "isWorkstation"),
        ("http_host", "isHTTPhost"),
        ("dhcp_client", "isDHCPClient"),
        ("dhcp_server", "isDHCPServer"),
        ("ntp_server", "isNtpServer"),
        ("smtp_host", "isSMTPhost"),
        ("directory_host", "isDirectoryHost"),
    ]
    .iter()
    .map(|(name, f)| format!("('{name}', host.{f}())"))
    .collect();
    fx.script(
        "follow.py",
        &format!(
            "import json, ntop, host, wirewatch\n\
             assert ntop.findHostByNumIP('{ip}', 0, 0) == 1\n\
             s, r = host.sendThpt(), host.receiveThpt()\n\
             print(json.dumps([[host.pktSent(), host.bytesSent(), host.pktRcvd(), host.bytesRcvd()],\n\
             \x20   [s['average'], r['average']], [s['actual'], r['actual']],\n\
             \x20   sorted(n for n, yes in [{}] if yes)]))\n\
             h = [h for h in wirewatch.hosts(probe='p') if h.ip == '{ip}'][0]\n\
             print(json.dumps([[h.pkts_sent, h.bytes_sent, h.pkts_rcvd, h.bytes_rcvd],\n\
             \x20   [h.thpt_sent['average'], h.thpt_rcvd['average']], [h.thpt_sent['actual'], h.thpt_rcvd['actual']],\n\
             \x20   sorted(h.roles)]))\n",
            role_checks.join(", ")
        ),
    );
    let out = fx.page("/python/follow.py");
    let mut rows = out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l}: {e}")));
    let seen = |v: Value| {
        let n = |k: usize| v[0][k].as_u64().expect("counter");
        let f = |a: usize, k: usize| v[a][k].as_f64().expect("float");
        Seen {
            counters: [n(0), n(1), n(2), n(3)],
            average: [f(1, 0), f(1, 1)],
            actual: [f(2, 0), f(2, 1)],
            roles: sorted(&v[3]),
        }
    };
    let module = seen(rows.next().expect("host module line"));
    // The host module answers only for the roles it was asked about.
    let asked = [
        "server",
        "workstation",
        "http_host",
        "dhcp_client",
        "dhcp_server",
        "ntp_server",
        "smtp_host",
        "directory_host",
    ];
    let mut want = from_capture.clone();
    want.roles.retain(|r| asked.contains(&r.as_str()));
    module.assert_same(&want, &format!("{when}: the Python host module"));
    seen(rows.next().expect("wirewatch line")).assert_same(from_capture, &format!("{when}: wirewatch.hosts()"));
}

#[test]
fn one_host_has_the_same_numbers_and_names_in_every_layer() {
    let fx = replayed("follow", FOLLOWED);
    let read = read_json(&[pcaps().join(FOLLOWED)]);
    // The busiest host, and one that opens TCP sessions and serves nothing (a workstation).
    let oracle = oracle_hosts(FOLLOWED);
    let (busiest, _) = oracle.iter().max_by_key(|(_, v)| v[1] + v[3]).expect("a host");
    let workstation = read["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| sorted(&h["roles"]).contains(&"workstation".to_string()))
        .and_then(|h| h["ip"].as_str())
        .expect("a workstation in the capture")
        .to_string();
    for ip in [busiest.as_str(), workstation.as_str()] {
        let from_capture = report_row(&read, ip);
        assert_eq!(from_capture.counters.map(|v| v as i64), oracle[ip], "{ip}: the probe against tshark");
        follow(&fx, ip, &from_capture, "before the fold");
    }
    fx.fold();
    for ip in [busiest.as_str(), workstation.as_str()] {
        follow(&fx, ip, &report_row(&read, ip), "after the fold");
    }
}
