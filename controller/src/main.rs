//! `wirewatch-controller`: thin command line over the library (flags → config → library call).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wirewatch_controller::admin::{self, Format};
use wirewatch_controller::alarms;
use wirewatch_controller::{Config, wait_for_signal};

#[derive(Parser)]
#[command(name = "wirewatch-controller", version, about = "wirewatch controller")]
struct Cli {
    /// TOML configuration file (see print-default-config).
    #[arg(long, global = true, env = "WIREWATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (CA, certificates, embedded PostgreSQL).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
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
    /// Start a controller with its embedded database, enrol probes into sites and start them
    /// as `wirewatch-probe run --loop` processes (each replaying a capture again and again,
    /// packet times moved to now), import a threshold that fires, print what to open, and keep
    /// serving until interrupted (then stop the probes and the database).
    Demo {
        /// A probe: SITE/NAME=CAPTURE (repeatable). Default: lab/demo=demo/lab.pcap.
        #[arg(long = "probe")]
        probes: Vec<wirewatch_controller::demo::DemoProbe>,
        /// Shorthand for --probe lab/demo=FILE.
        #[arg(long)]
        capture: Option<PathBuf>,
        /// Replay speed: a factor of the captures' own timing (1: their own pace).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// The probes' batch interval in seconds.
        #[arg(long, default_value_t = 10)]
        interval_secs: u64,
        /// Seconds between RRD archive updates and between alarm checks.
        #[arg(long, default_value_t = 10)]
        check_every_secs: u64,
        /// Stop once every probe is online and an alarm event was recorded (a smoke test);
        /// fail if that takes longer than --exit-within seconds.
        #[arg(long)]
        exit: bool,
        #[arg(long, default_value_t = 300)]
        exit_within: u64,
    },
    /// The RRD archive of this controller (under `[rrd] dir`).
    Rrd {
        #[command(subcommand)]
        cmd: RrdCmd,
    },
    /// rrdAlarm: thresholds on RRD files in ntop's rrdAlarmConfig.txt format, checked now.
    Alarm {
        #[command(subcommand)]
        cmd: AlarmCmd,
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
enum RrdCmd {
    /// Recreate every archive file from PostgreSQL (built beside the old tree, then swapped in).
    Rebuild,
}

#[derive(Subcommand)]
enum AlarmCmd {
    /// Replace every threshold by those of FILE (ntop's tab-separated rrdAlarmConfig.txt; `-`:
    /// standard input). A file with any wrong line is refused whole, each error with its line.
    Import { file: PathBuf },
    /// Print the thresholds in ntop's rrdAlarmConfig.txt format.
    Export,
    /// Check every threshold now against this controller's RRD archive, run the fired
    /// thresholds' actions, and print the report with what each action came to.
    Check {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
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
            admin::enroll(&cfg, &name, &site, &out, force, move_site).await?
        }
        Cmd::Probe { cmd: ProbeCmd::Revoke { name } } => admin::revoke(&cfg, &name).await?,
        Cmd::Probe { cmd: ProbeCmd::List { format } } => admin::list_probes(&cfg, format).await?,
        Cmd::Rrd { cmd: RrdCmd::Rebuild } => admin::rrd_rebuild(&cfg).await?,
        Cmd::Alarm { cmd: AlarmCmd::Import { file } } => alarms::import(&cfg, &file).await?,
        Cmd::Alarm { cmd: AlarmCmd::Export } => alarms::export(&cfg).await?,
        Cmd::Alarm { cmd: AlarmCmd::Check { format } } => alarms::check(&cfg, format).await?,
        Cmd::Hosts { site, probe, format } => admin::hosts(&cfg, site, probe, format).await?,
        Cmd::Demo { mut probes, capture, speed, interval_secs, check_every_secs, exit, exit_within } => {
            if let Some(c) = capture {
                probes.push(wirewatch_controller::demo::DemoProbe {
                    site: "lab".into(),
                    name: "demo".into(),
                    capture: c,
                });
            }
            let opts = wirewatch_controller::demo::DemoOptions {
                probes,
                speed,
                interval_secs,
                check_every_secs,
                exit,
                exit_within: std::time::Duration::from_secs(exit_within),
            };
            return wirewatch_controller::demo::demo(cfg, opts).await;
        }
        Cmd::User { cmd: UserCmd::Add { name, role, sites, .. } } => admin::add_user(&cfg, &name, &role, sites).await?,
        Cmd::User { cmd: UserCmd::List { format } } => admin::list_users(&cfg, format).await?,
        Cmd::User { cmd: UserCmd::Disable { name } } => admin::set_user_disabled(&cfg, &name, true).await?,
        Cmd::User { cmd: UserCmd::Enable { name } } => admin::set_user_disabled(&cfg, &name, false).await?,
    }
    Ok(ExitCode::SUCCESS)
}
