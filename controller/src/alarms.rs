//! rrdAlarm from the command line: `alarm import FILE` and `alarm export` (ntop's
//! `rrdAlarmConfig.txt`, thresholds stored in PostgreSQL), `alarm check` (ntop's check over
//! this controller's RRD archive at wall time, re-arm state and a run row saved in PostgreSQL).
//!
//! Actions are not run yet (issue 11, part 5): a firing's action is reported as "recorded,
//! not run" — the firing is recorded (re-arm state and run history), the action is not.

use std::path::Path;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use wirewatch_alarm::config::{ConfigFile, Field};
use wirewatch_alarm::{CheckReport, Outcome, RearmKey, RearmState, RrdFetch, Threshold};
use wirewatch_model::BoxFuture;
use wirewatch_model::alarms::{
    AlarmAction, AlarmCheck, AlarmRow, AlarmUnmatched, Alarms, InvalidThreshold, ThresholdFields,
};
use wirewatch_rrd::alarm_history;
use wirewatch_store::Store;
use wirewatch_store::alarms::{AlarmRun, NewThreshold, Rearm};

use crate::admin::Format;
use crate::{Config, Database};

/// What a firing's action came to (until actions run: recorded, not run).
pub const ACTION_NOT_RUN: &str = "recorded, not run";

/// `alarm import FILE` (`-`: standard input): the file replaces every stored threshold, or,
/// when any line is wrong, nothing is stored and the error names every wrong line.
pub async fn import(cfg: &Config, file: &Path) -> anyhow::Result<()> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let parsed =
        ConfigFile::parse(&text).map_err(|e| anyhow::anyhow!("{} refused, nothing imported:\n{e}", file.display()))?;
    let rows: Vec<NewThreshold> =
        parsed.thresholds().map(|t| NewThreshold { id: i64::from(t.id), fields: t.fields().clone() }).collect();
    let db = Database::open(cfg).await?;
    let r = db.store.replace_alarm_thresholds(&rows, &format!("import {}", file.display())).await;
    db.close().await;
    let r = r?;
    println!(
        "imported {} thresholds from {} ({} unchanged; {} re-arm states of removed or edited thresholds dropped)",
        r.thresholds,
        file.display(),
        r.unchanged,
        r.rearm_dropped
    );
    Ok(())
}

fn thresholds(stored: &[wirewatch_store::alarms::StoredThreshold]) -> anyhow::Result<Vec<Threshold>> {
    stored
        .iter()
        .map(|s| Threshold::from_fields(&s.fields).with_context(|| format!("stored threshold {} is not valid", s.id)))
        .collect()
}

/// `alarm export`: the stored thresholds as ntop's configurator saved them (its comment line,
/// then one tab-separated row each, every row as it was imported).
pub async fn export(cfg: &Config) -> anyhow::Result<()> {
    let db = Database::open(cfg).await?;
    let r = db.store.alarm_thresholds().await;
    db.close().await;
    let file = ConfigFile::from_thresholds(thresholds(&r?)?);
    print!("{}", file.format());
    Ok(())
}

/// A fired row's action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    pub threshold_id: u32,
    pub file: String,
    pub action: String,
    pub action_parameter: String,
    /// [`ACTION_NOT_RUN`] until actions run.
    pub status: &'static str,
}

/// A check's report (the seed's rows) with its run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutput {
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub thresholds: usize,
    #[serde(flatten)]
    pub report: CheckReport,
    /// One per fired row whose action is not `None`.
    pub actions: Vec<ActionRecord>,
}

impl CheckOutput {
    /// The seed's table, the actions, and a summary line.
    pub fn table(&self) -> String {
        let mut s = self.report.table();
        for a in &self.actions {
            s.push_str(&format!(
                "action\t{}\t{}\t{}\t{}\t{} (actions are not run yet)\n",
                a.threshold_id, a.file, a.action, a.action_parameter, a.status
            ));
        }
        s.push_str(&format!(
            "{} thresholds, {} files checked, {} alarms fired, {} globs matched no file, in {:.1} ms\n",
            self.thresholds,
            self.report.files_checked,
            self.report.alarms_fired,
            self.report.unmatched.len(),
            self.duration_ms
        ));
        s
    }
}

/// One check at wall time over the archive root: thresholds and re-arm state read, new
/// firings and the run saved, in one transaction that holds the alarms' lock.
pub async fn run_check(store: &Store, root: &Path, controller: &str) -> anyhow::Result<CheckOutput> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut tx = store.begin_alarm_check().await?;
    let list = thresholds(&tx.thresholds().await?)?;
    let mut state = RearmState::new();
    for r in tx.rearm().await? {
        // Rows of IDs out of range cannot come from an import; skipped rather than trusted.
        if let Ok(id) = u32::try_from(r.threshold_id) {
            state.insert(RearmKey { threshold_id: id, file: r.file }, SystemTime::from(r.fired_at));
        }
    }
    let count = list.len();
    let check_root = root.to_path_buf();
    let report = tokio::task::spawn_blocking(move || {
        let mut state = state;
        wirewatch_alarm::check(&check_root, &list, &RrdFetch, started, &mut state)
    })
    .await
    .context("the check panicked")?;
    let started_at = DateTime::<Utc>::from(started);
    let fired: Vec<Rearm> = report
        .fired()
        .map(|r| Rearm { threshold_id: i64::from(r.threshold_id), file: r.file.clone(), fired_at: started_at })
        .collect();
    tx.save_rearm(&fired).await?;
    let duration_ms = clock.elapsed().as_secs_f64() * 1000.0;
    let small = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    tx.finish(&AlarmRun {
        started_at,
        duration_ms,
        thresholds: small(count),
        files_checked: small(report.files_checked),
        alarms_fired: small(report.alarms_fired),
        controller: controller.to_string(),
    })
    .await?;
    if let Err(e) = alarm_history::record(
        root,
        SystemTime::now(),
        duration_ms / 1000.0,
        report.alarms_fired,
        crate::alarm_history_step(),
    ) {
        tracing::warn!(error = %e, "writing rrdAlarm's history archives (rrdAlarm/duration.rrd, results.rrd)");
    }
    let actions = report
        .fired()
        .filter(|r| r.action != wirewatch_alarm::config::NO_ACTION)
        .map(|r| ActionRecord {
            threshold_id: r.threshold_id,
            file: r.file.clone(),
            action: r.action.clone(),
            action_parameter: r.action_parameter.clone(),
            status: ACTION_NOT_RUN,
        })
        .collect();
    Ok(CheckOutput { started_at, duration_ms, thresholds: count, report, actions })
}

/// `alarm check [--format json|table]`.
pub async fn check(cfg: &Config, format: Format) -> anyhow::Result<()> {
    let db = Database::open(cfg).await?;
    let root = cfg.rrd.root(&cfg.data_dir);
    let name = if cfg.name.is_empty() {
        format!("{}:{}", crate::hostname(), cfg.quic_listen.port())
    } else {
        cfg.name.clone()
    };
    let r = run_check(&db.store, &root, &name).await;
    db.close().await;
    let out = r?;
    match format {
        Format::Json => println!("{}", serde_json::to_string(&out)?),
        Format::Table => print!("{}", out.table()),
    }
    Ok(())
}

/// Validates a list of thresholds as `alarm import` does a file: every row's fields with
/// [`Threshold::from_fields`], IDs unique. The IDs' numbers, in order.
pub fn validate_rows(rows: &[ThresholdFields]) -> Result<Vec<u32>, InvalidThreshold> {
    let mut seen: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut ids = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let row = i + 1;
        let fields = r.clone().into_array();
        let t = Threshold::from_fields(&fields).map_err(|e| InvalidThreshold {
            row,
            id: r.id.clone(),
            message: e.to_string(),
        })?;
        if let Some(first) = seen.insert(t.id, row) {
            return Err(InvalidThreshold {
                row,
                id: r.id.clone(),
                message: format!("{}: {:?}: the same ID as row {first}", Field::Id, r.id),
            });
        }
        ids.push(t.id);
    }
    Ok(ids)
}

/// A check's output as the API reports it.
pub fn api_report(out: CheckOutput) -> AlarmCheck {
    let rows = out
        .report
        .rows
        .into_iter()
        .map(|r| {
            let (outcome, error) = match r.outcome {
                Outcome::Fired => ("fired", None),
                Outcome::Ok => ("ok", None),
                Outcome::Error(e) => ("error", Some(e)),
            };
            AlarmRow {
                threshold_id: r.threshold_id,
                file: r.file,
                value: r.value.filter(|v| v.is_finite()),
                kind: r.direction.as_str().to_string(),
                threshold: Some(r.threshold).filter(|v| v.is_finite()),
                time: r.time,
                action: r.action,
                action_parameter: r.action_parameter,
                outcome: outcome.to_string(),
                error,
                held_by_rearm: r.held_by_rearm,
            }
        })
        .collect();
    AlarmCheck {
        started_at: out.started_at,
        duration_ms: out.duration_ms,
        thresholds: out.thresholds as u64,
        files_checked: out.report.files_checked as u64,
        alarms_fired: out.report.alarms_fired as u64,
        rows,
        unmatched: out
            .report
            .unmatched
            .into_iter()
            .map(|u| AlarmUnmatched { threshold_id: u.threshold_id, glob: u.glob })
            .collect(),
        actions: out
            .actions
            .into_iter()
            .map(|a| AlarmAction {
                threshold_id: a.threshold_id,
                file: a.file,
                action: a.action,
                action_parameter: a.action_parameter,
                status: a.status.to_string(),
            })
            .collect(),
    }
}

/// rrdAlarm for the JSON API: validation and checks of this controller's archive.
pub struct ApiAlarms {
    pub store: Store,
    pub root: std::path::PathBuf,
    pub controller: String,
}

impl Alarms for ApiAlarms {
    fn validate(&self, rows: &[ThresholdFields]) -> Result<Vec<u32>, InvalidThreshold> {
        validate_rows(rows)
    }

    fn check(&self) -> BoxFuture<'_, Result<AlarmCheck, String>> {
        Box::pin(async move {
            run_check(&self.store, &self.root, &self.controller).await.map(api_report).map_err(|e| format!("{e:#}"))
        })
    }
}
