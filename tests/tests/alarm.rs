//! rrdAlarm from the command line end to end: RRD files with known values under a
//! controller's archive root, ntop's `rrdAlarmConfig.txt` imported and exported unchanged,
//! `alarm check` firing the expected rows (repetitions, above and below, a glob over many
//! files and one over none), the re-arm state kept in PostgreSQL across separate CLI
//! processes, a wrong file refused whole with its line numbers, and two checks at once firing
//! a threshold once; the same over the JSON API (thresholds read and replaced all or nothing,
//! roles, the check on demand) and the controller's periodic check with no CLI call.
//! Controllers whose checks a test counts run with the periodic check off.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wirewatch_e2e::*;

/// As ntop's configurator saved it: its comment line, tab-separated rows, a blank parameter
/// written as one space.
const NTOP_FILE: &str = "#rrdAlarmConfig File. All the lines that starts with the '#' will be ignored! (just like this one)\n\
1\tpa/interfaces/eth0/ethernetBytes.rrd\tabove\t100\t3\tnow-30m\tnow\tsavelog\talarms.txt\t3600\n\
2\t*/interfaces/*/throughput.rrd\tbelow\t5\t0\tnow-30m\tnow\tNone\t \t0\n\
3\tpb/hosts/*/bytesSent.rrd\tabove\t1e3\t2\tnow-1h\tnow\tsendmail\tops@example.org\t0\n\
4\tnothing/*/here.rrd\tabove\t0\t0\tnow-1h\tnow\tNone\t \t0\n";

/// The same thresholds edited by hand: comments and blank lines added, threshold 3's value
/// changed (its re-arm state must go), the others untouched (theirs must stay).
const EDITED_FILE: &str = "# rrdAlarm of the lab\n\
\n\
1\tpa/interfaces/eth0/ethernetBytes.rrd\tabove\t100\t3\tnow-30m\tnow\tsavelog\talarms.txt\t3600\n\
# the uplinks must carry traffic\n\
2\t*/interfaces/*/throughput.rrd\tbelow\t5\t0\tnow-30m\tnow\tNone\t \t0\n\
3\tpb/hosts/*/bytesSent.rrd\tabove\t1e4\t2\tnow-1h\tnow\tsendmail\tops@example.org\t0\n\
4\tnothing/*/here.rrd\tabove\t0\t0\tnow-1h\tnow\tNone\t \t0\n";

/// Two wrong lines (3: a type ntop never had; 5: nine fields), the others right.
const BAD_FILE: &str = "#rrdAlarmConfig File. All the lines that starts with the '#' will be ignored! (just like this one)\n\
1\tpa/interfaces/eth0/ethernetBytes.rrd\tabove\t100\t3\tnow-30m\tnow\tsavelog\talarms.txt\t3600\n\
2\t*/interfaces/*/throughput.rrd\tsideways\t5\t0\tnow-30m\tnow\tNone\t \t0\n\
# fine\n\
9\tx.rrd\tabove\t1\t0\tnow-1h\tnow\tNone\t0\n";

const STEP: i64 = ALARM_STEP;

/// A private PostgreSQL and one controller (RRD archiver off, alarm checks every
/// `check_every_secs`), its archive root and the last step boundary before now.
struct Fx {
    pg: Pg,
    db: &'static str,
    dir: tempfile::TempDir,
    c: Controller,
    root: PathBuf,
    last: i64,
}

impl Fx {
    fn start(db: &'static str, name: &str, check_every_secs: &str) -> Fx {
        let pg = Pg::start();
        let url = pg.create_db(db);
        let dir = scratch();
        let c = Controller::start(
            &dir.path().join("ctl"),
            &url,
            name,
            free_udp_port(),
            &[
                ("WIREWATCH_RRD_ENABLED", "false"),
                ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", check_every_secs),
                ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ],
        );
        let root = c.data_dir.join("rrd");
        Fx { pg, db, dir, c, root, last: last_alarm_step() }
    }
}

/// The archive the thresholds of NTOP_FILE are checked against.
fn write_files(root: &Path, last: i64) {
    write_minutes(root, "pa/interfaces/eth0/ethernetBytes.rrd", last, |_| 500.0);
    write_minutes(root, "pa/interfaces/eth0/throughput.rrd", last, |_| 50.0);
    write_minutes(root, "pb/interfaces/eth1/throughput.rrd", last, |_| 1.0);
    write_minutes(root, "pb/hosts/10.0.0.1/bytesSent.rrd", last, |_| 2000.0);
    // Beyond the threshold every other minute: never twice in a row.
    write_minutes(root, "pb/hosts/10.0.0.2/bytesSent.rrd", last, |i| if i % 2 == 0 { 2000.0 } else { 10.0 });
}

fn check(c: &Controller) -> Value {
    let out = c.cli(&["alarm", "check", "--format", "json"]).expect("alarm check");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// (threshold, file, outcome) of every row.
fn outcomes(r: &Value) -> Vec<(u64, String, String)> {
    r["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|x| {
            (
                x["threshold_id"].as_u64().expect("id"),
                x["file"].as_str().expect("file").to_string(),
                x["outcome"].to_string(),
            )
        })
        .collect()
}

fn row<'a>(r: &'a Value, id: u64, file: &str) -> &'a Value {
    r["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|x| x["threshold_id"] == id && x["file"] == file)
        .unwrap_or_else(|| panic!("no row {id} {file} in {r}"))
}

/// (action, status, attempts) of a check's action runs.
fn action_outcomes(r: &Value) -> Vec<(String, String, u64)> {
    r["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or("?").to_string(),
                a["status"].as_str().unwrap_or("?").to_string(),
                a["attempts"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

const FIRED: &str = "\"fired\"";
const OK: &str = "\"ok\"";

fn expect(rows: &[(u64, &str, &str)]) -> Vec<(u64, String, String)> {
    rows.iter().map(|(i, f, o)| (*i, f.to_string(), o.to_string())).collect()
}

#[test]
fn thresholds_import_export_check_and_rearm_in_postgres() {
    let Fx { pg, db, dir, c, root, last } = Fx::start("alarm", "alarm-ctl", "0");
    write_files(&root, last);

    // A wrong file is refused whole, every wrong line named; nothing is stored.
    let file = dir.path().join("bad.txt");
    std::fs::write(&file, BAD_FILE).expect("write");
    let err = c.cli(&["alarm", "import", file.to_str().expect("path")]).expect_err("a wrong file is refused");
    let msg = err.to_string();
    assert!(msg.contains("nothing imported"), "{msg}");
    assert!(msg.contains("line 3: Threshold Type: \"sideways\": unknown type"), "{msg}");
    assert!(msg.contains("line 5: expected 10 tab-separated fields, found 9"), "{msg}");
    assert!(!msg.contains("line 2:") && !msg.contains("line 4:"), "{msg}");
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_thresholds"), 0);

    // ntop's file in, the same file out.
    let file = dir.path().join("rrdAlarmConfig.txt");
    std::fs::write(&file, NTOP_FILE).expect("write");
    let out = c.cli(&["alarm", "import", file.to_str().expect("path")]).expect("import");
    assert!(out.contains("imported 4 thresholds"), "{out}");
    assert_eq!(c.cli(&["alarm", "export"]).expect("export"), NTOP_FILE);
    assert_eq!(
        pg.psql(db, "SELECT string_agg(id::text, ',' ORDER BY position) FROM alarm_thresholds").expect("ids"),
        "1,2,3,4"
    );

    // The first check fires: 1 (three values above 100), 2 on pb's uplink only (below 5),
    // 3 on 10.0.0.1 only (two in a row needed); 4 matches no file.
    let first = check(&c);
    let want_first = expect(&[
        (1, "pa/interfaces/eth0/ethernetBytes.rrd", FIRED),
        (2, "pa/interfaces/eth0/throughput.rrd", OK),
        (2, "pb/interfaces/eth1/throughput.rrd", FIRED),
        (3, "pb/hosts/10.0.0.1/bytesSent.rrd", FIRED),
        (3, "pb/hosts/10.0.0.2/bytesSent.rrd", OK),
    ]);
    assert_eq!(outcomes(&first), want_first, "{first}");
    let r1 = row(&first, 1, "pa/interfaces/eth0/ethernetBytes.rrd");
    assert_eq!(r1["value"], 500.0);
    // Newest first: the third value back from the newest fires.
    assert_eq!(r1["time"], last - 2 * STEP);
    assert_eq!(r1["action"], "savelog");
    assert_eq!(row(&first, 2, "pb/interfaces/eth1/throughput.rrd")["value"], 1.0);
    assert_eq!(row(&first, 3, "pb/hosts/10.0.0.1/bytesSent.rrd")["time"], last - STEP);
    assert_eq!(first["unmatched"], serde_json::json!([{"threshold_id": 4, "glob": "nothing/*/here.rrd"}]));
    assert_eq!(first["files_checked"], 5);
    assert_eq!(first["alarms_fired"], 3);
    // The actions ran (threshold 2's action is None): savelog wrote its file; sendmail has no
    // relay on this controller, a failure no retry can cure, recorded after one attempt.
    assert_eq!(
        action_outcomes(&first),
        vec![("savelog".to_string(), "ok".to_string(), 1), ("sendmail".to_string(), "failed".to_string(), 1),],
        "{first}"
    );
    let mail =
        first["actions"].as_array().and_then(|a| a.iter().find(|x| x["action"] == "sendmail")).expect("sendmail");
    assert!(mail["error"].as_str().is_some_and(|e| e.contains("no mail relay")), "{mail}");
    let saved = std::fs::read_to_string(c.data_dir.join("alarms/alarms.txt")).expect("savelog file");
    assert!(saved.contains("pa/interfaces/eth0/ethernetBytes.rrd") && saved.contains("<ALARM>"), "{saved}");
    assert_eq!(
        pg.psql(db, "SELECT string_agg(threshold_id || ' ' || file, ',' ORDER BY threshold_id, file) FROM alarm_rearm")
            .expect("rearm"),
        "1 pa/interfaces/eth0/ethernetBytes.rrd,2 pb/interfaces/eth1/throughput.rrd,3 pb/hosts/10.0.0.1/bytesSent.rrd"
    );

    // A second check, another process, within threshold 1's hour: 1 is held by its re-arm
    // state from PostgreSQL; 2 and 3 (re-arm 0) fire again.
    let second = check(&c);
    let want_second = expect(&[
        (1, "pa/interfaces/eth0/ethernetBytes.rrd", OK),
        (2, "pa/interfaces/eth0/throughput.rrd", OK),
        (2, "pb/interfaces/eth1/throughput.rrd", FIRED),
        (3, "pb/hosts/10.0.0.1/bytesSent.rrd", FIRED),
        (3, "pb/hosts/10.0.0.2/bytesSent.rrd", OK),
    ]);
    assert_eq!(outcomes(&second), want_second, "{second}");
    assert_eq!(row(&second, 1, "pa/interfaces/eth0/ethernetBytes.rrd")["held_by_rearm"], true);
    assert_eq!(row(&second, 2, "pa/interfaces/eth0/throughput.rrd")["held_by_rearm"], false);
    assert_eq!(second["alarms_fired"], 2);
    assert_eq!(
        pg.psql(db, "SELECT string_agg(files_checked || '/' || alarms_fired || '/' || thresholds || '/' || controller, ',' ORDER BY id) FROM alarm_runs")
            .expect("runs"),
        format!("5/3/4/{name},5/2/4/{name}", name = cli_controller_name())
    );

    // A wrong file later changes nothing: thresholds, export and re-arm state stay.
    let rearm_before = pg
        .psql(
            db,
            "SELECT string_agg(threshold_id || file || fired_at, ',' ORDER BY threshold_id, file) FROM alarm_rearm",
        )
        .expect("rearm");
    let err = c.cli_stdin(&["alarm", "import", "-"], BAD_FILE).expect_err("refused");
    assert!(err.to_string().contains("line 3:"), "{err}");
    assert_eq!(c.cli(&["alarm", "export"]).expect("export"), NTOP_FILE);
    assert_eq!(
        pg.psql(
            db,
            "SELECT string_agg(threshold_id || file || fired_at, ',' ORDER BY threshold_id, file) FROM alarm_rearm"
        )
        .expect("rearm"),
        rearm_before
    );

    // The hand-edited file (from standard input): every threshold row exported unchanged;
    // threshold 3 was edited, so its re-arm state went; 1 and 2 kept theirs.
    let out = c.cli_stdin(&["alarm", "import", "-"], EDITED_FILE).expect("import");
    assert!(out.contains("imported 4 thresholds"), "{out}");
    assert!(out.contains("3 unchanged"), "{out}");
    assert!(out.contains("1 re-arm states"), "{out}");
    let exported = c.cli(&["alarm", "export"]).expect("export");
    let rows = |t: &str| {
        t.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(rows(&exported), rows(EDITED_FILE));
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_rearm WHERE threshold_id = 3"), 0);
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_rearm WHERE threshold_id IN (1, 2)"), 2);

    // The table: the seed's columns, ALARM FIRED / OK, the glob with no file, the action's status.
    let table = c.cli(&["alarm", "check"]).expect("alarm check");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "ID\tFile\tValue\tType\tThreshold\tTime\tAction\tStatus", "{table}");
    assert!(
        lines.iter().any(|l| l.starts_with("1\tpa/interfaces/eth0/ethernetBytes.rrd\t-\tabove\t100.0\t")
            && l.ends_with("\tNone\tOK")),
        "{table}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("2\tpb/interfaces/eth1/throughput.rrd\t1.0\tbelow\t5.0\t")
            && l.ends_with("\tNone\tALARM FIRED")),
        "{table}"
    );
    // 2000 is below the edited 1e4: nothing fires for 3.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("3\tpb/hosts/10.0.0.1/bytesSent.rrd\t-\tabove\t10000.0\t") && l.ends_with("\tOK")),
        "{table}"
    );
    assert!(lines.contains(&"4\tnothing/*/here.rrd\tno file matches"), "{table}");
    // Only threshold 2 fired, whose action is None: no action line.
    assert!(!table.lines().any(|l| l.starts_with("action\t")), "{table}");
    assert!(table.contains("4 thresholds, 5 files checked, 1 alarms fired, 1 globs matched no file"), "{table}");
}

/// `rrdtool lastupdate FILE`: (time, value) of its last update.
fn last_update(file: &Path) -> (i64, f64) {
    let out = std::process::Command::new("rrdtool").arg("lastupdate").arg(file).output().expect("rrdtool");
    assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (t, v) = text.lines().last().and_then(|l| l.split_once(':')).unwrap_or_else(|| panic!("{text}"));
    (t.trim().parse().expect("time"), v.trim().parse().expect("value"))
}

/// As ntop's rrdAlarm did, each check's duration (seconds) and the alarms it fired go to
/// `rrdAlarm/duration.rrd` and `rrdAlarm/results.rrd` (made when missing; ntop's one `counter`
/// data source, GAUGE; step the check period, 60 s when periodic checks are off): after two
/// checks `rrdtool` reads both and their last update is the second check's.
#[test]
fn each_check_is_archived_in_rrdalarm_files() {
    let Fx { pg: _pg, db: _, dir: _dir, c, root, last } = Fx::start("alarm_history", "alarm-ctl", "0");
    write_files(&root, last);
    c.cli_stdin(&["alarm", "import", "-"], NTOP_FILE).expect("import");
    let first = check(&c);
    assert_eq!(first["alarms_fired"], 3);
    // librrd keeps one value a second: the second check in another second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = check(&c);
    assert_eq!(second["alarms_fired"], 2);
    let started = chrono::DateTime::parse_from_rfc3339(second["started_at"].as_str().expect("started_at"))
        .expect("time")
        .timestamp();
    for (file, want) in [
        ("rrdAlarm/duration.rrd", second["duration_ms"].as_f64().expect("duration") / 1000.0),
        ("rrdAlarm/results.rrd", 2.0),
    ] {
        let f = root.join(file);
        let out = std::process::Command::new("rrdtool").arg("info").arg(&f).output().expect("rrdtool info");
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let info = String::from_utf8_lossy(&out.stdout);
        assert!(info.contains("step = 60") && info.contains("ds[counter].type = \"GAUGE\""), "{file}: {info}");
        let (t, v) = last_update(&f);
        assert!(t >= started && t <= started + 60, "{file}: last update {t}, check started {started}");
        assert!((v - want).abs() <= 1e-9 * want.max(1.0), "{file}: {v} vs {want}");
    }
    // Thresholds may watch the checker itself (the history is an archive file like the others).
    let watch = "1\trrdAlarm/results.rrd\tabove\t100\t0\tnow-1h\tnow\tNone\t \t0\n";
    c.cli_stdin(&["alarm", "import", "-"], watch).expect("import");
    assert_eq!(outcomes(&check(&c)), expect(&[(1, "rrdAlarm/results.rrd", OK)]));
}

/// The name a CLI command runs under with no name configured: the host's name and the
/// default QUIC port, as `serve` would name itself.
fn cli_controller_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    format!("{}:4433", host.trim())
}

/// Two checks at once (two processes) serialise on the alarms' lock: a threshold with a
/// re-arm time fires once between them, and both runs are recorded.
#[test]
fn concurrent_checks_fire_once() {
    let Fx { pg, db, dir: _dir, c, root, last } = Fx::start("alarm_concurrent", "alarm-ctl", "0");
    for i in 0..20 {
        write_minutes(&root, &format!("p/interfaces/eth{i}/ethernetBytes.rrd"), last, |_| 500.0);
    }
    let file = "# one threshold, an hour's re-arm\n\
1\t*/interfaces/*/ethernetBytes.rrd\tabove\t100\t1\tnow-30m\tnow\tNone\t \t3600\n";
    c.cli_stdin(&["alarm", "import", "-"], file).expect("import");
    let reports: Vec<Value> = std::thread::scope(|s| {
        let a = s.spawn(|| check(&c));
        let b = s.spawn(|| check(&c));
        vec![a.join().expect("check a"), b.join().expect("check b")]
    });
    let fired: Vec<u64> = reports.iter().map(|r| r["alarms_fired"].as_u64().expect("fired")).collect();
    assert_eq!(fired.iter().sum::<u64>(), 20, "{fired:?}");
    assert!(fired.contains(&20) && fired.contains(&0), "one check fires every file, the other none: {fired:?}");
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_runs"), 2);
    assert_eq!(pg.scalar(db, "SELECT sum(alarms_fired) FROM alarm_runs"), 20);
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_rearm"), 20);
}

/// The JSON objects of ntop's rows (the API's ten fields).
fn api_rows(file: &str) -> Value {
    const KEYS: [&str; 10] =
        ["id", "rrd_path", "type", "value", "repetitions", "start", "end", "action", "action_parameter", "rearm_secs"];
    let rows: Vec<Value> = file
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 10, "{l}");
            Value::Object(KEYS.iter().zip(fields).map(|(k, v)| (k.to_string(), Value::from(v))).collect())
        })
        .collect();
    Value::Array(rows)
}

/// The thresholds over the JSON API: replaced and read back equal; a wrong row refused with
/// its row and field named, nothing replaced; viewers and site-scoped operators refused; the
/// check on demand fires the rows the CLI's does, and a second one is held by re-arm.
#[test]
fn thresholds_and_check_over_the_api() {
    let Fx { pg, db, dir: _dir, c, root, last } = Fx::start("alarm_api", "alarm-api", "0");
    write_files(&root, last);
    let api = c.http;
    let admin = login(api, "admin", ADMIN_PASSWORD);
    let vic = c.user("vic", "viewer", None);
    let opa = c.user("opa", "operator", Some("site-a"));
    const PATH: &str = "/api/v1/alarms/thresholds";

    let empty = http(api, "GET", PATH, Some(&vic), None);
    assert_eq!((empty.status, empty.json()), (200, serde_json::json!([])), "{}", empty.body);

    // PUT then GET: the same list, in order; the CLI exports ntop's rows.
    let rows = api_rows(NTOP_FILE);
    let r = http(api, "PUT", PATH, Some(&admin), Some(&rows.to_string()));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["thresholds"], 4);
    let got = http(api, "GET", PATH, Some(&vic), None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json(), rows);
    assert_eq!(c.cli(&["alarm", "export"]).expect("export"), NTOP_FILE);

    // A wrong row: 400 naming its row and field; nothing replaced.
    let mut bad = api_rows(EDITED_FILE);
    bad[1]["type"] = Value::from("sideways");
    let r = http(api, "PUT", PATH, Some(&admin), Some(&bad.to_string()));
    assert_eq!((r.status, r.code()), (400, "bad_request".to_string()), "{}", r.body);
    let msg = r.json()["error"]["message"].as_str().expect("message").to_string();
    assert!(msg.contains("row 2 (ID \"2\")") && msg.contains("Threshold Type: \"sideways\""), "{msg}");
    let mut dup = api_rows(EDITED_FILE);
    dup[3]["id"] = Value::from("1");
    let r = http(api, "PUT", PATH, Some(&admin), Some(&dup.to_string()));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("row 4") && r.body.contains("row 1"), "{}", r.body);
    assert_eq!(http(api, "GET", PATH, Some(&admin), None).json(), rows, "nothing replaced");

    // Roles: a viewer cannot replace or check; an operator of one site neither (global).
    for t in [&vic, &opa] {
        let r = http(api, "PUT", PATH, Some(t), Some(&api_rows(EDITED_FILE).to_string()));
        assert_eq!(r.status, 403, "{}", r.body);
        let r = http(api, "POST", "/api/v1/alarms/check", Some(t), None);
        assert_eq!(r.status, 403, "{}", r.body);
    }
    // A site-scoped user does not even read them: their globs name other sites' probes.
    let r = http(api, "GET", PATH, Some(&opa), None);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(http(api, "GET", PATH, Some(&admin), None).json(), rows, "nothing replaced");
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_runs"), 0);

    // The check on demand: the rows the CLI's check fires, ntop's glob with no file, and what
    // the actions came to.
    let r = http(api, "POST", "/api/v1/alarms/check", Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let first = r.json();
    assert_eq!(
        outcomes(&first),
        expect(&[
            (1, "pa/interfaces/eth0/ethernetBytes.rrd", FIRED),
            (2, "pa/interfaces/eth0/throughput.rrd", OK),
            (2, "pb/interfaces/eth1/throughput.rrd", FIRED),
            (3, "pb/hosts/10.0.0.1/bytesSent.rrd", FIRED),
            (3, "pb/hosts/10.0.0.2/bytesSent.rrd", OK),
        ]),
        "{first}"
    );
    let r1 = row(&first, 1, "pa/interfaces/eth0/ethernetBytes.rrd");
    assert_eq!(
        (r1["value"].clone(), r1["time"].clone(), r1["type"].clone()),
        (500.0.into(), (last - 2 * STEP).into(), "above".into())
    );
    assert_eq!(first["unmatched"], serde_json::json!([{"threshold_id": 4, "glob": "nothing/*/here.rrd"}]));
    assert_eq!((first["files_checked"].clone(), first["alarms_fired"].clone()), (5.into(), 3.into()));
    assert_eq!(
        action_outcomes(&first),
        vec![("savelog".to_string(), "ok".to_string(), 1), ("sendmail".to_string(), "failed".to_string(), 1),],
        "{first}"
    );

    // A second check within threshold 1's hour: held by re-arm.
    let second = http(api, "POST", "/api/v1/alarms/check", Some(&admin), None).json();
    assert_eq!(row(&second, 1, "pa/interfaces/eth0/ethernetBytes.rrd")["outcome"], "ok", "{second}");
    assert_eq!(row(&second, 1, "pa/interfaces/eth0/ethernetBytes.rrd")["held_by_rearm"], true);
    assert_eq!(second["alarms_fired"], 2);
    assert_eq!(
        pg.psql(db, "SELECT string_agg(alarms_fired || '/' || controller, ',' ORDER BY id) FROM alarm_runs")
            .expect("runs"),
        "3/alarm-api,2/alarm-api"
    );
}

/// The controller checks by itself every `check_every_secs` (here 1): a run is recorded and
/// the fired threshold's re-arm state saved with no CLI or API check; later runs are held by
/// the re-arm time.
#[test]
fn periodic_check_fires_without_being_asked() {
    let Fx { pg, db, dir: _dir, c, root, last } = Fx::start("alarm_periodic", "alarm-periodic", "1");
    write_minutes(&root, "p/interfaces/eth0/ethernetBytes.rrd", last, |_| 500.0);
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    let rows = api_rows("7\t*/interfaces/*/ethernetBytes.rrd\tabove\t100\t1\tnow-30m\tnow\tNone\t \t3600\n");
    let r = http(c.http, "PUT", "/api/v1/alarms/thresholds", Some(&admin), Some(&rows.to_string()));
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while pg.scalar(db, "SELECT count(*) FROM alarm_rearm") == 0 {
        assert!(std::time::Instant::now() < deadline, "no periodic check fired");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        pg.psql(db, "SELECT threshold_id || ' ' || file FROM alarm_rearm").expect("rearm"),
        "7 p/interfaces/eth0/ethernetBytes.rrd"
    );
    // Later periods run again on this controller, held by the hour's re-arm.
    let runs = pg.scalar(db, "SELECT count(*) FROM alarm_runs");
    while pg.scalar(db, "SELECT count(*) FROM alarm_runs") < runs + 2 {
        assert!(std::time::Instant::now() < deadline, "the periodic check stopped");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(pg.scalar(db, "SELECT sum(alarms_fired) FROM alarm_runs"), 1);
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_runs WHERE controller <> 'alarm-periodic'"), 0);
    assert!(pg.scalar(db, "SELECT runs FROM jobs WHERE name = 'alarm_check'") >= 3);
    assert_eq!(
        pg.psql(db, "SELECT DISTINCT last_run_by FROM jobs WHERE name = 'alarm_check'").expect("jobs"),
        "alarm-periodic"
    );
    assert!(
        pg.scalar(db, "SELECT count(*) FROM job_runs WHERE name = 'alarm_check' AND controller = 'alarm-periodic'")
            >= 3
    );
}

/// Two controllers of one database, both checking every second: one check per period between
/// them (the `alarm_check` job's lease, whichever controller takes it), the threshold fired once.
#[test]
fn periodic_check_runs_on_one_controller_per_period() {
    let pg = Pg::start();
    let db = "alarm_two";
    let url = pg.create_db(db);
    let dir = scratch();
    let env = [
        ("WIREWATCH_RRD_ENABLED", "false"),
        ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "1"),
        ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ];
    let a = Controller::start(&dir.path().join("a"), &url, "alarm-a", free_udp_port(), &env);
    let b = Controller::start(&dir.path().join("b"), &url, "alarm-b", free_udp_port(), &env);
    let last = last_alarm_step();
    // Each controller checks its own archive: the same file in both.
    for c in [&a, &b] {
        write_minutes(&c.data_dir.join("rrd"), "p/interfaces/eth0/ethernetBytes.rrd", last, |_| 500.0);
    }
    let admin = login(a.http, "admin", ADMIN_PASSWORD);
    let rows = api_rows("7\t*/interfaces/*/ethernetBytes.rrd\tabove\t100\t1\tnow-30m\tnow\tNone\t \t3600\n");
    let r = http(a.http, "PUT", "/api/v1/alarms/thresholds", Some(&admin), Some(&rows.to_string()));
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while pg.scalar(db, "SELECT count(*) FROM alarm_runs WHERE alarms_fired > 0") == 0
        || pg.scalar(db, "SELECT count(*) FROM job_runs WHERE name = 'alarm_check'") < 6
    {
        assert!(std::time::Instant::now() < deadline, "the periodic checks did not run");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let overlapping = pg.scalar(
        db,
        "SELECT count(*) FROM job_runs a JOIN job_runs b ON a.name = b.name AND a.id < b.id
         AND b.started_at < a.started_at + interval '900 milliseconds' WHERE a.name = 'alarm_check'",
    );
    assert_eq!(overlapping, 0, "two alarm checks within one period");
    assert_eq!(pg.scalar(db, "SELECT sum(alarms_fired) FROM alarm_runs"), 1);
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_rearm"), 1);
    assert_eq!(pg.scalar(db, "SELECT count(*) FROM alarm_runs WHERE controller NOT IN ('alarm-a', 'alarm-b')"), 0);
}
