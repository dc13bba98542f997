//! `wirewatch-controller demo`: a controller with its embedded database, probes enrolled into
//! sites and started as `wirewatch-probe run --loop` processes (each replaying a capture again
//! and again with its packet times moved to now, so the console shows live traffic), a
//! threshold that fires within the first minutes, and what to open. It serves until
//! interrupted, then stops the probes it started (by PID) and itself.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::{Config, ca, wait_for_signal};

/// One probe of the demo: `SITE/NAME=CAPTURE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoProbe {
    pub site: String,
    pub name: String,
    pub capture: PathBuf,
}

impl std::str::FromStr for DemoProbe {
    type Err = String;
    fn from_str(s: &str) -> Result<DemoProbe, String> {
        let bad = || format!("{s:?}: expected SITE/NAME=CAPTURE, e.g. hq/hq-1=/tmp/hq-1.pcap");
        let (who, capture) = s.split_once('=').ok_or_else(bad)?;
        let (site, name) = who.split_once('/').ok_or_else(bad)?;
        if site.is_empty() || name.is_empty() || capture.is_empty() {
            return Err(bad());
        }
        Ok(DemoProbe { site: site.into(), name: name.into(), capture: capture.into() })
    }
}

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Empty: one probe `demo` in site `lab` replaying the bundled `demo/lab.pcap`.
    pub probes: Vec<DemoProbe>,
    /// Replay speed of every probe (1: the captures' own pace).
    pub speed: f64,
    /// The probes' batch interval.
    pub interval_secs: u64,
    /// How often the RRD archive follows the database and the thresholds are checked.
    pub check_every_secs: u64,
    /// Stop everything and return once every probe is connected and an alarm event was
    /// recorded (a smoke test of the whole demo); an error if that takes over `exit_within`.
    pub exit: bool,
    pub exit_within: Duration,
}

/// The demo's threshold, in ntop's rrdAlarmConfig.txt format: any demo interface moving more
/// than 50 kB/s in a step of the last ten minutes (`10min`: rrdtool reads `now-5m` as five
/// *months*) (the busiest demo capture peaks at ~80 kB/s in its
/// first seconds; the bundled lab capture loops at ~240 kB/s), logged to `demo-alarms.log`,
/// re-armed after 5 minutes.
pub const DEMO_THRESHOLDS: &str = "# wirewatch demo: an interface busier than 50 kB/s\n\
1\t*/interfaces/*/ethernetBytes.rrd\tabove\t50000\t1\tnow-10min\tnow\tsavelog\tdemo-alarms.log\t300\n";

fn probe_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this program")?;
    let p = exe.with_file_name("wirewatch-probe");
    anyhow::ensure!(
        p.is_file(),
        "{} not found next to {}: build it too (cargo build --release -p wirewatch-probe)",
        p.display(),
        exe.display()
    );
    Ok(p)
}

/// The started probe processes; each is stopped by its PID.
struct Probes(Vec<(DemoProbe, Child)>);

impl Probes {
    /// SIGTERM to each (a looping probe spools the interval in progress and delivers what its
    /// spool holds for up to 5 s), then SIGKILL to any still running after 10 s.
    fn stop(&mut self) {
        for (_, c) in &self.0 {
            let _ = rustix::process::kill_process(rustix::process::Pid::from_child(c), rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (p, c) in &mut self.0 {
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        eprintln!("probe {} (pid {}) did not stop within 10 s: killed", p.name, c.id());
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.0.clear();
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        self.stop();
    }
}

fn print_flush(s: &str) {
    println!("{s}");
    let _ = std::io::stdout().flush();
}

/// Runs the demo (see the module documentation).
pub async fn demo(mut cfg: Config, opts: DemoOptions) -> anyhow::Result<ExitCode> {
    let probes = if opts.probes.is_empty() {
        vec![DemoProbe {
            site: "lab".into(),
            name: "demo".into(),
            capture: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/lab.pcap")),
        }]
    } else {
        opts.probes.clone()
    };
    for p in &probes {
        anyhow::ensure!(p.capture.is_file(), "capture {} not found", p.capture.display());
    }
    anyhow::ensure!(opts.speed > 0.0 && opts.speed.is_finite(), "the replay speed must be a positive number");
    let probe_bin = probe_binary()?;
    // What to open comes first: the database's first start (initdb) takes a while.
    let password = match std::env::var("WIREWATCH_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            wirewatch_mobile_api::auth::new_secret("")?.chars().filter(|c| c.is_ascii_alphanumeric()).take(20).collect()
        }
    };
    print_flush(&format!("wirewatch demo — console http://{}/  user admin  password {password}", cfg.http_listen));
    if cfg.database_url.is_empty() {
        eprintln!("starting the embedded PostgreSQL under {}", cfg.data_dir.display());
    }
    cfg.quic_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let every = opts.check_every_secs.max(1);
    cfg.rrd.update_every_secs = every;
    cfg.alarms.check_every_secs = every;
    let started = chrono::Utc::now();
    let t0 = Instant::now();
    let running = crate::start(cfg.clone()).await?;
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || wirewatch_mobile_api::auth::hash_password(&p)).await??
    };
    running.store.set_password("admin", &hash).await?;
    let thresholds = if running.store.alarm_thresholds().await?.is_empty() {
        let parsed = wirewatch_alarm::config::ConfigFile::parse(DEMO_THRESHOLDS)
            .map_err(|e| anyhow::anyhow!("the demo's thresholds: {e}"))?;
        let rows: Vec<wirewatch_store::alarms::NewThreshold> = parsed
            .thresholds()
            .map(|t| wirewatch_store::alarms::NewThreshold { id: i64::from(t.id), fields: t.fields().clone() })
            .collect();
        running.store.replace_alarm_thresholds(&rows, "demo").await?;
        "imported the demo's: */interfaces/*/ethernetBytes.rrd above 50000 B/s → savelog demo-alarms.log".to_string()
    } else {
        "kept the stored ones (wirewatch-controller alarm export)".to_string()
    };

    let ca = ca::Ca::load_or_create(&cfg.data_dir, &running.store).await?;
    let mut children = Probes(Vec::new());
    for p in &probes {
        let leaf = ca.sign_probe(&p.name, &p.site)?;
        running.store.enroll(&p.name, &p.site, &leaf.sha256, true).await?;
        // The spool stays from one run to the next: a looping probe numbers its batches after
        // everything it ever spooled, so a new run never reuses a number the database holds.
        let identity = cfg.data_dir.join("probes").join(&p.name);
        ca::replace_identity(&identity, &leaf, &ca)?;
        let child = spawn_probe(&probe_bin, running.quic_addr, &identity, p, &opts)?;
        children.0.push((p.clone(), child));
    }

    let http = running.http_addr;
    let data_dir = cfg.data_dir.display();
    println!();
    println!("  console:  http://{http}/  (user admin, password {password})");
    println!(
        "  pages:    http://{http}/python/hosts.py, region_map.py, throughput.py, rrdalarm/ (sign in at http://{http}/login)"
    );
    println!("  API:      http://{http}/api/v1/ (guide: docs/API.md; OpenAPI: /api/v1/openapi.json)");
    println!(
        "  try:      curl -s -X POST -H 'content-type: application/json' -d '{{\"username\":\"admin\",\"password\":\"{password}\"}}' http://{http}/api/v1/auth/login"
    );
    println!("  health:   http://{http}/healthz   metrics: http://{}/metrics", running.metrics_addr);
    match &cfg.api.geoip_db {
        Some(db) if !db.as_os_str().is_empty() => println!(
            "  GeoIP:    {}{}",
            db.display(),
            running
                .geo_attribution
                .as_ref()
                .map(|a| format!(" ({}, {}, {})", a.text, a.url, a.license))
                .unwrap_or_default()
        ),
        _ => println!("  GeoIP:    none ([api] geoip_db; `scripts/setup --demo` installs DB-IP City Lite): no map"),
    }
    for (p, c) in &children.0 {
        println!(
            "  probe:    {}/{} (pid {}) replays {} in a loop at {}x, packet times moved to now",
            p.site,
            p.name,
            c.id(),
            p.capture.display(),
            opts.speed
        );
    }
    println!("  alarms:   {thresholds}; checked every {every} s; log {data_dir}/alarms/demo-alarms.log");
    println!(
        "  data:     {data_dir} (CA, PostgreSQL, RRD archive under rrd/, probes' identities and spools under probes/)"
    );
    if opts.exit {
        println!("running until every probe is online and an alarm fired");
    } else {
        println!("serving until Ctrl-C");
    }
    std::io::stdout().flush()?;

    let outcome = watch(&running, &mut children, &probes, started, t0, &opts).await;
    children.stop();
    running.shutdown().await;
    println!("stopped: {} probes, the controller and its database", probes.len());
    outcome.map(|()| ExitCode::SUCCESS)
}

fn spawn_probe(
    bin: &Path,
    controller: std::net::SocketAddr,
    identity: &Path,
    p: &DemoProbe,
    opts: &DemoOptions,
) -> anyhow::Result<Child> {
    Command::new(bin)
        .arg("run")
        .arg("--controller")
        .arg(controller.to_string())
        .arg("--identity")
        .arg(identity)
        .arg("--read")
        .arg(&p.capture)
        .arg("--replay-speed")
        .arg(opts.speed.to_string())
        .arg("--loop")
        .arg("--interval-secs")
        .arg(opts.interval_secs.max(1).to_string())
        .env("WIREWATCH_LOG", std::env::var("WIREWATCH_LOG").unwrap_or_else(|_| "warn".into()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))
}

/// Until Ctrl-C (or, with `exit`, until the demo is alive): tells when the first alarm event
/// is recorded and when a probe stops by itself.
async fn watch(
    running: &crate::Running,
    children: &mut Probes,
    probes: &[DemoProbe],
    started: chrono::DateTime<chrono::Utc>,
    t0: Instant,
    opts: &DemoOptions,
) -> anyhow::Result<()> {
    let signal = wait_for_signal();
    tokio::pin!(signal);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut first_event = false;
    loop {
        tokio::select! {
            r = &mut signal => return r,
            _ = tick.tick() => {}
        }
        for (p, c) in &mut children.0 {
            if let Ok(Some(status)) = c.try_wait() {
                anyhow::ensure!(!opts.exit, "probe {} stopped by itself ({status})", p.name);
                eprintln!("probe {} stopped by itself ({status}); the others go on", p.name);
            }
        }
        children.0.retain_mut(|(_, c)| matches!(c.try_wait(), Ok(None)));
        if !first_event {
            let f = wirewatch_store::events::EventFilter { since: Some(started), limit: 1, ..Default::default() };
            if let Some(e) = running.store.events(&f).await.ok().and_then(|v| v.into_iter().next()) {
                first_event = true;
                print_flush(&format!(
                    "first alarm event {:.0} s after the start: {} on {} (GET /api/v1/alarms/events)",
                    t0.elapsed().as_secs_f64(),
                    e.event.name,
                    e.event.subject
                ));
            }
        }
        if opts.exit {
            let online = running.ingest.connected_probes().await;
            let all = probes.iter().all(|p| online.contains(&p.name));
            if all && first_event {
                print_flush(&format!("demo alive: {} probes online, an alarm fired", probes.len()));
                return Ok(());
            }
            anyhow::ensure!(
                t0.elapsed() < opts.exit_within,
                "the demo was not alive within {:?} (probes online: {online:?}; alarm fired: {first_event})",
                opts.exit_within
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_specs_and_the_demo_threshold_parse() {
        let p: DemoProbe = "hq/hq-1=/tmp/x.pcap".parse().expect("spec");
        assert_eq!(p, DemoProbe { site: "hq".into(), name: "hq-1".into(), capture: "/tmp/x.pcap".into() });
        for bad in ["hq-1=/tmp/x.pcap", "hq/=x", "/a=x", "hq/a=", "hq/a"] {
            assert!(bad.parse::<DemoProbe>().is_err(), "{bad}");
        }
        let parsed = wirewatch_alarm::config::ConfigFile::parse(DEMO_THRESHOLDS).expect("thresholds");
        assert_eq!(parsed.thresholds().count(), 1);
    }
}
