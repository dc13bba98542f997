//! Reading a file's values over a window: [`fetch_table`], librrd's `rrd_fetch` as rrdtool
//! fetch and python-rrdtool give it (every data source, librrd's window; ntop's
//! `ntop.rrd_fetch` returned exactly this, and the Python engine's does, through
//! wirewatch-rrd), the [`Fetch`] trait the check runs on, and [`RrdFetch`], that fetch with the
//! AVERAGE consolidation at the highest resolution that covers the window (rrdtool fetch's
//! default, what ntop's rrdAlarm did), first data source only (ntop read `value[0]`). Its rows
//! are librrd's, untrimmed: whole steps from the one ending after the start to the one
//! containing the end (for an end on a step boundary, the step that begins there), exactly
//! what ntop scanned.
//!
//! librrd's fetch (`rrd_fetch_r`) is reentrant, so checks may fetch from any thread; graphs
//! are another matter (wirewatch-rrd owns them).

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// A file's values over a window, oldest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Seconds per value.
    pub step: u64,
    /// The end of the fetched window as the archive rounded it (ntop's report shows it for a
    /// file that did not fire).
    pub end: i64,
    /// `(time, value)`: each value covers the `step` seconds ending at `time`; `None` is
    /// rrdtool's unknown (NaN).
    pub points: Vec<(i64, Option<f64>)>,
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// A fetch of every data source, as librrd returns it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// librrd's start: the first row covers the `step` seconds after it.
    pub start: i64,
    /// librrd's end: the last row ends here.
    pub end: i64,
    /// Seconds per row.
    pub step: u64,
    /// The data sources, in file order.
    pub names: Vec<String>,
    /// The rows one after the other, `names.len()` values each; NaN is rrdtool's unknown.
    pub values: Vec<f64>,
}

impl Table {
    /// The rows, oldest first (none when the file has no data source).
    pub fn rows(&self) -> impl Iterator<Item = &[f64]> {
        self.values.chunks(self.names.len().max(1)).filter(|_| !self.names.is_empty())
    }

    pub fn row_count(&self) -> usize {
        self.values.len().checked_div(self.names.len()).unwrap_or(0)
    }
}

/// A consolidation function by rrdtool's name (`AVERAGE`, `MIN`, `MAX`, `LAST`; any case).
pub fn consolidation(name: &str) -> Option<rrd::ConsolidationFn> {
    match name.to_ascii_uppercase().as_str() {
        "AVERAGE" => Some(rrd::ConsolidationFn::Avg),
        "MIN" => Some(rrd::ConsolidationFn::Min),
        "MAX" => Some(rrd::ConsolidationFn::Max),
        "LAST" => Some(rrd::ConsolidationFn::Last),
        _ => None,
    }
}

/// librrd's fetch of `path` over `[start, end]` (epoch seconds) with `cf`, at the highest
/// resolution that covers the window (rrdtool fetch's default).
pub fn fetch_table(path: &Path, cf: rrd::ConsolidationFn, start: i64, end: i64) -> Result<Table, FetchError> {
    // Resolution 1 s: librrd picks the finest archive that covers the window.
    let data = rrd::ops::fetch::fetch(path, cf, timestamp(start)?, timestamp(end)?, Duration::from_secs(1))
        .map_err(|e| FetchError(format!("{}: {e}", path.display())))?;
    let step = data.step().as_secs();
    // The crate's start is one step on (the end of the first row); librrd's is where it begins.
    let first_end = epoch_secs(data.start());
    let start = first_end.saturating_sub(i64::try_from(step).unwrap_or(i64::MAX));
    let names = data.ds_names().to_vec();
    let mut values = Vec::with_capacity(data.row_count().saturating_mul(names.len()));
    for row in data.rows().iter() {
        values.extend_from_slice(row.as_slice());
    }
    Ok(Table { start, end: epoch_secs(data.end()), step, names, values })
}

/// Values of a file over `[start, end]` (epoch seconds).
pub trait Fetch {
    fn fetch(&self, path: &Path, start: i64, end: i64) -> Result<Series, FetchError>;
}

/// [`Fetch`] over RRD files with librrd.
#[derive(Debug, Clone, Copy, Default)]
pub struct RrdFetch;

fn timestamp(secs: i64) -> Result<std::time::SystemTime, FetchError> {
    let secs = u64::try_from(secs).map_err(|_| FetchError(format!("time {secs} is before 1970")))?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Whole seconds since the epoch (0 before it).
pub(crate) fn epoch_secs(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

impl Fetch for RrdFetch {
    fn fetch(&self, path: &Path, start: i64, end: i64) -> Result<Series, FetchError> {
        let table = fetch_table(path, rrd::ConsolidationFn::Avg, start, end)?;
        let step_i = i64::try_from(table.step).unwrap_or(i64::MAX);
        let mut points = Vec::with_capacity(table.row_count());
        for (i, row) in table.rows().enumerate() {
            // Each value is timed at the end of its step.
            let n = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
            let t = table.start.saturating_add(step_i.saturating_mul(n));
            points.push((t, row.first().copied().filter(|v| !v.is_nan())));
        }
        Ok(Series { step: table.step, end: table.end, points })
    }
}
