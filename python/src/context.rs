//! The engine's settings and what every script run reads of the engine: `PythonConfig`
//! (`[python]` in the controller's config), `EngineInfo` (facts for `ntop.version()` and
//! friends) and `RunEnv` (the store, GeoIP, the runtime handle, the two above). Shared by
//! `engine` (which builds them) and `run`/`modules` (which read them), so neither side needs
//! the other: it uses no other file of this crate and holds no Python object.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wirewatch_model::geo::Geo;
use wirewatch_store::Store;

/// `[python]` in the controller's config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PythonConfig {
    /// Serve `/python/…` pages at all.
    pub enabled: bool,
    /// The administrator's scripts; a script here hides a bundled one of the same path.
    pub scripts_dir: Option<PathBuf>,
    /// The bundled scripts (default: `python/scripts` of the source tree this binary was built
    /// from, if it exists).
    pub bundled_dir: Option<PathBuf>,
    /// Threads running scripts at once.
    pub workers: usize,
    /// Requests waiting for a worker beyond this are refused (503).
    pub queue: usize,
    /// A script running longer is stopped.
    pub timeout_secs: f64,
    /// After the stop request, how long a script may take to unwind before its worker is
    /// written off and replaced.
    pub grace_secs: f64,
    /// A page larger than this fails (protects the controller's memory).
    pub max_output_bytes: usize,
    /// Archive files one run may make with `ntop.updateRRDCounter`/`updateRRDGauge` (updating
    /// existing ones is not counted).
    pub rrd_files_per_run: u32,
}

impl Default for PythonConfig {
    fn default() -> Self {
        PythonConfig {
            enabled: true,
            scripts_dir: None,
            bundled_dir: None,
            workers: 4,
            queue: 64,
            timeout_secs: 10.0,
            grace_secs: 2.0,
            max_output_bytes: 64 << 20,
            rrd_files_per_run: 16,
        }
    }
}

impl PythonConfig {
    /// The directories scripts are looked up in, in order.
    pub fn roots(&self) -> Vec<PathBuf> {
        let bundled =
            self.bundled_dir.clone().unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts")));
        self.scripts_dir.iter().cloned().chain(std::iter::once(bundled)).filter(|d| d.is_dir()).collect()
    }
}

/// What scripts learn about the controller (`ntop.version()`, `os()`, `uptime()`, paths).
#[derive(Debug, Clone)]
pub struct EngineInfo {
    pub version: String,
    pub os: String,
    pub started: Instant,
    pub started_at: DateTime<Utc>,
    /// `ntop.getDBPath()`: the controller's data directory.
    pub db_path: PathBuf,
    /// `ntop.getSpoolPath()`: a directory scripts may write to.
    pub spool_path: PathBuf,
    pub controller: String,
    /// The RRD archive root (`[rrd] dir`) that `ntop.rrd_fetch` and `ntop.updateRRD*` paths are
    /// relative to; `None` when the controller keeps no archive.
    pub rrd_root: Option<PathBuf>,
}

/// What a run reads of the engine: built once by `Engine::start`, shared by every run.
pub(crate) struct RunEnv {
    pub store: Store,
    /// Where `wirewatch.raise_alarm` records alarms (set once the controller has built it).
    pub alarms: std::sync::OnceLock<Arc<dyn wirewatch_model::alarms::AlarmService>>,
    pub geo: Option<Arc<Geo>>,
    pub handle: tokio::runtime::Handle,
    pub info: EngineInfo,
    pub config: PythonConfig,
}
