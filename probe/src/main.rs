//! `wirewatch-probe`: thin command line over the library (flags → library call → output).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use wirewatch_probe::capture::live::{self, LiveOptions};
use wirewatch_probe::config::ProbeConfig;
use wirewatch_probe::engine::{Engine, NoProgress, Progress};
use wirewatch_probe::interface::Limits;
use wirewatch_probe::report;
use wirewatch_probe::run::{RunConfig, Source};

#[derive(Parser)]
#[command(name = "wirewatch-probe", version, about = "wirewatch capture probe")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Json,
    Table,
}

#[derive(clap::Args, Clone)]
struct TableArgs {
    /// Most hosts kept per interface (idlest evicted beyond it).
    #[arg(long, default_value_t = 1 << 20)]
    max_hosts: usize,
    /// Most MAC addresses kept per interface.
    #[arg(long, default_value_t = 1 << 20)]
    max_macs: usize,
    /// Most flows kept per interface.
    #[arg(long, default_value_t = 1 << 21)]
    max_flows: usize,
    /// Most interfaces counted (each file, or each pcapng interface with frames, is one);
    /// frames of further interfaces are not counted and are reported as such.
    #[arg(long, default_value_t = 64)]
    max_interfaces: usize,
    /// Seconds without packets after which a flow is removed.
    #[arg(long, default_value_t = 120)]
    flow_idle_secs: u64,
    /// Throughput window in seconds of packet time; flow deltas reach the host and MAC
    /// tables at the end of each window.
    #[arg(long, default_value_t = 10)]
    thpt_window_secs: u64,
}

impl TableArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_hosts: self.max_hosts,
            max_macs: self.max_macs,
            max_flows: self.max_flows,
            max_interfaces: self.max_interfaces,
            flow_idle: Duration::from_secs(self.flow_idle_secs),
            thpt_window: Duration::from_secs(self.thpt_window_secs.max(1)),
            ..Limits::default()
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Read capture files (pcap, pcapng) and print the final tables.
    Read {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Never draw a progress bar (it is drawn only on a terminal anyway).
        #[arg(long)]
        no_progress: bool,
        /// Print packets, time and packets/s of the reading phase to stderr.
        #[arg(long)]
        timing: bool,
        /// Also list every flow (JSON `flows`, table section FLOWS).
        #[arg(long)]
        flows: bool,
        #[command(flatten)]
        tables: TableArgs,
    },
    /// Capture (live, or replaying files) and deliver interval deltas to controllers over
    /// QUIC. With --read it exits 0 once every batch of the files is acknowledged.
    Run(RunArgs),
    /// Print the configuration file with its defaults (for --config).
    PrintDefaultConfig,
    /// Capture live from network interfaces until interrupted (or for --duration seconds),
    /// then print the final tables.
    Live {
        /// Interface to capture on (repeatable).
        #[arg(short, long = "interface", required = true)]
        interfaces: Vec<String>,
        /// BPF filter (tcpdump syntax).
        #[arg(short, long)]
        filter: Option<String>,
        #[arg(long, default_value_t = 262_144)]
        snaplen: i32,
        /// Do not put the interfaces in promiscuous mode.
        #[arg(long)]
        no_promisc: bool,
        /// Kernel capture ring in bytes (default 64 MiB).
        #[arg(long)]
        buffer_size: Option<i32>,
        /// Stop after this many seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// Also list every flow (JSON `flows`, table section FLOWS).
        #[arg(long)]
        flows: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        tables: TableArgs,
    },
}

struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn file_started(&mut self, path: &std::path::Path, size: u64) {
        // Small files finish before a bar would be seen.
        if size < (64 << 20) {
            self.0 = None;
            return;
        }
        let pb = indicatif::ProgressBar::new(size);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_message(path.display().to_string());
        self.0 = Some(pb);
    }
    fn advanced(&mut self, position: u64) {
        if let Some(pb) = &self.0 {
            pb.set_position(position);
        }
    }
    fn file_done(&mut self) {
        if let Some(pb) = self.0.take() {
            pb.finish_and_clear();
        }
    }
}

/// `run` settings: the config file (`--config`, then `WIREWATCH_PROBE_*` variables) gives
/// defaults, flags win.
#[derive(clap::Args)]
struct RunArgs {
    /// TOML configuration file (see print-default-config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Controllers as HOST:PORT, comma-separated or repeated; the probe fails over in order.
    #[arg(long = "controller", value_delimiter = ',')]
    controllers: Vec<String>,
    /// Directory with probe.crt, probe.key and ca.crt (from `wirewatch-controller probe enroll`).
    #[arg(long)]
    identity: Option<PathBuf>,
    /// Spool directory (default: <identity>/spool).
    #[arg(long)]
    spool_dir: Option<PathBuf>,
    /// Seconds per batch (packet time when replaying, wall-clock time live).
    #[arg(long)]
    interval_secs: Option<u64>,
    /// Replay these capture files instead of capturing live.
    #[arg(long = "read", num_args = 1..)]
    read: Vec<PathBuf>,
    /// Replay speed: a factor of the capture's own timing (1 = real time), or "max".
    #[arg(long, default_value = "1")]
    replay_speed: wirewatch_probe::run::Speed,
    /// Replay the --read files again and again until stopped, each pass moved to now (its
    /// first packet at the time the pass starts, the capture's gaps kept); batches are
    /// numbered and bounded as a live capture's. Needs a numeric --replay-speed.
    #[arg(long = "loop")]
    loop_replay: bool,
    /// Live interface (repeatable).
    #[arg(short, long = "interface")]
    interfaces: Vec<String>,
    /// BPF filter for live capture.
    #[arg(short, long)]
    filter: Option<String>,
    #[command(flatten)]
    tables: TableArgs,
}

fn run_uplinked(a: RunArgs) -> anyhow::Result<ExitCode> {
    use wirewatch_probe::spool::Bounds;
    let cfg = ProbeConfig::load(a.config.as_deref())?;
    let identity = a.identity.clone().unwrap_or(cfg.identity.clone());
    let spool_dir = a.spool_dir.clone().unwrap_or_else(|| {
        if cfg.spool_dir.as_os_str().is_empty() { identity.join("spool") } else { cfg.spool_dir.clone() }
    });
    let source = if a.read.is_empty() {
        let interfaces = if a.interfaces.is_empty() { cfg.interfaces.clone() } else { a.interfaces.clone() };
        let filter = a.filter.clone().or((!cfg.filter.is_empty()).then(|| cfg.filter.clone()));
        Source::Live(LiveOptions { interfaces, filter, ..LiveOptions::default() })
    } else {
        Source::Replay { files: a.read.clone(), speed: a.replay_speed, looping: a.loop_replay || cfg.loop_replay }
    };
    let config = RunConfig {
        controllers: if a.controllers.is_empty() { cfg.controllers.clone() } else { a.controllers.clone() },
        identity,
        spool_dir,
        spool_bounds: Bounds { max_bytes: cfg.spool_max_bytes, max_age: Duration::from_secs(cfg.spool_max_age_secs) },
        max_batch_bytes: cfg.max_batch_bytes,
        interval: Duration::from_secs(a.interval_secs.unwrap_or(cfg.interval_secs).max(1)),
        limits: a.tables.limits(),
        source,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handler")?;
    }
    let outcome = wirewatch_probe::run(config, stop)?;
    if let Some(l) = &outcome.looped {
        eprintln!(
            "looping replay stopped: {} passes read, then {} frames ({} bytes) of the next",
            l.passes, l.partial_frames, l.partial_bytes
        );
    }
    Ok(if outcome.incomplete {
        eprintln!("stopped before every batch was acknowledged; the spool keeps the rest for the next start");
        ExitCode::from(3)
    } else if outcome.read_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn print(engine: &Engine, format: Format, flows: bool) -> anyhow::Result<()> {
    let merged = report::merge_with(engine, flows);
    // Stdout is line-buffered: without this, pretty JSON costs one write(2) per line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match format {
        Format::Json => {
            // Compact: a million hosts make ~1 GB of pretty JSON; pipe through `jq` to read it.
            merged.write_json(&mut out).context("writing JSON")?;
            writeln!(out)?;
        }
        Format::Table => out.write_all(report::table(&merged.into_report()).as_bytes())?,
    }
    out.flush()?;
    Ok(())
}

/// (VmRSS, VmHWM) of this process in KiB, from /proc (0 where unavailable).
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("WIREWATCH_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Run(a) => run_uplinked(a),
        Cmd::PrintDefaultConfig => {
            print!(
                "# wirewatch-probe configuration (TOML). Environment: WIREWATCH_PROBE_<KEY>.\n{}",
                toml::to_string(&ProbeConfig::default())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Read { files, format, no_progress, timing, flows, tables } => {
            let mut engine = Engine::new(tables.limits());
            let start = Instant::now();
            let errors = if !no_progress && std::io::stderr().is_terminal() {
                engine.read_files(&files, &mut Bar(None))
            } else {
                engine.read_files(&files, &mut NoProgress)
            };
            let read_secs = start.elapsed().as_secs_f64();
            let rss_after_read = rss_kib();
            print(&engine, format, flows)?;
            if timing {
                let packets: u64 = engine.interfaces.iter().map(|i| i.stats.packets).sum();
                let hosts: usize = engine.interfaces.iter().map(|i| i.hosts.len()).sum();
                let (rss, peak) = rss_after_read;
                eprintln!(
                    "timing: packets={packets} hosts={hosts} read_s={read_secs:.3} report_s={:.3} mpps={:.3} \
                     rss_kib_after_read={rss} peak_rss_kib_after_read={peak}",
                    start.elapsed().as_secs_f64() - read_secs,
                    packets as f64 / read_secs / 1e6
                );
            }
            for e in &errors {
                eprintln!("error: {e}");
            }
            let over = engine.over_cap;
            if over.interfaces > 0 {
                eprintln!(
                    "error: interface cap ({}) reached: {} more interfaces with {} frames ({} bytes) not counted \
                     (--max-interfaces)",
                    engine.limits.max_interfaces, over.interfaces, over.frames, over.bytes
                );
            }
            // Freeing millions of table rows one by one takes longer than reading them; the
            // process is about to exit and the OS reclaims the memory at once.
            std::mem::forget(engine);
            Ok(if errors.is_empty() && over.interfaces == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Cmd::Live { interfaces, filter, snaplen, no_promisc, buffer_size, duration, flows, format, tables } => {
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(sig, stop.clone()).context("installing signal handler")?;
            }
            if let Some(secs) = duration {
                let stop = stop.clone();
                let until = Instant::now() + Duration::from_secs_f64(secs.max(0.0));
                std::thread::Builder::new()
                    .name("deadline".into())
                    .spawn(move || {
                        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        stop.store(true, Ordering::Relaxed);
                    })
                    .context("starting the deadline thread")?;
            }
            let opts =
                LiveOptions { interfaces, snaplen, promiscuous: !no_promisc, immediate: true, buffer_size, filter };
            let engine = live::run(&opts, tables.limits(), stop, |opened| {
                for (name, link) in opened {
                    eprintln!("listening on {name} ({link})");
                }
            })?;
            print(&engine, format, flows)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
