//! Reading a file's values over a window: the [`Fetch`] trait the check runs on, and
//! [`RrdFetch`], librrd's `rrd_fetch` with the AVERAGE consolidation at the highest
//! resolution that covers the window (rrdtool fetch's default, what ntop's `rrd_fetch` did),
//! first data source only (ntop read `value[0]`). Its rows are librrd's, untrimmed: whole
//! steps from the one ending after the start to the one containing the end (for an end on a
//! step boundary, the step that begins there), exactly what ntop scanned.
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
        // Resolution 1 s: librrd picks the finest archive that covers the window.
        let data = rrd::ops::fetch::fetch(
            path,
            rrd::ConsolidationFn::Avg,
            timestamp(start)?,
            timestamp(end)?,
            Duration::from_secs(1),
        )
        .map_err(|e| FetchError(format!("{}: {e}", path.display())))?;
        let step = data.step().as_secs();
        let first = epoch_secs(data.start());
        let step_i = i64::try_from(step).unwrap_or(i64::MAX);
        let mut points = Vec::with_capacity(data.row_count());
        for (i, row) in data.rows().iter().enumerate() {
            let t = first.saturating_add(step_i.saturating_mul(i64::try_from(i).unwrap_or(i64::MAX)));
            let v = row.as_slice().first().copied().filter(|v| !v.is_nan());
            points.push((t, v));
        }
        Ok(Series { step, end: epoch_secs(data.end()), points })
    }
}
