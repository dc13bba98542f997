//! Hardening of the JSON API (issue 9, findings 9 and 10) against a real controller and
//! PostgreSQL: sign-in floods keep memory bounded and cannot lock the admin out, address
//! buckets (/64) and X-Forwarded-For from trusted proxies only, API tokens that cannot mint
//! tokens and expire by default, users revoking their own tokens, a health check that does not
//! leak database errors, sessions needing a real sign-in, live queries for operators with
//! per-user limits (a probe replaying real traffic), per-user limits on script pages.
//!
//! Clients connect from distinct loopback addresses (127.0.0.x, bound before connecting): the
//! controller sees each as its own peer.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Barrier, OnceLock, mpsc};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use wirewatch_e2e::*;

/// A controller on its own PostgreSQL, no probes (first admin: `admin` / ADMIN_PASSWORD).
struct Bare {
    pg: Pg,
    c: Controller,
    _dir: tempfile::TempDir,
}

fn bare(db: &str, env: &[(&str, &str)]) -> Bare {
    let pg = Pg::start();
    let url = pg.create_db(db);
    let dir = scratch();
    let mut all = vec![("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD), ("WIREWATCH_API_REVERSE_DNS", "false")];
    all.extend_from_slice(env);
    let c = Controller::start(&dir.path().join("ctl"), &url, &format!("{db}-ctl"), free_udp_port(), &all);
    Bare { pg, c, _dir: dir }
}

impl Bare {
    fn add_user(&self, name: &str, role: &str, password: &str) {
        self.c
            .cli_stdin(&["user", "add", name, "--role", role, "--password-stdin"], &format!("{password}\n"))
            .expect("user add");
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Runtime::new().expect("runtime"))
}

/// One HTTP/1.1 request from the local address `from` (a 127.0.0.x), extra headers, JSON body.
fn http_from(
    from: IpAddr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    use std::io::{Read, Write};
    let mut s = runtime().block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind(SocketAddr::new(from, 0)).expect("bind the source address");
        let stream = tokio::time::timeout(Duration::from_secs(5), sock.connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        stream.into_std().expect("std stream")
    });
    s.set_nonblocking(false).expect("blocking");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    match body {
        Some(b) => req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len())),
        None if matches!(method, "POST" | "PUT") => req.push_str("Content-Length: 0\r\n\r\n"),
        None => req.push_str("\r\n"),
    }
    s.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())));
    Resp { status, headers: headers.collect(), body: body.to_string() }
}

fn lo(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

fn sign_in_from(from: IpAddr, addr: SocketAddr, user: &str, password: &str, xff: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = xff.iter().map(|x| ("X-Forwarded-For", *x)).collect();
    let body = json!({"username": user, "password": password}).to_string();
    http_from(from, addr, "POST", "/api/v1/auth/login", &headers, Some(&body))
}

/// Peak resident memory of a process (VmHWM), in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// `n` wrong sign-ins for `admin` at once, client `i` from `from(i)`; their statuses.
fn flood(addr: SocketAddr, n: usize, from: impl Fn(usize) -> IpAddr) -> Vec<Resp> {
    let gate = Arc::new(Barrier::new(n));
    let runs: Vec<_> = (0..n)
        .map(|i| {
            let (gate, src) = (gate.clone(), from(i));
            std::thread::spawn(move || {
                gate.wait();
                sign_in_from(src, addr, "admin", &format!("wrong guess {i}"), None)
            })
        })
        .collect();
    runs.into_iter().map(|t| t.join().expect("sign-in thread")).collect()
}

const MIB: u64 = 1024;

/// 200 concurrent wrong sign-ins with the rate limits out of the way (as a botnet spread over
/// enough addresses would have them): at most `password_hash_concurrency` argon2 runs (19 MiB
/// each) at a time, so the controller's peak memory grows by well under 200 MiB (unbounded,
/// 200 hashes at once are ~3.8 GiB); the rest wait briefly and get 503 + Retry-After. The
/// admin signs in right after.
#[test]
fn concurrent_wrong_sign_ins_keep_memory_bounded() {
    let b = bare(
        "hashmem",
        &[
            ("WIREWATCH_API_LOGIN_PER_USER_PER_MINUTE", "100000"),
            ("WIREWATCH_API_LOGIN_PER_ADDRESS_PER_MINUTE", "100000"),
        ],
    );
    let api = b.c.http;
    // One sign-in first, so the baseline includes one hash's worth of memory.
    assert_eq!(sign_in_from(lo(1), api, "admin", ADMIN_PASSWORD, None).status, 200);
    let before = vm_hwm_kib(b.c.child.id());
    let answers = flood(api, 200, |i| lo(2 + (i % 10) as u8));
    let after = vm_hwm_kib(b.c.child.id());
    let mut by_status = std::collections::BTreeMap::new();
    for r in &answers {
        *by_status.entry((r.status, r.code())).or_insert(0) += 1;
    }
    let growth = after.saturating_sub(before);
    eprintln!("VmHWM {before} KiB -> {after} KiB (+{} MiB); answers {by_status:?}", growth / MIB);
    assert!(growth < 200 * MIB, "peak memory grew by {} MiB ({before} -> {after} KiB)", growth / MIB);
    for r in &answers {
        match r.status {
            401 => {}
            503 => {
                assert_eq!(r.code(), "busy", "{}", r.body);
                assert!(r.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)), "{r:?}");
            }
            _ => panic!("{} {}", r.status, r.body),
        }
    }
    assert!(answers.iter().filter(|r| r.status == 401).count() >= 4, "some guesses were checked: {by_status:?}");
    let r = sign_in_from(lo(99), api, "admin", ADMIN_PASSWORD, None);
    assert_eq!(r.status, 200, "{}", r.body);
}

/// With the default limits: 200 concurrent wrong sign-ins for `admin` from ten addresses.
/// Memory stays bounded, the admin signs in at once from an address that has not been failing,
/// a failing address is made to wait even with the right password, and other names from that
/// address are not affected.
#[test]
fn a_guesser_cannot_lock_the_admin_out() {
    let b = bare("lockout", &[]);
    let api = b.c.http;
    b.add_user("vera", "viewer", "vera-password-1");
    let before = vm_hwm_kib(b.c.child.id());
    let answers = flood(api, 200, |i| lo(2 + (i % 10) as u8));
    let after = vm_hwm_kib(b.c.child.id());
    let mut by_status = std::collections::BTreeMap::new();
    for r in &answers {
        *by_status.entry(r.status).or_insert(0) += 1;
        assert!(matches!(r.status, 401 | 429 | 503), "{} {}", r.status, r.body);
    }
    eprintln!("VmHWM {before} KiB -> {after} KiB; answers {by_status:?}");
    assert!(by_status.get(&429).is_some_and(|n| *n > 0), "the guesses were limited: {by_status:?}");
    assert!(after.saturating_sub(before) < 200 * MIB, "peak memory {before} -> {after} KiB");

    // The owner, from an address that has not been failing: in at once.
    let r = sign_in_from(lo(50), api, "admin", ADMIN_PASSWORD, None);
    assert_eq!(r.status, 200, "the admin is locked out: {}", r.body);
    // A failing address waits, even with the right password.
    let r = sign_in_from(lo(2), api, "admin", ADMIN_PASSWORD, None);
    assert_eq!((r.status, r.code()), (429, "rate_limited".to_string()), "{}", r.body);
    assert!(r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{r:?}");
    // Other names from that address still sign in.
    let r = sign_in_from(lo(2), api, "vera", "vera-password-1", None);
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Attempts per address (3 a minute here): an IPv6 client counts as its /64; X-Forwarded-For is
/// believed only from a configured proxy, and only its right-most untrusted entry.
#[test]
fn addresses_are_keyed_per_64_and_forwarded_for_only_from_trusted_proxies() {
    let b = bare(
        "xff",
        &[
            ("WIREWATCH_API_LOGIN_PER_ADDRESS_PER_MINUTE", "3"),
            ("WIREWATCH_API_TRUSTED_PROXIES", r#"["127.0.0.2", "10.0.0.0/8"]"#),
        ],
    );
    let api = b.c.http;
    let proxy = lo(2);
    // Each attempt under another (unknown) name, so only the per-address limit applies.
    let mut n = 0;
    let mut attempt = |from: IpAddr, xff: Option<&str>| {
        n += 1;
        sign_in_from(from, api, &format!("nobody{n}"), "wrong password", xff).status
    };
    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"] {
        assert_eq!(attempt(proxy, Some(host)), 401, "{host}");
    }
    assert_eq!(attempt(proxy, Some("2001:db8:1:2:ffff:ffff:ffff:ffff")), 429, "same /64: same bucket");
    assert_eq!(attempt(proxy, Some("2001:db8:1:3::1")), 401, "another /64, another client behind the proxy");

    // A spoofed left part is the client's own text: the proxy's right-most entry counts.
    for spoof in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_eq!(attempt(proxy, Some(&format!("{spoof}, 198.51.100.7"))), 401);
    }
    assert_eq!(attempt(proxy, Some("203.0.113.4, 198.51.100.7")), 429);
    // Trusted hops on the right are skipped.
    assert_eq!(attempt(proxy, Some("198.51.100.20, 10.1.2.3")), 401);
    assert_eq!(attempt(proxy, Some("198.51.100.20, 10.9.9.9")), 401);
    assert_eq!(attempt(proxy, Some("198.51.100.20")), 401);
    assert_eq!(attempt(proxy, Some("198.51.100.20, 10.1.2.3")), 429);

    // Not from a trusted proxy: the header is ignored and the peer is the client.
    for x in ["198.51.100.30", "198.51.100.31", "198.51.100.32"] {
        assert_eq!(attempt(lo(3), Some(x)), 401);
    }
    assert_eq!(attempt(lo(3), Some("198.51.100.33")), 429);
    // ... and the proxy's own clients were never charged to the proxy itself.
    assert_eq!(attempt(proxy, None), 401);
}

fn token_days(created: &Value) -> i64 {
    let at = created["expires_at"].as_str().unwrap_or_else(|| panic!("no expiry: {created}"));
    let at: chrono::DateTime<chrono::Utc> = at.parse().expect("expires_at");
    (at - chrono::Utc::now()).num_hours().div_euclid(24) + 1
}

/// API tokens: they authenticate API calls but cannot create tokens; they expire by default
/// (90 days; at most 365 when asked); any user lists and revokes their own; a token stored
/// without expiry (before this change) keeps working.
#[test]
fn api_tokens_cannot_mint_tokens_expire_by_default_and_are_revoked_by_their_user() {
    let b = bare("tokens", &[]);
    let api = b.c.http;
    let admin = login(api, "admin", ADMIN_PASSWORD);
    b.add_user("vera", "viewer", "vera-password-1");
    let post = |tok: &str, body: &str| http(api, "POST", "/api/v1/tokens", Some(tok), Some(body));

    let r = post(&admin, r#"{"name":"script"}"#);
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    assert_eq!(token_days(&created), 90, "default lifetime: {created}");
    let tok = created["token"].as_str().expect("token").to_string();
    assert_eq!(http(api, "GET", "/api/v1/me", Some(&tok), None).json()["auth"], "api_token");
    for body in [r#"{"name":"child"}"#, r#"{"name":"child","username":"vera"}"#] {
        let r = post(&tok, body);
        assert_eq!((r.status, r.code()), (403, "forbidden".to_string()), "{}", r.body);
    }
    assert_eq!(b.pg.scalar("tokens", "SELECT count(*) FROM api_tokens"), 1, "nothing minted");
    assert_eq!(post(&admin, r#"{"name":"long","expires_in_days":400}"#).status, 400);
    let r = post(&admin, r#"{"name":"year","expires_in_days":365}"#);
    assert_eq!((r.status, token_days(&r.json())), (201, 365), "{}", r.body);

    // A viewer's token (admins make them for dashboards): she lists and revokes it herself.
    let r = post(&admin, r#"{"name":"dashboard","username":"vera"}"#);
    assert_eq!(r.status, 201, "{}", r.body);
    let (vera_tok, vera_id) = (r.json()["token"].as_str().expect("token").to_string(), r.json()["id"].clone());
    let vera = login(api, "vera", "vera-password-1");
    let mine = http(api, "GET", "/api/v1/tokens", Some(&vera), None).json();
    assert_eq!(
        mine.as_array().map(|a| a.iter().map(|t| t["id"].clone()).collect::<Vec<_>>()),
        Some(vec![vera_id.clone()])
    );
    let admin_id = created["id"].as_i64().expect("id");
    let r = http(api, "DELETE", &format!("/api/v1/tokens/{admin_id}"), Some(&vera), None);
    assert_eq!(r.status, 404, "not hers: {}", r.body);
    assert_eq!(http(api, "GET", "/api/v1/me", Some(&tok), None).status, 200);
    let r = http(api, "DELETE", &format!("/api/v1/tokens/{vera_id}"), Some(&vera), None);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(http(api, "GET", "/api/v1/me", Some(&vera_tok), None).status, 401);

    // A token stored without an expiry (made before default expiries) still works.
    b.pg.psql(
        "tokens",
        "INSERT INTO api_tokens (user_id, name, prefix, token_hash) SELECT id, 'legacy', 'wwt_legacy', \
             sha256(convert_to('wwt_legacy-token-without-expiry', 'UTF8')) FROM users WHERE name = 'admin'",
    )
    .expect("legacy token");
    let r = http(api, "GET", "/api/v1/me", Some("wwt_legacy-token-without-expiry"), None);
    assert_eq!((r.status, r.json()["username"].as_str()), (200, Some("admin")), "{}", r.body);
}

/// `/healthz` (unauthenticated) says the database is unavailable, never why.
#[test]
fn healthz_does_not_reveal_database_errors() {
    let mut b = bare("health", &[]);
    let api = b.c.http;
    let r = http(api, "GET", "/healthz", None, None);
    assert_eq!((r.status, r.json()["database"].as_str()), (200, Some("up")));
    b.pg.stop();
    let r = http(api, "GET", "/healthz", None, None);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json(), json!({"status": "degraded", "database": "unavailable"}), "{}", r.body);
}

/// An access token is honoured only for a session a sign-in of that user made: a correctly
/// signed token naming a family nobody signed in with (or another user's) is refused.
#[test]
fn a_session_needs_a_family_made_by_a_sign_in() {
    let b = bare("families", &[]);
    let api = b.c.http;
    b.add_user("vera", "viewer", "vera-password-1");
    let admin = login(api, "admin", ADMIN_PASSWORD);
    let vera = login(api, "vera", "vera-password-1");
    let hex = b.pg.psql("families", "SELECT encode(secret, 'hex') FROM api_secret").expect("secret");
    let key: Vec<u8> =
        (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex")).collect();
    let claims = |t: &str| -> Value {
        let part = t.split('.').nth(1).expect("claims");
        serde_json::from_slice(&B64.decode(part).expect("base64")).expect("claims JSON")
    };
    let sign = |c: &Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            c,
            &jsonwebtoken::EncodingKey::from_secret(&key).expect("key"),
        )
        .expect("sign")
    };
    let mine = claims(&admin);
    // Control: re-signing the admin's own claims is accepted, so the refusals below are about
    // the family.
    assert_eq!(http(api, "GET", "/api/v1/me", Some(&sign(&mine)), None).status, 200);
    let mut made_up = mine.clone();
    made_up["fam"] = json!(B64.encode([7u8; 16]));
    let mut borrowed = mine.clone();
    borrowed["fam"] = claims(&vera)["fam"].clone();
    for (what, c) in [("made-up family", made_up), ("another user's family", borrowed)] {
        let r = http(api, "GET", "/api/v1/me", Some(&sign(&c)), None);
        assert_eq!(r.status, 401, "{what}: {}", r.body);
    }
}

/// Live queries (asked of a probe replaying real traffic): viewers may not; an operator gets
/// `live_per_user_per_minute` (6) a minute, then 429 + Retry-After, while another operator
/// still gets answers.
#[test]
fn live_queries_need_an_operator_and_are_limited_per_user() {
    let b = bare("live", &[]);
    let c = &b.c;
    let dir = scratch();
    let id = c.enroll("pl", "lab", dir.path());
    // A tenth of the capture's own pace keeps the probe connected for about a minute.
    let mut probe = Probe::replay(&[c.quic], &id, &[pcaps().join("gnutella.pcap")], "10", 5);
    b.add_user("vera", "viewer", "vera-password-1");
    b.add_user("otto", "operator", "otto-password-1");
    b.add_user("olga", "operator", "olga-password-1");
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    let (vera, otto, olga) = (
        login(c.http, "vera", "vera-password-1"),
        login(c.http, "otto", "otto-password-1"),
        login(c.http, "olga", "olga-password-1"),
    );
    wait_until("probe online", Duration::from_secs(60), || {
        http(c.http, "GET", "/api/v1/probes/pl", Some(&admin), None).json()["status"] == "online"
    });
    let live =
        |t: &str| http(c.http, "GET", "/api/v1/probes/pl/live/top-talkers?limit=3&timeout_ms=5000", Some(t), None);
    let r = live(&vera);
    assert_eq!((r.status, r.code()), (403, "forbidden".to_string()), "{}", r.body);
    for i in 0..6 {
        let r = live(&otto);
        assert_eq!(r.status, 200, "query {i}: {}", r.body);
        assert_eq!(r.json()["probe"], "pl");
    }
    let r = live(&otto);
    assert_eq!((r.status, r.code()), (429, "rate_limited".to_string()), "{}", r.body);
    assert!(r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{r:?}");
    let r = live(&olga);
    assert_eq!(r.status, 200, "another operator is not limited by otto: {}", r.body);
    probe.kill9();
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

/// /python/ runs per user: with two pages of the admin's running, a third waits briefly and
/// gets 429 while another user's page runs; once they end, the admin's pages run again.
#[test]
fn python_runs_are_limited_per_user() {
    let scripts = scratch();
    let gate = scratch();
    let dir = scripts.path().display().to_string();
    let b = bare(
        "pyuser",
        &[
            ("WIREWATCH_PYTHON_SCRIPTS_DIR", dir.as_str()),
            ("WIREWATCH_PYTHON_TIMEOUT_SECS", "120"),
            ("WIREWATCH_API_PYTHON_WAIT_MS", "300"),
        ],
    );
    let api = b.c.http;
    let g = gate.path().display();
    write(
        &scripts.path().join("hold.py"),
        &format!(
            "import os, time, uuid\n\
             open(os.path.join('{g}', 'started-' + uuid.uuid4().hex), 'w').close()\n\
             while not os.path.exists(os.path.join('{g}', 'release')):\n    time.sleep(0.05)\n\
             print('released')\n"
        ),
    );
    write(&scripts.path().join("quick.py"), "print('ok')\n");
    b.add_user("vera", "viewer", "vera-password-1");
    let admin = login(api, "admin", ADMIN_PASSWORD);
    let vera = login(api, "vera", "vera-password-1");
    let started = || {
        std::fs::read_dir(gate.path())
            .map(|d| {
                d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("started-")).count()
            })
            .unwrap_or(0)
    };
    let hold = |tok: String| std::thread::spawn(move || http(api, "GET", "/python/hold.py", Some(&tok), None));
    let running = [hold(admin.clone()), hold(admin.clone())];
    wait_until("two pages running", Duration::from_secs(30), || started() == 2);

    let (tx, rx) = mpsc::channel();
    let tok = admin.clone();
    std::thread::spawn(move || {
        let _ = tx.send(http(api, "GET", "/python/hold.py", Some(&tok), None));
    });
    let third = rx.recv_timeout(Duration::from_secs(20));
    let other = http(api, "GET", "/python/quick.py", Some(&vera), None);
    write(&gate.path().join("release"), "");
    let third = third.expect("a third run of the same user was not refused");
    assert_eq!((third.status, third.code()), (429, "rate_limited".to_string()), "{}", third.body);
    assert!(third.header("retry-after").is_some(), "{third:?}");
    assert_eq!((other.status, other.body.as_str()), (200, "ok\n"), "another user's page runs meanwhile");
    for r in running {
        let r = r.join().expect("hold");
        assert_eq!((r.status, r.body.as_str()), (200, "released\n"));
    }
    assert_eq!(started(), 2, "the refused run never started");
    assert_eq!(http(api, "GET", "/python/quick.py", Some(&admin), None).status, 200);
    // A browser without a session still goes to the sign-in form.
    let r = http_headers(api, "GET", "/python/quick.py", &[("Accept", "text/html")], None);
    assert_eq!((r.status, r.header("location").map(|l| l.starts_with("/login"))), (303, Some(true)), "{r:?}");
}
