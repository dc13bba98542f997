//! rrdAlarm's own history, as ntop kept it (its `start.py` wrote both with
//! `ntop.updateRRDGauge` after each run): after each check the check's duration in seconds goes
//! to `<root>/rrdAlarm/duration.rrd` and the number of alarms it fired to
//! `<root>/rrdAlarm/results.rrd`. Both are ntop's kind of file ([`files::update_at`]: one data
//! source named `counter`, GAUGE), made when missing with the check period as their step.
//!
//! The directory is [`ALARM_DIR`], which no probe's directory can be (see
//! `wirewatch_model::archive::probe_dir_name`). The run history proper (every run, exact) is in
//! PostgreSQL (`alarm_runs`); these files are for graphs and for thresholds on the checker
//! itself.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use wirewatch_model::archive::ALARM_DIR;

use crate::RrdError;
use crate::files::{self, Update, Value};

/// The two files, relative to the archive root.
pub const DURATION_FILE: &str = "rrdAlarm/duration.rrd";
pub const RESULTS_FILE: &str = "rrdAlarm/results.rrd";

/// What [`record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Both figures written; `created`: the files were made for them.
    Written { created: bool },
    /// Not written: the files already hold a value for that second (two checks within one
    /// second; librrd keeps one value a second).
    SameSecond,
    /// There is no archive root (the archive is off and nothing made it): nothing to record in.
    NoArchive,
}

/// Writes one check's figures at wall time `at`: its duration (seconds) and the alarms it
/// fired, in files of step `step` (the check period; 0 is taken as 60, the default period).
pub fn record(root: &Path, at: SystemTime, duration_secs: f64, fired: usize, step: u64) -> Result<Recorded, RrdError> {
    if !root.is_dir() {
        return Ok(Recorded::NoArchive);
    }
    let step = if step == 0 { 60 } else { step };
    let dir = root.join(ALARM_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| RrdError::Io(dir.display().to_string(), e))?;
    let secs = at.duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0);
    let duration = if duration_secs.is_finite() { duration_secs.max(0.0) } else { 0.0 };
    let mut created = false;
    let mut same_second = false;
    for (file, value) in [(DURATION_FILE, duration), (RESULTS_FILE, fired as f64)] {
        match files::update_at(&root.join(file), Value::Gauge(value), step, secs)? {
            Update::Written { created: c } => created |= c,
            Update::NotAfterLast { last } => {
                tracing::debug!(file, at = secs, last, "a check in the same second as the last one: not archived");
                same_second = true;
            }
        }
    }
    Ok(if same_second { Recorded::SameSecond } else { Recorded::Written { created } })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_check_is_a_value_and_two_in_a_second_are_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let t0 = 1_700_000_000;
        assert_eq!(record(&dir.path().join("missing"), at(t0), 0.5, 1, 60).unwrap(), Recorded::NoArchive);
        assert!(!dir.path().join("missing").exists());
        assert_eq!(record(dir.path(), at(t0), 0.25, 3, 60).unwrap(), Recorded::Written { created: true });
        assert_eq!(record(dir.path(), at(t0), 0.5, 4, 60).unwrap(), Recorded::SameSecond);
        assert_eq!(record(dir.path(), at(t0 + 60), 0.5, 4, 60).unwrap(), Recorded::Written { created: false });
        for f in [DURATION_FILE, RESULTS_FILE] {
            let p = dir.path().join(f);
            assert_eq!(files::last_update(&p).unwrap(), Some(t0 as i64 + 60));
            let info = rrd::ops::info::info(&p).unwrap();
            assert_eq!(info.get("step").and_then(|v| v.clone().into_count()), Some(60));
            let last = info.get("ds[counter].last_ds").and_then(|v| v.clone().into_string()).unwrap();
            assert_eq!(last, if f == DURATION_FILE { "0.5" } else { "4" });
        }
    }
}
