//! rrdAlarm as the HTTP layer sees it: the thresholds' ten fields ([`ThresholdFields`]), the
//! check's report ([`AlarmCheck`]) and the interface the controller implements ([`Alarms`]:
//! validation with `wirewatch-alarm`'s rules and the check over the archive, which needs
//! librrd's fetch), so the HTTP layer does not link librrd.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::scripts::BoxFuture;

/// A threshold's ten fields in ntop's file order, as the texts given (ntop's
/// `rrdAlarmConfig.txt` columns: ID, RRD file path glob, threshold type `above`/`below`, value,
/// repetitions, start and end in rrdfetch AT-style such as `now-3h`, action, action
/// parameter, seconds before re-arm).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdFields {
    /// A whole number (ntop's ID), unique in the list.
    pub id: String,
    /// A glob below the archive root, e.g. `*/interfaces/*/ethernetBytes.rrd`.
    pub rrd_path: String,
    /// `above` or `below`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub repetitions: String,
    /// rrdfetch AT-style, e.g. `now-3h`.
    pub start: String,
    /// rrdfetch AT-style, e.g. `now`.
    pub end: String,
    /// An action name, or `None`.
    pub action: String,
    pub action_parameter: String,
    pub rearm_secs: String,
}

/// The JSON keys of a threshold's ten fields, in ntop's file order.
pub const FIELD_KEYS: [&str; 10] =
    ["id", "rrd_path", "type", "value", "repetitions", "start", "end", "action", "action_parameter", "rearm_secs"];

impl ThresholdFields {
    /// The ten texts in file order.
    pub fn into_array(self) -> [String; 10] {
        [
            self.id,
            self.rrd_path,
            self.kind,
            self.value,
            self.repetitions,
            self.start,
            self.end,
            self.action,
            self.action_parameter,
            self.rearm_secs,
        ]
    }

    /// From the ten texts in file order.
    pub fn from_array(f: [String; 10]) -> ThresholdFields {
        let [id, rrd_path, kind, value, repetitions, start, end, action, action_parameter, rearm_secs] = f;
        ThresholdFields { id, rrd_path, kind, value, repetitions, start, end, action, action_parameter, rearm_secs }
    }
}

/// One report row (the seed's columns: ID, file, value, type, threshold, time, action,
/// ALARM FIRED / OK), for one threshold and one file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmRow {
    pub threshold_id: u32,
    /// Relative to the archive root.
    pub file: String,
    /// The value that fired; null otherwise (ntop's `-`).
    pub value: Option<f64>,
    /// `above` or `below`.
    #[serde(rename = "type")]
    pub kind: String,
    pub threshold: Option<f64>,
    /// Epoch seconds of the interval that fired, else the end of the fetched window.
    pub time: Option<i64>,
    pub action: String,
    pub action_parameter: String,
    /// `fired` (ALARM FIRED), `ok` (OK) or `error` (the file was not checked).
    pub outcome: String,
    /// Why the file was not checked (outcome `error`).
    pub error: Option<String>,
    /// Crossed often enough to fire, but the re-arm time had not passed (reported OK).
    pub held_by_rearm: bool,
}

/// A threshold whose glob matched no file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmUnmatched {
    pub threshold_id: u32,
    pub glob: String,
}

/// An action run for some events (ntop's grouping: one per action and parameter of a check)
/// and what came of it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmAction {
    pub id: i64,
    pub action: String,
    pub action_parameter: String,
    pub event_ids: Vec<i64>,
    /// `ok`, `failed`, or `pending` (not run yet, or running on another controller).
    pub status: String,
    pub attempts: u32,
    /// The last attempt's error.
    pub error: Option<String>,
}

/// A check's report with its run's figures.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmCheck {
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub thresholds: u64,
    pub files_checked: u64,
    pub alarms_fired: u64,
    /// Thresholds in list order, each one's files sorted.
    pub rows: Vec<AlarmRow>,
    /// Globs that matched no file.
    pub unmatched: Vec<AlarmUnmatched>,
    /// One per action and parameter of the fired rows (action `None` has none).
    pub actions: Vec<AlarmAction>,
    /// The events recorded, one per fired row.
    pub event_ids: Vec<i64>,
}

/// Why a list of thresholds is refused: the row (1-based, in the list given), its ID text and
/// the message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("row {row} (ID {id:?}): {message}")]
pub struct InvalidThreshold {
    pub row: usize,
    pub id: String,
    pub message: String,
}

/// rrdAlarm for the HTTP layer (implemented by the controller).
pub trait Alarms: Send + Sync {
    /// Validates a whole list (each row's fields, IDs unique); the IDs' numbers in order.
    fn validate(&self, rows: &[ThresholdFields]) -> Result<Vec<u32>, InvalidThreshold>;
    /// Runs one check now, as `wirewatch-controller alarm check` does, and waits for it.
    fn check(&self) -> BoxFuture<'_, Result<AlarmCheck, String>>;
    /// The action names a threshold may name (`None`, the built-in ones, then `actions/*.py`).
    fn actions(&self) -> Vec<String>;
}

/// The severities of an alarm event, weakest first.
pub const SEVERITIES: [&str; 4] = ["info", "warning", "error", "critical"];

/// An alarm a script raises (`wirewatch.raise_alarm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaisedAlarm {
    pub name: String,
    /// One of [`SEVERITIES`].
    pub severity: String,
    pub message: String,
    pub subject: String,
    /// The script that raised it (relative to its scripts root).
    pub script: String,
    /// Who ran the script (a user, or `schedule` for a scheduled run).
    pub by: String,
}

/// What raising an alarm did: the event recorded and the action runs started for it (they
/// run on after the call returns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raised {
    pub event_id: i64,
    pub action_ids: Vec<i64>,
}

/// rrdAlarm and alarm events for scripts (implemented by the controller): raising an alarm
/// (an event in PostgreSQL and the actions its routes give it), and what the bundled
/// configurator page needs — validation as the API's, a check now, the actions and archive
/// files to choose from.
pub trait AlarmService: Send + Sync {
    fn raise(&self, alarm: RaisedAlarm) -> BoxFuture<'_, Result<Raised, String>>;
    /// Validates a whole list as `PUT /api/v1/alarms/thresholds` does.
    fn validate(&self, rows: &[ThresholdFields]) -> Result<Vec<u32>, InvalidThreshold>;
    /// Runs one check now; its actions are started, not waited for (a page holds a worker an
    /// action script may need), so they are reported `pending`.
    fn check_now(&self) -> BoxFuture<'_, Result<AlarmCheck, String>>;
    /// The action names a threshold may use here.
    fn actions(&self) -> Vec<String>;
    /// Archive files (relative paths, sorted) starting with `prefix`, at most `limit`.
    fn files(&self, prefix: String, limit: usize) -> BoxFuture<'_, Result<Vec<String>, String>>;
}
