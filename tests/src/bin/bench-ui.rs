//! `scripts/bench-ui`: the web console's load times with many hosts stored. A controller
//! process (release build) on a private PostgreSQL serving the built console (`web/dist`); two
//! probes in two sites replay captures (so the sites have throughput history), then N host rows
//! (default 1M) are written with SQL on probe `pa`'s interface. `tests/ui/bench_ui.py`
//! (Playwright, Debian's Chromium, 4x CPU throttle) times, over several runs, the host table's
//! first page (`/hosts`), the sites overview with its throughput (`/`), and each
//! `--path PATH --ready CSS_SELECTOR` given. Prints one figure per line, and last
//! `bench-ui: hosts=N hosts_first_page_ms=… home_ms=… throttle=4` (cold medians; the extra
//! paths' figures on lines before it).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use wirewatch_e2e::*;

const THROTTLE: u64 = 4;

/// The `--path PATH --ready CSS_SELECTOR` pairs, in order.
fn extra_pages() -> Result<Vec<(String, String)>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--path" => {
                let path = args.get(i + 1).context("--path needs a value")?;
                if args.get(i + 2).map(String::as_str) != Some("--ready") {
                    bail!("--path {path} must be followed by --ready CSS_SELECTOR");
                }
                let ready = args.get(i + 3).context("--ready needs a value")?;
                if !path.starts_with('/') {
                    bail!("--path {path}: a path of the controller, starting with /");
                }
                out.push((path.clone(), ready.clone()));
                i += 4;
            }
            "--hosts" | "--runs" => i += 2,
            other => bail!("unknown argument {other} (--hosts N, --runs N, --path PATH --ready CSS_SELECTOR)"),
        }
    }
    Ok(out)
}

fn main() -> Result<()> {
    let hosts = arg("--hosts", 1_000_000);
    let runs = arg("--runs", 5);
    let extra = extra_pages()?;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let web = repo.join("web/dist");
    if !web.join("index.html").is_file() {
        bail!("{} is not built: run scripts/build-web", web.display());
    }
    let web = web.display().to_string();

    let t = Instant::now();
    let s = two_sites(
        "benchui",
        "1kxun.pcap",
        "icmp.pcap",
        &[
            ("WIREWATCH_API_WEB_DIR", web.as_str()),
            ("WIREWATCH_API_REVERSE_DNS", "false"),
            ("WIREWATCH_RRD_ENABLED", "false"),
            ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "0"),
        ],
    );
    eprintln!("two probes replayed in {:.1} s", t.elapsed().as_secs_f64());
    // N hosts on pa's interface: addresses from 100.64.0.0/10 (RFC 6598: not in the captures),
    // traffic spread over six orders of magnitude so the sort by bytes has work to do, seen
    // within the interface's own time span.
    let t = Instant::now();
    s.pg.psql(
        "benchui",
        &format!(
            "INSERT INTO hosts (probe_id, interface_id, ip, mac, first_seen_ns, last_seen_ns,
                                tx_packets, tx_bytes, rx_packets, rx_bytes, tcp_tx_packets, tcp_tx_bytes,
                                tcp_rx_packets, tcp_rx_bytes, gauges_seq)
             SELECT i.probe_id, i.id, '100.64.0.0'::inet + g.n,
                    ('02:00:' || lpad(to_hex(g.n / 65536 % 256), 2, '0') || ':' || lpad(to_hex(g.n / 256 % 256), 2, '0')
                     || ':' || lpad(to_hex(g.n % 256), 2, '0') || ':01')::macaddr,
                    i.first_seen_ns, greatest(i.first_seen_ns, i.last_seen_ns - g.n::bigint * 1000),
                    x.p, x.b, x.p / 2, x.b / 3, x.p, x.b, x.p / 2, x.b / 3, 0
             FROM (SELECT i.* FROM interfaces i JOIN probes p ON p.id = i.probe_id WHERE p.name = 'pa'
                   ORDER BY i.id LIMIT 1) i
             CROSS JOIN generate_series(0, {hosts} - 1) g(n)
             CROSS JOIN LATERAL (SELECT (abs(hashint8(g.n * 31)) % 1000000) AS b,
                                        (abs(hashint8(g.n * 17)) % 10000) AS p) x"
        ),
    )?;
    s.pg.psql("benchui", "VACUUM ANALYZE hosts")?;
    let stored = s.pg.scalar("benchui", "SELECT count(*) FROM hosts");
    eprintln!("stored {stored} hosts ({hosts} written) in {:.1} s", t.elapsed().as_secs_f64());

    let mut pages = vec![
        json!({"name": "hosts_first_page", "path": "/hosts",
               "ready_css": "table.hosts:not([aria-busy=true]) tbody tr", "rows": stored.min(50)}),
        json!({"name": "home", "path": "/",
               "ready_js": "(s => s.length > 0 && [...s].every(li => li.querySelector('.thpt .figure')))\
                            (document.querySelectorAll('ul.sites li.site'))"}),
    ];
    for (path, ready) in &extra {
        pages.push(json!({"name": path, "path": path, "ready_css": ready}));
    }
    let out = std::env::temp_dir().join("bench-ui");
    std::fs::create_dir_all(&out)?;
    let results = s.dir.path().join("bench-ui-results.json");
    let spec = json!({
        "url": format!("http://{}", s.c.http),
        "user": "admin",
        "password": ADMIN_PASSWORD,
        "throttle": THROTTLE,
        "runs": runs,
        "pages": pages,
        "out": out,
        "results": results,
    });
    let spec_file = s.dir.path().join("bench-ui-spec.json");
    std::fs::write(&spec_file, spec.to_string())?;
    println!(
        "bench-ui: {stored} hosts stored; {runs} runs per page after a warm-up, {THROTTLE}x CPU throttle, \
         1280x900, loopback (the 2 cores are shared by Chromium, the controller and PostgreSQL)"
    );
    let script = ui_script("bench_ui.py");
    let status = Command::new("python3").arg(&script).arg(&spec_file).status().context("python3")?;
    if !status.success() {
        bail!("{} failed (Playwright from PyPI and Debian's chromium: scripts/setup installs both)", script.display());
    }
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&results)?)?;
    let ms = |name: &str| r[name]["cold_median"].as_f64().unwrap_or(f64::NAN);
    let verdict = |v: f64| if v < 1000.0 { "met" } else { "MISSED" };
    println!(
        "targets (cold, {THROTTLE}x CPU): host table first page < 1 s {}; home < 1 s {}",
        verdict(ms("hosts_first_page")),
        verdict(ms("home"))
    );
    for (path, _) in &extra {
        println!("{path}: cold median {:.0} ms", ms(path));
    }
    println!(
        "bench-ui: hosts={hosts} hosts_first_page_ms={:.0} home_ms={:.0} throttle={THROTTLE}",
        ms("hosts_first_page"),
        ms("home")
    );
    Ok(())
}
