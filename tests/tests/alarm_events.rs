//! Alarm events and their actions end to end, on a real controller and PostgreSQL: a check on
//! demand records one event per firing and runs each action once per action and parameter
//! (savelog's file, a Python action's arguments as ntop passed them, a failing webhook retried
//! and recorded while the others ran); the events API within the caller's sites, with
//! acknowledgement and the firing gauge in `/metrics`; a second check within the re-arm time
//! records nothing. Then scheduled scripts: an alarm script that raises an alarm routed to
//! savelog, a report whose output is stored and served (sandboxed) by the reports API, on
//! their schedule with no call from outside.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use wirewatch_e2e::*;

/// A Python action: reads its arguments as ntop's action scripts did (getopt over
/// `-p PARAM -t TEXT`) and writes them to the spool.
const RECORD_ACTION: &str = r#"
import getopt, json, os, sys, ntop
opts, rest = getopt.getopt(sys.argv[1:], "p:t:")
path = os.path.join(ntop.getSpoolPath(), "record-action.jsonl")
with open(path, "a") as f:
    f.write(json.dumps([sys.argv[0], dict(opts), rest]) + "\n")
"#;

fn thresholds(webhook_port: u16) -> String {
    format!(
        "# events test\n\
1\tpa/interfaces/*/ethernetBytes.rrd\tabove\t100\t1\tnow-30m\tnow\tsavelog\talarms.log\t3600\n\
2\t*/interfaces/*/ethernetBytes.rrd\tabove\t100\t1\tnow-30m\tnow\trecord\tlab\t3600\n\
3\tpb/interfaces/*/ethernetBytes.rrd\tabove\t100\t1\tnow-30m\tnow\twebhook\thttp://127.0.0.1:{webhook_port}/hook\t3600\n"
    )
}

fn events(api: std::net::SocketAddr, token: &str, query: &str) -> Vec<Value> {
    let r = http(api, "GET", &format!("/api/v1/alarms/events{query}"), Some(token), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["items"].as_array().expect("items").clone()
}

fn names(list: &[Value]) -> Vec<(String, String)> {
    list.iter()
        .map(|e| (e["name"].as_str().unwrap_or("?").to_string(), e["subject"].as_str().unwrap_or("?").to_string()))
        .collect()
}

#[test]
fn check_records_events_runs_actions_and_scopes_them() {
    let pg = Pg::start();
    let url = pg.create_db("alarm_events");
    let dir = scratch();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir_all(scripts.join("actions")).expect("mkdir");
    std::fs::write(scripts.join("actions/record.py"), RECORD_ACTION).expect("write action");
    // Nothing listens here: the webhook fails every attempt.
    let closed = free_tcp_port();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "events-ctl",
        free_udp_port(),
        &[
            ("WIREWATCH_RRD_ENABLED", "false"),
            ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "0"),
            ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WIREWATCH_PYTHON_SCRIPTS_DIR", scripts.to_str().expect("utf-8")),
            ("WIREWATCH_ACTIONS_ATTEMPTS", "3"),
            ("WIREWATCH_ACTIONS_BACKOFF_SECS", "0.2"),
        ],
    );
    let ids = dir.path().join("ids");
    c.enroll("pa", "site-a", &ids);
    c.enroll("pb", "site-b", &ids);
    let root = c.data_dir.join("rrd");
    let last = last_alarm_step();
    write_minutes(&root, "pa/interfaces/eth0/ethernetBytes.rrd", last, |_| 500.0);
    write_minutes(&root, "pb/interfaces/eth1/ethernetBytes.rrd", last, |_| 500.0);
    // The CLI checks a script action's file in the scripts directories it is configured with.
    let file = dir.path().join("thresholds.txt");
    std::fs::write(&file, thresholds(closed)).expect("write thresholds");
    let scripts_env = [("WIREWATCH_PYTHON_SCRIPTS_DIR", scripts.to_str().expect("utf-8"))];
    let err = c.cli(&["alarm", "import", file.to_str().expect("utf-8")]).expect_err("no record.py without the dir");
    assert!(err.to_string().contains("no script actions/record.py"), "{err}");
    c.cli_env(&["alarm", "import", file.to_str().expect("utf-8")], &scripts_env).expect("import");

    let api = c.http;
    let admin = login(api, "admin", ADMIN_PASSWORD);
    let vic = c.user("vic", "viewer", None);
    let opa = c.user("opa", "operator", Some("site-a"));

    // The check answers once every action has run or failed.
    let r = http(api, "POST", "/api/v1/alarms/check", Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let report = r.json();
    assert_eq!(report["alarms_fired"], 4, "{report}");
    assert_eq!(report["event_ids"].as_array().map(Vec::len), Some(4), "{report}");
    let actions: Vec<(String, usize, String)> = report["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or("?").to_string(),
                a["event_ids"].as_array().map_or(0, Vec::len),
                a["status"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("savelog".into(), 1, "ok".into()),
            ("record".into(), 2, "ok".into()),
            ("webhook".into(), 1, "failed".into())
        ],
        "{report}"
    );
    let hook = report["actions"].as_array().and_then(|a| a.iter().find(|x| x["action"] == "webhook")).expect("webhook");
    assert_eq!(hook["attempts"], 3, "retried up to the configured attempts: {hook}");
    assert!(hook["error"].as_str().is_some_and(|e| !e.is_empty()), "{hook}");

    // savelog appended ntop's block to its file under <data-dir>/alarms.
    let log = std::fs::read_to_string(c.data_dir.join("alarms/alarms.log")).expect("savelog file");
    assert!(log.contains("<ALARM>") && log.contains("pa/interfaces/eth0/ethernetBytes.rrd"), "{log}");
    assert!(!log.contains("pb/"), "only threshold 1's file: {log}");
    // The Python action got ntop's arguments, both files' blocks in one call.
    let calls = std::fs::read_to_string(c.data_dir.join("python-spool/record-action.jsonl")).expect("action ran");
    let calls: Vec<Value> = calls.lines().map(|l| serde_json::from_str(l).expect("argv")).collect();
    assert_eq!(calls.len(), 1, "one call per action and parameter: {calls:?}");
    let call = &calls[0];
    assert_eq!(
        (call[0].clone(), call[1]["-p"].clone(), call[2].clone()),
        ("record.py".into(), "lab".into(), serde_json::json!([])),
        "{call}"
    );
    let text = call[1]["-t"].as_str().expect("text");
    assert!(text.contains("pa/interfaces/eth0") && text.contains("pb/interfaces/eth1"), "{text}");
    // The outcomes are in PostgreSQL.
    assert_eq!(
        pg.psql(
            "alarm_events",
            "SELECT string_agg(action || ' ' || status || ' ' || attempts, ',' ORDER BY id) FROM alarm_actions"
        )
        .expect("actions"),
        "savelog ok 1,record ok 1,webhook failed 3"
    );

    // Events within the caller's sites: every site's viewer sees all four, site-a's operator
    // the two of probe pa.
    let all = events(api, &vic, "");
    assert_eq!(all.len(), 4, "{all:?}");
    let mine = events(api, &opa, "");
    assert_eq!(
        names(&mine),
        vec![
            ("threshold 2".to_string(), "pa/interfaces/eth0/ethernetBytes.rrd".to_string()),
            ("threshold 1".to_string(), "pa/interfaces/eth0/ethernetBytes.rrd".to_string()),
        ]
    );
    assert!(mine.iter().all(|e| e["probe"] == "pa"), "{mine:?}");
    let t1 = &mine[1];
    assert_eq!(
        (t1["value"].clone(), t1["threshold"].clone(), t1["type"].clone()),
        (500.0.into(), 100.0.into(), "above".into())
    );
    assert_eq!(t1["actions"][0]["action"], "savelog", "{t1}");
    // Paging: one at a time, newest first, the cursor to the next.
    let r = http(api, "GET", "/api/v1/alarms/events?limit=3", Some(&admin), None);
    let page = r.json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(3));
    let next = page["next_cursor"].as_str().expect("cursor");
    let r = http(api, "GET", &format!("/api/v1/alarms/events?limit=3&cursor={next}"), Some(&admin), None);
    assert_eq!((r.json()["items"].as_array().map(Vec::len), r.json()["next_cursor"].clone()), (Some(1), Value::Null));
    for bad in ["?severity=loud", "?limit=0", "?cursor=abc", "?state=closed"] {
        let r = http(api, "GET", &format!("/api/v1/alarms/events{bad}"), Some(&admin), None);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }

    // Acknowledgement: operators only, within their sites; the first one stays.
    let pb_event = all.iter().find(|e| e["probe"] == "pb").expect("pb event")["id"].as_i64().expect("id");
    let pa_event = t1["id"].as_i64().expect("id");
    let ack = |t: &str, id: i64| http(api, "POST", &format!("/api/v1/alarms/events/{id}/ack"), Some(t), None);
    assert_eq!(ack(&vic, pa_event).status, 403);
    assert_eq!(ack(&opa, pb_event).status, 404, "another site's event is not found");
    let r = ack(&opa, pa_event);
    assert_eq!((r.status, r.json()["acked_by"].clone()), (200, Value::from("opa")), "{}", r.body);
    let r = ack(&admin, pa_event);
    assert_eq!(r.json()["acked_by"], "opa", "the first acknowledgement stays");
    assert_eq!(events(api, &admin, "?state=open").len(), 3);
    assert_eq!(events(api, &admin, "?state=acked").len(), 1);

    // The firing gauge: open events by severity, refreshed within a few seconds.
    wait_until("the open alarms gauge", Duration::from_secs(20), || {
        c.metrics_text().lines().any(|l| l == "wirewatch_alarms_open{severity=\"warning\"} 3")
    });
    assert!(c.metrics_text().contains("wirewatch_alarm_actions_total{outcome=\"failed\"} 1"), "{}", c.metrics_text());

    // A second check within the re-arm hour: nothing fires, no event, no action.
    let again = c.cli(&["alarm", "check", "--format", "json"]).expect("check");
    let again: Value = serde_json::from_str(&again).expect("json");
    assert_eq!((again["alarms_fired"].clone(), again["actions"].clone()), (0.into(), serde_json::json!([])));
    assert_eq!(pg.scalar("alarm_events", "SELECT count(*) FROM alarm_events"), 4);
    assert_eq!(pg.scalar("alarm_events", "SELECT count(*) FROM alarm_actions"), 3);
    assert_eq!(std::fs::read_to_string(c.data_dir.join("alarms/alarms.log")).expect("log"), log, "no second block");
}

const ALARM_SCRIPT: &str = r#"
import wirewatch
eid = wirewatch.raise_alarm("disk full", "error", "the spool is at 97%", subject="/var/spool")
print("raised", eid)
"#;

const REPORT_SCRIPT: &str = r#"
import wirewatch
print("<h1>daily report</h1>")
print("<p>%d probes</p>" % len(wirewatch.probes()))
"#;

/// A page that tries to raise an alarm: a viewer is refused.
const PAGE_SCRIPT: &str = r#"
import wirewatch
wirewatch.raise_alarm("page", "info", "from a page")
print("raised")
"#;

fn write_config(path: &Path) {
    std::fs::write(
        path,
        r#"
[[schedule]]
script = "alarms/disk.py"
every_mins = 60

[[schedule]]
script = "reports/daily.py"
every_mins = 60

[[alarms.route]]
name = "disk*"
min_severity = "warning"
actions = ["savelog:scripts.log"]

[[alarms.route]]
name = "*"
min_severity = "critical"
actions = ["savelog:critical.log"]
"#,
    )
    .expect("config");
}

#[test]
fn scheduled_scripts_raise_alarms_and_store_reports() {
    let pg = Pg::start();
    let url = pg.create_db("alarm_schedule");
    let dir = scratch();
    let scripts = dir.path().join("scripts");
    for (rel, text) in
        [("alarms/disk.py", ALARM_SCRIPT), ("reports/daily.py", REPORT_SCRIPT), ("pages/raise.py", PAGE_SCRIPT)]
    {
        let p = scripts.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write script");
    }
    let config = dir.path().join("controller.toml");
    write_config(&config);
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "schedule-ctl",
        free_udp_port(),
        &[
            ("WIREWATCH_CONFIG", config.to_str().expect("utf-8")),
            ("WIREWATCH_RRD_ENABLED", "false"),
            ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WIREWATCH_PYTHON_SCRIPTS_DIR", scripts.to_str().expect("utf-8")),
        ],
    );
    // Both run on their own once (their jobs have never run), then not again within the hour.
    wait_until("both scheduled scripts ran", Duration::from_secs(60), || {
        pg.scalar("alarm_schedule", "SELECT count(DISTINCT script) FROM script_runs") == 2
    });
    wait_until("the routed action ran", Duration::from_secs(30), || {
        pg.scalar("alarm_schedule", "SELECT count(*) FROM alarm_actions WHERE status = 'ok'") == 1
    });
    let log = std::fs::read_to_string(c.data_dir.join("alarms/scripts.log")).expect("savelog");
    assert!(log.contains("disk full") && log.contains("the spool is at 97%"), "{log}");
    assert!(!c.data_dir.join("alarms/critical.log").exists(), "an error is below the critical route");

    let api = c.http;
    let admin = login(api, "admin", ADMIN_PASSWORD);
    let list = events(api, &admin, "?source=script");
    assert_eq!(list.len(), 1, "{list:?}");
    let e = &list[0];
    assert_eq!(
        (e["name"].clone(), e["severity"].clone(), e["subject"].clone()),
        ("disk full".into(), "error".into(), "/var/spool".into())
    );
    assert!(e["message"].as_str().is_some_and(|m| m.contains("alarms/disk.py")), "{e}");
    assert_eq!(e["probe"], Value::Null);

    // The report: listed, its output served as written, in a sandbox.
    let r = http(api, "GET", "/api/v1/reports", Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.json()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "reports only by default: {items:?}");
    assert_eq!((items[0]["script"].clone(), items[0]["status"].clone()), ("reports/daily.py".into(), "ok".into()));
    let href = items[0]["output_href"].as_str().expect("href");
    let out = http(api, "GET", href, Some(&admin), None);
    assert_eq!(out.status, 200);
    assert!(out.body.contains("<h1>daily report</h1>") && out.body.contains("<p>0 probes</p>"), "{}", out.body);
    assert_eq!(out.header("content-security-policy"), Some("sandbox"));
    let alarms_runs = http(api, "GET", "/api/v1/reports?kind=alarm", Some(&admin), None).json();
    assert!(alarms_runs["items"][0]["script"] == "alarms/disk.py", "{alarms_runs}");

    // Scheduled scripts are not pages; a viewer's page may not raise alarms; a site-scoped
    // user does not read outputs made over every site.
    let vic = c.user("vic", "viewer", None);
    let sam = c.user("sam", "admin", Some("site-a"));
    assert_eq!(http(api, "GET", "/python/alarms/disk.py", Some(&vic), None).status, 404);
    assert_eq!(http(api, "GET", "/python/pages/raise.py", Some(&vic), None).status, 403);
    assert_eq!(http(api, "GET", "/api/v1/reports", Some(&sam), None).status, 403);
    assert_eq!(pg.scalar("alarm_schedule", "SELECT count(*) FROM alarm_events"), 1);
    assert_eq!(pg.scalar("alarm_schedule", "SELECT count(*) FROM script_runs"), 2, "not again within the hour");
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| -> String {
                s.bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
                        _ => format!("%{b:02X}"),
                    })
                    .collect()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn threshold_form(path: &str, kind: &str) -> String {
    form(&[
        ("op", "save"),
        ("rows", "2"),
        ("r0_id", "1"),
        ("r0_rrd_path", path),
        ("r0_type", kind),
        ("r0_value", "100"),
        ("r0_repetitions", "1"),
        ("r0_start", "now-30m"),
        ("r0_end", "now"),
        ("r0_action", "savelog"),
        ("r0_action_parameter", "page.log"),
        ("r0_rearm_secs", "0"),
        // The empty row a page always has at its end: nothing typed, nothing added.
        ("r1_id", ""),
        ("r1_rrd_path", ""),
    ])
}

/// The bundled configurator and report pages: autocompletion from the archive's files and the
/// actions, a save validated as the API's (a wrong row named, nothing replaced), values
/// escaped, viewers read-only, and "Check Thresholds Now" with the seed's report.
#[test]
fn configurator_and_report_pages() {
    let pg = Pg::start();
    let url = pg.create_db("alarm_pages");
    let dir = scratch();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "pages-ctl",
        free_udp_port(),
        &[("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "0"), ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    c.enroll("pa", "site-a", &dir.path().join("ids"));
    let last = last_alarm_step();
    write_minutes(&c.data_dir.join("rrd"), "pa/interfaces/eth0/ethernetBytes.rrd", last, |_| 500.0);
    let api = c.http;
    let admin = login(api, "admin", ADMIN_PASSWORD);
    let vic = c.user("vic", "viewer", None);
    let post = |token: &str, page: &str, body: &str| {
        http_raw(api, "POST", page, Some(token), Some(("application/x-www-form-urlencoded", body.as_bytes())))
    };
    const CONFIG: &str = "/python/rrdalarm/config.py";

    let page = http(api, "GET", CONFIG, Some(&admin), None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<option value=\"pa/interfaces/eth0/ethernetBytes.rrd\">"), "{}", page.body);
    assert!(page.body.contains("<option value=\"savelog\">") && page.body.contains("<option value=\"None\">"));

    // Saved, and stored as the page's user did it.
    let r = post(&admin, CONFIG, &threshold_form("pa/interfaces/*/ethernetBytes.rrd", "above"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Saved 1 thresholds"), "{}", r.body);
    assert_eq!(
        pg.psql("alarm_pages", "SELECT rrd_path || ' ' || updated_by FROM alarm_thresholds").expect("row"),
        "pa/interfaces/*/ethernetBytes.rrd page admin"
    );
    // A wrong row: named, nothing replaced, what was typed kept in the table.
    let r = post(&admin, CONFIG, &threshold_form("pa/x.rrd", "sideways"));
    assert!(r.body.contains("Nothing saved") && r.body.contains("Threshold Type"), "{}", r.body);
    assert!(r.body.contains("value=\"pa/x.rrd\""), "{}", r.body);
    assert_eq!(
        pg.psql("alarm_pages", "SELECT rrd_path FROM alarm_thresholds").expect("row"),
        "pa/interfaces/*/ethernetBytes.rrd"
    );
    // Markup in a field is text on the page.
    let r = post(&admin, CONFIG, &threshold_form("pa/<script>alert(1)</script>.rrd", "above"));
    // (saved or refused, the row is shown again: escaped either way)
    assert!(
        r.body.contains("pa/&lt;script&gt;alert(1)&lt;/script&gt;.rrd") && !r.body.contains("<script>alert"),
        "{}",
        r.body
    );
    // A viewer reads, cannot save.
    let page = http(api, "GET", CONFIG, Some(&vic), None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("readonly") && !page.body.contains(">Save<"), "{}", page.body);
    let r = post(&vic, CONFIG, &threshold_form("pa/interfaces/*/ethernetBytes.rrd", "below"));
    assert!(r.body.contains("Nothing saved") && r.body.contains("operator"), "{}", r.body);

    // Check Thresholds Now: the seed's report, the event listed.
    let r = post(&admin, CONFIG, &threshold_form("pa/interfaces/*/ethernetBytes.rrd", "above"));
    assert!(r.body.contains("Saved 1 thresholds"), "{}", r.body);
    let r = post(&admin, "/python/rrdalarm/report.py", "op=check");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains(
            "<td>1</td><td>pa/interfaces/eth0/ethernetBytes.rrd</td><td>500.0</td><td>above</td><td>100.0</td>"
        ),
        "{}",
        r.body
    );
    assert!(r.body.contains("<td>savelog</td><td>ALARM FIRED</td>"), "{}", r.body);
    assert!(r.body.contains("Actions started: savelog page.log (1 alarms"), "{}", r.body);
    wait_until("the page's check ran its action", Duration::from_secs(20), || {
        std::fs::read_to_string(c.data_dir.join("alarms/page.log")).is_ok_and(|s| s.contains("<ALARM>"))
    });
    let r = http(api, "GET", "/python/rrdalarm/report.py", Some(&vic), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("threshold 1") && !r.body.contains("Check Thresholds Now"), "{}", r.body);
}
