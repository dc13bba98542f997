//! rrdAlarm and alarm events for scripts, in `_wirewatch` (wirewatch.py's `raise_alarm` and
//! `alarms` are written on them): raising an alarm (operators, admins and scheduled runs),
//! the events the run's user may see, the thresholds and the last checks (users of every
//! site: thresholds name every site's probes). Uses only `run` and `preferences` (Forbidden).

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use wirewatch_model::alarms::{RaisedAlarm, SEVERITIES};
use wirewatch_model::identity::Role;
use wirewatch_store::events::{EventFilter, EventState};

use super::preferences::Forbidden;
use crate::run::{self, with_run};

/// Longest name, subject and message of a raised alarm (bytes).
const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 16 << 10;

fn time(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

/// Records an alarm event and starts the actions the controller's `[[alarms.route]]` give
/// it; returns the event's ID (the actions run on after the call).
#[pyfunction]
#[pyo3(signature = (name, severity, message, subject = String::new()))]
fn raise_alarm(py: Python<'_>, name: String, severity: String, message: String, subject: String) -> PyResult<i64> {
    let (role, user, script, ctx) = with_run(|r| Ok((r.role, r.user.clone(), r.script.clone(), r.ctx.clone())))?;
    if role < Role::Operator {
        return Err(Forbidden::new_err(format!(
            "raise_alarm needs the operator role or a scheduled run ({user} is {})",
            role.as_str()
        )));
    }
    if name.trim().is_empty() || name.len() > MAX_NAME || name.contains(['\0', '\n', '\r']) {
        return Err(PyValueError::new_err(format!("name: 1 to {MAX_NAME} bytes on one line, without NUL")));
    }
    if !SEVERITIES.contains(&severity.as_str()) {
        return Err(PyValueError::new_err(format!("severity {severity:?}: one of {}", SEVERITIES.join(", "))));
    }
    if message.len() > MAX_TEXT || subject.len() > MAX_TEXT || message.contains('\0') || subject.contains('\0') {
        return Err(PyValueError::new_err(format!("message and subject: at most {MAX_TEXT} bytes each, without NUL")));
    }
    let sink = ctx
        .alarms
        .get()
        .cloned()
        .ok_or_else(|| PyRuntimeError::new_err("alarms are not available in this engine (no controller)"))?;
    let alarm = RaisedAlarm { name, severity, message, subject, script, by: user };
    let handle = ctx.handle.clone();
    let raised = py.detach(move || {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        handle.spawn(async move {
            let _ = tx.send(sink.raise(alarm).await);
        });
        rx.recv().map_err(|_| "the controller is shutting down".to_string()).and_then(|r| r)
    });
    raised.map(|r| r.event_id).map_err(|e| PyRuntimeError::new_err(format!("raising the alarm: {e}")))
}

/// Alarm events the run's user may see, newest first, as dicts.
#[pyfunction]
#[pyo3(signature = (state = "all".to_string(), severity = None, limit = 100))]
fn alarm_events(py: Python<'_>, state: String, severity: Option<String>, limit: i64) -> PyResult<Bound<'_, PyList>> {
    let state = match state.as_str() {
        "all" => EventState::All,
        "open" => EventState::Open,
        "acked" => EventState::Acked,
        other => return Err(PyValueError::new_err(format!("state {other:?}: all, open or acked"))),
    };
    if let Some(s) = severity.as_deref().filter(|s| !SEVERITIES.contains(s)) {
        return Err(PyValueError::new_err(format!("severity {s:?}: one of {}", SEVERITIES.join(", "))));
    }
    if !(1..=10_000).contains(&limit) {
        return Err(PyValueError::new_err("limit: 1 to 10000"));
    }
    let sites = with_run(|r| Ok(r.sites.clone()))?;
    let list = run::on_pool(py, move |s| {
        Box::pin(async move {
            let f = EventFilter {
                allowed: sites.as_deref(),
                state,
                severity: severity.as_deref(),
                limit,
                ..EventFilter::default()
            };
            s.events(&f).await
        })
    })?;
    let out = PyList::empty(py);
    for e in list {
        let d = PyDict::new(py);
        d.set_item("id", e.id)?;
        d.set_item("raised_at", time(e.event.raised_at))?;
        d.set_item("source", e.event.source)?;
        d.set_item("name", e.event.name)?;
        d.set_item("severity", e.event.severity)?;
        d.set_item("subject", e.event.subject)?;
        d.set_item("message", e.event.message)?;
        d.set_item("probe", e.probe)?;
        d.set_item("threshold_id", e.event.threshold_id)?;
        d.set_item("value", e.event.value)?;
        d.set_item("threshold", e.event.threshold)?;
        d.set_item("type", e.event.direction)?;
        d.set_item("controller", e.event.controller)?;
        d.set_item("acked_at", e.acked_at.map(time))?;
        d.set_item("acked_by", e.acked_by)?;
        out.append(d)?;
    }
    Ok(out)
}

fn require_every_site(what: &str) -> PyResult<()> {
    let (sites, user) = with_run(|r| Ok((r.sites.clone(), r.user.clone())))?;
    if sites.is_some() {
        return Err(Forbidden::new_err(format!("{what} name every site's probes: {user} is limited to some sites")));
    }
    Ok(())
}

/// The rrdAlarm thresholds in ntop's order, each a dict of its ten fields (users of every site).
#[pyfunction]
fn alarm_thresholds(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    require_every_site("alarm thresholds")?;
    let list = run::on_pool(py, |s| Box::pin(async move { s.alarm_thresholds().await }))?;
    let out = PyList::empty(py);
    for t in list {
        let d = PyDict::new(py);
        for (k, v) in wirewatch_model::alarms::FIELD_KEYS.iter().zip(t.fields) {
            d.set_item(k, v)?;
        }
        d.set_item("updated_by", t.updated_by)?;
        d.set_item("updated_at", time(t.updated_at))?;
        out.append(d)?;
    }
    Ok(out)
}

/// The last alarm checks, newest first (users of every site).
#[pyfunction]
#[pyo3(signature = (limit = 20))]
fn alarm_runs(py: Python<'_>, limit: i64) -> PyResult<Bound<'_, PyList>> {
    require_every_site("alarm checks")?;
    if !(1..=10_000).contains(&limit) {
        return Err(PyValueError::new_err("limit: 1 to 10000"));
    }
    let list = run::on_pool(py, move |s| Box::pin(async move { s.alarm_runs(limit).await }))?;
    let out = PyList::empty(py);
    for r in list {
        let d = PyDict::new(py);
        d.set_item("started_at", time(r.started_at))?;
        d.set_item("duration_ms", r.duration_ms)?;
        d.set_item("thresholds", r.thresholds)?;
        d.set_item("files_checked", r.files_checked)?;
        d.set_item("alarms_fired", r.alarms_fired)?;
        d.set_item("controller", r.controller)?;
        out.append(d)?;
    }
    Ok(out)
}

fn service() -> PyResult<(std::sync::Arc<dyn wirewatch_model::alarms::AlarmService>, tokio::runtime::Handle)> {
    let ctx = with_run(|r| Ok(r.ctx.clone()))?;
    let s = ctx
        .alarms
        .get()
        .cloned()
        .ok_or_else(|| PyRuntimeError::new_err("alarms are not available in this engine (no controller)"))?;
    Ok((s, ctx.handle.clone()))
}

/// Runs a future of the alarm service on the controller's runtime, this thread waiting.
fn on_service<T: Send + 'static>(
    py: Python<'_>,
    f: impl FnOnce(
        std::sync::Arc<dyn wirewatch_model::alarms::AlarmService>,
    ) -> wirewatch_model::BoxFuture<'static, Result<T, String>>
    + Send
    + 'static,
) -> PyResult<T> {
    let (s, handle) = service()?;
    py.detach(move || {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        handle.spawn(async move {
            let _ = tx.send(f(s).await);
        });
        rx.recv().map_err(|_| "the controller is shutting down".to_string()).and_then(|r| r)
    })
    .map_err(PyRuntimeError::new_err)
}

fn require_operator_of_every_site(what: &str) -> PyResult<String> {
    require_every_site(what)?;
    let (role, user) = with_run(|r| Ok((r.role, r.user.clone())))?;
    if role < Role::Operator {
        return Err(Forbidden::new_err(format!("{what} needs the operator role ({user} is {})", role.as_str())));
    }
    Ok(user)
}

/// Replaces every threshold (operators and admins of every site), all or nothing: each row a
/// dict of the ten fields, validated as the API validates them (ValueError naming the row and
/// field). Returns (thresholds, unchanged, re-arm states dropped).
#[pyfunction]
fn alarm_replace(
    py: Python<'_>,
    rows: Vec<std::collections::HashMap<String, String>>,
) -> PyResult<(usize, usize, u64)> {
    let user = require_operator_of_every_site("replacing the alarm thresholds")?;
    if rows.len() > 10_000 {
        return Err(PyValueError::new_err("at most 10000 thresholds"));
    }
    let mut list = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let mut fields: [String; 10] = Default::default();
        for (k, slot) in wirewatch_model::alarms::FIELD_KEYS.iter().zip(fields.iter_mut()) {
            *slot = r.get(*k).cloned().ok_or_else(|| PyValueError::new_err(format!("row {}: no {k}", i + 1)))?;
        }
        if let Some(extra) = r.keys().find(|k| !wirewatch_model::alarms::FIELD_KEYS.contains(&k.as_str())) {
            return Err(PyValueError::new_err(format!("row {}: unknown field {extra:?}", i + 1)));
        }
        list.push(wirewatch_model::alarms::ThresholdFields::from_array(fields));
    }
    let (svc, _) = service()?;
    let ids = svc.validate(&list).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let new: Vec<wirewatch_store::alarms::NewThreshold> = list
        .into_iter()
        .zip(ids)
        .map(|(r, id)| wirewatch_store::alarms::NewThreshold { id: i64::from(id), fields: r.into_array() })
        .collect();
    let by = format!("page {user}");
    let r = run::on_pool(py, move |s| Box::pin(async move { s.replace_alarm_thresholds(&new, &by).await }))?;
    Ok((r.thresholds, r.unchanged, r.rearm_dropped))
}

/// Runs the check now (operators and admins of every site) and returns its report as a dict
/// (the API's `AlarmCheck`); the fired thresholds' actions start and are reported pending.
#[pyfunction]
fn alarm_check(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    require_operator_of_every_site("checking the alarm thresholds")?;
    let report = on_service(py, |s| Box::pin(async move { s.check_now().await }))?;
    let text = serde_json::to_string(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    py.import("json")?.getattr("loads")?.call1((text,))
}

/// The actions a threshold may name here (`None` first).
#[pyfunction]
fn alarm_actions() -> PyResult<Vec<String>> {
    require_every_site("alarm actions")?;
    Ok(service()?.0.actions())
}

/// Archive files starting with `prefix` (users of every site), for autocompletion.
#[pyfunction]
#[pyo3(signature = (prefix = String::new(), limit = 1000))]
fn alarm_files(py: Python<'_>, prefix: String, limit: usize) -> PyResult<Vec<String>> {
    require_every_site("archive files for thresholds")?;
    if !(1..=10_000).contains(&limit) {
        return Err(PyValueError::new_err("limit: 1 to 10000"));
    }
    on_service(py, move |s| Box::pin(async move { s.files(prefix, limit).await }))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(alarm_replace, m)?)?;
    m.add_function(wrap_pyfunction!(alarm_check, m)?)?;
    m.add_function(wrap_pyfunction!(alarm_actions, m)?)?;
    m.add_function(wrap_pyfunction!(alarm_files, m)?)?;
    m.add_function(wrap_pyfunction!(raise_alarm, m)?)?;
    m.add_function(wrap_pyfunction!(alarm_events, m)?)?;
    m.add_function(wrap_pyfunction!(alarm_thresholds, m)?)?;
    m.add_function(wrap_pyfunction!(alarm_runs, m)?)?;
    Ok(())
}
