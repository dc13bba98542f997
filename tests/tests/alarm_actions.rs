//! rrdAlarm's actions really run (issue 11, part 5): `savelog` appends ntop's text under the
//! data directory and refuses a planted link; `sendmail` delivers to a real SMTP server
//! (aiosmtpd); `webhook` and `alertmanager` post to real HTTP receivers (axum); a Python action
//! script gets ntop's `sys.argv` through the embedded engine; failed attempts are retried with
//! backoff and one failing action does not hold another; and no viewer can run an action
//! script as a page.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::Value;
use wirewatch_controller::Config;
use wirewatch_controller::actions::{
    ActionError, ActionRunner, ActionSpec, ActionsConfig, Alarm, MailConfig, StartTls, alarms_text,
};
use wirewatch_e2e::*;

fn alarm(event_id: i64, threshold_id: u32, file: &str, value: f64) -> Alarm {
    Alarm {
        event_id,
        name: format!("threshold {threshold_id}"),
        severity: "warning".into(),
        subject: file.into(),
        message: format!("{file}: value {value} above the threshold 1000.0"),
        raised_at: DateTime::from_timestamp(1_700_000_060, 0).expect("time"),
        threshold_id: Some(threshold_id),
        value: Some(value),
        threshold: Some(1000.0),
        direction: Some("above".into()),
        value_at: DateTime::from_timestamp(1_700_000_000, 0),
        window_start: Some("now-1h".into()),
        window_end: Some("now".into()),
        probe_id: Some(4),
    }
}

fn script_alarm(event_id: i64) -> Alarm {
    Alarm {
        event_id,
        name: "disk_check".into(),
        severity: "critical".into(),
        subject: "sda1".into(),
        message: "97% full".into(),
        threshold_id: None,
        value: None,
        threshold: None,
        direction: None,
        value_at: None,
        window_start: None,
        window_end: None,
        ..alarm(event_id, 0, "", 0.0)
    }
}

/// A controller configuration for a runner: data in `dir`, fast retries.
fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        actions: ActionsConfig { attempts: 3, backoff_secs: 0.05, timeout_secs: 5.0, webhook_hosts: Vec::new() },
        ..Default::default()
    }
}

fn runner(cfg: &Config) -> ActionRunner {
    ActionRunner::new(cfg, "ctl-test", None).expect("runner")
}

/// The file's content with each `Last Update time:` line checked (ntop's format, within the
/// test's run) and replaced by `Last Update time: T`.
fn with_times_checked(content: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    content
        .split_inclusive('\n')
        .map(|l| match l.strip_prefix("Last Update time: ") {
            Some(t) => {
                let t = chrono::NaiveDateTime::parse_from_str(t.trim_end(), "%a, %d %b %Y %H:%M:%S")
                    .unwrap_or_else(|e| panic!("{t:?}: {e}"))
                    .and_utc();
                assert!(t.timestamp() >= from.timestamp() && t.timestamp() <= to.timestamp(), "{t} not in the run");
                "Last Update time: T\n".to_string()
            }
            None => l.to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn savelog_appends_ntops_text_privately_and_refuses_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = runner(&config(dir.path()));
    let first = [alarm(1, 3, "probes/pa/interfaces/eth0/bytes.rrd", 1234.5)];
    let second = [alarm(2, 4, "probes/pa/interfaces/eth0/pkts.rrd", 2e16), script_alarm(3)];
    let spec = ActionSpec::new("savelog", "alarms.log");
    let t0 = Utc::now();
    r.run_once(&spec, &first).await.expect("first savelog");
    r.run_once(&spec, &second).await.expect("second savelog");
    let t1 = Utc::now();
    let file = dir.path().join("alarms/alarms.log");
    let content = std::fs::read_to_string(&file).expect("the log");
    assert_eq!(
        with_times_checked(&content, t0, t1),
        "Last Update time: T\n\
         <ALARM>\nID: 3 FILENAME: probes/pa/interfaces/eth0/bytes.rrd\nVALUE: 1234.5 TYPE: above THRESHOLD VALUE: 1000.000000\n LOCALTIME: Tue, 14 Nov 2023 22:13:20 START: now-1h END: now\n</ALARM>\n\
         Last Update time: T\n\
         <ALARM>\nID: 4 FILENAME: probes/pa/interfaces/eth0/pkts.rrd\nVALUE: 2e+16 TYPE: above THRESHOLD VALUE: 1000.000000\n LOCALTIME: Tue, 14 Nov 2023 22:13:20 START: now-1h END: now\n</ALARM>\n\
         <ALARM>\nNAME: disk_check SEVERITY: critical\nSUBJECT: sda1\nMESSAGE: 97% full\n LOCALTIME: Tue, 14 Nov 2023 22:14:20\n</ALARM>\n"
    );
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir.path().join("alarms")), 0o700);

    // A link planted where a log will go is refused, and nothing is written through it.
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, "keep\n").expect("write");
    std::os::unix::fs::symlink(&outside, dir.path().join("alarms/planted.log")).expect("symlink");
    let e = r.run_once(&ActionSpec::new("savelog", "planted.log"), &first).await.expect_err("through a link");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read_to_string(&outside).expect("read"), "keep\n");
    // So is a FIFO (opening it for writing would block).
    let fifo = dir.path().join("alarms/fifo.log");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let e = r.run_once(&ActionSpec::new("savelog", "fifo.log"), &first).await.expect_err("a FIFO");
    assert!(e.to_string().contains("not a regular file"), "{e}");

    // A parameter naming anything but a plain file name is refused before anything runs, and
    // run() does not try it again.
    for bad in ["../escape.log", "/etc/passwd", ".hidden", "a/b.log"] {
        let spec = ActionSpec::new("savelog", bad);
        let e = r.validate(&spec).expect_err(bad);
        assert!(e.contains("plain file name"), "{bad}: {e}");
        let mut calls = 0;
        let out = r.run(&spec, &first, |_, _| calls += 1).await;
        assert!(!out.ok && out.attempts == 1 && calls == 1, "{bad}: {out:?}");
        assert!(matches!(out.last_error, Some(ActionError::Invalid(_))), "{out:?}");
    }
    assert!(!dir.path().join("escape.log").exists());
}

/// aiosmtpd on a free loopback port, each message appended as a JSON line to a file.
struct SmtpSink {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl SmtpSink {
    fn start(dir: &Path) -> SmtpSink {
        const SINK: &str = r#"
import json, sys
from aiosmtpd.controller import Controller
class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 OK"
c = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"#;
        let port = free_tcp_port();
        let log = dir.join("mail.jsonl");
        let mut child = Command::new("python3")
            .args(["-c", SINK, &port.to_string()])
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("sink output");
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start (pip install aiosmtpd; scripts/setup does)");
        SmtpSink { child, port, log }
    }

    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("sink JSON"))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received mail's header (folded lines unfolded) and body, with LF line ends.
fn split_mail(m: &Value) -> (String, String) {
    let data = m["data"].as_str().expect("data").replace("\r\n", "\n");
    let (head, body) = data.split_once("\n\n").expect("headers and body");
    (head.replace("\n ", " ").replace("\n\t", " "), body.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn sendmail_delivers_one_mail_with_the_groups_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start(dir.path());
    let mut cfg = config(dir.path());
    // The sink speaks plain SMTP: STARTTLS "none" here; the default ("required") is below.
    cfg.mail = MailConfig {
        relay: "127.0.0.1".into(),
        port: sink.port,
        starttls: StartTls::Off,
        from: "rrdAlarm <alarms@wirewatch.test>".into(),
        ..Default::default()
    };
    let r = runner(&cfg);
    let group = [alarm(1, 3, "probes/pa/interfaces/eth0/bytes.rrd", 1234.5), script_alarm(2)];
    let spec = ActionSpec::new("sendmail", "ops@example.org, oncall@example.org");
    let mut seen = Vec::new();
    let out = r.run(&spec, &group, |n, res| seen.push((n, res.clone()))).await;
    assert!(out.ok && out.attempts == 1, "{out:?}");
    assert_eq!(seen, vec![(1, Ok(()))]);
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!(m["from"], "alarms@wirewatch.test");
    assert_eq!(m["to"], serde_json::json!(["ops@example.org", "oncall@example.org"]));
    let (head, body) = split_mail(m);
    assert!(head.lines().any(|l| l == "Subject: rrdAlarm: 2 alarms fired (ctl-test)"), "{head}");
    assert!(head.lines().any(|l| l == "To: ops@example.org, oncall@example.org"), "{head}");
    assert!(head.lines().any(|l| l == "From: rrdAlarm <alarms@wirewatch.test>"), "{head}");
    assert_eq!(body.trim_end(), alarms_text(&group).trim_end());

    // One alarm: its name and file make the subject.
    r.run_once(&ActionSpec::new("sendmail", "ops@example.org"), &group[..1]).await.expect("one alarm");
    let (head, body) = split_mail(&sink.messages()[1]);
    assert!(
        head.lines().any(|l| l == "Subject: rrdAlarm: threshold 3: probes/pa/interfaces/eth0/bytes.rrd (ctl-test)"),
        "{head}"
    );
    assert_eq!(body.trim_end(), alarms_text(&group[..1]).trim_end());

    // The default, STARTTLS required, sends nothing to a relay that does not offer it.
    cfg.mail.starttls = StartTls::Required;
    let r = runner(&cfg);
    let e = r.run_once(&spec, &group).await.expect_err("no STARTTLS offered");
    assert!(e.to_string().contains("sendmail via 127.0.0.1"), "{e}");
    assert_eq!(sink.messages().len(), 2);

    // An address smuggling a header never reaches the relay.
    let e = r.validate(&ActionSpec::new("sendmail", "ops@example.org\r\nBcc: thief@example.org")).expect_err("CRLF");
    assert!(e.contains("not a plain mail address"), "{e}");
}

/// What the test receivers got: (path, headers, body).
type Got = Arc<Mutex<Vec<(String, HeaderMap, Value)>>>;

struct Receiver {
    addr: SocketAddr,
    got: Got,
    flaky_calls: Arc<AtomicU32>,
}

/// An axum receiver: `/hook` and `/am` answer 200, `/flaky` 500 twice then 200, `/moved` a
/// redirect to `/hook`, `/slow` after 30 s.
async fn receiver() -> Receiver {
    #[derive(Clone)]
    struct St {
        got: Got,
        flaky: Arc<AtomicU32>,
    }
    async fn keep(st: &St, path: &str, h: HeaderMap, body: &str) {
        let v = serde_json::from_str(body).unwrap_or(Value::Null);
        st.got.lock().expect("lock").push((path.to_string(), h, v));
    }
    let st = St { got: Arc::default(), flaky: Arc::default() };
    let app = axum::Router::new()
        .route(
            "/hook",
            post(|State(st): State<St>, h: HeaderMap, b: String| async move {
                keep(&st, "/hook", h, &b).await;
                "thanks"
            }),
        )
        .route(
            "/am",
            post(|State(st): State<St>, h: HeaderMap, b: String| async move {
                keep(&st, "/am", h, &b).await;
                StatusCode::OK
            }),
        )
        .route(
            "/flaky",
            post(|State(st): State<St>, h: HeaderMap, b: String| async move {
                keep(&st, "/flaky", h, &b).await;
                if st.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                    (StatusCode::INTERNAL_SERVER_ERROR, "secret internal detail")
                } else {
                    (StatusCode::OK, "ok")
                }
            }),
        )
        .route("/moved", post(|| async { (StatusCode::FOUND, [("location", "/hook")]) }))
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .with_state(st.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { addr, got: st.got, flaky_calls: st.flaky }
}

impl Receiver {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    fn bodies(&self, path: &str) -> Vec<Value> {
        self.got.lock().expect("lock").iter().filter(|(p, _, _)| p == path).map(|(_, _, b)| b.clone()).collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_and_alertmanager_post_their_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = receiver().await;
    let r = runner(&config(dir.path()));
    let group = [alarm(11, 3, "probes/pa/interfaces/eth0/bytes.rrd", 1234.5), script_alarm(12)];

    r.run_once(&ActionSpec::new("webhook", rx.url("/hook")), &group).await.expect("webhook");
    let got = rx.got.lock().expect("lock").clone();
    let (_, headers, body) = &got[0];
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["user-agent"].to_str().expect("ua").starts_with("wirewatch/"));
    assert_eq!(body["version"], 1);
    assert_eq!(body["controller"], "ctl-test");
    let a = &body["alarms"];
    assert_eq!(a.as_array().map(Vec::len), Some(2));
    assert_eq!(a[0]["event_id"], 11);
    assert_eq!(a[0]["name"], "threshold 3");
    assert_eq!(a[0]["severity"], "warning");
    assert_eq!(a[0]["subject"], "probes/pa/interfaces/eth0/bytes.rrd");
    assert_eq!(a[0]["threshold_id"], 3);
    assert_eq!(a[0]["value"], 1234.5);
    assert_eq!(a[0]["threshold"], 1000.0);
    assert_eq!(a[0]["direction"], "above");
    assert_eq!(a[0]["probe_id"], 4);
    assert_eq!(a[0]["raised_at"], "2023-11-14T22:14:20Z");
    assert_eq!(a[1]["name"], "disk_check");
    assert_eq!(a[1]["severity"], "critical");
    assert_eq!(a[1]["threshold_id"], Value::Null);
    // The body round-trips into the same alarms.
    let back: Vec<Alarm> = serde_json::from_value(a.clone()).expect("alarms");
    assert_eq!(back, group);

    r.run_once(&ActionSpec::new("alertmanager", rx.url("/am")), &group).await.expect("alertmanager");
    let am = rx.bodies("/am");
    let alerts = am[0].as_array().expect("a v2 array of alerts");
    assert_eq!(alerts.len(), 2);
    let l = &alerts[0]["labels"];
    assert_eq!(l["alertname"], "threshold 3");
    assert_eq!(l["severity"], "warning");
    assert_eq!(l["instance"], "ctl-test");
    assert_eq!(l["subject"], "probes/pa/interfaces/eth0/bytes.rrd");
    assert_eq!(l["threshold_id"], "3");
    assert_eq!(l["probe_id"], "4");
    assert!(l.as_object().expect("labels").values().all(Value::is_string), "{l}");
    assert_eq!(alerts[0]["annotations"]["summary"], group[0].message);
    assert_eq!(alerts[0]["annotations"]["description"], group[0].text_block());
    let starts = alerts[0]["startsAt"].as_str().expect("startsAt");
    assert_eq!(DateTime::parse_from_rfc3339(starts).expect("RFC 3339").with_timezone(&Utc), group[0].raised_at);
    assert_eq!(alerts[1]["labels"]["alertname"], "disk_check");
    assert_eq!(alerts[1]["labels"]["severity"], "critical");
    assert!(alerts[1]["labels"].get("threshold_id").is_none());

    // A redirect is not followed: it is a failure naming the status.
    let e = r.run_once(&ActionSpec::new("webhook", rx.url("/moved")), &group).await.expect_err("redirect");
    assert!(e.to_string().contains("HTTP 302"), "{e}");
    assert_eq!(rx.bodies("/hook").len(), 1, "the redirect was followed");

    // Attempts are bounded in time.
    let mut cfg = config(dir.path());
    cfg.actions.timeout_secs = 0.5;
    cfg.actions.attempts = 1;
    let out = runner(&cfg).run(&ActionSpec::new("webhook", rx.url("/slow")), &group, |_, _| {}).await;
    assert!(matches!(out.last_error, Some(ActionError::Timeout { .. })), "{out:?}");

    // Only the allowed hosts, when the administrator lists them.
    let mut cfg = config(dir.path());
    cfg.actions.webhook_hosts = vec!["hooks.example.org".into()];
    let e = runner(&cfg).validate(&ActionSpec::new("webhook", rx.url("/hook"))).expect_err("host");
    assert!(e.contains("webhook_hosts"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_retried_with_backoff_and_hold_no_other_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = receiver().await;
    let mut cfg = config(dir.path());
    cfg.actions.attempts = 4;
    let r = runner(&cfg);
    let group = [alarm(1, 3, "probes/pa/interfaces/eth0/bytes.rrd", 1234.5)];

    // 500, 500, then 200: ok on the third attempt, every attempt reported.
    let mut seen = Vec::new();
    let out = r.run(&ActionSpec::new("webhook", rx.url("/flaky")), &group, |n, res| seen.push((n, res.clone()))).await;
    assert!(out.ok && out.attempts == 3 && out.last_error.is_none(), "{out:?}");
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (i, (n, res)) in seen.iter().enumerate() {
        assert_eq!(*n, i as u32 + 1);
        if i < 2 {
            let e = res.as_ref().expect_err("a 500").to_string();
            assert!(e.contains("HTTP 500"), "{e}");
            assert!(!e.contains("secret internal detail"), "the receiver's answer leaked: {e}");
        } else {
            assert_eq!(res, &Ok(()));
        }
    }
    assert_eq!(rx.flaky_calls.load(Ordering::SeqCst), 3);
    assert_eq!(rx.bodies("/flaky").len(), 3);

    // Nothing listens: every attempt fails and the outcome says why. A savelog started at the
    // same time finishes first: a failing action holds nobody else.
    let closed = format!("http://127.0.0.1:{}/hook", free_tcp_port());
    let order = Arc::new(AtomicU32::new(0));
    let failing = {
        let (r, order, group, closed) = (r.clone(), order.clone(), group.clone(), closed.clone());
        tokio::spawn(async move {
            let mut errors = Vec::new();
            let out = r.run(&ActionSpec::new("webhook", &closed), &group, |n, res| errors.push((n, res.clone()))).await;
            (out, errors, order.fetch_add(1, Ordering::SeqCst))
        })
    };
    let saving = {
        let (r, order, group) = (r.clone(), order.clone(), group.clone());
        tokio::spawn(async move {
            let out = r.run(&ActionSpec::new("savelog", "while-failing.log"), &group, |_, _| {}).await;
            (out, order.fetch_add(1, Ordering::SeqCst))
        })
    };
    let (failed, saved) = tokio::join!(failing, saving);
    let (out, errors, failed_rank) = failed.expect("failing task");
    let (saved_out, saved_rank) = saved.expect("savelog task");
    assert!(!out.ok && out.attempts == 4, "{out:?}");
    assert_eq!(errors.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!(errors.iter().all(|(_, res)| res.is_err()));
    let e = out.last_error.expect("the last error").to_string();
    assert!(e.starts_with(&format!("POST {}", closed.trim_end_matches("/hook"))), "{e}");
    assert!(e.to_lowercase().contains("connect"), "{e}");
    assert!(saved_out.ok, "{saved_out:?}");
    assert!(saved_rank < failed_rank, "the savelog waited for the failing webhook");
    assert!(dir.path().join("alarms/while-failing.log").is_file());
}

/// The Python engine of a test: a private PostgreSQL, scripts from `scripts`.
async fn engine(pg: &Pg, db: &str, dir: &Path, scripts: &Path) -> (wirewatch_python::Engine, Config) {
    let url = pg.create_db(db);
    let store =
        wirewatch_store::Store::connect(wirewatch_store::parse_url(&url).expect("url"), 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    let mut cfg = config(dir);
    cfg.python.scripts_dir = Some(scripts.to_path_buf());
    cfg.python.timeout_secs = 5.0;
    let info = wirewatch_python::EngineInfo {
        version: "test".into(),
        os: "linux".into(),
        started: std::time::Instant::now(),
        started_at: Utc::now(),
        db_path: dir.to_path_buf(),
        spool_path: dir.join("spool"),
        controller: "ctl-test".into(),
        rrd_root: None,
    };
    let engine = wirewatch_python::Engine::start(store, None, info, cfg.python.clone()).expect("engine");
    (engine, cfg)
}

fn write_script(root: &Path, rel: &str, source: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, source).expect("script");
}

#[tokio::test(flavor = "multi_thread")]
async fn python_action_scripts_get_ntops_argv() {
    let pg = tokio::task::spawn_blocking(Pg::start).await.expect("pg");
    let dir = scratch();
    let scripts = scratch();
    let root = scripts.path();
    write_script(
        root,
        "actions/record.py",
        "import sys, os, json, ntop\n\
         with open(os.path.join(ntop.getSpoolPath(), 'argv.json'), 'w') as f:\n    json.dump(list(sys.argv), f)\n\
         print('recorded')\n",
    );
    write_script(
        root,
        "actions/slow_record.py",
        "import sys, os, json, time, ntop\n\
         first = list(sys.argv)\ntime.sleep(0.5)\n\
         with open(os.path.join(ntop.getSpoolPath(), sys.argv[2] + '.json'), 'w') as f:\n    json.dump([first, list(sys.argv)], f)\n",
    );
    write_script(root, "actions/boom.py", "raise RuntimeError('the pager is down')\n");
    write_script(root, "actions/exit3.py", "import sys\nsys.exit(3)\n");
    write_script(root, "actions/exit0.py", "import sys\nsys.exit(0)\nraise RuntimeError('not reached')\n");
    write_script(root, "actions/bad.name.py", "pass\n");
    write_script(root, "page.py", "import sys\nprint(repr(list(sys.argv)))\nsys.argv.append('edited')\n");
    let (engine, cfg) = engine(&pg, "actions_py", dir.path(), root).await;
    let engine = Arc::new(engine);
    let r = ActionRunner::new(&cfg, "ctl-test", Some(engine.clone())).expect("runner");
    let spool = dir.path().join("spool");

    let avail = r.available();
    assert_eq!(&avail[..3], ["savelog", "webhook", "alertmanager"]);
    for name in ["record", "slow_record", "boom", "exit3", "exit0"] {
        assert!(avail.iter().any(|a| a == name), "{name} not in {avail:?}");
    }
    assert!(!avail.iter().any(|a| a.contains('.')), "{avail:?}");

    let group = [alarm(1, 3, "probes/pa/interfaces/eth0/bytes.rrd", 1234.5), script_alarm(2)];
    let param = "ops team \"night\" $(reboot)";
    let out = r.run(&ActionSpec::new("record", param), &group, |_, _| {}).await;
    assert!(out.ok && out.attempts == 1, "{out:?}");
    let argv: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(spool.join("argv.json")).expect("argv.json")).expect("JSON");
    assert_eq!(argv, vec!["record.py".to_string(), "-p".into(), param.into(), "-t".into(), alarms_text(&group)]);

    // Two actions at once: each sees its own argv all along.
    let (one, two) = (ActionSpec::new("slow_record", "one"), ActionSpec::new("slow_record", "two"));
    let (a, b) = tokio::join!(r.run_once(&one, &group[..1]), r.run_once(&two, &group[1..]));
    a.expect("one");
    b.expect("two");
    for (name, g) in [("one", &group[..1]), ("two", &group[1..])] {
        let seen: Vec<Vec<String>> =
            serde_json::from_str(&std::fs::read_to_string(spool.join(format!("{name}.json"))).expect("file"))
                .expect("JSON");
        let want = vec!["slow_record.py".to_string(), "-p".into(), name.into(), "-t".into(), alarms_text(g)];
        assert_eq!(seen, vec![want.clone(), want], "{name}");
    }

    // A page run afterwards sees the process's argv, not an action's (nor what an earlier
    // page did to its own).
    let page = || {
        wirewatch_model::Scripts::run(
            engine.as_ref(),
            wirewatch_model::ScriptRequest {
                path: "page.py".into(),
                origin: wirewatch_model::ScriptOrigin::Http,
                argv: Vec::new(),
                method: "GET".into(),
                query: String::new(),
                content_type: None,
                body: Vec::new(),
                caller: wirewatch_model::identity::Caller {
                    name: "v".into(),
                    role: wirewatch_model::identity::Role::Viewer,
                    sites: None,
                },
                headers: Vec::new(),
                remote_addr: "127.0.0.1".into(),
                csp_nonce: "n".into(),
            },
        )
    };
    let first = String::from_utf8(page().await.expect("page").body).expect("utf-8");
    let second = String::from_utf8(page().await.expect("page").body).expect("utf-8");
    assert!(!first.contains("-p") && !first.contains("record.py") && !first.contains("edited"), "{first}");
    assert_eq!(first, second);

    // Failure is an exception or a non-zero exit; sys.exit(0) is success.
    let mut seen = Vec::new();
    let out = r.run(&ActionSpec::new("boom", "p"), &group, |n, res| seen.push((n, res.clone()))).await;
    assert!(!out.ok && out.attempts == 3 && seen.len() == 3, "{out:?}");
    let e = out.last_error.expect("error").to_string();
    assert!(e.contains("actions/boom.py failed") && e.contains("RuntimeError: the pager is down"), "{e}");
    let e = r.run_once(&ActionSpec::new("exit3", "p"), &group).await.expect_err("exit 3").to_string();
    assert!(e.contains("sys.exit(3)"), "{e}");
    r.run_once(&ActionSpec::new("exit0", "p"), &group).await.expect("exit 0 is success");

    // Names are checked before anything runs.
    for (name, why) in
        [("missing", "no such action"), ("../page", "an action is one of"), ("bad.name", "an action is one of")]
    {
        let e = r.validate(&ActionSpec::new(name, "p")).expect_err(name);
        assert!(e.contains(why), "{name}: {e}");
    }
}

#[test]
fn action_scripts_are_not_pages() {
    let pg = Pg::start();
    let url = pg.create_db("actions_http");
    let dir = scratch();
    let scripts = scratch();
    let root = scripts.path();
    let marker = dir.path().join("ran");
    let src = format!("open({:?}, 'a').write('ran\\n')\nprint('ran')\n", marker.display().to_string());
    for rel in ["actions/act.py", "alarms/check.py", "reports/daily.py"] {
        write_script(root, rel, &src);
    }
    write_script(root, "hello.py", "print('hello')\n");
    // A directory link and a file link into actions/ reach it under other names.
    std::os::unix::fs::symlink(root.join("actions"), root.join("alias")).expect("symlink");
    std::os::unix::fs::symlink(root.join("actions/act.py"), root.join("innocent.py")).expect("symlink");
    let sdir = root.display().to_string();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "actions-http",
        free_udp_port(),
        &[
            ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WIREWATCH_API_REVERSE_DNS", "false"),
            ("WIREWATCH_PYTHON_SCRIPTS_DIR", sdir.as_str()),
        ],
    );
    c.cli_stdin(&["user", "add", "vera", "--role", "viewer", "--password-stdin"], "pass-word-123\n").expect("user");
    let viewer = login(c.http, "vera", "pass-word-123");
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    let r = http(c.http, "GET", "/python/hello.py", Some(&viewer), None);
    assert_eq!((r.status, r.body.as_str()), (200, "hello\n"), "the fixture serves pages");
    for token in [&viewer, &admin] {
        for path in [
            "/python/actions/act.py",
            "/python/alarms/check.py",
            "/python/reports/daily.py",
            "/python/alias/act.py",
            "/python/innocent.py",
            "/python/actions%2Fact.py",
        ] {
            let r = http(c.http, "GET", path, Some(token), None);
            assert_eq!(r.status, 404, "{path}: {}", r.body);
            let r = http(c.http, "POST", path, Some(token), Some("{}"));
            assert_eq!(r.status, 404, "POST {path}: {}", r.body);
        }
    }
    assert!(!marker.exists(), "an action script ran as a page");
}
