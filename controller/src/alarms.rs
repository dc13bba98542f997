//! rrdAlarm from the command line: `alarm import FILE` and `alarm export` (ntop's
//! `rrdAlarmConfig.txt`, thresholds stored in PostgreSQL), `alarm check` (ntop's check over
//! this controller's RRD archive at wall time, re-arm state and a run row saved in PostgreSQL).
//!
//! A check records one event per firing and one action run per action and parameter (ntop's
//! grouping), pending and claimed by this controller, in the check's transaction; the caller
//! then runs the actions (`dispatch`) and, for the CLI and the API, waits for them.

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
use wirewatch_store::events::{NewAction, NewEvent};

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::actions::{ActionRunner, ActionSpec};
use crate::admin::Format;
use crate::dispatch::Dispatcher;
use crate::metrics::{Metrics, SeverityLabel};
use crate::{Config, Database};

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
    // The actions too, as the API's validation does (a script action's file must exist).
    let runner = ActionRunner::new(cfg, "import", None).map_err(|e| anyhow::anyhow!("alarm actions: {e}"))?;
    let wrong: Vec<String> = parsed
        .thresholds()
        .filter(|t| t.field(Field::Action) != wirewatch_alarm::config::NO_ACTION)
        .filter_map(|t| {
            let spec = ActionSpec::new(t.field(Field::Action), t.field(Field::ActionParameter));
            runner.validate_stored(&spec).err().map(|e| format!("threshold {}: {}: {e}", t.id, Field::Action))
        })
        .collect();
    anyhow::ensure!(wrong.is_empty(), "{} refused, nothing imported:\n{}", file.display(), wrong.join("\n"));
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

/// What an action run came to.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    pub id: i64,
    pub action: String,
    pub action_parameter: String,
    /// The events it was run for.
    pub event_ids: Vec<i64>,
    /// `ok`, `failed`, or `pending` (not run yet, or run elsewhere).
    pub status: String,
    pub attempts: u32,
    pub error: Option<String>,
}

/// A check's report (the seed's rows) with its run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutput {
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub thresholds: usize,
    #[serde(flatten)]
    pub report: CheckReport,
    /// The events recorded, one per fired row.
    pub event_ids: Vec<i64>,
    /// The action runs recorded (pending until run).
    #[serde(skip)]
    pub action_ids: Vec<i64>,
    /// What each action run came to, once run: one per action and parameter of the fired rows.
    pub actions: Vec<ActionRecord>,
}

impl CheckOutput {
    /// The seed's table, the actions, and a summary line.
    pub fn table(&self) -> String {
        let mut s = self.report.table();
        for a in &self.actions {
            s.push_str(&format!(
                "action\t{}\t{}\t{} event(s)\t{} after {} attempt(s){}\n",
                a.action,
                a.action_parameter,
                a.event_ids.len(),
                a.status,
                a.attempts,
                a.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
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

/// How long a controller holds the actions it inserted before another may run them (it died).
pub const ACTION_LEASE: std::time::Duration = std::time::Duration::from_secs(600);

/// The events of a check's fired rows (one each) and its actions (one per action and
/// parameter, with every event of the check that names it, as ntop grouped them).
fn events_of(
    report: &CheckReport,
    at: DateTime<Utc>,
    controller: &str,
    probes: &std::collections::HashMap<String, i64>,
    windows: &std::collections::HashMap<u32, (String, String)>,
) -> (Vec<NewEvent>, Vec<NewAction>) {
    let mut events = Vec::new();
    let mut actions: Vec<NewAction> = Vec::new();
    for r in report.fired() {
        let probe_id = r.file.split('/').next().and_then(|dir| probes.get(dir)).copied();
        let value = r.value.filter(|v| v.is_finite());
        let value_at = r.time.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
        let when = value_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_else(|| "-".into());
        let window = windows.get(&r.threshold_id);
        let message = format!(
            "{}: value {} is {} the threshold {} at {} (threshold {})",
            r.file,
            value.map_or_else(|| "-".to_string(), |v| format!("{v}")),
            r.direction.as_str(),
            r.threshold,
            when,
            r.threshold_id
        );
        let index = events.len() as i64;
        events.push(NewEvent {
            raised_at: at,
            source: "threshold".into(),
            name: format!("threshold {}", r.threshold_id),
            severity: "warning".into(),
            subject: r.file.clone(),
            message,
            probe_id,
            threshold_id: Some(i64::from(r.threshold_id)),
            value,
            threshold: Some(r.threshold).filter(|v| v.is_finite()),
            direction: Some(r.direction.as_str().to_string()),
            value_at,
            window_start: window.map(|w| w.0.clone()),
            window_end: window.map(|w| w.1.clone()),
            controller: controller.to_string(),
        });
        if r.action == wirewatch_alarm::config::NO_ACTION {
            continue;
        }
        match actions.iter_mut().find(|a| a.action == r.action && a.parameter == r.action_parameter) {
            Some(a) => a.events.push(index),
            None => actions.push(NewAction {
                action: r.action.clone(),
                parameter: r.action_parameter.clone(),
                events: vec![index],
            }),
        }
    }
    (events, actions)
}

/// One check at wall time over the archive root: thresholds and re-arm state read; new
/// firings, their events, their actions (pending, claimed by this controller) and the run
/// saved in one transaction that holds the alarms' lock. The actions are the caller's to run.
pub async fn run_check(store: &Store, root: &Path, controller: &str, history_step: u64) -> anyhow::Result<CheckOutput> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let probes: std::collections::HashMap<String, i64> = store
        .probe_ids()
        .await?
        .into_iter()
        .map(|(id, name)| (wirewatch_model::archive::dir_name(&name), id))
        .collect();
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
    let windows: std::collections::HashMap<u32, (String, String)> =
        list.iter().map(|t| (t.id, (t.field(Field::Start).to_string(), t.field(Field::End).to_string()))).collect();
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
    let (events, actions) = events_of(&report, started_at, controller, &probes, &windows);
    let lease = chrono::Duration::from_std(ACTION_LEASE).unwrap_or(chrono::Duration::minutes(10));
    let (event_ids, action_ids) = tx.record_events(&events, &actions, controller, Utc::now() + lease).await?;
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
    if let Err(e) =
        alarm_history::record(root, SystemTime::now(), duration_ms / 1000.0, report.alarms_fired, history_step)
    {
        tracing::warn!(error = %e, "writing rrdAlarm's history archives (rrdAlarm/duration.rrd, results.rrd)");
    }
    Ok(CheckOutput { started_at, duration_ms, thresholds: count, report, event_ids, action_ids, actions: Vec::new() })
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
    let r = async {
        let engine = if cfg.python.enabled {
            Some(
                wirewatch_python::Engine::start(
                    db.store.clone(),
                    None,
                    crate::engine_info(cfg, &name),
                    cfg.python.clone(),
                )
                .context("starting the Python engine for the actions")?,
            )
        } else {
            None
        };
        let scripts = engine.map(|e| Arc::new(e) as Arc<dyn wirewatch_model::scripts::Scripts>);
        let runner = ActionRunner::new(cfg, &name, scripts).map_err(|e| anyhow::anyhow!("alarm actions: {e}"))?;
        let d = Dispatcher::new(db.store.clone(), Arc::new(runner), name.clone(), None);
        check_and_act(&d, &root, cfg.alarms.history_step()).await
    }
    .await;
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
pub fn validate_rows(rows: &[ThresholdFields], runner: &ActionRunner) -> Result<Vec<u32>, InvalidThreshold> {
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
        let action = t.field(Field::Action);
        if action != wirewatch_alarm::config::NO_ACTION {
            let spec = ActionSpec::new(action, t.field(Field::ActionParameter));
            runner.validate_stored(&spec).map_err(|e| InvalidThreshold {
                row,
                id: r.id.clone(),
                message: format!("{}: {e}", Field::Action),
            })?;
        }
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
                id: a.id,
                action: a.action,
                action_parameter: a.action_parameter,
                event_ids: a.event_ids,
                status: a.status,
                attempts: a.attempts,
                error: a.error,
            })
            .collect(),
        event_ids: out.event_ids,
    }
}

/// Starts this controller's side of rrdAlarm: the action runner (with the Python engine for
/// action scripts), the dispatcher, the engine's alarm service (`wirewatch.raise_alarm`, the
/// configurator page), the scheduled scripts and the periodic task (checks, the firing gauge,
/// stale actions). The dispatcher, for the API's checks.
#[allow(clippy::too_many_arguments)]
pub fn start(
    cfg: &Config,
    name: &str,
    store: &Store,
    metrics: &Arc<Metrics>,
    engine: Option<&wirewatch_python::Engine>,
    archives: Option<Arc<dyn wirewatch_model::archive::Archives>>,
    tasks: &mut tokio::task::JoinSet<()>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Dispatcher> {
    let scripts = engine.map(|e| Arc::new(e.clone()) as Arc<dyn wirewatch_model::scripts::Scripts>);
    let runner =
        Arc::new(ActionRunner::new(cfg, name, scripts.clone()).map_err(|e| anyhow::anyhow!("alarm actions: {e}"))?);
    for r in &cfg.alarms.route {
        r.validate(&runner)?;
    }
    let root = cfg.rrd.root(&cfg.data_dir);
    let dispatcher = Dispatcher::new(store.clone(), runner.clone(), name.to_string(), Some(metrics.clone()));
    if let Some(engine) = engine {
        engine.set_alarm_service(Arc::new(crate::dispatch::ScriptAlarms {
            dispatcher: dispatcher.clone(),
            routes: cfg.alarms.route.clone(),
            root: root.clone(),
            history_step: cfg.alarms.history_step(),
            archives,
        }));
    }
    match &scripts {
        Some(s) => {
            crate::schedule::start(tasks, store.clone(), s.clone(), runner, &cfg.schedule, name, shutdown.clone())
        }
        None => anyhow::ensure!(
            cfg.schedule.is_empty(),
            "[[schedule]] runs Python scripts: it needs the Python engine ([python] enabled)"
        ),
    }
    tasks.spawn(periodic(
        dispatcher.clone(),
        metrics.clone(),
        root,
        Duration::from_secs(cfg.alarms.check_every_secs),
        shutdown.clone(),
    ));
    Ok(dispatcher)
}

/// A check, then its actions run at once and waited for (the CLI's and the API's check).
pub async fn check_and_act(d: &Dispatcher, root: &Path, history_step: u64) -> anyhow::Result<CheckOutput> {
    let mut out = run_check(&d.store, root, &d.controller, history_step).await?;
    out.actions = d.run(&out.action_ids).await;
    Ok(out)
}

/// rrdAlarm for the JSON API: validation and checks of this controller's archive.
pub struct ApiAlarms {
    pub dispatcher: Dispatcher,
    pub root: std::path::PathBuf,
    /// The step of rrdAlarm's history files.
    pub history_step: u64,
}

impl Alarms for ApiAlarms {
    fn validate(&self, rows: &[ThresholdFields]) -> Result<Vec<u32>, InvalidThreshold> {
        validate_rows(rows, &self.dispatcher.runner)
    }

    fn check(&self) -> BoxFuture<'_, Result<AlarmCheck, String>> {
        Box::pin(async move {
            check_and_act(&self.dispatcher, &self.root, self.history_step)
                .await
                .map(api_report)
                .map_err(|e| format!("{e:#}"))
        })
    }

    fn actions(&self) -> Vec<String> {
        let mut all = vec![wirewatch_alarm::config::NO_ACTION.to_string()];
        all.extend(self.dispatcher.runner.available());
        all
    }
}

/// rrdAlarm's periodic check: every `every`, the controller holding the `alarm_check` job's
/// lease checks the thresholds over its archive (the check's own transaction holds the
/// alarms' lock, as `alarm check` and the API's check do) and starts the fired thresholds'
/// actions without waiting for them. Every controller, on every tick, refreshes the firing
/// gauge and runs the actions a dead controller left pending.
pub async fn periodic(
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    root: std::path::PathBuf,
    every: Duration,
    shutdown: CancellationToken,
) {
    let store = dispatcher.store.clone();
    let name = dispatcher.controller.clone();
    let tick = every.min(Duration::from_secs(5)).max(Duration::from_millis(200));
    let recovering = Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.cancelled() => break,
        }
        match store.open_events().await {
            Ok(open) => {
                metrics.alarms_open.clear();
                for (severity, n) in open {
                    metrics.alarms_open.get_or_create(&SeverityLabel { severity }).set(n);
                }
            }
            Err(e) => tracing::warn!(error = %e, "counting open alarm events"),
        }
        if !recovering.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let (d, flag) = (dispatcher.clone(), recovering.clone());
            tokio::spawn(async move {
                d.recover().await;
                flag.store(false, std::sync::atomic::Ordering::Release);
            });
        }
        if every.is_zero() || !root.is_dir() {
            // No periodic check here; a controller without an archive takes no period from
            // one that has it.
            continue;
        }
        let lease = match store.lease_job("alarm_check", every).await {
            Ok(Some(lease)) => lease,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "taking the alarm check's lease");
                continue;
            }
        };
        match run_check(&store, &root, &name, every.as_secs().max(1)).await {
            Ok(out) => {
                metrics.alarm_checks.inc();
                metrics.alarm_check_seconds.set(out.duration_ms / 1000.0);
                let detail = format!(
                    "{} thresholds, {} files checked, {} alarms fired, {} globs matched no file, {} actions",
                    out.thresholds,
                    out.report.files_checked,
                    out.report.alarms_fired,
                    out.report.unmatched.len(),
                    out.action_ids.len()
                );
                tracing::info!(%detail, "alarm check ran");
                if let Err(e) = lease.finish(&name, &detail).await {
                    tracing::warn!(error = %e, "recording the alarm check's run");
                }
                let d = dispatcher.clone();
                tokio::spawn(async move {
                    d.run(&out.action_ids).await;
                });
            }
            // The lease is dropped with its transaction: the period stays open to any controller.
            Err(e) => tracing::warn!(error = format!("{e:#}"), "alarm check failed"),
        }
    }
}
