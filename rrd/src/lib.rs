//! wirewatch's RRD archives: rrdtool files (librrd, through the `rrd` crate) that every
//! controller keeps for itself from the data committed in PostgreSQL, in ntop's layout and
//! names, and their graphs.
//!
//! - [`files`]: one file — create on the first interval, append the intervals after the last
//!   one it holds (librrd's last update time is the file's memory: no skip, no double).
//! - [`archiver`]: [`Archiver::sync`] reads from the store what was committed after each
//!   file's last interval (up to the probe's complete intervals) and appends it;
//!   [`Archiver::rebuild`] recreates the whole tree from PostgreSQL.
//! - [`graphs`]: [`Graphs`], the one thread that renders (librrd's graph calls are not
//!   thread-safe), implementing `wirewatch_model::Archives` for the HTTP layer.
//! - [`scripts`]: the archive as Python scripts reach it (ntop's `rrd_fetch`,
//!   `updateRRDCounter`, `updateRRDGauge`) and the rules they keep to (paths below the root,
//!   the caller's sites, writes below `scripts/` only).
//! - [`alarm_history`]: rrdAlarm's `rrdAlarm/duration.rrd` and `results.rrd`, written after
//!   each check.
//!
//! Time is packet time: an interval is written at the end of its batch's interval (the
//! samples' `ts`), so a replayed capture from 2016 fills 2016 in its files, and the files are
//! the same whenever and however fast the batches arrived (a rebuild gives the same content).
//! This crate writes and renders the archives; `wirewatch-alarm` links librrd too, to fetch only
//! (its fetch and its confinement of paths to the root are used here, not repeated).

pub mod alarm_history;
pub mod archiver;
pub mod files;
pub mod graphs;
pub mod scripts;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use archiver::{Archiver, SyncReport};
pub use graphs::Graphs;

/// Settings (`[rrd]` of the controller's configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RrdConfig {
    /// Keep archives at all.
    pub enabled: bool,
    /// The archive root; empty: `<data-dir>/rrd`.
    pub dir: Option<PathBuf>,
    /// How often the archive takes what was committed since its last pass.
    pub update_every_secs: u64,
    /// The files' step; 0: the probe's interval (the first interval's length, at least
    /// [`MIN_STEP_SECS`]: a probe choosing 1 s intervals does not make files ten times larger),
    /// else 60.
    pub step_secs: u64,
    /// An interval whose newest batch arrived this long ago counts as complete even if no
    /// later interval arrived (a split interval's parts arrive together), and a hole in a
    /// probe's batch numbers this old is taken as permanent. Longer than a probe's failover
    /// (its QUIC idle timeout is 30 s): a batch re-sent through another controller after a
    /// crash must still find its interval open.
    pub settle_secs: u64,
    /// Hosts archived per probe: the top N by traffic.
    pub hosts_top_n: u32,
    /// And hosts inside these networks (CIDR), at most `hosts_max_networked` per probe.
    pub host_networks: Vec<String>,
    pub hosts_max_networked: u32,
    /// Interfaces archived per probe (the first ones it reported): a probe naming new
    /// interfaces at will does not make files without bound.
    pub interfaces_max: usize,
    /// Host directories kept per probe: past it, those updated longest ago are removed (hosts
    /// leave the top N, their files stay until then).
    pub host_dirs_max: usize,
    /// Graphs waiting for the renderer; more get 503.
    pub graph_queue: usize,
}

impl Default for RrdConfig {
    fn default() -> Self {
        RrdConfig {
            enabled: true,
            dir: None,
            update_every_secs: 60,
            step_secs: 0,
            settle_secs: 60,
            hosts_top_n: 100,
            host_networks: Vec::new(),
            hosts_max_networked: 1000,
            interfaces_max: 64,
            host_dirs_max: 5000,
            graph_queue: 16,
        }
    }
}

impl RrdConfig {
    /// The archive root for a data directory.
    pub fn root(&self, data_dir: &Path) -> PathBuf {
        match &self.dir {
            Some(d) if !d.as_os_str().is_empty() => d.clone(),
            _ => data_dir.join("rrd"),
        }
    }

    /// Checks the settings (networks parse, bounds).
    pub fn validate(&self) -> Result<(), RrdError> {
        for n in &self.host_networks {
            n.parse::<ipnet::IpNet>()
                .map_err(|_| RrdError::Config(format!("rrd.host_networks: {n:?} is not a CIDR network")))?;
        }
        if self.update_every_secs == 0 || self.graph_queue == 0 {
            return Err(RrdError::Config("rrd.update_every_secs and rrd.graph_queue must be at least 1".into()));
        }
        Ok(())
    }
}

/// The smallest step a file takes from a probe's interval.
pub const MIN_STEP_SECS: u64 = 10;

/// Why archiving failed.
#[derive(Debug, thiserror::Error)]
pub enum RrdError {
    #[error("rrd: {0}")]
    Rrd(String),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] wirewatch_store::StoreError),
    #[error("{0}")]
    Config(String),
}

impl RrdError {
    pub(crate) fn rrd(path: &Path, e: rrd::error::RrdError) -> RrdError {
        RrdError::Rrd(format!("{}: {e}", path.display()))
    }
}

/// librrd's version (for `--version` and the logs).
pub fn librrd_version() -> String {
    rrd::ops::version::librrd_version()
}
