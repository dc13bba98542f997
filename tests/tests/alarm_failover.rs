//! rrdAlarm and the archives with two controllers on one database: a probe streams fresh
//! traffic (a synthetic capture whose packets are from the last minutes) to both; each
//! controller keeps its own archive from PostgreSQL and either may check the thresholds. The
//! checking controller is killed (SIGKILL) mid-stream: the other takes the checks over, the
//! threshold over every interface fires exactly once and its action runs once (re-arm state
//! and actions in PostgreSQL), the event is in the API, and once the stream has ended (the
//! killed controller restarted) both archives hold the same intervals, none missing or twice,
//! whose fetched integral is the stored bytes within 1 %.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wirewatch_e2e::*;

/// The archive's step: the probe's 5 s interval raised to the 10 s minimum.
const STEP: i64 = 10;

const ENV: &[(&str, &str)] = &[
    ("WIREWATCH_RRD_UPDATE_EVERY_SECS", "1"),
    ("WIREWATCH_RRD_SETTLE_SECS", "45"),
    ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "1"),
    ("WIREWATCH_ROLLUP_EVERY_SECS", "1"),
    ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
];

/// 60 s of synthetic traffic ending two minutes ago (so a threshold's `now-1h` window holds it).
fn fresh_capture(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("fresh.pcap");
    let start = chrono::Utc::now().timestamp() - 180;
    let st = Command::new(pcaps().join("../gen_pcap.py"))
        .args(["--packets", "30000", "--hosts", "40", "--hosts6", "10", "--duration", "60", "--seed", "7"])
        .args(["--start", &start.to_string(), "--out"])
        .arg(&out)
        .status()
        .expect("gen_pcap.py");
    assert!(st.success(), "gen_pcap.py failed");
    out
}

fn savelog_blocks(c: &Controller) -> usize {
    std::fs::read_to_string(c.data_dir.join("alarms/fired.log")).map(|s| s.matches("<ALARM>").count()).unwrap_or(0)
}

/// Every interface file's fetch over one fixed window around the stream.
fn interface_files(root: &Path, window: (i64, i64)) -> std::collections::BTreeMap<std::path::PathBuf, String> {
    rrd_contents(root, window.0, window.1)
        .into_iter()
        .filter(|(rel, _)| rel.components().nth(1).is_some_and(|c| c.as_os_str() == "interfaces"))
        .collect()
}

#[test]
fn the_other_controller_takes_the_checks_over_and_archives_have_no_gap() {
    let pg = Pg::start();
    let url = pg.create_db("alarm_failover");
    let dir = scratch();
    let capture = fresh_capture(dir.path());
    let mut cs = [
        Controller::start(&dir.path().join("c1"), &url, "c1", free_udp_port(), ENV),
        Controller::start(&dir.path().join("c2"), &url, "c2", free_udp_port(), ENV),
    ];
    let thresholds = "# any traffic at all on any interface, an action once a day at most\n\
1\t*/interfaces/*/ethernetBytes.rrd\tabove\t0\t1\tnow-1h\tnow\tsavelog\tfired.log\t86400\n";
    cs[0].cli_stdin(&["alarm", "import", "-"], thresholds).expect("import");
    let id = cs[0].enroll("p", "lab", dir.path());
    // 60 s of packets at 4x: ~15 s of stream, a batch every 5 s of packet time.
    let mut probe = Probe::replay(&[cs[0].quic, cs[1].quic], &id, &[capture], "4", 5);

    // Mid-stream, once a check has fired: kill the controller whose check it was.
    wait_until("the threshold fired", Duration::from_secs(120), || {
        pg.scalar("alarm_failover", "SELECT count(*) FROM alarm_events") > 0
    });
    let checker =
        pg.psql("alarm_failover", "SELECT controller FROM alarm_events ORDER BY id LIMIT 1").expect("checker");
    let dead = cs.iter().position(|c| c.name == checker.trim()).expect("a controller of the test fired");
    let killed_at = chrono::Utc::now();
    cs[dead].kill9();
    assert_eq!(probe.wait(Duration::from_secs(240)), Some(0), "the probe fails over and finishes");
    let survivor = &cs[1 - dead];
    // The survivor checks from now on: runs recorded after the kill, by it alone.
    wait_until("the survivor checks", Duration::from_secs(60), || {
        pg.scalar(
            "alarm_failover",
            &format!(
                "SELECT count(*) FROM alarm_runs WHERE controller = '{}' AND started_at > '{}'",
                survivor.name,
                killed_at.to_rfc3339()
            ),
        ) >= 3
    });
    // Exactly once: one event, one action run, one block written, however many checks ran.
    assert_eq!(pg.scalar("alarm_failover", "SELECT count(*) FROM alarm_events"), 1);
    assert_eq!(
        pg.psql("alarm_failover", "SELECT string_agg(status || ' ' || attempts, ',') FROM alarm_actions")
            .expect("runs"),
        "ok 1"
    );
    assert_eq!(savelog_blocks(&cs[0]) + savelog_blocks(&cs[1]), 1);
    let token = login(survivor.http, "admin", ADMIN_PASSWORD);
    let r = http(survivor.http, "GET", "/api/v1/alarms/events", Some(&token), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.json()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!((items[0]["probe"].clone(), items[0]["actions"][0]["status"].clone()), ("p".into(), "ok".into()));
    // A check on demand within the re-arm day fires nothing.
    let r = http(survivor.http, "POST", "/api/v1/alarms/check", Some(&token), None);
    assert_eq!((r.status, r.json()["alarms_fired"].clone()), (200, 0.into()), "{}", r.body);

    // The killed controller comes back and catches up from PostgreSQL: both archives hold
    // every interval once, the same content, the stored bytes.
    cs[dead].restart();
    let last = pg.scalar("alarm_failover", "SELECT max(interval_end_ns) / 1000000000 FROM batches");
    let stored = pg.scalar("alarm_failover", "SELECT sum(bytes) FROM interfaces");
    // Once the stream has settled, each file's last step is closed (a zero at its end, so the
    // last interval's bytes show in a fetch): the files' last update is the step after `last`.
    let closed = (last + STEP - 1) / STEP * STEP;
    let window = (last - 3600, closed + 600);
    for c in &cs {
        let root = c.data_dir.join("rrd");
        wait_until(&format!("{}'s archive holds the last interval", c.name), Duration::from_secs(60), || {
            let files = interface_files(&root, window);
            let eth: Vec<_> = files.keys().filter(|k| k.ends_with("ethernetBytes.rrd")).collect();
            !eth.is_empty()
                && eth.iter().all(|f| {
                    Command::new("rrdtool")
                        .arg("lastupdate")
                        .arg(root.join(f))
                        .output()
                        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("{closed}:")))
                        .unwrap_or(false)
                })
        });
    }
    let a = interface_files(&cs[0].data_dir.join("rrd"), window);
    let b = interface_files(&cs[1].data_dir.join("rrd"), window);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (file, content) in &a {
        let known =
            |c: &str| c.lines().filter(|l| !l.contains("nan") && l.contains(':')).collect::<Vec<_>>().join("\n");
        assert!(
            b.get(file) == Some(content),
            "{}: the two controllers' archives differ:\n{}\n---\n{}",
            file.display(),
            known(content),
            b.get(file).map(|c| known(c)).unwrap_or_default()
        );
    }
    let got: f64 = a.iter().filter(|(k, _)| k.ends_with("ethernetBytes.rrd")).map(|(_, v)| rrd_integral(v)).sum();
    let err = (got - stored as f64).abs() / stored as f64;
    eprintln!("ethernetBytes over both archives: integral {got:.1}, stored {stored} ({:.4} %)", err * 100.0);
    assert!(err < 0.01, "integral {got} vs stored {stored} bytes");
}
