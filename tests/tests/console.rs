//! The web console end to end: a controller serving the built app (`web/dist`) with a probe's
//! replayed capture stored, its RRD archive written and an alarm event recorded by a threshold
//! check; how the controller serves the app (deep links, caching, the policy, what stays the
//! API's); then the app itself in headless Chromium, driven by Playwright (`tests/ui/console.py`):
//! sign-in, the sites overview, a site's and an interface's page, the host table against the capture's oracle (sorted, filtered
//! by a subnet, paged with the cursor, packets), a host's page against the API, markup in a
//! stored name and an event shown as text, an event acknowledged by a click, a viewer without
//! that button, the API's refusals (403, 500, 503) as messages, themes, keyboard use, the
//! 390×844 layout, sign-out, a silent refresh of a 2-second access token, an expired session
//! and a stopped controller, with no console error on any page. Screenshots of each
//! page go to `<target>/tmp/console-screenshots`.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use wirewatch_e2e::*;

const CAPTURE_A: &str = "1kxun.pcap";
const CAPTURE_B: &str = "icmp.pcap";
const ALARM_FILE: &str = "pa/interfaces/alarmtest/ethernetBytes.rrd";
/// The file of the threshold the test creates in the console's editor (probe pc, site-c).
const ALARM_FILE2: &str = "pc/interfaces/alarmtest2/ethernetBytes.rrd";
const HOSTILE_IP: &str = "192.168.5.16";
const HOSTILE: &str = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>";

/// The console's index.html as served at `path`.
fn assert_index(addr: std::net::SocketAddr, path: &str) -> Resp {
    let r = http(addr, "GET", path, None, None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
    assert!(r.body.contains("<div id=\"app\"></div>"), "{path}: not the app's index.html: {}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
    let csp = r.header("content-security-policy").unwrap_or_default();
    for part in ["script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(part), "{path}: CSP {csp:?} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
    r
}

fn serving(addr: std::net::SocketAddr) {
    let index = assert_index(addr, "/");
    for deep in [
        "/hosts",
        "/hosts?cidr=192.168.0.0/16&sort=ip",
        "/hosts/3/2001:db8::1",
        "/hosts/1/10.0.0.1",
        "/alarms",
        "/sites/site-a",
        "/apis",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ] {
        assert_index(addr, deep);
    }
    // The hashed assets: cached for a year, with their types; no inline script in the page.
    assert!(!index.body.contains("<script>") && !index.body.contains("style="), "{}", index.body);
    let assets: Vec<&str> = index
        .body
        .split('"')
        .filter(|s| s.starts_with("/assets/") && (s.ends_with(".js") || s.ends_with(".css")))
        .collect();
    assert_eq!(assets.len(), 2, "one script and one style sheet: {}", index.body);
    for a in assets {
        let r = http(addr, "GET", a, None, None);
        assert_eq!(r.status, 200, "{a}");
        assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"), "{a}");
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with(if a.ends_with(".js") { "text/javascript" } else { "text/css" }), "{a}: {ct}");
    }
    assert_eq!(http(addr, "GET", "/favicon.svg", None, None).header("content-type"), Some("image/svg+xml"));
    // A missing asset is a 404, not the app; the server's paths stay the server's.
    assert_eq!(http(addr, "GET", "/assets/index-nope.js", None, None).status, 404);
    for path in ["/api/v1/nope", "/api", "/python", "/metrics", "/healthz/x", "/login/x"] {
        let r = http(addr, "GET", path, None, None);
        assert_eq!((r.status, r.code()), (404, "not_found".to_string()), "{path}: {}", r.body);
    }
    assert_eq!(http(addr, "GET", "/login", None, None).status, 200, "the Python pages' sign-in form stays");
    assert_eq!(http(addr, "GET", "/healthz", None, None).status, 200);
    assert_eq!(http(addr, "POST", "/hosts", None, Some("{}")).status, 405);
}

fn wait_for(what: &str, f: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(90), f);
}

#[test]
fn console_in_a_real_browser() {
    build_web();
    let env = [
        ("WIREWATCH_RRD_UPDATE_EVERY_SECS", "1"),
        ("WIREWATCH_RRD_SETTLE_SECS", "1"),
        ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "0"),
        ("WIREWATCH_API_REVERSE_DNS", "false"),
    ];
    let s = two_sites("console", CAPTURE_A, CAPTURE_B, &env);
    let api = s.c.http;
    serving(api);

    // The archive has the hosts' files (the host page's RRD graph).
    let oracle = oracle_hosts(CAPTURE_A);
    let top = oracle.iter().max_by_key(|(_, v)| v[1] + v[3]).map(|(ip, _)| ip.clone()).expect("hosts");
    let root = s.c.data_dir.join("rrd");
    wait_for("the top host's RRD file", || root.join(format!("pa/hosts/{top}/bytesSent.rrd")).is_file());

    // An alarm event from a threshold check, on a file of probe pa.
    write_minutes(&root, ALARM_FILE, last_alarm_step(), |_| 500.0);
    let file = s.dir.path().join("thresholds.txt");
    std::fs::write(&file, format!("1\t{ALARM_FILE}\tabove\t100\t1\tnow-30m\tnow\tsavelog\tconsole.log\t3600\n"))
        .expect("thresholds");
    s.c.cli(&["alarm", "import", file.to_str().expect("utf-8")]).expect("alarm import");
    let r = http(api, "POST", "/api/v1/alarms/check", Some(&s.admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let event_id = r.json()["event_ids"][0].as_i64().expect("an event");

    // Markup where names and messages are stored: the console must show it as text.
    s.pg.psql("console", &format!("UPDATE hosts SET names = ARRAY['{HOSTILE}'] WHERE ip = '{HOSTILE_IP}'"))
        .expect("hostile name");
    s.pg.psql(
        "console",
        &format!(
            "INSERT INTO alarm_events (raised_at, source, name, severity, subject, message, controller) \
             VALUES (now(), 'script', '{HOSTILE}', 'error', '{HOSTILE}', '{HOSTILE}', 'test')"
        ),
    )
    .expect("hostile event");
    let hostile_event = s.pg.scalar("console", "SELECT max(id) FROM alarm_events");

    // A third probe, in site-c, replaying a capture in a loop: online all along, so the phone's
    // top talkers ask it live; and a file of it for the threshold made in the editor.
    let idc = s.c.enroll("pc", "site-c", s.dir.path());
    let mut looping = Probe::looping(&[s.c.quic], &idc, &pcaps().join(CAPTURE_B), 2);
    wait_for("probe pc online", || {
        http(api, "GET", "/api/v1/probes/pc", Some(&s.admin), None).json()["status"].as_str() == Some("online")
    });
    write_minutes(&root, ALARM_FILE2, last_alarm_step(), |_| 500.0);

    s.c.cli_stdin(&["user", "add", "vic", "--role", "viewer", "--password-stdin"], "vic-password-123\n")
        .expect("user add");

    // A second controller of the database, whose access tokens live 2 s (stopped by the script).
    let ctl2 = Controller::start(
        &s.dir.path().join("ctl2"),
        &s.pg.url("console"),
        "console-ctl2",
        free_udp_port(),
        &[
            ("WIREWATCH_API_ACCESS_TTL_SECS", "2"),
            ("WIREWATCH_RRD_ENABLED", "false"),
            ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "0"),
            ("WIREWATCH_API_REVERSE_DNS", "false"),
        ],
    );

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let spec = json!({
        "url": format!("http://{api}"),
        "url_short_ttl": format!("http://{}", ctl2.http),
        "stop_pid": ctl2.child.id(),
        "user": "admin",
        "password": ADMIN_PASSWORD,
        "viewer": "vic",
        "viewer_password": "vic-password-123",
        "probe": "pa",
        "frames": oracle_frames(CAPTURE_A),
        "hosts": oracle,
        "cidr": "192.168.0.0/16",
        "event_id": event_id,
        "event_subject": ALARM_FILE,
        "alarm_file2": ALARM_FILE2,
        "live_probe": "pc",
        "live_site": "site-c",
        "live_hosts": oracle_hosts(CAPTURE_B).keys().collect::<Vec<_>>(),
        "hostile_ip": HOSTILE_IP,
        "hostile_name": HOSTILE,
        "hostile_event_id": hostile_event,
        "out": out,
    });
    ui("console.py", &spec, s.dir.path());
    drop(ctl2);
    looping.kill9();

    // Without a built console, its paths say how to build it; the API is unaffected.
    let empty = scratch();
    let web_dir = empty.path().display().to_string();
    let mut ctl3 = Controller::start(
        &s.dir.path().join("ctl3"),
        &s.pg.url("console"),
        "console-ctl3",
        free_udp_port(),
        &[
            ("WIREWATCH_API_WEB_DIR", web_dir.as_str()),
            ("WIREWATCH_RRD_ENABLED", "false"),
            ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "0"),
        ],
    );
    for path in ["/", "/hosts"] {
        let r = http(ctl3.http, "GET", path, None, None);
        assert_eq!(r.status, 503, "{path}: {}", r.body);
        assert!(r.body.contains("scripts/setup") && r.body.contains("npm run build"), "{}", r.body);
    }
    assert_eq!(http(ctl3.http, "GET", "/api/v1/sites", Some(&s.admin), None).status, 200);
    ctl3.terminate();
}
