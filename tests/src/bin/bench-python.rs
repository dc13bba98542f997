//! `scripts/bench-python`: the embedded Python engine (release build).
//!
//! 1. A trivial page (`print("Hello World")`) served by the persistent interpreter, against the
//!    same script run the CGI way — a fresh `python3` process per request, behind a minimal
//!    HTTP server in this bench — measured in the same run with wrk (one client, then several).
//! 2. The seed's host-table page (`hosts.py`: ntop.getNextHost over every host, seven host.*
//!    calls each) over 100k stored hosts: wall time per page (target under 1 s).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};
use wirewatch_e2e::*;

const TRIVIAL: &str = "print(\"Hello World\")\n";

/// The cursor alone (and the part of it spent in page fetches), then the cursor with the
/// seven host calls of the seed's table.
const WALK: &str = r#"import time, ntop, host
clock = time.perf_counter
t = clock()
n = 0
fetch = 0.0
while True:
    a = clock()
    ok = ntop.getNextHost(0)
    d = clock() - a
    if d > 0.0005:
        fetch += d
    if not ok:
        break
    n += 1
t1 = clock()
while ntop.getNextHost(0):
    (host.ethAddress(), host.ipAddress(), host.hostResolvedName(), host.numHostSessions(),
     host.totContactedSentPeers(), host.fingerprint(), host.serial())
t2 = clock()
print(n, round(t1 - t, 3), round(fetch, 3), round(t2 - t1, 3))
"#;

/// One connection of the CGI baseline: each request runs `python3 script` with the CGI
/// environment and answers with its output (keep-alive, as wrk expects).
fn cgi_connection(stream: TcpStream, python: &Path, script: &Path) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("GET").to_string();
        let target = parts.next().unwrap_or("/");
        let query = target.split_once('?').map(|x| x.1).unwrap_or("");
        let child = Command::new(python)
            .arg(script)
            .env("REQUEST_METHOD", &method)
            .env("QUERY_STRING", query)
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("CONTENT_LENGTH", length.to_string())
            .output()?;
        let status = if child.status.success() { "200 OK" } else { "500 Internal Server Error" };
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            child.stdout.len()
        )?;
        out.write_all(&child.stdout)?;
    }
}

fn cgi_server(python: PathBuf, script: PathBuf) -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (python, script) = (python.clone(), script.clone());
            std::thread::spawn(move || cgi_connection(s, &python, &script));
        }
    });
    Ok(addr)
}

fn main() -> Result<()> {
    let hosts = arg("--hosts", 100_000);
    let secs = arg("--seconds", 10);
    let conns = arg("--connections", 8);
    let runs = arg("--runs", 5);
    let only_hosts = std::env::args().any(|a| a == "--only-hosts");

    let pg = Pg::start();
    let url = pg.create_db("bench");
    let dir = scratch();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir_all(&scripts)?;
    std::fs::write(scripts.join("trivial.py"), TRIVIAL)?;
    // Where the host table's time goes: the cursor alone, the cursor with the seven host.*
    // calls, and (the page itself) with the string building and output.
    std::fs::write(scripts.join("walk.py"), WALK)?;
    let scripts_s = scripts.display().to_string();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "bench-python",
        free_udp_port(),
        &[
            ("WIREWATCH_ADMIN_PASSWORD", "bench-password-1"),
            ("WIREWATCH_ROLLUP_EVERY_SECS", "86400"),
            ("WIREWATCH_API_REVERSE_DNS", "false"),
            ("WIREWATCH_PYTHON_SCRIPTS_DIR", scripts_s.as_str()),
            ("WIREWATCH_PYTHON_TIMEOUT_SECS", "60"),
        ],
    );
    c.enroll("probe0", "east", dir.path());
    let token = login(c.http, "admin", "bench-password-1");

    // 1. Trivial page: persistent interpreter vs a python3 process per request (the real
    // interpreter, not a launcher shim such as pyenv's, which would add its own start-up).
    let exe = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output()?;
    let python = String::from_utf8(exe.stdout)?.trim().to_string();
    let cgi = cgi_server(PathBuf::from(&python), scripts.join("trivial.py"))?;
    for (name, addr, tok) in [("embedded", c.http, Some(token.as_str())), ("cgi", cgi, None)] {
        let path = if name == "embedded" { "/python/trivial.py" } else { "/trivial.py" };
        let r = http(addr, "GET", path, tok, None);
        if r.status != 200 || r.body != "Hello World\n" {
            bail!("{name} trivial page: {} {:?}", r.status, r.body);
        }
    }
    println!(
        "bench-python: trivial page `{}`; CGI runs {python}; wrk {secs} s per run; 2 cores shared by wrk, the servers and PostgreSQL",
        TRIVIAL.trim()
    );
    println!("{:<44} {:>5} {:>9} {:>8} {:>8} {:>8}", "server", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx");
    for n in if only_hosts { vec![] } else { vec![1, conns] } {
        let e = wrk(&format!("http://{}/python/trivial.py", c.http), Some(&token), secs, n)?;
        let g = wrk(&format!("http://{cgi}/trivial.py"), None, secs, n)?;
        println!(
            "{:<44} {n:>5} {:>9.0} {:>8.2} {:>8.2} {:>8}",
            "embedded (persistent interpreter, JWT auth)", e.rps, e.p50_ms, e.p99_ms, e.non_2xx
        );
        println!(
            "{:<44} {n:>5} {:>9.0} {:>8.2} {:>8.2} {:>8}   embedded/cgi: {:.1}x req/s, p99 {:.1}x lower",
            "cgi (fresh python3 per request)",
            g.rps,
            g.p50_ms,
            g.p99_ms,
            g.non_2xx,
            e.rps / g.rps.max(0.001),
            g.p99_ms / e.p99_ms.max(0.001)
        );
    }

    // 2. The seed's host table over `hosts` stored hosts.
    pg.psql(
        "bench",
        "INSERT INTO interfaces (probe_id, name, link_type) SELECT id, 'eth0', 'EN10MB' FROM probes ORDER BY id",
    )?;
    let t = Instant::now();
    pg.psql(
        "bench",
        &format!(
            "INSERT INTO hosts (probe_id, interface_id, ip, mac, first_seen_ns, last_seen_ns,
                                tx_packets, tx_bytes, rx_packets, rx_bytes, tcp_sessions_active, peers_sent, gauges_seq)
             SELECT i.probe_id, i.id, '198.18.0.0'::inet + g.n,
                    ('02:00:' || lpad(to_hex(g.n % 65536 / 256), 2, '0') || ':' || lpad(to_hex(g.n % 256), 2, '0') || ':00:01')::macaddr,
                    1700000000000000000, 1700000000000000000 + g.n::bigint * 1000000,
                    g.n % 1000, g.n % 100000, g.n % 500, g.n % 70000, g.n % 7, g.n % 13, 0
             FROM interfaces i CROSS JOIN generate_series(0, {hosts} - 1) g(n)"
        ),
    )?;
    pg.psql("bench", "VACUUM ANALYZE hosts")?;
    eprintln!(
        "stored {} hosts in {:.1} s",
        pg.scalar("bench", "SELECT count(*) FROM hosts"),
        t.elapsed().as_secs_f64()
    );
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = http(c.http, "GET", "/python/hosts.py", Some(&token), None);
        let dt = t.elapsed().as_secs_f64();
        let rows = r.body.matches("<tr><td align=right>").count();
        if r.status != 200 || rows as u64 != hosts {
            bail!("hosts.py: {} with {rows} rows (want {hosts}): {}", r.status, &r.body[..r.body.len().min(300)]);
        }
        size = r.body.len();
        times.push(dt);
    }
    times.sort_by(f64::total_cmp);
    let walk = http(c.http, "GET", "/python/walk.py", Some(&token), None);
    println!(
        "walk.py (hosts; s for the cursor alone, of which in page fetches; s for the cursor + 7 host calls each): {}",
        walk.body.trim()
    );
    let median = times[times.len() / 2];
    println!(
        "hosts.py (the seed's host table) over {hosts} hosts, {runs} runs: min {:.3} s, median {median:.3} s, max {:.3} s; \
         {:.1} MB page; target < 1 s {}",
        times[0],
        times[times.len() - 1],
        size as f64 / 1e6,
        if median < 1.0 { "met" } else { "MISSED" }
    );
    drop(c);
    Ok(())
}
