//! Running recorded action runs: a check or a raised alarm inserts its actions as `pending`
//! rows claimed by this controller (store::events); the dispatcher loads each row's events,
//! runs the action through [`ActionRunner`] (attempts with backoff, each bounded in time) and
//! records the outcome. Runs go on concurrently, so one failing action never delays another.
//! Rows a dead controller left pending are claimed again once their lease has run out
//! ([`Dispatcher::recover`], called before every periodic check): an action runs at least once.

use std::sync::Arc;

use wirewatch_store::Store;
use wirewatch_store::events::{ActionRun, Event, NewEvent};

use crate::actions::{ActionRunner, ActionSpec, Alarm};
use crate::alarms::{ACTION_LEASE, ActionRecord};

/// Runs recorded actions on this controller (cheap to clone).
#[derive(Clone)]
pub struct Dispatcher {
    pub store: Store,
    pub runner: Arc<ActionRunner>,
    pub controller: String,
    /// Where finished runs are counted (`None` in the CLI).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Action runs going at once on this controller (the rest wait their turn).
    pub slots: Arc<tokio::sync::Semaphore>,
}

/// Action runs going at once on one controller.
pub const MAX_CONCURRENT_ACTIONS: usize = 16;

impl Dispatcher {
    pub fn new(
        store: Store,
        runner: Arc<ActionRunner>,
        controller: String,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Dispatcher {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_ACTIONS));
        Dispatcher { store, runner, controller, metrics, slots }
    }
}

fn alarm(e: &Event) -> Alarm {
    Alarm {
        event_id: e.id,
        name: e.event.name.clone(),
        severity: e.event.severity.clone(),
        subject: e.event.subject.clone(),
        message: e.event.message.clone(),
        raised_at: e.event.raised_at,
        threshold_id: e.event.threshold_id.and_then(|t| u32::try_from(t).ok()),
        value: e.event.value,
        threshold: e.event.threshold,
        direction: e.event.direction.clone(),
        value_at: e.event.value_at,
        window_start: e.event.window_start.clone(),
        window_end: e.event.window_end.clone(),
        probe_id: e.event.probe_id,
    }
}

fn record(run: &ActionRun, status: &str, attempts: u32, error: Option<String>) -> ActionRecord {
    ActionRecord {
        id: run.id,
        action: run.action.clone(),
        action_parameter: run.parameter.clone(),
        event_ids: run.event_ids.clone(),
        status: status.to_string(),
        attempts,
        error,
    }
}

impl Dispatcher {
    /// Runs the given recorded actions (claimed by this controller) at once, each on its own
    /// task, and waits for all: what each came to, in ID order.
    pub async fn run(&self, ids: &[i64]) -> Vec<ActionRecord> {
        if ids.is_empty() {
            return Vec::new();
        }
        match self.store.action_runs(ids).await {
            Ok(runs) => self.run_rows(runs).await,
            Err(e) => {
                tracing::warn!(error = %e, "loading action runs; they stay pending for the next controller");
                Vec::new()
            }
        }
    }

    async fn run_rows(&self, runs: Vec<ActionRun>) -> Vec<ActionRecord> {
        let mut set = tokio::task::JoinSet::new();
        for run in runs {
            let me = self.clone();
            set.spawn(async move { me.run_one(run).await });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(rec) => out.push(rec),
                Err(e) => tracing::error!(error = %e, "an action task panicked; its run stays pending"),
            }
        }
        out.sort_by_key(|r| r.id);
        out
    }

    async fn run_one(&self, run: ActionRun) -> ActionRecord {
        // Never closed: an error here cannot happen, and running anyway is the safe side.
        let _slot = self.slots.acquire().await.ok();
        let events = match self.store.events_by_id(&run.event_ids).await {
            Ok(e) => e,
            Err(e) => return record(&run, "pending", 0, Some(format!("loading its events: {e}"))),
        };
        let alarms: Vec<Alarm> = events.iter().map(alarm).collect();
        let spec = ActionSpec::new(run.action.clone(), run.parameter.clone());
        let (id, action) = (run.id, run.action.clone());
        let outcome = self
            .runner
            .run(&spec, &alarms, move |n, r| {
                if let Err(e) = r {
                    tracing::warn!(action_run = id, %action, attempt = n, error = %e, "alarm action attempt failed");
                }
            })
            .await;
        let error = outcome.last_error.as_ref().map(ToString::to_string);
        let status = if outcome.ok { "ok" } else { "failed" };
        if let Some(m) = &self.metrics {
            m.alarm_actions.get_or_create(&crate::metrics::Outcome { outcome: status }).inc();
        }
        match self.store.finish_action(run.id, &self.controller, outcome.ok, outcome.attempts, error.as_deref()).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(action_run = run.id, "another controller took this action run over"),
            Err(e) => tracing::warn!(action_run = run.id, error = %e, "recording an action run's outcome"),
        }
        record(&run, status, outcome.attempts, error)
    }

    /// Claims the pending runs a controller left behind (their lease ran out) and runs them.
    pub async fn recover(&self) -> Vec<ActionRecord> {
        match self.store.claim_stale_actions(&self.controller, ACTION_LEASE, 100).await {
            Ok(runs) if !runs.is_empty() => {
                tracing::info!(runs = runs.len(), "running alarm actions a controller left pending");
                self.run_rows(runs).await
            }
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(error = %e, "claiming stale alarm actions");
                Vec::new()
            }
        }
    }
}

/// Which actions a script's alarm gets (`[[alarms.route]]`): every route whose name glob
/// matches the alarm's name and whose minimum severity it reaches gives its actions
/// (`ACTION:PARAMETER`, ntop's two fields; each action once per alarm).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRoute {
    /// A glob on the alarm's name (`*` by default).
    #[serde(default = "any_name")]
    pub name: String,
    /// The weakest severity routed (`info` by default).
    #[serde(default = "weakest")]
    pub min_severity: String,
    /// `ACTION:PARAMETER` each, e.g. `savelog:scripts.log`, `sendmail:ops@example.org`.
    pub actions: Vec<String>,
}

fn any_name() -> String {
    "*".into()
}

fn weakest() -> String {
    "info".into()
}

fn severity_rank(s: &str) -> Option<usize> {
    wirewatch_model::alarms::SEVERITIES.iter().position(|x| *x == s)
}

impl AlarmRoute {
    /// The route's actions as (action, parameter).
    pub fn specs(&self) -> Vec<(String, String)> {
        self.actions
            .iter()
            .map(|a| match a.split_once(':') {
                Some((act, param)) => (act.to_string(), param.to_string()),
                None => (a.clone(), String::new()),
            })
            .collect()
    }

    /// Refuses a route that could never be used as written (checked when the controller starts).
    pub fn validate(&self, runner: &ActionRunner) -> anyhow::Result<()> {
        glob::Pattern::new(&self.name).map_err(|e| anyhow::anyhow!("alarms.route name {:?}: {e}", self.name))?;
        anyhow::ensure!(
            severity_rank(&self.min_severity).is_some(),
            "alarms.route {:?}: min_severity {:?} is not one of {}",
            self.name,
            self.min_severity,
            wirewatch_model::alarms::SEVERITIES.join(", ")
        );
        anyhow::ensure!(!self.actions.is_empty(), "alarms.route {:?}: no actions", self.name);
        for (action, parameter) in self.specs() {
            runner
                .validate(&ActionSpec::new(action.clone(), parameter.clone()))
                .map_err(|e| anyhow::anyhow!("alarms.route {:?}: action {action}:{parameter}: {e}", self.name))?;
        }
        Ok(())
    }

    fn matches(&self, name: &str, severity: &str) -> bool {
        let glob = glob::Pattern::new(&self.name).map(|p| p.matches(name)).unwrap_or(false);
        glob && severity_rank(severity) >= severity_rank(&self.min_severity)
    }
}

/// rrdAlarm for scripts. Scripts' alarms: an event, then the routed actions, run on after the
/// call returns (the calling script holds a Python worker; a Python action needs one too).
pub struct ScriptAlarms {
    pub dispatcher: Dispatcher,
    pub routes: Vec<AlarmRoute>,
    /// The archive root the checks read.
    pub root: std::path::PathBuf,
    /// The step of rrdAlarm's history files.
    pub history_step: u64,
    /// The archive's file listing (`None` without an archive).
    pub archives: Option<Arc<dyn wirewatch_model::archive::Archives>>,
}

impl ScriptAlarms {
    /// The actions routed to an alarm of this name and severity, each once, in route order.
    pub fn actions_for(&self, name: &str, severity: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for r in self.routes.iter().filter(|r| r.matches(name, severity)) {
            for s in r.specs() {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }
}

impl wirewatch_model::alarms::AlarmService for ScriptAlarms {
    fn raise(
        &self,
        a: wirewatch_model::alarms::RaisedAlarm,
    ) -> wirewatch_model::BoxFuture<'_, Result<wirewatch_model::alarms::Raised, String>> {
        Box::pin(async move {
            let actions = self.actions_for(&a.name, &a.severity);
            let event = NewEvent {
                raised_at: chrono::Utc::now(),
                source: "script".into(),
                name: a.name,
                severity: a.severity,
                subject: a.subject,
                message: format!("{} (raised by {}, run by {})", a.message, a.script, a.by),
                probe_id: None,
                threshold_id: None,
                value: None,
                threshold: None,
                direction: None,
                value_at: None,
                window_start: None,
                window_end: None,
                controller: self.dispatcher.controller.clone(),
            };
            let d = &self.dispatcher;
            let (event_id, action_ids) =
                d.store.raise_event(&event, &actions, &d.controller, ACTION_LEASE).await.map_err(|e| e.to_string())?;
            let (d, ids) = (d.clone(), action_ids.clone());
            tokio::spawn(async move {
                d.run(&ids).await;
            });
            Ok(wirewatch_model::alarms::Raised { event_id, action_ids })
        })
    }

    fn validate(
        &self,
        rows: &[wirewatch_model::alarms::ThresholdFields],
    ) -> Result<Vec<u32>, wirewatch_model::alarms::InvalidThreshold> {
        crate::alarms::validate_rows(rows, &self.dispatcher.runner)
    }

    fn check_now(&self) -> wirewatch_model::BoxFuture<'_, Result<wirewatch_model::alarms::AlarmCheck, String>> {
        Box::pin(async move {
            let d = &self.dispatcher;
            let out = crate::alarms::run_check(&d.store, &self.root, &d.controller, self.history_step)
                .await
                .map_err(|e| format!("{e:#}"))?;
            let runs = d.store.action_runs(&out.action_ids).await.map_err(|e| e.to_string())?;
            let (d2, ids) = (d.clone(), out.action_ids.clone());
            tokio::spawn(async move {
                d2.run(&ids).await;
            });
            let mut out = out;
            out.actions = runs
                .iter()
                .map(|r| ActionRecord {
                    id: r.id,
                    action: r.action.clone(),
                    action_parameter: r.parameter.clone(),
                    event_ids: r.event_ids.clone(),
                    status: r.status.clone(),
                    attempts: 0,
                    error: None,
                })
                .collect();
            Ok(crate::alarms::api_report(out))
        })
    }

    fn actions(&self) -> Vec<String> {
        let mut all = vec![wirewatch_alarm::config::NO_ACTION.to_string()];
        all.extend(self.dispatcher.runner.available());
        all
    }

    fn files(&self, prefix: String, limit: usize) -> wirewatch_model::BoxFuture<'_, Result<Vec<String>, String>> {
        Box::pin(async move {
            let Some(archives) = &self.archives else { return Ok(Vec::new()) };
            let prefix = wirewatch_model::archive::ArchivePath::parse(&prefix, false).map_err(|e| e.to_string())?;
            let mut dirs: Vec<String> = self
                .dispatcher
                .store
                .probe_names(None)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|n| wirewatch_model::archive::dir_name(n))
                .collect();
            dirs.sort();
            archives.files(dirs, prefix, limit).await.map_err(|e| e.to_string())
        })
    }
}
