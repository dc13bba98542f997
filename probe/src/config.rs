//! The probe's configuration file (`--config`, then `WIREWATCH_PROBE_*` variables over the
//! defaults). The command line's flags win over it; the result is a [`crate::RunConfig`].

use std::path::{Path, PathBuf};

/// The probe's configuration file.
#[derive(serde::Deserialize, serde::Serialize, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeConfig {
    /// Controllers as HOST:PORT, tried in order.
    pub controllers: Vec<String>,
    /// Directory with probe.crt, probe.key, ca.crt.
    pub identity: PathBuf,
    /// Spool directory; empty: <identity>/spool.
    pub spool_dir: PathBuf,
    /// Spool bounds: a live probe drops its oldest batches past them (and reports how many).
    pub spool_max_bytes: u64,
    pub spool_max_age_secs: u64,
    /// Seconds per batch.
    pub interval_secs: u64,
    /// Live interfaces and BPF filter.
    pub interfaces: Vec<String>,
    pub filter: String,
    /// Each batch's encoded size stays under this many bytes; a larger interval is sent as
    /// several batches. Keep it well under the controllers' `max_frame_bytes`.
    pub max_batch_bytes: usize,
    /// With `--read`: replay the files again and again, each pass moved to now, until stopped
    /// (needs a numeric `--replay-speed`).
    #[serde(rename = "loop")]
    pub loop_replay: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            controllers: vec!["127.0.0.1:4433".into()],
            identity: PathBuf::from("/etc/wirewatch/probe"),
            spool_dir: PathBuf::new(),
            spool_max_bytes: 1 << 30,
            spool_max_age_secs: 7 * 24 * 3600,
            interval_secs: 10,
            interfaces: Vec::new(),
            filter: String::new(),
            max_batch_bytes: wirewatch_wire::DEFAULT_MAX_BATCH,
            loop_replay: false,
        }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {} not found", .0.display())]
    NotFound(PathBuf),
    #[error("reading the probe configuration: {0}")]
    Read(Box<figment::Error>),
}

impl ProbeConfig {
    /// The defaults, overridden by the file at `path` (if given), then by `WIREWATCH_PROBE_*`
    /// variables.
    pub fn load(path: Option<&Path>) -> Result<ProbeConfig, ConfigError> {
        use figment::providers::{Env, Format as _, Serialized, Toml};
        let mut f = figment::Figment::from(Serialized::defaults(ProbeConfig::default()));
        if let Some(p) = path {
            if !p.is_file() {
                return Err(ConfigError::NotFound(p.to_path_buf()));
            }
            f = f.merge(Toml::file(p));
        }
        f = f.merge(Env::prefixed("WIREWATCH_PROBE_").split("__"));
        f.extract().map_err(|e| ConfigError::Read(Box::new(e)))
    }
}
