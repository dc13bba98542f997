//! One archive file: created on its first interval, then appended to. A file remembers the
//! last interval it holds (librrd's last update time); appending offers intervals and keeps
//! those that end after it, so offering the same intervals twice, after a restart or with
//! more that arrived late, neither skips nor doubles one. No store here (tests drive it with
//! intervals of their own).
//!
//! Also ntop's own kind of file ([`update_at`]): one value at a time, made when missing with
//! one data source named `counter` (DERIVE for `updateRRDCounter`, GAUGE for
//! `updateRRDGauge`), for scripts and rrdAlarm's history.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use rrd::ConsolidationFn;
use rrd::ops::create::{Archive, DataSource, DataSourceName};
use rrd::ops::update::{BatchTime, Datum};

use crate::RrdError;

/// How a file's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An interval's count (bytes, packets): DS `counter`, ABSOLUTE (each update is the
    /// interval's delta). An interval with no data is written as zero (its start is updated
    /// with 0 before its end), so a quiet gap is a known zero, not a hole, and the next
    /// interval's count is spread over its own interval only.
    Count,
    /// A rate over the interval (bits/s): DS `gauge`, GAUGE; quiet gaps written as zero too.
    Rate,
    /// A level at the interval's end (hosts known): DS `gauge`, GAUGE; gaps are not filled.
    Level,
}

impl Kind {
    pub fn ds_name(self) -> &'static str {
        match self {
            Kind::Count => "counter",
            Kind::Rate | Kind::Level => "gauge",
        }
    }
}

/// One interval offered to a file: `(start, end]` in seconds since the epoch, and its value
/// (a count, or a rate or level).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub start: i64,
    pub end: i64,
    pub value: f64,
}

/// What an append did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Appended {
    /// The file did not exist and was made.
    pub created: bool,
    /// Intervals written.
    pub written: u64,
    /// Intervals offered that end at or before the last one the file holds (already there, or
    /// too late to place: a probe's clock went back).
    pub skipped: u64,
}

/// The last interval end the file holds (librrd's `last_update`), `None` if there is no file.
pub fn last_update(path: &Path) -> Result<Option<i64>, RrdError> {
    if !path.exists() {
        return Ok(None);
    }
    let info = rrd::ops::info::info(path).map_err(|e| RrdError::rrd(path, e))?;
    let last = info
        .get("last_update")
        .and_then(|v| v.clone().into_count())
        .ok_or_else(|| RrdError::Rrd(format!("{}: no last_update", path.display())))?;
    Ok(Some(i64::try_from(last).unwrap_or(i64::MAX)))
}

/// Closes a file's last step once nothing more can come for it (the probe's stream settled):
/// rrdtool shows a step only once an update at or after its end arrived, so the bytes of an
/// interval ending inside a step stay out of `rrdtool fetch` until then. A zero at the end of
/// that step (what a quiet gap is) makes them visible. Levels are left as they are. Does
/// nothing for a missing file or one whose last update is on a step boundary. Whether it wrote.
pub fn close_step(path: &Path, kind: Kind) -> Result<bool, RrdError> {
    if kind == Kind::Level || !path.exists() {
        return Ok(false);
    }
    let info = rrd::ops::info::info(path).map_err(|e| RrdError::rrd(path, e))?;
    let count = |k: &str| info.get(k).and_then(|v| v.clone().into_count());
    let (Some(last), Some(step)) = (count("last_update"), count("step")) else {
        return Err(RrdError::Rrd(format!("{}: no last_update or step", path.display())));
    };
    let step = step.max(1);
    if last % step == 0 {
        return Ok(false);
    }
    let end = i64::try_from(last.div_ceil(step) * step).unwrap_or(i64::MAX);
    rrd::ops::update::update_all(path, rrd::ops::update::Options::default(), &[(at(end), [zero(kind)])])
        .map_err(|e| RrdError::rrd(path, e))?;
    Ok(true)
}

/// The archives of a file (ntop's: ~3 days at the step, 90 days hourly, 3 years daily; the
/// consolidated ones keep the average and the maximum).
fn archives(step: u64) -> Result<Vec<Archive>, RrdError> {
    let per = |secs: u64| u32::try_from((secs / step.max(1)).max(1)).unwrap_or(u32::MAX);
    let rows = |span: u64, every: u64| u32::try_from(span.div_ceil(every.max(1))).unwrap_or(u32::MAX);
    let hour_steps = per(3600);
    let day_steps = per(86_400);
    let spec = [
        (ConsolidationFn::Avg, 1, rows(3 * 86_400, step)),
        (ConsolidationFn::Avg, hour_steps, 90 * 24),
        (ConsolidationFn::Max, hour_steps, 90 * 24),
        (ConsolidationFn::Avg, day_steps, 3 * 366),
        (ConsolidationFn::Max, day_steps, 3 * 366),
    ];
    spec.into_iter()
        .map(|(cf, steps, rows)| Archive::new(cf, 0.5, steps, rows).map_err(|e| RrdError::Rrd(e.to_string())))
        .collect()
}

/// Makes a file (never over an existing one, nor through a symbolic link: librrd creates it
/// exclusively) with one data source, starting at `start`, with the archives of [`archives`].
fn create(path: &Path, ds: &DataSource, step: u64, start: i64) -> Result<(), RrdError> {
    let rras = archives(step)?;
    let t0 = UNIX_EPOCH + Duration::from_secs(u64::try_from(start).unwrap_or(1));
    rrd::ops::create::create(path, t0, Duration::from_secs(step), true, None, &[], [ds], rras.iter())
        .map_err(|e| RrdError::rrd(path, e))
}

fn at(secs: i64) -> BatchTime {
    BatchTime::Timestamp(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// Offers `points` (oldest first) to the file at `path`, making it (and its directory) when
/// missing: step `step` seconds, starting at the first interval's start rounded down to the
/// step, so the first interval is kept whole.
pub fn append(path: &Path, kind: Kind, step: u64, points: &[Point]) -> Result<Appended, RrdError> {
    let mut out = Appended::default();
    let Some(first) = points.first() else { return Ok(out) };
    let step = step.max(1);
    let last = match last_update(path)? {
        Some(l) => l,
        None => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| RrdError::Io(dir.display().to_string(), e))?;
            }
            let step_i = i64::try_from(step).unwrap_or(i64::MAX);
            let mut start = first.start.min(first.end - 1).div_euclid(step_i) * step_i;
            if start < 1 {
                start = 1;
            }
            let interval = u64::try_from(first.end - first.start).unwrap_or(0);
            let heartbeat = u32::try_from(2 * step.max(interval)).unwrap_or(u32::MAX);
            let name = DataSourceName::new(kind.ds_name()).map_err(|e| RrdError::Rrd(e.to_string()))?;
            let ds = match kind {
                Kind::Count => DataSource::absolute(&name, heartbeat, Some(0), None),
                Kind::Rate | Kind::Level => DataSource::gauge(&name, heartbeat, Some(0.0), None),
            };
            create(path, &ds, step, start)?;
            out.created = true;
            start
        }
    };
    let mut updates: Vec<(BatchTime, [Datum; 1])> = Vec::with_capacity(points.len() * 2);
    let mut cur = last;
    for p in points {
        if p.end <= cur {
            out.skipped += 1;
            continue;
        }
        if kind != Kind::Level && p.start > cur {
            updates.push((at(p.start), [zero(kind)]));
        }
        let v = match kind {
            Kind::Count => Datum::Int(if p.value > 0.0 { p.value.round() as u64 } else { 0 }),
            Kind::Rate | Kind::Level => Datum::Float(p.value.max(0.0)),
        };
        updates.push((at(p.end), [v]));
        cur = p.end;
        out.written += 1;
    }
    // librrd takes a bounded argument list well; long catch-ups go in chunks.
    for chunk in updates.chunks(4096) {
        rrd::ops::update::update_all(path, rrd::ops::update::Options::default(), chunk)
            .map_err(|e| RrdError::rrd(path, e))?;
    }
    Ok(out)
}

/// A value for [`update_at`]; it also says which data source the file has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A running total (ntop's `updateRRDCounter`): DS `counter`, DERIVE, minimum 0 (rrdtool
    /// stores its rate per second; a total that went down is unknown, not negative).
    Counter(u64),
    /// A level (ntop's `updateRRDGauge`): DS `counter`, GAUGE, minimum 0.
    Gauge(f64),
}

/// What [`update_at`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The value was written; `created`: the file was made for it.
    Written { created: bool },
    /// Not written: the file's last update is at or after that second (librrd stores one value
    /// per second at most, and never before its last).
    NotAfterLast { last: i64 },
}

/// ntop's update: writes `value` at `at` (epoch seconds) to the file at `path`, making the file
/// first when there is none (step `step`, heartbeat two steps, the archives of the interval
/// files, starting one second before `at`, as ntop's `rrdTime - 1`). ntop's layout: one data
/// source named `counter` (see [`Value`]). The directory must exist. A file another writer
/// made meanwhile is used as it is; a second value in the file's last second is
/// [`Update::NotAfterLast`], not an error.
pub fn update_at(path: &Path, value: Value, step: u64, at_secs: i64) -> Result<Update, RrdError> {
    let step = step.max(1);
    let mut created = false;
    let last = match last_update(path)? {
        Some(last) => last,
        None => {
            let start = at_secs.saturating_sub(1).max(1);
            let heartbeat = u32::try_from(step.saturating_mul(2)).unwrap_or(u32::MAX);
            let name = DataSourceName::new("counter").map_err(|e| RrdError::Rrd(e.to_string()))?;
            let ds = match value {
                Value::Counter(_) => DataSource::derive(&name, heartbeat, Some(0), None),
                Value::Gauge(_) => DataSource::gauge(&name, heartbeat, Some(0.0), None),
            };
            match create(path, &ds, step, start) {
                Ok(()) => {
                    created = true;
                    start
                }
                // Made by another writer between the look and the create.
                Err(e) => last_update(path).ok().flatten().ok_or(e)?,
            }
        }
    };
    if at_secs <= last {
        return Ok(Update::NotAfterLast { last });
    }
    let datum = match value {
        Value::Counter(n) => Datum::Int(n),
        Value::Gauge(v) => Datum::Float(v),
    };
    match rrd::ops::update::update_all(path, rrd::ops::update::Options::default(), &[(at(at_secs), [datum])]) {
        Ok(()) => Ok(Update::Written { created }),
        // Another writer took that second first.
        Err(e) if e.to_string().contains("illegal attempt to update using time") => {
            Ok(Update::NotAfterLast { last: last_update(path)?.unwrap_or(at_secs) })
        }
        Err(e) => Err(RrdError::rrd(path, e)),
    }
}

fn zero(kind: Kind) -> Datum {
    match kind {
        Kind::Count => Datum::Int(0),
        Kind::Rate | Kind::Level => Datum::Float(0.0),
    }
}

/// The integral of a file's step archive over `[start, end]` (each known average × the
/// step): what a `Count` file holds of that time. For tests and the admin's checks.
pub fn integral(path: &Path, start: i64, end: i64) -> Result<f64, RrdError> {
    let t = |s: i64| UNIX_EPOCH + Duration::from_secs(u64::try_from(s).unwrap_or(0));
    let info = rrd::ops::info::info(path).map_err(|e| RrdError::rrd(path, e))?;
    let step = info.get("step").and_then(|v| v.clone().into_count()).unwrap_or(1);
    let data = rrd::ops::fetch::fetch(path, ConsolidationFn::Avg, t(start), t(end), Duration::from_secs(step))
        .map_err(|e| RrdError::rrd(path, e))?;
    let step = data.step().as_secs_f64();
    let mut sum = 0.0;
    for row in data.rows().iter() {
        for v in row.as_slice() {
            if v.is_finite() {
                sum += v * step;
            }
        }
    }
    Ok(sum)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(start: i64, end: i64, value: f64) -> Point {
        Point { start, end, value }
    }

    const T0: i64 = 1_490_976_000; // 2017-03-31 16:00:00 UTC, step-aligned

    /// Update twice with the same intervals, "restart" (nothing kept in memory: the file is
    /// the only state), offer again with a later interval, then a late interval: every
    /// interval is in the file exactly once, and the integral is the sum of the counts.
    #[test]
    fn no_interval_is_skipped_or_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pa/interfaces/eth0/ethernetBytes.rrd");
        let first = [p(T0, T0 + 10, 1000.0), p(T0 + 10, T0 + 20, 3000.0)];
        let a = append(&f, Kind::Count, 10, &first).unwrap();
        assert_eq!(a, Appended { created: true, written: 2, skipped: 0 });
        assert_eq!(last_update(&f).unwrap(), Some(T0 + 20));
        // The same intervals again (a pass that found nothing new): nothing written.
        let b = append(&f, Kind::Count, 10, &first).unwrap();
        assert_eq!(b, Appended { created: false, written: 0, skipped: 2 });
        // After a restart the controller offers from what the file says it holds; a quiet gap
        // (no interval 20–40) then an interval that ended later.
        let more = [p(T0, T0 + 10, 1000.0), p(T0 + 10, T0 + 20, 3000.0), p(T0 + 40, T0 + 50, 500.0)];
        let c = append(&f, Kind::Count, 10, &more).unwrap();
        assert_eq!(c, Appended { created: false, written: 1, skipped: 2 });
        // A late batch for an interval after the last one is kept; one before it cannot be
        // placed and is counted as skipped.
        let late = [p(T0 + 30, T0 + 40, 7.0), p(T0 + 50, T0 + 60, 250.0)];
        let d = append(&f, Kind::Count, 10, &late).unwrap();
        assert_eq!(d, Appended { created: false, written: 1, skipped: 1 });
        // One more interval completes the last step's row.
        append(&f, Kind::Count, 10, &[p(T0 + 60, T0 + 70, 0.0)]).unwrap();
        let total = integral(&f, T0 - 100, T0 + 100).unwrap();
        assert!((total - 4750.0).abs() < 1e-6, "integral {total}");
    }

    /// The first interval of a file is kept whole, also when it does not start on the step.
    #[test]
    fn the_first_interval_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.rrd");
        append(&f, Kind::Count, 60, &[p(T0 + 7, T0 + 60, 6000.0), p(T0 + 60, T0 + 120, 60.0)]).unwrap();
        let total = integral(&f, T0 - 600, T0 + 600).unwrap();
        assert!((total - 6060.0).abs() < 1e-6, "integral {total}");
    }

    /// ntop's files: made when missing with one `counter` data source, a value per second at
    /// most (a second one in the same second is not written, not an error), read back.
    #[test]
    fn ntop_updates_make_the_file_then_write_at_the_given_second() {
        let dir = tempfile::tempdir().unwrap();
        let g = dir.path().join("g.rrd");
        assert_eq!(update_at(&g, Value::Gauge(2.5), 60, T0 + 60).unwrap(), Update::Written { created: true });
        assert_eq!(update_at(&g, Value::Gauge(9.0), 60, T0 + 60).unwrap(), Update::NotAfterLast { last: T0 + 60 });
        assert_eq!(update_at(&g, Value::Gauge(9.0), 60, T0 + 30).unwrap(), Update::NotAfterLast { last: T0 + 60 });
        assert_eq!(update_at(&g, Value::Gauge(3.5), 60, T0 + 120).unwrap(), Update::Written { created: false });
        let info = rrd::ops::info::info(&g).unwrap();
        let text = |k: &str| info.get(k).and_then(|v| v.clone().into_string());
        assert_eq!(text("ds[counter].type").as_deref(), Some("GAUGE"));
        assert_eq!(info.get("step").and_then(|v| v.clone().into_count()), Some(60));
        assert_eq!(info.get("ds[counter].minimal_heartbeat").and_then(|v| v.clone().into_count()), Some(120));
        assert_eq!(last_update(&g).unwrap(), Some(T0 + 120));
        // 2.5 over (T0, T0+60] read through the first archive (the step's) is partly in the
        // step before: the minute ending at T0 + 120 is wholly 3.5.
        let t = |s: i64| UNIX_EPOCH + Duration::from_secs(s as u64);
        let data =
            rrd::ops::fetch::fetch(&g, ConsolidationFn::Avg, t(T0 + 60), t(T0 + 120), Duration::from_secs(60)).unwrap();
        let vals: Vec<f64> = data.rows().iter().flat_map(|r| r.as_slice().to_vec()).collect();
        assert!(vals.contains(&3.5), "{vals:?}");
        let c = dir.path().join("c.rrd");
        update_at(&c, Value::Counter(1000), 10, T0 + 10).unwrap();
        update_at(&c, Value::Counter(1600), 10, T0 + 20).unwrap();
        let info = rrd::ops::info::info(&c).unwrap();
        assert_eq!(info.get("ds[counter].type").and_then(|v| v.clone().into_string()).as_deref(), Some("DERIVE"));
        // No directory: an error, not a panic.
        assert!(update_at(&dir.path().join("none/x.rrd"), Value::Gauge(1.0), 60, T0).is_err());
    }

    /// Levels are written as they are; rates too, with quiet gaps at zero.
    #[test]
    fn levels_and_rates() {
        let dir = tempfile::tempdir().unwrap();
        let level = dir.path().join("knownHostsNum.rrd");
        append(&level, Kind::Level, 10, &[p(T0, T0 + 10, 5.0), p(T0 + 10, T0 + 20, 7.0)]).unwrap();
        let data = rrd::ops::fetch::fetch(
            &level,
            ConsolidationFn::Avg,
            UNIX_EPOCH + Duration::from_secs((T0 + 10) as u64),
            UNIX_EPOCH + Duration::from_secs((T0 + 20) as u64),
            Duration::from_secs(10),
        )
        .unwrap();
        let vals: Vec<f64> = data.rows().iter().flat_map(|r| r.as_slice().to_vec()).filter(|v| v.is_finite()).collect();
        assert!(vals.contains(&7.0), "{vals:?}");
        let rate = dir.path().join("throughput.rrd");
        let w = append(&rate, Kind::Rate, 10, &[p(T0, T0 + 10, 80.0), p(T0 + 30, T0 + 40, 8.0)]).unwrap();
        assert_eq!(w.written, 2);
        assert_eq!(last_update(&rate).unwrap(), Some(T0 + 40));
    }
}
