//! `wirewatch-controller demo`: a controller with its embedded database, a probe enrolled
//! into it replaying a capture through `wirewatch_probe::run` over real QUIC, the stored
//! totals printed, and what to open next.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::{Config, ca, report, wait_for_signal};

/// Starts a controller with its embedded database, enrols probe `demo` (site `lab`), replays
/// `capture` (default: the bundled `demo/lab.pcap`) through it at `speed`, prints the stored
/// totals and where to look, then serves until interrupted (or returns at once with `exit`).
pub async fn demo(
    mut cfg: Config,
    capture: Option<PathBuf>,
    speed: wirewatch_probe::run::Speed,
    exit: bool,
) -> anyhow::Result<ExitCode> {
    let capture = capture.unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/lab.pcap")));
    anyhow::ensure!(capture.is_file(), "capture {} not found", capture.display());
    if cfg.database_url.is_empty() {
        eprintln!("starting the embedded PostgreSQL under {}", cfg.data_dir.display());
    }
    cfg.quic_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let running = crate::start(cfg.clone()).await?;
    let identity_dir = cfg.data_dir.join("demo-probe");
    let ca = ca::Ca::load_or_create(&cfg.data_dir, &running.store).await?;
    let leaf = ca.sign_probe("demo", "lab")?;
    running.store.enroll("demo", "lab", &leaf.sha256, true).await?;
    ca::replace_identity(&identity_dir, &leaf, &ca)?;
    let spool_dir = identity_dir.join("spool");
    let _ = std::fs::remove_dir_all(&spool_dir);
    let probe = wirewatch_probe::RunConfig {
        controllers: vec![running.quic_addr.to_string()],
        identity: identity_dir,
        spool_dir,
        spool_bounds: wirewatch_probe::spool::Bounds::default(),
        max_batch_bytes: wirewatch_wire::DEFAULT_MAX_BATCH,
        interval: Duration::from_secs(10),
        limits: wirewatch_probe::Limits::default(),
        source: wirewatch_probe::Source::Replay { files: vec![capture.clone()], speed },
    };
    eprintln!("replaying {} through probe \"demo\" (site \"lab\")", capture.display());
    // Never stopped from here: the replay ends once every batch is acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let outcome = tokio::task::spawn_blocking(move || wirewatch_probe::run(probe, stop)).await??;
    let delivered = outcome.delivered;
    let totals =
        running.store.totals(&wirewatch_store::totals::Scope { site: None, probe: Some("demo".into()) }).await?;
    let rebuilt = report::rebuild(&totals);
    print!("{}", wirewatch_probe::report::table(&rebuilt.merged().into_report()));
    let data_dir = cfg.data_dir.display();
    println!();
    println!(
        "wirewatch demo: {} stored in PostgreSQL ({} read errors; all batches acknowledged: {delivered})",
        capture.display(),
        outcome.read_errors.len()
    );
    println!("  API:      http://{}/api/v1/ (guide: docs/API.md; OpenAPI: /api/v1/openapi.json)", running.http_addr);
    // The demo's data directory outlives a run: when the admin exists from an earlier run and
    // no password was given, give it a fresh one so the lines below always work.
    let password = match (&running.admin_password, std::env::var("WIREWATCH_ADMIN_PASSWORD")) {
        (Some(p), _) => p.clone(),
        (None, Ok(p)) if !p.is_empty() => p,
        _ => {
            let p: String = wirewatch_mobile_api::auth::new_secret("")?
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(20)
                .collect();
            let q = p.clone();
            let hash = tokio::task::spawn_blocking(move || wirewatch_mobile_api::auth::hash_password(&q)).await??;
            running.store.set_password("admin", &hash).await?;
            p
        }
    };
    println!(
        "  pages:    http://{0}/python/hosts.py  (also region_map.py, throughput.py; sign in at http://{0}/login)",
        running.http_addr
    );
    println!("  sign in:  user admin, password {password}");
    println!(
        "  try:      curl -s -X POST -H 'content-type: application/json' -d '{{\"username\":\"admin\",\"password\":\"{password}\"}}' http://{}/api/v1/auth/login",
        running.http_addr
    );
    println!("  health:   http://{}/healthz", running.http_addr);
    println!("  metrics:  http://{}/metrics", running.metrics_addr);
    println!("  probes:   quic://{} (mutual TLS; CA in {data_dir}/ca)", running.quic_addr);
    println!("  totals:   wirewatch-controller --data-dir {data_dir} hosts --probe demo --format table");
    if !exit {
        println!("serving until Ctrl-C");
        std::io::stdout().flush()?;
        wait_for_signal().await?;
    }
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
