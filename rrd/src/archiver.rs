//! The archive as a cache of the store: each pass asks, per file, what was committed after the
//! last interval the file holds, up to the newest complete interval of its probe, and appends
//! it. The files are the only state (a crash, a restart or a second controller's archive start
//! from what their files say), and time is packet time (the intervals' ends).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wirewatch_model::archive::{
    HOST_FILES, INTERFACE_FILES, RESERVED_DIRS, dir_name, host_dir_name, probe_dir_name, proto_files,
};
use wirewatch_store::Store;
use wirewatch_store::archive::{ArchiveInterface, HostInterval, InterfaceInterval};

use crate::files::{self, Kind, Point};
use crate::{RrdConfig, RrdError};

const NS: i64 = 1_000_000_000;

/// The value an interval gives one interface file.
type ValueOf = Box<dyn Fn(&InterfaceInterval) -> f64 + Send + Sync>;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub files_created: u64,
    /// Intervals written (over all files).
    pub intervals_written: u64,
    /// Intervals offered that a file already held or could not place.
    pub intervals_skipped: u64,
    /// Files that failed (logged; the next pass tries again from their last interval).
    pub errors: u64,
}

impl SyncReport {
    fn add(&mut self, a: files::Appended) {
        self.files_created += u64::from(a.created);
        self.intervals_written += a.written;
        self.intervals_skipped += a.skipped;
    }
}

/// Keeps the archive under `root` in step with the store.
#[derive(Clone)]
pub struct Archiver {
    store: Store,
    cfg: RrdConfig,
    root: PathBuf,
}

/// A file's last interval end in ns (everything at or before it is in the file); `None`: no file.
fn held_ns(path: &Path) -> Result<Option<i64>, RrdError> {
    Ok(files::last_update(path)?.map(|s| s.saturating_mul(NS).saturating_add(NS - 1)))
}

fn secs(ns: i64) -> i64 {
    ns.div_euclid(NS)
}

impl Archiver {
    pub fn new(store: Store, cfg: RrdConfig, root: PathBuf) -> Archiver {
        Archiver { store, cfg, root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file step for a probe whose first interval is `interval_secs` long.
    fn step(&self, interval_secs: i64) -> u64 {
        if self.cfg.step_secs > 0 {
            self.cfg.step_secs
        } else if interval_secs > 0 {
            u64::try_from(interval_secs).unwrap_or(60).max(crate::MIN_STEP_SECS)
        } else {
            60
        }
    }

    /// One pass over every probe and interface.
    pub async fn sync(&self) -> Result<SyncReport, RrdError> {
        let mut report = SyncReport::default();
        let mut by_probe: HashMap<i64, Vec<ArchiveInterface>> = HashMap::new();
        for i in self.store.archive_interfaces().await? {
            by_probe.entry(i.probe_id).or_default().push(i);
        }
        let mut probes: Vec<_> = by_probe.into_iter().collect();
        probes.sort_by_key(|p| p.0);
        for (probe_id, mut ifaces) in probes {
            // The probe's first interfaces only (ids grow with each new name it reports).
            ifaces.sort_by_key(|i| i.interface_id);
            ifaces.truncate(self.cfg.interfaces_max);
            let Some((horizon, settled)) =
                self.store.archive_horizon_settled(probe_id, Duration::from_secs(self.cfg.settle_secs)).await?
            else {
                continue;
            };
            for i in &ifaces {
                match self.sync_interface(i, horizon, settled).await {
                    Ok(r) => {
                        report.files_created += r.files_created;
                        report.intervals_written += r.intervals_written;
                        report.intervals_skipped += r.intervals_skipped;
                    }
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(probe = %i.probe, interface = %i.interface, error = %e, "archiving an interface failed");
                    }
                }
            }
            let ids: Vec<i64> = ifaces.iter().map(|i| i.interface_id).collect();
            if let Some(first) = ifaces.first() {
                match self.sync_hosts(probe_id, &first.probe, &ids, horizon).await {
                    Ok(r) => {
                        report.files_created += r.files_created;
                        report.intervals_written += r.intervals_written;
                        report.intervals_skipped += r.intervals_skipped;
                        report.errors += r.errors;
                    }
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(probe = %first.probe, error = %e, "archiving hosts failed");
                    }
                }
            }
        }
        Ok(report)
    }

    /// An interface's files: name, kind, and the value an interval gives it.
    fn interface_files() -> Vec<(String, Kind, ValueOf)> {
        let mut v: Vec<(String, Kind, ValueOf)> = Vec::new();
        for name in INTERFACE_FILES {
            let (kind, f): (Kind, ValueOf) = match name {
                "ethernetBytes" => (Kind::Count, Box::new(|i| i.bytes as f64)),
                "ethernetPkts" => (Kind::Count, Box::new(|i| i.packets as f64)),
                "throughput" => (
                    Kind::Rate,
                    Box::new(|i| {
                        let secs = ((i.end_ns - i.start_ns) as f64 / NS as f64).max(1.0);
                        i.bytes as f64 * 8.0 / secs
                    }),
                ),
                _ => (Kind::Level, Box::new(|i| i.hosts as f64)),
            };
            v.push((name.to_string(), kind, f));
        }
        for (idx, name) in proto_files() {
            v.push((name, Kind::Count, Box::new(move |i| i.bytes_stats.get(idx).copied().unwrap_or(0) as f64)));
        }
        v
    }

    async fn sync_interface(&self, i: &ArchiveInterface, horizon: i64, settled: bool) -> Result<SyncReport, RrdError> {
        let dir = self.root.join(probe_dir_name(&i.probe)).join("interfaces").join(dir_name(&i.interface));
        let names: Vec<String> = Self::interface_files().into_iter().map(|f| f.0).collect();
        let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(format!("{n}.rrd"))).collect();
        let p2 = paths.clone();
        let held = blocking(move || p2.iter().map(|p| held_ns(p)).collect::<Result<Vec<_>, _>>()).await?;
        // From the least advanced file (a missing file: from the first interval kept).
        let after = held.iter().map(|h| h.unwrap_or(i64::MIN)).min().unwrap_or(i64::MIN);
        if after >= horizon {
            // Up to date. A stream that has settled on an interval ending inside a step: close
            // that step, or its last bytes never show in a fetch.
            if settled && held.iter().all(|h| h.map(secs) == Some(secs(horizon))) {
                let kinds: Vec<Kind> = Self::interface_files().into_iter().map(|f| f.1).collect();
                blocking(move || {
                    for (path, kind) in paths.iter().zip(kinds) {
                        files::close_step(path, kind)?;
                    }
                    Ok(())
                })
                .await?;
            }
            return Ok(SyncReport::default());
        }
        let rows = self.store.interface_intervals(i.probe_id, i.interface_id, after, horizon).await?;
        if rows.is_empty() {
            return Ok(SyncReport::default());
        }
        let step = self.step(secs(rows[0].end_ns - rows[0].start_ns));
        blocking(move || {
            let mut report = SyncReport::default();
            for ((_, kind, value), path) in Self::interface_files().into_iter().zip(&paths) {
                let points = merge(
                    rows.iter().map(|r| Point { start: secs(r.start_ns), end: secs(r.end_ns), value: value(r) }),
                    kind,
                );
                report.add(files::append(path, kind, step, &points)?);
            }
            Ok(report)
        })
        .await
    }

    async fn sync_hosts(
        &self,
        probe_id: i64,
        probe: &str,
        interfaces: &[i64],
        horizon: i64,
    ) -> Result<SyncReport, RrdError> {
        let ips = self
            .store
            .archive_hosts(probe_id, self.cfg.hosts_top_n, &self.cfg.host_networks, self.cfg.hosts_max_networked)
            .await?;
        if ips.is_empty() {
            return Ok(SyncReport::default());
        }
        let base = self.root.join(probe_dir_name(probe)).join("hosts");
        let b2 = base.clone();
        let ips2 = ips.clone();
        let held: Vec<(IpAddr, i64)> = blocking(move || {
            ips2.iter()
                .map(|ip| {
                    let dir = b2.join(host_dir_name(*ip));
                    let mut after = i64::MAX;
                    for n in HOST_FILES {
                        after = after.min(held_ns(&dir.join(format!("{n}.rrd")))?.unwrap_or(i64::MIN));
                    }
                    Ok((*ip, after))
                })
                .collect::<Result<Vec<_>, RrdError>>()
        })
        .await?;
        let wanted: Vec<(IpAddr, i64)> = held.into_iter().filter(|h| h.1 < horizon).collect();
        let mut report = SyncReport::default();
        // A bounded number of hosts per query (each host's index range is read on its own).
        for chunk in wanted.chunks(500) {
            let rows = self.store.host_intervals(probe_id, interfaces, chunk, horizon).await?;
            let mut by_ip: HashMap<IpAddr, Vec<HostInterval>> = HashMap::new();
            for r in rows {
                by_ip.entry(r.ip).or_default().push(r);
            }
            let base = base.clone();
            let this = self.clone();
            let r = blocking(move || {
                let mut report = SyncReport::default();
                for (ip, rows) in by_ip {
                    let dir = base.join(host_dir_name(ip));
                    let step = this.step(secs(rows[0].end_ns - rows[0].start_ns));
                    for n in HOST_FILES {
                        let value = |h: &HostInterval| -> f64 {
                            (match n {
                                "bytesSent" => h.tx_bytes,
                                "bytesRcvd" => h.rx_bytes,
                                "pktSent" => h.tx_packets,
                                _ => h.rx_packets,
                            }) as f64
                        };
                        let points = merge(
                            rows.iter().map(|r| Point {
                                start: secs(r.start_ns),
                                end: secs(r.end_ns),
                                value: value(r),
                            }),
                            Kind::Count,
                        );
                        match files::append(&dir.join(format!("{n}.rrd")), Kind::Count, step, &points) {
                            Ok(a) => report.add(a),
                            Err(e) => {
                                report.errors += 1;
                                tracing::warn!(%ip, file = n, error = %e, "archiving a host failed");
                            }
                        }
                    }
                }
                Ok(report)
            })
            .await?;
            report.files_created += r.files_created;
            report.intervals_written += r.intervals_written;
            report.intervals_skipped += r.intervals_skipped;
            report.errors += r.errors;
        }
        // Hosts that left the selection keep their files, up to host_dirs_max directories.
        let keep: HashSet<String> = ips.iter().map(|ip| host_dir_name(*ip)).collect();
        let max = self.cfg.host_dirs_max;
        let removed = blocking(move || prune_host_dirs(&base, &keep, max)).await?;
        if removed > 0 {
            tracing::info!(
                probe,
                removed,
                "host archives past rrd.host_dirs_max removed (least recently updated first)"
            );
        }
        Ok(report)
    }

    /// Recreates the whole archive from PostgreSQL: built beside the root, then swapped in
    /// (a running controller's next pass continues from the new files' last intervals). The
    /// [`RESERVED_DIRS`] (rrdAlarm's history, scripts' files) are not derived: they are moved
    /// into the new tree as they are.
    pub async fn rebuild(&self) -> Result<SyncReport, RrdError> {
        let name = self.root.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "rrd".into());
        let fresh = self.root.with_file_name(format!("{name}.rebuild"));
        let old = self.root.with_file_name(format!("{name}.old"));
        for d in [&fresh, &old] {
            if d.exists() {
                std::fs::remove_dir_all(d).map_err(|e| RrdError::Io(d.display().to_string(), e))?;
            }
        }
        std::fs::create_dir_all(&fresh).map_err(|e| RrdError::Io(fresh.display().to_string(), e))?;
        let builder = Archiver::new(self.store.clone(), self.cfg.clone(), fresh.clone());
        let report = builder.sync().await?;
        // What is not derived from the store (rrdAlarm's history, scripts' files) moves over.
        for d in RESERVED_DIRS {
            let from = self.root.join(d);
            if std::fs::symlink_metadata(&from).is_ok() {
                std::fs::rename(&from, fresh.join(d)).map_err(|e| RrdError::Io(from.display().to_string(), e))?;
            }
        }
        if self.root.exists() {
            std::fs::rename(&self.root, &old).map_err(|e| RrdError::Io(self.root.display().to_string(), e))?;
        }
        std::fs::rename(&fresh, &self.root).map_err(|e| RrdError::Io(fresh.display().to_string(), e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| RrdError::Io(old.display().to_string(), e))?;
        }
        Ok(report)
    }

    /// Runs [`Archiver::sync`] every `update_every_secs` until `stop` resolves.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let every = Duration::from_secs(self.cfg.update_every_secs.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = &mut stop => break,
            }
            match self.sync().await {
                Ok(r) if r.intervals_written > 0 || r.errors > 0 => {
                    tracing::info!(
                        created = r.files_created,
                        written = r.intervals_written,
                        errors = r.errors,
                        "archive pass"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "archive pass failed"),
            }
        }
    }
}

/// Intervals whose ends fall in the same second (sub-second intervals) become one point.
fn merge(points: impl Iterator<Item = Point>, kind: Kind) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for p in points {
        match out.last_mut() {
            Some(l) if l.end >= p.end => match kind {
                Kind::Count => l.value += p.value,
                Kind::Rate | Kind::Level => l.value = l.value.max(p.value),
            },
            _ => out.push(p),
        }
    }
    out
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, RrdError> + Send + 'static) -> Result<T, RrdError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RrdError::Rrd(format!("archive task: {e}")))?
}

/// Removes the host directories under `base` updated longest ago (by their `bytesSent.rrd`)
/// until at most `max` are left, never one of `keep` (this pass's selection). Returns how many
/// went.
fn prune_host_dirs(base: &Path, keep: &HashSet<String>, max: usize) -> Result<usize, RrdError> {
    let io = |e: std::io::Error| RrdError::Io(base.display().to_string(), e);
    let entries = match std::fs::read_dir(base) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(e)),
    };
    let mut dirs = Vec::new();
    for e in entries {
        let e = e.map_err(io)?;
        if !e.file_type().map_err(io)?.is_dir() {
            continue;
        }
        let updated = std::fs::metadata(e.path().join("bytesSent.rrd"))
            .or_else(|_| e.metadata())
            .and_then(|m| m.modified())
            .map_err(io)?;
        dirs.push((updated, e.file_name().to_string_lossy().into_owned()));
    }
    let mut excess = dirs.len().saturating_sub(max);
    if excess == 0 {
        return Ok(0);
    }
    dirs.sort();
    let mut removed = 0;
    for (_, name) in dirs {
        if excess == 0 {
            break;
        }
        if keep.contains(&name) {
            continue;
        }
        std::fs::remove_dir_all(base.join(&name)).map_err(io)?;
        excess -= 1;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_dirs_past_the_bound_go_least_recently_updated_first_never_the_selection() {
        let t = tempfile::tempdir().expect("tempdir");
        for (k, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            std::fs::create_dir(t.path().join(name)).expect("mkdir");
            std::fs::write(t.path().join(name).join("bytesSent.rrd"), [k as u8]).expect("write");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::write(t.path().join("stray-file"), b"x").expect("write");
        // "a" is the oldest but still selected.
        let keep: HashSet<String> = ["a".to_string()].into();
        assert_eq!(prune_host_dirs(t.path(), &keep, 2).expect("prune"), 3);
        let mut left: Vec<String> = std::fs::read_dir(t.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into())
            .collect();
        left.sort();
        assert_eq!(left, ["a", "e", "stray-file"]);
        assert_eq!(prune_host_dirs(t.path(), &keep, 2).expect("prune"), 0);
        assert_eq!(prune_host_dirs(&t.path().join("missing"), &keep, 0).expect("no directory"), 0);
    }
}
