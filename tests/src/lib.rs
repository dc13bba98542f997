//! Harness for the end-to-end tests: a private PostgreSQL cluster (initdb + pg_ctl on a free
//! port, as the `postgres` user when run as root), controller and probe processes built from
//! this workspace, and helpers to read what they stored. Everything a test starts is stopped by
//! `Drop`, by PID.
#![allow(clippy::unwrap_used)]

pub mod dns;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Where cargo put the workspace binaries (next to the test executable's `deps/`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // Tests run from target/<profile>/deps, binaries (the bench) from target/<profile>.
    for dir in exe.ancestors().skip(1).take(2) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not built next to {}: run `cargo build --workspace --bins` first", exe.display());
}

/// ../shared/pcaps/real
pub fn pcaps() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/real")
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

/// A scratch directory the `postgres` user can traverse.
pub fn scratch() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("ww-e2e").tempdir().expect("tempdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

fn pg_bin(name: &str) -> PathBuf {
    wirewatch_store::embedded::find_program(name).expect("PostgreSQL server programs")
}

/// A private PostgreSQL cluster on 127.0.0.1 and a free port.
pub struct Pg {
    pub dir: tempfile::TempDir,
    pub port: u16,
    running: bool,
}

impl Pg {
    fn cmd(&self, program: &Path) -> Command {
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("pg")
    }

    pub fn start() -> Pg {
        let pg = Pg { dir: scratch(), port: free_tcp_port(), running: false };
        std::fs::create_dir_all(pg.data()).expect("mkdir");
        if is_root() {
            let st = Command::new("chown").arg("postgres:").arg(pg.data()).status().expect("chown");
            assert!(st.success());
        }
        let out = pg
            .cmd(&pg_bin("initdb"))
            .arg("-D")
            .arg(pg.data())
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"])
            .output()
            .expect("initdb");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let mut pg = pg;
        pg.resume();
        pg
    }

    /// Starts the (stopped) server again.
    pub fn resume(&mut self) {
        let out = self
            .cmd(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.data().join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
                self.port,
                self.data().display()
            ))
            .arg("start")
            .output()
            .expect("pg_ctl");
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
        self.running = true;
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop(&mut self) {
        if self.running {
            let _ = self.cmd(&pg_bin("pg_ctl")).arg("-D").arg(self.data()).args(["-m", "fast", "-w", "stop"]).output();
            self.running = false;
        }
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn create_db(&self, db: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {db}")).expect("create database");
        self.url(db)
    }

    /// Runs SQL through psql; returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .context("psql")?;
        if !out.status.success() {
            bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub fn scalar(&self, db: &str, sql: &str) -> i64 {
        self.psql(db, sql).expect("query").parse().unwrap_or_else(|_| panic!("not a number from {sql}"))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kills a child by PID and reaps it.
fn kill(child: &mut Child, signal: &str) {
    let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
    let _ = child.wait();
}

/// A controller process.
pub struct Controller {
    pub child: Child,
    pub data_dir: PathBuf,
    pub quic: SocketAddr,
    pub http: SocketAddr,
    pub metrics: SocketAddr,
    pub name: String,
    database_url: String,
    env: Vec<(String, String)>,
}

impl Controller {
    /// Starts `serve` on a given QUIC port (so a restart listens where the probes look).
    pub fn start(data_dir: &Path, database_url: &str, name: &str, quic_port: u16, env: &[(&str, &str)]) -> Controller {
        let env: Vec<(String, String)> = env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let data_dir = data_dir.to_path_buf();
        let quic = SocketAddr::from(([127, 0, 0, 1], quic_port));
        let (child, http, metrics) = Self::launch(&data_dir, database_url, name, quic, &env);
        Controller {
            child,
            data_dir,
            quic,
            http,
            metrics,
            name: name.to_string(),
            database_url: database_url.to_string(),
            env,
        }
    }

    /// Spawns `serve` and waits for the line with its bound addresses: (child, http, metrics).
    fn launch(
        data_dir: &Path,
        database_url: &str,
        name: &str,
        quic: SocketAddr,
        env: &[(String, String)],
    ) -> (Child, SocketAddr, SocketAddr) {
        let mut cmd = Command::new(bin("wirewatch-controller"));
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--quic-listen", &quic.to_string(), "--http-listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0", "--name", name])
            .env("DATABASE_URL", database_url)
            .env("WIREWATCH_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("controller");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("controller did not report its addresses");
        let field = |k: &str| -> String {
            line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{k}="))).unwrap_or_default().to_string()
        };
        (child, field("http").parse().expect("http address"), field("metrics").parse().expect("metrics address"))
    }

    /// SIGKILL, as a crash.
    pub fn kill9(&mut self) {
        kill(&mut self.child, "-KILL");
    }

    /// Starts `serve` again on the same QUIC port, data directory and database.
    pub fn restart(&mut self) {
        let (child, http, metrics) = Self::launch(&self.data_dir, &self.database_url, &self.name, self.quic, &self.env);
        (self.child, self.http, self.metrics) = (child, http, metrics);
    }

    /// Runs a controller subcommand against the same data directory and database.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        self.cli_stdin(args, "")
    }

    /// Runs a controller subcommand with `input` on its standard input.
    pub fn cli_stdin(&self, args: &[&str], input: &str) -> Result<String> {
        self.cli_full(args, input, &[])
    }

    /// Runs a controller subcommand with more environment (configuration) variables.
    pub fn cli_env(&self, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
        self.cli_full(args, "", env)
    }

    fn cli_full(&self, args: &[&str], input: &str, env: &[(&str, &str)]) -> Result<String> {
        use std::io::Write;
        let mut child = Command::new(bin("wirewatch-controller"))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("WIREWATCH_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().context("stdin")?.write_all(input.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("wirewatch-controller {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// Enrols a probe; returns its identity directory.
    pub fn enroll(&self, name: &str, site: &str, out: &Path) -> PathBuf {
        let dir = out.join(name);
        self.cli(&["probe", "enroll", name, "--site", site, "--out", dir.to_str().expect("utf-8")]).expect("enroll");
        dir
    }

    /// Adds a user (`role`, limited to `sites` if given, password `<name>-password-123`) and
    /// signs them in over the API: their access token.
    pub fn user(&self, name: &str, role: &str, sites: Option<&str>) -> String {
        let mut args = vec!["user", "add", name, "--role", role, "--password-stdin"];
        if let Some(s) = sites {
            args.extend(["--sites", s]);
        }
        let password = format!("{name}-password-123");
        self.cli_stdin(&args, &format!("{password}\n")).expect("user add");
        login(self.http, name, &password)
    }

    /// `hosts --probe NAME --format json`.
    pub fn hosts(&self, probe: &str) -> Value {
        let s = self.cli(&["hosts", "--probe", probe, "--format", "json"]).expect("hosts");
        serde_json::from_str(&s).expect("hosts JSON")
    }

    pub fn metrics_text(&self) -> String {
        http_get(self.metrics, "/metrics").unwrap_or_default()
    }
}

impl Controller {
    /// SIGTERM, a clean stop (an embedded cluster the controller started stops with it); waits.
    pub fn terminate(&mut self) -> Option<i32> {
        kill(&mut self.child, "-TERM");
        self.child.try_wait().ok().flatten().and_then(|s| s.code())
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        // Not a PID of someone else: only a child not yet reaped is signalled.
        if let Ok(None) = self.child.try_wait() {
            kill(&mut self.child, "-KILL");
        }
    }
}

/// A plain HTTP/1.0 GET (no client library needed for two endpoints).
pub fn http_get(addr: SocketAddr, path: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// A `wirewatch-probe run` process.
pub struct Probe {
    pub child: Child,
    args: Vec<String>,
}

impl Probe {
    pub fn replay(
        controllers: &[SocketAddr],
        identity: &Path,
        files: &[PathBuf],
        speed: &str,
        interval_secs: u32,
    ) -> Probe {
        let list: Vec<String> = controllers.iter().map(|c| c.to_string()).collect();
        let mut args = vec![
            "run".to_string(),
            "--controller".into(),
            list.join(","),
            "--identity".into(),
            identity.display().to_string(),
            "--replay-speed".into(),
            speed.into(),
            "--interval-secs".into(),
            interval_secs.to_string(),
            "--read".into(),
        ];
        args.extend(files.iter().map(|f| f.display().to_string()));
        Probe { child: Self::launch(&args), args }
    }

    /// A probe replaying `file` in a loop at its own pace, packet times moved to now (`--loop`):
    /// online until it is stopped.
    pub fn looping(controllers: &[SocketAddr], identity: &Path, file: &Path, interval_secs: u32) -> Probe {
        let list: Vec<String> = controllers.iter().map(|c| c.to_string()).collect();
        let args = vec![
            "run".to_string(),
            "--controller".into(),
            list.join(","),
            "--identity".into(),
            identity.display().to_string(),
            "--replay-speed".into(),
            "1".into(),
            "--loop".into(),
            "--interval-secs".into(),
            interval_secs.to_string(),
            "--read".into(),
            file.display().to_string(),
        ];
        Probe { child: Self::launch(&args), args }
    }

    fn launch(args: &[String]) -> Child {
        Command::new(bin("wirewatch-probe"))
            .args(args)
            .env("WIREWATCH_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("probe")
    }

    pub fn kill9(&mut self) {
        kill(&mut self.child, "-KILL");
    }

    /// Starts the same `run` again (same identity, so the same spool).
    pub fn restart(&mut self) {
        self.child = Self::launch(&self.args);
    }

    /// Waits for the probe to exit; its exit code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            if Instant::now() > deadline {
                kill(&mut self.child, "-KILL");
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        kill(&mut self.child, "-KILL");
    }
}

/// `wirewatch-probe read --format json FILES`.
pub fn read_json(files: &[PathBuf]) -> Value {
    let out =
        Command::new(bin("wirewatch-probe")).args(["read", "--format", "json"]).args(files).output().expect("read");
    serde_json::from_slice(&out.stdout).expect("read JSON")
}

/// Waits until `f` holds (polling), or panics with `what`.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A browser script of `tests/ui/` (Playwright driving Debian's Chromium).
pub fn ui_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui").join(name)
}

/// Runs a Playwright script with its spec; fails with everything it printed.
pub fn run_ui(script: &Path, spec: &Path) {
    let out = Command::new("python3").arg(script).arg(spec).output().expect("python3");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(
        out.status.success(),
        "{} failed (Playwright from PyPI and Debian's chromium: scripts/setup installs both):\n{text}",
        script.display()
    );
}

/// `scripts/build-web`: the console in `web/dist` (quick when it is up to date).
pub fn build_web() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-web");
    let out = Command::new(script).output().expect("scripts/build-web");
    assert!(
        out.status.success(),
        "scripts/build-web failed (scripts/setup installs Node.js and builds the console):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `spec` beside the test's other files (`dir`) and runs `tests/ui/<name>` with it.
pub fn ui(name: &str, spec: &Value, dir: &Path) {
    let file = dir.join(format!("{name}.spec.json"));
    std::fs::write(&file, spec.to_string()).expect("spec");
    run_ui(&ui_script(name), &file);
}

/// Per-address counters of a report (`hosts` or `read` JSON): address → (tx p, tx b, rx p, rx b).
pub fn counters(report: &Value, table: &str, key: &str) -> std::collections::BTreeMap<String, [u64; 4]> {
    report[table]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    let g = |k: &str| h[k].as_u64().unwrap_or(u64::MAX);
                    (
                        h[key].as_str().unwrap_or("?").to_string(),
                        [g("tx_packets"), g("tx_bytes"), g("rx_packets"), g("rx_bytes")],
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The tshark oracle's per-address counters for a capture (IPv4 and IPv6, and Ethernet).
pub fn oracle(
    file: &str,
) -> (std::collections::BTreeMap<String, [u64; 4]>, std::collections::BTreeMap<String, [u64; 4]>) {
    let text = std::fs::read_to_string(pcaps().join(format!("{file}.oracle.json"))).expect("oracle");
    let o: Value = serde_json::from_str(&text).expect("oracle JSON");
    let four = |v: &Value| {
        let g = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
        [g("tx_packets"), g("tx_bytes"), g("rx_packets"), g("rx_bytes")]
    };
    let mut ips = std::collections::BTreeMap::new();
    for t in ["ipv4", "ipv6"] {
        if let Some(m) = o[t].as_object() {
            for (a, v) in m {
                let ip: std::net::IpAddr = a.parse().expect("oracle address");
                ips.insert(ip.to_string(), four(v));
            }
        }
    }
    let macs = o["eth"].as_object().map(|m| m.iter().map(|(a, v)| (a.clone(), four(v))).collect()).unwrap_or_default();
    (ips, macs)
}

/// Asserts that what the controller stored for `probe` equals the oracle of `file` and the
/// probe's own offline reading of it (the whole JSON document).
pub fn assert_exact(c: &Controller, probe: &str, file: &str) {
    let stored = c.hosts(probe);
    let (ips, macs) = oracle(file);
    assert_eq!(counters(&stored, "hosts", "ip"), ips, "{file}: hosts in PostgreSQL vs tshark");
    assert_eq!(counters(&stored, "macs", "mac"), macs, "{file}: MACs in PostgreSQL vs tshark");
    let read = read_json(&[pcaps().join(file)]);
    assert_eq!(stored, read, "{file}: `hosts` JSON differs from `wirewatch-probe read`");
}

/// An HTTP response as the tests see it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The `error.code` of an error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

/// One HTTP/1.1 request (`Connection: close`), JSON body if any, bearer token if any.
pub fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Resp {
    http_raw(addr, method, path, token, body.map(|b| ("application/json", b.as_bytes())))
}

/// [`http`] with any content type and bytes.
pub fn http_raw(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<(&str, &[u8])>) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    http_headers(addr, method, path, &headers, body)
}

/// [`http_raw`] with any request headers.
pub fn http_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Resp {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some((ct, b)) = body {
        req.push_str(&format!("Content-Type: {ct}\r\nContent-Length: {}\r\n", b.len()));
    } else if matches!(method, "POST" | "PUT") {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some((_, b)) = body {
        bytes.extend_from_slice(b);
    }
    // A server may answer (413) before reading a large body and close: a write error then is fine.
    let _ = s.write_all(&bytes);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Resp { status, headers, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Signs in; the access token.
pub fn login(addr: SocketAddr, user: &str, password: &str) -> String {
    let r = http(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&serde_json::json!({"username": user, "password": password}).to_string()),
    );
    assert_eq!(r.status, 200, "login {user}: {}", r.body);
    r.json()["access_token"].as_str().expect("access_token").to_string()
}

/// A MaxMind-format city database with known networks (written with PyPI's mmdb-writer).
pub fn write_mmdb(path: &Path) {
    let script = r#"
import sys
from mmdb_writer import MMDBWriter
from netaddr import IPSet
w = MMDBWriter(ip_version=6, database_type='GeoIP2-City', languages=['en'], description='wirewatch test', ipv4_compatible=True)
def place(cc, country, city=None, lat=None, lon=None):
    d = {'country': {'iso_code': cc, 'names': {'en': country}}}
    if city:
        d['city'] = {'names': {'en': city}}
        d['location'] = {'latitude': lat, 'longitude': lon}
    return d
w.insert_network(IPSet(['8.8.8.0/24']), place('US', 'United States', 'Mountain View', 37.386, -122.0838))
w.insert_network(IPSet(['142.250.0.0/15']), place('US', 'United States'))
w.insert_network(IPSet(['31.13.87.0/24']), place('IE', 'Ireland', 'Dublin', 53.3331, -6.2489))
w.insert_network(IPSet(['203.69.81.0/24']), place('TW', 'Taiwan', 'Taipei', 25.0478, 121.5319))
w.to_db_file(sys.argv[1])
"#;
    let out = std::process::Command::new("python3").args(["-c", script]).arg(path).output().expect("python3");
    assert!(out.status.success(), "mmdb-writer (pip install mmdb-writer): {}", String::from_utf8_lossy(&out.stderr));
}

/// ip → (tx packets, tx bytes, rx packets, rx bytes) of a capture's oracle (IPv4 and IPv6).
pub fn oracle_hosts(file: &str) -> BTreeMap<String, [i64; 4]> {
    let o: Value =
        serde_json::from_str(&std::fs::read_to_string(pcaps().join(format!("{file}.oracle.json"))).expect("oracle"))
            .expect("oracle JSON");
    let mut out = BTreeMap::new();
    for t in ["ipv4", "ipv6"] {
        for (ip, v) in o[t].as_object().into_iter().flatten() {
            let g = |k: &str| v[k].as_i64().unwrap_or(-1);
            out.insert(ip.clone(), [g("tx_packets"), g("tx_bytes"), g("rx_packets"), g("rx_bytes")]);
        }
    }
    out
}

/// Frames in a capture, per its oracle.
pub fn oracle_frames(file: &str) -> i64 {
    let o: Value =
        serde_json::from_str(&std::fs::read_to_string(pcaps().join(format!("{file}.oracle.json"))).expect("oracle"))
            .expect("oracle JSON");
    o["totals"]["frames"].as_i64().expect("frames")
}

/// What wrk measured.
pub struct Figures {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
}

/// A wrk latency ("812.00us", "4.43ms", "1.2s") in milliseconds.
pub fn ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mul) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (s, 1.0)
    };
    num.trim().parse::<f64>().ok().map(|n| n * mul)
}

/// Runs wrk (`conns` connections, up to 2 threads) on one URL.
pub fn wrk(url: &str, token: Option<&str>, secs: u64, conns: u64) -> Result<Figures> {
    let mut cmd = Command::new("wrk");
    cmd.args([&format!("-t{}", conns.min(2)), &format!("-c{conns}"), &format!("-d{secs}s"), "--latency"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd.arg(url).output().context("running wrk (apt install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut f = Figures { rps: 0.0, p50_ms: 0.0, p99_ms: 0.0, non_2xx: 0 };
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Requests/sec:") {
            f.rps = v.trim().parse().unwrap_or(0.0);
        } else if let Some(v) = l.strip_prefix("50%") {
            f.p50_ms = ms(v).unwrap_or(0.0);
        } else if let Some(v) = l.strip_prefix("99%") {
            f.p99_ms = ms(v).unwrap_or(0.0);
        } else if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
            f.non_2xx = v.trim().parse().unwrap_or(0);
        }
    }
    Ok(f)
}

/// A bench's `--name value` argument as a number, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let a: Vec<String> = std::env::args().collect();
    a.iter().position(|x| x == name).and_then(|i| a.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The first admin's password in [`two_sites`].
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// A controller whose probe `pa` (site `site-a`) replayed `capture_a` and `pb` (`site-b`)
/// `capture_b`, every batch folded, GeoIP from [`write_mmdb`], all history kept (the captures
/// are from 2016 and 2022 and retention judges packet time); `admin` signed in.
pub struct TwoSites {
    pub pg: Pg,
    pub c: Controller,
    /// Scratch directory (identities, the mmdb, the controller's data).
    pub dir: tempfile::TempDir,
    /// The admin's access token.
    pub admin: String,
}

/// Starts [`TwoSites`] in database `db`; `extra_env` is added to the controller's environment.
pub fn two_sites(db: &str, capture_a: &str, capture_b: &str, extra_env: &[(&str, &str)]) -> TwoSites {
    let pg = Pg::start();
    let url = pg.create_db(db);
    let dir = scratch();
    let mmdb = dir.path().join("city.mmdb");
    write_mmdb(&mmdb);
    let mmdb = mmdb.display().to_string();
    let mut env = vec![
        ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("WIREWATCH_ROLLUP_EVERY_SECS", "1"),
        // Retention runs all along with its default ages: the captures are years old, and are
        // kept like today's traffic (retention judges arrival, not packet time).
        ("WIREWATCH_RETENTION_EVERY_SECS", "1"),
        ("WIREWATCH_API_GEOIP_DB", mmdb.as_str()),
    ];
    env.extend_from_slice(extra_env);
    let c = Controller::start(&dir.path().join("ctl"), &url, &format!("{db}-ctl"), free_udp_port(), &env);
    let ida = c.enroll("pa", "site-a", dir.path());
    let idb = c.enroll("pb", "site-b", dir.path());
    let mut a = Probe::replay(&[c.quic], &ida, &[pcaps().join(capture_a)], "max", 10);
    let mut b = Probe::replay(&[c.quic], &idb, &[pcaps().join(capture_b)], "max", 10);
    assert_eq!(a.wait(Duration::from_secs(120)), Some(0));
    assert_eq!(b.wait(Duration::from_secs(120)), Some(0));
    wait_until("every batch folded", Duration::from_secs(60), || {
        pg.scalar(db, "SELECT count(*) FROM batches WHERE NOT rolled_up") == 0
    });
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    TwoSites { pg, c, dir, admin }
}

/// The Hello a hand-driven test probe sends first (`name` as its software and hostname).
pub fn test_hello(name: &str) -> wirewatch_wire::ProbeMessage {
    wirewatch_wire::ProbeMessage::Hello(wirewatch_wire::Hello {
        software_version: name.into(),
        os: "test".into(),
        hostname: name.into(),
        uptime_secs: 0,
        interfaces: vec![],
        spool: wirewatch_wire::SpoolStatus::default(),
    })
}

/// Seconds per value of the RRD files alarm tests write.
pub const ALARM_STEP: i64 = 60;
/// Values per RRD file alarm tests write.
pub const ALARM_MINUTES: i64 = 20;

/// Writes a gauge file under `root` whose minute `i` (of the [`ALARM_MINUTES`] ending at
/// `last`) holds `value(i)`.
pub fn write_minutes(root: &Path, rel: &str, last: i64, value: impl Fn(i64) -> f64) {
    use wirewatch_rrd::files::{Kind, Point, append};
    let points: Vec<Point> = (0..ALARM_MINUTES)
        .map(|i| {
            let end = last - ALARM_STEP * (ALARM_MINUTES - 1 - i);
            Point { start: end - ALARM_STEP, end, value: value(i) }
        })
        .collect();
    let r = append(&root.join(rel), Kind::Rate, ALARM_STEP as u64, &points).expect("write rrd");
    assert_eq!(r.written, ALARM_MINUTES as u64);
}

/// The last [`ALARM_STEP`] boundary before now.
pub fn last_alarm_step() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    now / ALARM_STEP * ALARM_STEP
}

/// `rrdtool fetch FILE AVERAGE` at the file's step over `[start, end]`: (step, rows of values).
pub fn rrd_fetch(file: &Path, start: i64, end: i64) -> String {
    let out = Command::new("rrdtool")
        .arg("fetch")
        .arg(file)
        .args(["AVERAGE", "-s", &start.to_string(), "-e", &end.to_string()])
        .output()
        .expect("rrdtool fetch");
    assert!(out.status.success(), "rrdtool fetch {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The integral of a [`rrd_fetch`] output (each known rate × the spacing of its rows).
pub fn rrd_integral(fetched: &str) -> f64 {
    let rows: Vec<(i64, f64)> = fetched
        .lines()
        .filter_map(|l| {
            let (t, v) = l.split_once(':')?;
            Some((t.trim().parse().ok()?, v.trim().parse::<f64>().ok()?))
        })
        .collect();
    let step = match rows.as_slice() {
        [a, b, ..] => (b.0 - a.0) as f64,
        _ => 0.0,
    };
    rows.iter().filter(|r| r.1.is_finite()).map(|r| r.1 * step).sum()
}

pub fn rrd_files(root: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rrd") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

/// Every file's fetch over the whole span (the content a rebuild or restart must keep).
pub fn rrd_contents(root: &Path, start: i64, end: i64) -> BTreeMap<PathBuf, String> {
    rrd_files(root)
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(root).expect("below root").to_path_buf();
            let c = rrd_fetch(&f, start, end);
            (rel, c)
        })
        .collect()
}

/// Host `i` of a benchmark batch `seq`: an address of 198.18.0.0/15 (reserved for
/// benchmarks), traffic growing with `seq`, one service.
pub fn bench_host(i: u32, seq: u64) -> wirewatch_wire::HostDelta {
    use std::net::{IpAddr, Ipv4Addr};
    use wirewatch_wire::*;
    // 198.18.0.0/15 is reserved for benchmarking (RFC 2544).
    let ip = IpAddr::V4(Ipv4Addr::from(0xc612_0000u32 + i));
    let t = Traffic { tx_packets: 3 + seq, tx_bytes: 1500 + u64::from(i), rx_packets: 2, rx_bytes: 800 };
    HostDelta {
        ip,
        mac: Some([2, 0, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8]),
        vlan: 0,
        first_seen_ns: 1_700_000_000_000_000_000,
        last_seen_ns: 1_700_000_000_000_000_000 + seq * 10_000_000_000,
        traffic: t,
        l4: [t, Traffic::default(), Traffic::default(), Traffic::default()],
        services: vec![("https".into(), t)],
        syn_sent: 1,
        tcp_sessions_total: 1,
        udp_flows: 0,
        gauges: HostGauges {
            peers_sent: 3,
            peers_rcvd: 2,
            tcp_sessions_active: 1,
            thpt_actual_tx: 150.0,
            ..Default::default()
        },
    }
}

/// Benchmark batch `seq` of one interface `eth0`: `hosts` hosts ([`bench_host`]), the 10 s
/// interval ending at `end_ns`.
pub fn bench_batch(seq: u64, hosts: u32, end_ns: u64) -> wirewatch_wire::Batch {
    use wirewatch_wire::*;
    Batch {
        seq,
        interval_start_ns: end_ns - 10_000_000_000,
        interval_end_ns: end_ns,
        spool: SpoolStatus::default(),
        interfaces: vec![InterfaceDelta {
            name: "eth0".into(),
            link_type: "EN10MB".into(),
            counters: InterfaceCounters {
                packets: u64::from(hosts) * 5,
                bytes: u64::from(hosts) * 3000,
                ..Default::default()
            },
            gauges: InterfaceGauges { hosts: u64::from(hosts), ..Default::default() },
            hosts: (0..hosts).map(|i| bench_host(i, seq)).collect(),
            macs: vec![],
        }],
    }
}
