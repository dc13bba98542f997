//! rrdAlarm's thresholds (the whole list read, or replaced all or nothing after the
//! controller's validation through the `Alarms` trait), the check on demand, and the alarm
//! events with their actions' runs (listed and acknowledged within the caller's sites).
//! Thresholds
//! are global (ntop's): their globs and a check's report name every site's probes, so a
//! site-scoped user (even an admin) gets 403 on all three; reading them needs any role of every
//! site, replacing them and running a check the operator role. It must not use the other
//! resource modules.

use std::sync::Arc;

use axum::extract::State;
use wirewatch_model::alarms::{AlarmCheck, Alarms, SEVERITIES, ThresholdFields};
use wirewatch_store::alarms::NewThreshold;

use wirewatch_store::events::{EventFilter, EventState};

use super::extract::{Json, Path, Query, S};
use crate::ApiState;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::{AlarmEvent, AlarmEventPage, AlarmThresholdsReplaced, EventAction, EventStateParam, EventsParams};

/// Most thresholds in one list.
const MAX_THRESHOLDS: usize = 10_000;

fn alarms(st: &ApiState) -> ApiResult<Arc<dyn Alarms>> {
    st.alarms.clone().ok_or_else(|| ApiError::not_found("rrdAlarm (disabled on this controller)"))
}

/// Users whose scope is every site, with at least `role`.
fn require_global(p: &Principal, role: Role) -> ApiResult<()> {
    p.require(role)?;
    if p.sites.is_some() {
        return Err(ApiError::forbidden(
            "alarm thresholds are global (their globs and reports name every site's probes): they need access to every site",
        ));
    }
    Ok(())
}

/// The alarm thresholds in ntop's order, each with its ten fields.
#[utoipa::path(get, path = "/api/v1/alarms/thresholds", tag = "alarms",
    responses((status = 200, body = Vec<ThresholdFields>), Errors))]
pub(super) async fn thresholds(State(st): S, p: Principal) -> ApiResult<Json<Vec<ThresholdFields>>> {
    require_global(&p, Role::Viewer)?;
    let list = st.store.alarm_thresholds().await?;
    Ok(Json(list.into_iter().map(|t| ThresholdFields::from_array(t.fields)).collect()))
}

/// Replace the whole list of alarm thresholds (operators and admins of every site): every
/// row is validated first, and a wrong row (400 naming its row, ID and field) replaces nothing.
#[utoipa::path(put, path = "/api/v1/alarms/thresholds", tag = "alarms", request_body = Vec<ThresholdFields>,
    responses((status = 200, body = AlarmThresholdsReplaced), Errors))]
pub(super) async fn put_thresholds(
    State(st): S,
    p: Principal,
    Json(rows): Json<Vec<ThresholdFields>>,
) -> ApiResult<Json<AlarmThresholdsReplaced>> {
    require_global(&p, Role::Operator)?;
    if rows.len() > MAX_THRESHOLDS {
        return Err(ApiError::bad_request(format!("at most {MAX_THRESHOLDS} thresholds")));
    }
    let alarms = alarms(&st)?;
    let ids = alarms.validate(&rows).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let new: Vec<NewThreshold> =
        rows.into_iter().zip(ids).map(|(r, id)| NewThreshold { id: i64::from(id), fields: r.into_array() }).collect();
    let r = st.store.replace_alarm_thresholds(&new, &format!("api {}", p.name)).await?;
    Ok(Json(AlarmThresholdsReplaced {
        thresholds: r.thresholds as u64,
        unchanged: r.unchanged as u64,
        rearm_dropped: r.rearm_dropped,
    }))
}

/// The action names a threshold may name: `None`, the built-in actions (`savelog`,
/// `sendmail`, `webhook`, `alertmanager`) and this controller's `actions/*.py` scripts (what the
/// configurator offers; any role of every site).
#[utoipa::path(get, path = "/api/v1/alarms/actions", tag = "alarms",
    responses((status = 200, body = Vec<String>), Errors))]
pub(super) async fn actions(State(st): S, p: Principal) -> ApiResult<Json<Vec<String>>> {
    require_global(&p, Role::Viewer)?;
    Ok(Json(alarms(&st)?.actions()))
}

/// Run the alarm check now (operators and admins of every site), as
/// `wirewatch-controller alarm check` does; answers when it is done, with the seed's report
/// (globs matching no file included), once the check's actions have run or failed.
#[utoipa::path(post, path = "/api/v1/alarms/check", tag = "alarms",
    responses((status = 200, body = AlarmCheck), Errors))]
pub(super) async fn check(State(st): S, p: Principal) -> ApiResult<Json<AlarmCheck>> {
    require_global(&p, Role::Operator)?;
    let alarms = alarms(&st)?;
    Ok(Json(alarms.check().await.map_err(ApiError::internal)?))
}

const SOURCES: [&str; 2] = ["threshold", "script"];

fn event_json(e: wirewatch_store::events::Event, actions: &[wirewatch_store::events::ActionRun]) -> AlarmEvent {
    let ev = e.event;
    AlarmEvent {
        id: e.id,
        raised_at: ev.raised_at,
        source: ev.source,
        name: ev.name,
        severity: ev.severity,
        subject: ev.subject,
        message: ev.message,
        probe: e.probe,
        threshold_id: ev.threshold_id,
        value: ev.value,
        threshold: ev.threshold,
        direction: ev.direction,
        controller: ev.controller,
        acked_at: e.acked_at,
        acked_by: e.acked_by,
        actions: actions
            .iter()
            .filter(|a| a.event_ids.contains(&e.id))
            .map(|a| EventAction {
                id: a.id,
                action: a.action.clone(),
                action_parameter: a.parameter.clone(),
                status: a.status.clone(),
                attempts: a.attempts,
                last_error: a.last_error.clone(),
                finished_at: a.finished_at,
            })
            .collect(),
    }
}

/// Alarm events, newest first (the caller's sites' probes; events naming no probe need every
/// site), with their actions' runs; cursor paging.
#[utoipa::path(get, path = "/api/v1/alarms/events", tag = "alarms", params(EventsParams),
    responses((status = 200, body = AlarmEventPage), Errors))]
pub(super) async fn events(
    State(st): S,
    p: Principal,
    Query(q): Query<EventsParams>,
) -> ApiResult<Json<AlarmEventPage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-1000"));
    }
    if let Some(s) = q.severity.as_deref().filter(|s| !SEVERITIES.contains(s)) {
        return Err(ApiError::bad_request(format!("severity {s:?}: one of {}", SEVERITIES.join(", "))));
    }
    if let Some(s) = q.source.as_deref().filter(|s| !SOURCES.contains(s)) {
        return Err(ApiError::bad_request(format!("source {s:?}: one of {}", SOURCES.join(", "))));
    }
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|&id| id > 0)
                .ok_or_else(|| ApiError::bad_request("cursor: pass the next_cursor of the previous page"))?,
        ),
    };
    let filter = EventFilter {
        allowed: p.allowed(),
        state: match q.state.unwrap_or(EventStateParam::All) {
            EventStateParam::All => EventState::All,
            EventStateParam::Open => EventState::Open,
            EventStateParam::Acked => EventState::Acked,
        },
        severity: q.severity.as_deref(),
        source: q.source.as_deref(),
        site: q.site.as_deref(),
        probe: q.probe.as_deref(),
        since: q.since,
        until: q.until,
        before,
        limit: limit + 1,
    };
    let mut list = st.store.events(&filter).await?;
    let more = list.len() as i64 > limit;
    list.truncate(limit as usize);
    let ids: Vec<i64> = list.iter().map(|e| e.id).collect();
    let actions = if ids.is_empty() { Vec::new() } else { st.store.actions_of(&ids).await? };
    let next_cursor = if more { list.last().map(|e| e.id.to_string()) } else { None };
    Ok(Json(AlarmEventPage { items: list.into_iter().map(|e| event_json(e, &actions)).collect(), next_cursor }))
}

/// Acknowledge an alarm event (operators and admins; of the caller's sites). Acknowledging
/// an acknowledged event keeps its first acknowledgement.
#[utoipa::path(post, path = "/api/v1/alarms/events/{id}/ack", tag = "alarms",
    params(("id" = i64, Path, description = "The event's ID")),
    responses((status = 200, body = AlarmEvent), Errors))]
pub(super) async fn ack_event(State(st): S, p: Principal, Path(id): Path<i64>) -> ApiResult<Json<AlarmEvent>> {
    p.require(Role::Operator)?;
    let e = st
        .store
        .ack_event(p.allowed(), id, &p.name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {id}")))?;
    let actions = st.store.actions_of(&[e.id]).await?;
    Ok(Json(event_json(e, &actions)))
}
