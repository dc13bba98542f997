//! The check: ntop's rrdAlarm algorithm over a set of thresholds.
//!
//! For each threshold, for each file its glob matches (sorted): fetch the file's AVERAGE
//! over the threshold's `[start, end]`, then scan the values newest → oldest. A value beyond
//! the threshold (above: `>`, below: `<`) adds one to a repetition counter, a value inside it
//! sets the counter back to 0. When the counter reaches the threshold's repetitions and the
//! threshold may fire for this file — it never fired for it, or its re-arm time is 0, or more
//! than the re-arm time has passed since it last fired — it fires: the file's row says
//! ALARM FIRED with that value and its time, and the file's scan stops. Otherwise the file's
//! row is OK, timed at the window's end.
//!
//! Deliberate differences from ntop's `start.py`, each a fix of a latent bug:
//! - re-arm is measured on wall time (the `now` given to [`check`]), not CPU time
//!   (`time.clock()`);
//! - the counter and the last firing are kept per threshold *and file*: ntop kept one
//!   counter per threshold, carried from file to file and from one run to the next, and one
//!   last firing per threshold, so a glob's first file to fire silenced the others;
//! - an unknown value (rrdtool's NaN, ntop's `None`) neither counts nor resets the counter,
//!   exactly as ntop's `checkIfFire` returned early on `None`;
//! - a file that cannot be fetched, or a window that is empty, is a row with its error
//!   (ntop printed it to stderr and reported the file OK at 1970).
//!
//! The re-arm state is the caller's to keep ([`RearmState`], a plain map; PostgreSQL in the
//! controller): the check reads it and records each firing in it; entries of a threshold
//! that was edited or removed are the caller's to drop (ntop started afresh whenever its
//! config file changed). Nothing here reads a clock or writes a file.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::at;
use crate::config::{Direction, Threshold};
use crate::fetch::{Fetch, Series};
use crate::paths::Root;

/// Whose last firing a [`RearmState`] entry is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RearmKey {
    pub threshold_id: u32,
    /// The file, relative to the archive root.
    pub file: String,
}

/// The last firing of each threshold and file (wall time).
pub type RearmState = HashMap<RearmKey, SystemTime>;

/// How a file came out of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// ALARM FIRED.
    Fired,
    /// OK: nothing fired.
    Ok,
    /// The file was not checked: it could not be fetched, or the window is empty.
    Error(String),
}

/// One report row (the seed's columns: ID, file, value, type, threshold, time, action,
/// ALARM FIRED / OK), for one threshold and one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub threshold_id: u32,
    /// Relative to the archive root.
    pub file: String,
    /// The value that fired; `None` otherwise (ntop's `-`).
    pub value: Option<f64>,
    pub direction: Direction,
    pub threshold: f64,
    /// Epoch seconds: the end of the interval whose value fired, else the end of the fetched
    /// window; `None` when nothing was fetched.
    pub time: Option<i64>,
    /// The action script's name, or `None` (ntop's text for no action).
    pub action: String,
    pub action_parameter: String,
    pub outcome: Outcome,
    /// Values crossed often enough to fire, but the re-arm time since the last firing had
    /// not passed (reported OK, as ntop did).
    pub held_by_rearm: bool,
}

/// A threshold whose glob matched no file (reported apart, as ntop's `noFilesLine`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmatched {
    pub threshold_id: u32,
    pub glob: String,
}

/// A check's outcome.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CheckReport {
    /// Thresholds in the order given, each one's files sorted.
    pub rows: Vec<ResultRow>,
    pub unmatched: Vec<Unmatched>,
    /// Files checked (rows other than errors).
    pub files_checked: usize,
    pub alarms_fired: usize,
}

impl CheckReport {
    /// The rows that fired.
    pub fn fired(&self) -> impl Iterator<Item = &ResultRow> {
        self.rows.iter().filter(|r| r.outcome == Outcome::Fired)
    }

    /// The report as ntop's page laid it out: a tab-separated table with its header, times
    /// in UTC, `-` for no value, `None` as the action of a row that did not fire.
    pub fn table(&self) -> String {
        let mut s = String::from("ID\tFile\tValue\tType\tThreshold\tTime\tAction\tStatus\n");
        for r in &self.rows {
            let value = r.value.map_or_else(|| "-".to_string(), |v| format!("{v:?}"));
            let time = r.time.map_or_else(|| "-".to_string(), at::format_report_time);
            let (action, status) = match &r.outcome {
                Outcome::Fired => (r.action.as_str(), "ALARM FIRED".to_string()),
                Outcome::Ok => ("None", "OK".to_string()),
                Outcome::Error(e) => ("None", format!("ERROR: {e}")),
            };
            s.push_str(&format!(
                "{}\t{}\t{}\t{}\t{:?}\t{}\t{}\t{}\n",
                r.threshold_id,
                r.file,
                value,
                r.direction.as_str(),
                r.threshold,
                time,
                action,
                status
            ));
        }
        for u in &self.unmatched {
            s.push_str(&format!("{}\t{}\tno file matches\n", u.threshold_id, u.glob));
        }
        s
    }
}

/// What a scan of one file's values found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scan {
    Fired { time: i64, value: f64 },
    Quiet { held_by_rearm: bool },
}

/// May a threshold fire again, last fired at `last`, at wall time `now`?
fn armed(rearm_secs: f64, last: Option<SystemTime>, now: SystemTime) -> bool {
    match last {
        None => true,
        Some(_) if rearm_secs == 0.0 => true,
        // A clock that went back counts as no time passed.
        Some(last) => now.duration_since(last).unwrap_or(Duration::ZERO).as_secs_f64() > rearm_secs,
    }
}

/// ntop's scan of one file's values, newest first.
pub(crate) fn scan(t: &Threshold, series: &Series, last: Option<SystemTime>, now: SystemTime) -> Scan {
    let mut count: u32 = 0;
    let mut held = false;
    for &(time, value) in series.points.iter().rev() {
        let Some(v) = value else { continue };
        if !t.direction.crosses(v, t.value) {
            count = 0;
            continue;
        }
        count = count.saturating_add(1);
        if count >= t.repetitions {
            if armed(t.rearm_secs, last, now) {
                return Scan::Fired { time, value: v };
            }
            held = true;
        }
    }
    Scan::Quiet { held_by_rearm: held }
}

/// Checks `thresholds` against the files under `root`, at wall time `now` (which also
/// resolves the AT-style windows), reading and updating the re-arm `state`.
pub fn check(
    root: &Path,
    thresholds: &[Threshold],
    fetch: &impl Fetch,
    now: SystemTime,
    state: &mut RearmState,
) -> CheckReport {
    let root = Root::new(root);
    let now_secs = crate::fetch::epoch_secs(now);
    let mut report = CheckReport::default();
    for t in thresholds {
        let row = |file: String, outcome: Outcome| ResultRow {
            threshold_id: t.id,
            file,
            value: None,
            direction: t.direction,
            threshold: t.value,
            time: None,
            action: t.action.clone(),
            action_parameter: t.action_parameter.clone(),
            outcome,
            held_by_rearm: false,
        };
        let matches = match root.matches(&t.glob) {
            Ok(m) => m,
            Err(e) => {
                report.rows.push(row(t.glob.clone(), Outcome::Error(e.to_string())));
                continue;
            }
        };
        if matches.files.is_empty() && matches.unreadable.is_empty() {
            report.unmatched.push(Unmatched { threshold_id: t.id, glob: t.glob.clone() });
            continue;
        }
        for (file, why) in matches.unreadable {
            report.rows.push(row(file, Outcome::Error(why)));
        }
        let window = at::resolve_window(&t.start, &t.end, now_secs);
        for m in matches.files {
            let (start, end) = match &window {
                Ok(w) => *w,
                Err(e) => {
                    report.rows.push(row(m.relative, Outcome::Error(e.to_string())));
                    continue;
                }
            };
            let series = match fetch.fetch(&m.path, start, end) {
                Ok(s) => s,
                Err(e) => {
                    report.rows.push(row(m.relative, Outcome::Error(e.to_string())));
                    continue;
                }
            };
            report.files_checked += 1;
            let key = RearmKey { threshold_id: t.id, file: m.relative };
            let mut r = row(key.file.clone(), Outcome::Ok);
            match scan(t, &series, state.get(&key).copied(), now) {
                Scan::Fired { time, value } => {
                    r.outcome = Outcome::Fired;
                    r.value = Some(value);
                    r.time = Some(time);
                    report.alarms_fired += 1;
                    state.insert(key, now);
                }
                Scan::Quiet { held_by_rearm } => {
                    r.time = Some(series.end);
                    r.held_by_rearm = held_by_rearm;
                }
            }
            report.rows.push(r);
        }
    }
    report
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn threshold(direction: &str, value: &str, reps: &str, rearm: &str) -> Threshold {
        Threshold::from_fields(&["1", "x.rrd", direction, value, reps, "now-1h", "now", "None", "", rearm]).unwrap()
    }

    fn series(values: &[Option<f64>]) -> Series {
        let points = values.iter().enumerate().map(|(i, v)| (1000 + 60 * i as i64, *v)).collect();
        Series { step: 60, end: 1000 + 60 * values.len() as i64, points }
    }

    const NOW: SystemTime = UNIX_EPOCH;

    /// Newest first: the newest crossing run long enough fires, at its oldest value needed.
    #[test]
    fn scan_newest_to_oldest_with_repetitions() {
        let t = threshold("above", "10", "2", "0");
        // Times 1000, 1060, 1120, 1180, 1240.
        let s = series(&[Some(50.0), Some(40.0), Some(1.0), Some(20.0), Some(30.0)]);
        assert_eq!(scan(&t, &s, None, NOW), Scan::Fired { time: 1180, value: 20.0 });
        // Three needed: the newest run has two, then a value inside resets; the older run of
        // two does not reach three.
        let t3 = threshold("above", "10", "3", "0");
        assert_eq!(scan(&t3, &s, None, NOW), Scan::Quiet { held_by_rearm: false });
        // Equal is not beyond (ntop's strict comparisons).
        let eq = threshold("above", "50", "0", "0");
        assert_eq!(scan(&eq, &s, None, NOW), Scan::Quiet { held_by_rearm: false });
        let below = threshold("below", "1", "0", "0");
        assert_eq!(scan(&below, &s, None, NOW), Scan::Quiet { held_by_rearm: false });
        let below = threshold("below", "1.5", "1", "0");
        assert_eq!(scan(&below, &s, None, NOW), Scan::Fired { time: 1120, value: 1.0 });
    }

    /// Unknown values are skipped: they neither count nor break a run.
    #[test]
    fn unknown_values_neither_count_nor_reset() {
        let t = threshold("above", "10", "2", "0");
        let s = series(&[Some(5.0), Some(20.0), None, Some(30.0), None]);
        assert_eq!(scan(&t, &s, None, NOW), Scan::Fired { time: 1060, value: 20.0 });
        let only_unknown = series(&[None, None, None]);
        let t0 = threshold("below", "10", "0", "0");
        assert_eq!(scan(&t0, &only_unknown, None, NOW), Scan::Quiet { held_by_rearm: false });
    }

    #[test]
    fn rearm_on_wall_time() {
        let t = threshold("above", "10", "1", "600");
        let s = series(&[Some(20.0)]);
        let last = UNIX_EPOCH + Duration::from_secs(10_000);
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(scan(&t, &s, Some(last), at(10_000 + 600)), Scan::Quiet { held_by_rearm: true });
        assert_eq!(scan(&t, &s, Some(last), at(10_000 + 601)), Scan::Fired { time: 1000, value: 20.0 });
        // A clock that went back does not re-arm early.
        assert_eq!(scan(&t, &s, Some(last), at(5000)), Scan::Quiet { held_by_rearm: true });
        // Re-arm 0: every check fires.
        let t0 = threshold("above", "10", "1", "0");
        assert_eq!(scan(&t0, &s, Some(last), at(10_000)), Scan::Fired { time: 1000, value: 20.0 });
    }
}
