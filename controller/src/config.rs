//! The controller's configuration: defaults, then the TOML file (`--config`), then
//! `WIREWATCH_*` environment variables (and `DATABASE_URL`), then flags. Validated into typed
//! values at load; the database URL is redacted in `Debug`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the CA, the server certificate and the embedded PostgreSQL live.
    pub data_dir: PathBuf,
    /// PostgreSQL URL; empty: the embedded cluster under data_dir.
    pub database_url: String,
    /// This controller's name in the database (batches, job runs); empty: hostname-port.
    pub name: String,
    /// QUIC address probes connect to.
    pub quic_listen: SocketAddr,
    /// HTTP address: the JSON API under /api/v1 and /healthz.
    pub http_listen: SocketAddr,
    /// Prometheus metrics address (a listener of its own).
    pub metrics_listen: SocketAddr,
    /// Names (DNS or IP) in the server certificate; probes must use one of them.
    pub server_names: Vec<String>,
    /// Most probe connections at once; more are refused. A connection counts from the end of
    /// its handshake (a handshake that never completes holds none).
    pub max_connections: usize,
    /// Most QUIC handshakes in progress at once; more are refused. Every source address is
    /// validated first (QUIC Retry), so these come from addresses that answered.
    pub max_handshakes: usize,
    /// Most handshakes plus connections from one source address (IPv6: one /64); more are
    /// refused. Probes behind one NAT share it.
    pub max_connections_per_address: usize,
    /// A handshake not finished within this long is dropped.
    pub handshake_timeout_secs: u64,
    /// Largest message accepted from a probe, in bytes.
    pub max_frame_bytes: usize,
    /// Batches written to PostgreSQL in parallel, and how many may wait.
    pub writers: usize,
    pub write_queue: usize,
    /// Periodic jobs (seconds between runs, across all controllers of the database).
    pub rollup_every_secs: u64,
    pub retention_every_secs: u64,
    /// History kept (days; 0 = forever): raw samples, hourly rollups, daily rollups.
    pub retention_raw_days: u32,
    pub retention_hourly_days: u32,
    pub retention_daily_days: u32,
    /// What one batch may claim (checked before anything is stored; a batch past a bound is
    /// refused, counted on its probe and discarded by it): bytes and packets per second of
    /// interval for any one host or interface counter (defaults: a 100 Gbit/s link), the
    /// longest interval, and how far past this controller's clock an interval may end.
    pub ingest_max_bytes_per_sec: u64,
    pub ingest_max_packets_per_sec: u64,
    pub ingest_max_interval_secs: u64,
    pub ingest_max_future_secs: u64,
    /// The JSON API (`[api]` table; environment `WIREWATCH_API_<KEY>`).
    pub api: wirewatch_mobile_api::ApiConfig,
    /// The Python engine and its script pages (`[python]` table; `WIREWATCH_PYTHON_<KEY>`).
    pub python: wirewatch_python::PythonConfig,
    /// Connection pools and read limits (`[database]` table; `WIREWATCH_DATABASE_<KEY>`).
    pub database: DatabaseConfig,
    /// RRD archives and graphs (`[rrd]` table; `WIREWATCH_RRD_<KEY>`).
    pub rrd: wirewatch_rrd::RrdConfig,
    /// rrdAlarm's periodic check and the routes of scripts' alarms (`[alarms]` table and
    /// `[[alarms.route]]`; `WIREWATCH_ALARMS_<KEY>`).
    pub alarms: AlarmsConfig,
    /// Scheduled Python scripts (`[[schedule]]` tables; config file only).
    pub schedule: Vec<crate::schedule::Schedule>,
    /// rrdAlarm's actions: attempts, backoff, time limit, webhook hosts (`[actions]` table;
    /// `WIREWATCH_ACTIONS_<KEY>`).
    pub actions: crate::actions::ActionsConfig,
    /// The SMTP relay of the `sendmail` action (`[mail]` table; `WIREWATCH_MAIL_<KEY>`, the
    /// password also as `WIREWATCH_MAIL_PASSWORD`, taken as it is).
    pub mail: crate::actions::MailConfig,
}

/// rrdAlarm's periodic check: every `check_every_secs` one controller of the database (the
/// `alarm_check` job's lease) checks the thresholds over its own archive.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlarmsConfig {
    /// Seconds between checks (0: no periodic check; `alarm check` and the API still check).
    pub check_every_secs: u64,
    /// Which actions scripts' alarms (`wirewatch.raise_alarm`) get (`[[alarms.route]]`).
    pub route: Vec<crate::dispatch::AlarmRoute>,
}

impl AlarmsConfig {
    /// The step of rrdAlarm's history files (`rrdAlarm/duration.rrd`, `results.rrd`): the
    /// check period, or 60 s (the default period) with periodic checks off.
    pub fn history_step(&self) -> u64 {
        if self.check_every_secs == 0 { 60 } else { self.check_every_secs }
    }
}

impl Default for AlarmsConfig {
    fn default() -> Self {
        AlarmsConfig { check_every_secs: 60, route: Vec::new() }
    }
}

/// The controller's connection pools: ingest writers, readers (API and Python pages) and jobs
/// each have their own, so a viewer's heavy queries cannot take the connections a probe's
/// batch needs to commit; reads are bounded in time.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connections of the ingest writers (nobody else uses them); 0: `writers` + 2.
    pub ingest_connections: u32,
    /// Connections shared by API requests and Python pages.
    pub read_connections: u32,
    /// Connections of the periodic jobs and start-up work (migrations, CA, revocations).
    pub job_connections: u32,
    /// A statement of an API request or a Python page running longer is cancelled (ms).
    pub read_statement_timeout_ms: u64,
    /// A reader's transaction left idle this long is ended (ms).
    pub read_idle_in_transaction_timeout_ms: u64,
    /// Longest window of a query over raw samples (top talkers), in hours; 0: no cap.
    pub raw_window_max_hours: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            ingest_connections: 0,
            read_connections: 8,
            job_connections: 4,
            read_statement_timeout_ms: 5_000,
            read_idle_in_transaction_timeout_ms: 30_000,
            raw_window_max_hours: 24,
        }
    }
}

impl DatabaseConfig {
    pub fn ingest_pool(&self, writers: usize) -> u32 {
        if self.ingest_connections > 0 { self.ingest_connections } else { writers as u32 + 2 }
    }

    pub fn read_limits(&self) -> wirewatch_store::ReadLimits {
        wirewatch_store::ReadLimits {
            statement_timeout: Duration::from_millis(self.read_statement_timeout_ms),
            idle_in_transaction_timeout: Duration::from_millis(self.read_idle_in_transaction_timeout_ms),
        }
    }

    pub fn raw_window_max(&self) -> Option<Duration> {
        (self.raw_window_max_hours > 0).then(|| Duration::from_secs(self.raw_window_max_hours * 3600))
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = if self.database_url.is_empty() { "(embedded)" } else { "<redacted>" };
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &url)
            .field("name", &self.name)
            .field("quic_listen", &self.quic_listen)
            .field("http_listen", &self.http_listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("server_names", &self.server_names)
            .field("max_connections", &self.max_connections)
            .field("writers", &self.writers)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("/var/lib/wirewatch"),
            database_url: String::new(),
            name: String::new(),
            quic_listen: SocketAddr::from(([0, 0, 0, 0], 4433)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9184)),
            server_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            max_connections: 1000,
            max_handshakes: 256,
            max_connections_per_address: 64,
            handshake_timeout_secs: 10,
            max_frame_bytes: wirewatch_wire::DEFAULT_MAX_FRAME,
            writers: 4,
            write_queue: 64,
            ingest_max_bytes_per_sec: wirewatch_store::ingest::Limits::default().max_bytes_per_sec,
            ingest_max_packets_per_sec: wirewatch_store::ingest::Limits::default().max_packets_per_sec,
            ingest_max_interval_secs: wirewatch_store::ingest::Limits::default().max_interval.as_secs(),
            ingest_max_future_secs: wirewatch_store::ingest::Limits::default().max_future.as_secs(),
            rollup_every_secs: 60,
            retention_every_secs: 3600,
            retention_raw_days: 7,
            retention_hourly_days: 90,
            retention_daily_days: 0,
            api: wirewatch_mobile_api::ApiConfig::default(),
            python: wirewatch_python::PythonConfig::default(),
            database: DatabaseConfig::default(),
            rrd: wirewatch_rrd::RrdConfig::default(),
            alarms: AlarmsConfig::default(),
            schedule: Vec::new(),
            actions: crate::actions::ActionsConfig::default(),
            mail: crate::actions::MailConfig::default(),
        }
    }
}

impl Config {
    /// Defaults → file → environment (`WIREWATCH_<KEY>`, and `DATABASE_URL`).
    pub fn load(file: Option<&PathBuf>) -> anyhow::Result<Config> {
        use figment::providers::{Env, Format, Serialized, Toml};
        let mut f = figment::Figment::from(Serialized::defaults(Config::default()));
        if let Some(p) = file {
            anyhow::ensure!(p.is_file(), "config file {} not found", p.display());
            f = f.merge(Toml::file(p));
        }
        // Only our own keys: WIREWATCH_LOG and the probe's WIREWATCH_PROBE_* share the prefix.
        const KEYS: &[&str] = &[
            "data_dir",
            "database_url",
            "name",
            "quic_listen",
            "http_listen",
            "metrics_listen",
            "server_names",
            "max_connections",
            "max_handshakes",
            "max_connections_per_address",
            "handshake_timeout_secs",
            "max_frame_bytes",
            "writers",
            "write_queue",
            "rollup_every_secs",
            "retention_every_secs",
            "retention_raw_days",
            "retention_hourly_days",
            "retention_daily_days",
            "ingest_max_bytes_per_sec",
            "ingest_max_packets_per_sec",
            "ingest_max_interval_secs",
            "ingest_max_future_secs",
        ];
        // Slices, not arrays: a key added is one line (no count to keep in step).
        const API_KEYS: &[&str] = &[
            "access_ttl_secs",
            "refresh_ttl_days",
            "login_per_user_per_minute",
            "login_per_address_per_minute",
            "login_backoff_secs",
            "password_hash_concurrency",
            "password_hash_wait_ms",
            "trusted_proxies",
            "api_token_default_days",
            "api_token_max_days",
            "live_per_user_per_minute",
            "live_in_flight_per_user",
            "python_runs_per_user",
            "python_wait_ms",
            "max_body_bytes",
            "geoip_db",
            "reverse_dns",
            "dns_servers",
            "dns_timeout_ms",
            "probe_offline_after_secs",
            "session_cache_ms",
            "public_url",
            "cookie_secure",
            "web_dir",
        ];
        const PYTHON_KEYS: &[&str] = &[
            "enabled",
            "scripts_dir",
            "bundled_dir",
            "workers",
            "queue",
            "timeout_secs",
            "grace_secs",
            "max_output_bytes",
            "rrd_files_per_run",
        ];
        const DATABASE_KEYS: &[&str] = &[
            "ingest_connections",
            "read_connections",
            "job_connections",
            "read_statement_timeout_ms",
            "read_idle_in_transaction_timeout_ms",
            "raw_window_max_hours",
        ];
        const RRD_KEYS: &[&str] = &[
            "enabled",
            "dir",
            "update_every_secs",
            "step_secs",
            "settle_secs",
            "hosts_top_n",
            "host_networks",
            "hosts_max_networked",
            "interfaces_max",
            "host_dirs_max",
            "graph_queue",
        ];
        const ALARMS_KEYS: &[&str] = &["check_every_secs"];
        const ACTIONS_KEYS: &[&str] = &["attempts", "backoff_secs", "timeout_secs", "webhook_hosts"];
        // Not the password: figment would read a value such as `[x` or `123` as an array or a
        // number; it is taken as it is below.
        const MAIL_KEYS: &[&str] = &["relay", "port", "starttls", "username", "from"];
        f = f
            .merge(Env::prefixed("WIREWATCH_").only(KEYS))
            .merge(Env::prefixed("WIREWATCH_ACTIONS_").only(ACTIONS_KEYS).map(|k| format!("actions.{k}").into()))
            .merge(Env::prefixed("WIREWATCH_MAIL_").only(MAIL_KEYS).map(|k| format!("mail.{k}").into()))
            .merge(Env::prefixed("WIREWATCH_ALARMS_").only(ALARMS_KEYS).map(|k| format!("alarms.{k}").into()))
            .merge(Env::prefixed("WIREWATCH_RRD_").only(RRD_KEYS).map(|k| format!("rrd.{k}").into()))
            .merge(Env::prefixed("WIREWATCH_DATABASE_").only(DATABASE_KEYS).map(|k| format!("database.{k}").into()))
            .merge(Env::prefixed("WIREWATCH_API_").only(API_KEYS).map(|k| format!("api.{k}").into()))
            .merge(Env::prefixed("WIREWATCH_PYTHON_").only(PYTHON_KEYS).map(|k| format!("python.{k}").into()))
            .merge(Env::raw().only(&["DATABASE_URL"]));
        let mut c: Config = f.extract().context("reading the controller configuration")?;
        if let Some(p) = std::env::var_os("WIREWATCH_MAIL_PASSWORD") {
            c.mail.password = p.into_string().map_err(|_| anyhow::anyhow!("WIREWATCH_MAIL_PASSWORD is not UTF-8"))?;
        }
        c.actions.validate().map_err(anyhow::Error::msg)?;
        c.mail.validate().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(c.writers > 0 && c.write_queue > 0, "writers and write_queue must be at least 1");
        anyhow::ensure!(c.max_connections > 0, "max_connections must be at least 1");
        anyhow::ensure!(
            c.max_handshakes > 0 && c.max_connections_per_address > 0 && c.handshake_timeout_secs > 0,
            "max_handshakes, max_connections_per_address and handshake_timeout_secs must be at least 1"
        );
        c.rrd.validate()?;
        for s in &c.schedule {
            s.validate()?;
        }
        anyhow::ensure!(c.python.workers > 0 && c.python.queue > 0, "python workers and queue must be at least 1");
        anyhow::ensure!(c.python.timeout_secs > 0.0, "python timeout_secs must be positive");
        anyhow::ensure!(
            c.database.read_connections > 0 && c.database.job_connections > 0,
            "database read_connections and job_connections must be at least 1"
        );
        anyhow::ensure!(
            c.database.read_statement_timeout_ms > 0 && c.database.read_idle_in_transaction_timeout_ms > 0,
            "database read timeouts must be positive (a read without a limit can hold a connection forever)"
        );
        Ok(c)
    }

    pub fn default_toml() -> anyhow::Result<String> {
        Ok(format!(
            "# wirewatch-controller configuration (TOML). Environment: WIREWATCH_<KEY>, DATABASE_URL.\n{}",
            toml::to_string(&Config::default())?
        ))
    }

    /// The QUIC accept loop's limits.
    pub fn accept_limits(&self) -> crate::ingest::AcceptLimits {
        crate::ingest::AcceptLimits {
            max_connections: self.max_connections,
            max_handshakes: self.max_handshakes,
            per_address: self.max_connections_per_address,
            handshake_timeout: Duration::from_secs(self.handshake_timeout_secs),
        }
    }

    pub fn rollup_every(&self) -> Duration {
        Duration::from_secs(self.rollup_every_secs.max(1))
    }

    pub fn retention_every(&self) -> Duration {
        Duration::from_secs(self.retention_every_secs.max(1))
    }

    pub fn ingest_limits(&self) -> wirewatch_store::ingest::Limits {
        wirewatch_store::ingest::Limits {
            max_bytes_per_sec: self.ingest_max_bytes_per_sec,
            max_packets_per_sec: self.ingest_max_packets_per_sec,
            max_interval: Duration::from_secs(self.ingest_max_interval_secs),
            max_future: Duration::from_secs(self.ingest_max_future_secs),
        }
    }

    pub fn retention(&self) -> wirewatch_store::jobs::Retention {
        wirewatch_store::jobs::Retention {
            raw_days: self.retention_raw_days,
            hourly_days: self.retention_hourly_days,
            daily_days: self.retention_daily_days,
        }
    }
}
