//! `wirewatch-controller`: thin command line over the library (flags → config → library call).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use wirewatch_controller::{Config, Database, ca, report};

#[derive(Parser)]
#[command(name = "wirewatch-controller", version, about = "wirewatch controller")]
struct Cli {
    /// TOML configuration file (see print-default-config).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (CA, certificates, embedded PostgreSQL).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Json,
    Table,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the controller until SIGINT/SIGTERM. Without DATABASE_URL it runs its own
    /// PostgreSQL under the data directory.
    Serve {
        #[arg(long)]
        quic_listen: Option<std::net::SocketAddr>,
        #[arg(long)]
        http_listen: Option<std::net::SocketAddr>,
        #[arg(long)]
        metrics_listen: Option<std::net::SocketAddr>,
        /// This controller's name (default: hostname:port).
        #[arg(long)]
        name: Option<String>,
        /// Python scripts served at /python/<path>.py beside the bundled ones (re-read when
        /// a file changes).
        #[arg(long)]
        scripts_dir: Option<PathBuf>,
    },
    /// Enrol, revoke and list probes.
    Probe {
        #[command(subcommand)]
        cmd: ProbeCmd,
    },
    /// Print the stored totals, in the shape of `wirewatch-probe read`.
    Hosts {
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        probe: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Start a controller with its embedded database, enrol a probe, replay a capture through
    /// it, print what to open, and keep serving until interrupted.
    Demo {
        /// Capture to replay (default: the bundled demo/lab.pcap).
        #[arg(long)]
        capture: Option<PathBuf>,
        /// Replay speed: a factor of the capture's timing, or "max".
        #[arg(long, default_value = "max")]
        speed: wirewatch_probe::run::Speed,
        /// Exit once the replay is stored instead of serving on.
        #[arg(long)]
        exit: bool,
    },
    /// Manage the users of the JSON API.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Print the configuration file with its defaults.
    PrintDefaultConfig,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user; the password is read from standard input (one line).
    Add {
        name: String,
        #[arg(long, value_parser = ["admin", "operator", "viewer"])]
        role: String,
        /// Sites the user may see, comma-separated (default: all sites).
        #[arg(long, value_delimiter = ',')]
        sites: Option<Vec<String>>,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Disable a user: sign-in refused, their sessions and API tokens revoked.
    Disable { name: String },
    /// Enable a disabled user again (they sign in anew; old tokens stay revoked).
    Enable { name: String },
}

#[derive(Subcommand)]
enum ProbeCmd {
    /// Make a probe identity (certificate, key, CA certificate) in DIR.
    Enroll {
        name: String,
        #[arg(long)]
        site: String,
        #[arg(long)]
        out: PathBuf,
        /// Re-enrol an existing probe (its older certificates are revoked).
        #[arg(long)]
        force: bool,
        /// With --force: allow re-enrolling into another site than the probe's; all its stored
        /// history (totals, samples, rollups) moves to the new site.
        #[arg(long, requires = "force")]
        move_site: bool,
    },
    /// Revoke a probe: its certificates are refused at the handshake from now on.
    Revoke { name: String },
    /// List probes with their status.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("WIREWATCH_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn config(cli: &Cli) -> anyhow::Result<Config> {
    let mut c = Config::load(cli.config.as_ref())?;
    if let Some(d) = &cli.data_dir {
        c.data_dir = d.clone();
    }
    Ok(c)
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

async fn enroll(
    cfg: &Config,
    name: &str,
    site: &str,
    out: &std::path::Path,
    force: bool,
    move_site: bool,
) -> anyhow::Result<()> {
    // The identity's directory first: a refused one must not leave an enrolled certificate
    // nobody holds.
    wirewatch_store::private_files::fresh_dir(out)?;
    let db = Database::open(cfg).await?;
    let result = async {
        let ca = ca::Ca::load_or_create(&cfg.data_dir, &db.store).await?;
        let leaf = ca.sign_probe(name, site)?;
        db.store.enroll_into(name, site, &leaf.sha256, force, move_site).await?;
        ca::write_identity(out, &leaf, &ca)?;
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    result
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    wirewatch_mobile_api::auth::check_password(&p)?;
    Ok(p)
}

async fn user(cfg: &Config, cmd: UserCmd) -> anyhow::Result<()> {
    use wirewatch_mobile_api::auth;
    if let UserCmd::Add { name, .. } = &cmd {
        auth::check_user_name(name)?;
    }
    let password = match &cmd {
        UserCmd::Add { .. } => Some(read_password()?),
        _ => None,
    };
    let db = Database::open(cfg).await?;
    let result = async {
        match cmd {
            UserCmd::Add { name, role, sites, .. } => {
                let p = password.unwrap_or_default();
                let hash = tokio::task::spawn_blocking(move || auth::hash_password(&p)).await??;
                if let Some(list) = &sites {
                    anyhow::ensure!(list.iter().all(|s| !s.is_empty()), "empty site name in --sites");
                }
                let u = db.store.create_user(&name, &hash, &role, sites.as_deref()).await?;
                let scope = u.sites.map(|s| s.join(",")).unwrap_or_else(|| "all sites".into());
                println!("user {} added (role {}, {scope})", u.name, u.role);
            }
            UserCmd::List { format } => {
                let users = db.store.users().await?;
                match format {
                    Format::Json => println!("{}", serde_json::to_string(&users)?),
                    Format::Table => {
                        println!("{:<20} {:<9} {:<9} {:<25} SITES", "USER", "ROLE", "STATE", "CREATED");
                        for u in users {
                            println!(
                                "{:<20} {:<9} {:<9} {:<25} {}",
                                u.name,
                                u.role,
                                if u.disabled { "disabled" } else { "enabled" },
                                u.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                                u.sites.map(|s| s.join(",")).unwrap_or_else(|| "(all)".into())
                            );
                        }
                    }
                }
            }
            UserCmd::Disable { name } => {
                db.store.set_user_disabled(&name, true).await?;
                println!("user {name} disabled; their sessions and API tokens are revoked");
            }
            UserCmd::Enable { name } => {
                db.store.set_user_disabled(&name, false).await?;
                println!("user {name} enabled");
            }
        }
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    result
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut cfg = config(&cli)?;
    match cli.cmd {
        Cmd::PrintDefaultConfig => {
            print!("{}", Config::default_toml()?);
        }
        Cmd::Serve { quic_listen, http_listen, metrics_listen, name, scripts_dir } => {
            if let Some(d) = scripts_dir {
                anyhow::ensure!(d.is_dir(), "scripts directory {} not found", d.display());
                cfg.python.scripts_dir = Some(d);
            }
            cfg.quic_listen = quic_listen.unwrap_or(cfg.quic_listen);
            cfg.http_listen = http_listen.unwrap_or(cfg.http_listen);
            cfg.metrics_listen = metrics_listen.unwrap_or(cfg.metrics_listen);
            if let Some(n) = name {
                cfg.name = n;
            }
            let running = wirewatch_controller::start(cfg).await?;
            if let Some(p) = &running.admin_password {
                eprintln!("created the first API user: admin, password {p} (shown once; stored only hashed)");
            }
            // One machine-readable line (scripts and tests read the bound addresses from it).
            println!(
                "listening name={} quic={} http={} metrics={}",
                running.name, running.quic_addr, running.http_addr, running.metrics_addr
            );
            std::io::stdout().flush()?;
            wait_for_signal().await?;
            tracing::info!("shutting down");
            running.shutdown().await;
        }
        Cmd::Probe { cmd: ProbeCmd::Enroll { name, site, out, force, move_site } } => {
            enroll(&cfg, &name, &site, &out, force, move_site).await?;
            println!("probe {name} (site {site}) enrolled; identity written to {}", out.display());
        }
        Cmd::Probe { cmd: ProbeCmd::Revoke { name } } => {
            let db = Database::open(&cfg).await?;
            let r = db.store.revoke(&name).await;
            db.close().await;
            let certs = r?;
            println!("probe {name} revoked ({} certificate(s)); controllers refuse it within seconds", certs.len());
        }
        Cmd::Probe { cmd: ProbeCmd::List { format } } => {
            let db = Database::open(&cfg).await?;
            let r = db.store.probes().await;
            db.close().await;
            let probes = r?;
            match format {
                Format::Json => println!("{}", serde_json::to_string(&probes)?),
                Format::Table => {
                    println!(
                        "{:<16} {:<12} {:<8} {:<10} {:>10} {:>8} {:>8}  LAST BATCH",
                        "PROBE", "SITE", "STATE", "VERSION", "LAST SEQ", "SPOOLED", "DROPPED"
                    );
                    for p in probes {
                        println!(
                            "{:<16} {:<12} {:<8} {:<10} {:>10} {:>8} {:>8}  {}",
                            p.name,
                            p.site,
                            if p.revoked { "revoked" } else { "enrolled" },
                            p.software_version.unwrap_or_default(),
                            p.last_seq.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                            p.spool_pending_batches,
                            p.spool_dropped_batches,
                            p.last_batch_at.unwrap_or_default()
                        );
                    }
                }
            }
        }
        Cmd::Hosts { site, probe, format } => {
            let db = Database::open(&cfg).await?;
            let r = db.store.totals(&wirewatch_store::totals::Scope { site, probe }).await;
            db.close().await;
            let totals = r?;
            let rebuilt = report::rebuild(&totals);
            let merged = rebuilt.merged();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            match format {
                Format::Json => {
                    merged.write_json(&mut out)?;
                    writeln!(out)?;
                }
                Format::Table => out.write_all(wirewatch_probe::report::table(&merged.into_report()).as_bytes())?,
            }
            out.flush()?;
        }
        Cmd::Demo { capture, speed, exit } => return demo(cfg, capture, speed, exit).await,
        Cmd::User { cmd } => user(&cfg, cmd).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn demo(
    mut cfg: Config,
    capture: Option<PathBuf>,
    speed: wirewatch_probe::run::Speed,
    exit: bool,
) -> anyhow::Result<ExitCode> {
    use wirewatch_probe::spool::{Bounds, Spool};
    use wirewatch_probe::uplink::{self, Identity, Shared, UplinkOptions};
    let capture = capture.unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/lab.pcap")));
    anyhow::ensure!(capture.is_file(), "capture {} not found", capture.display());
    if cfg.database_url.is_empty() {
        eprintln!("starting the embedded PostgreSQL under {}", cfg.data_dir.display());
    }
    cfg.quic_listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let running = wirewatch_controller::start(cfg.clone()).await?;
    let identity_dir = cfg.data_dir.join("demo-probe");
    let ca = ca::Ca::load_or_create(&cfg.data_dir, &running.store).await?;
    let leaf = ca.sign_probe("demo", "lab")?;
    running.store.enroll("demo", "lab", &leaf.sha256, true).await?;
    ca::replace_identity(&identity_dir, &leaf, &ca)?;
    let identity = Identity::load(&identity_dir)?;
    let spool_dir = identity_dir.join("spool");
    let _ = std::fs::remove_dir_all(&spool_dir);
    let shared = Shared::new(Spool::open(&spool_dir, Bounds::default())?);
    let up = tokio::spawn(uplink::run(
        UplinkOptions::new(vec![running.quic_addr.to_string()]),
        uplink::client_config(&identity)?,
        shared.clone(),
    ));
    eprintln!("replaying {} through probe \"demo\" (site \"lab\")", capture.display());
    let (sh, cap) = (shared.clone(), capture.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        wirewatch_probe::run::replay(
            &[cap],
            wirewatch_probe::interface::Limits::default(),
            Duration::from_secs(10),
            speed,
            sh,
        )
    })
    .await??;
    up.await??;
    let delivered = shared.spool.lock().map(|s| s.is_empty()).unwrap_or(false);
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
