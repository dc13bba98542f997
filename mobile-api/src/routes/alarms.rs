//! rrdAlarm's thresholds (the whole list read, or replaced all or nothing after the
//! controller's validation through the `Alarms` trait) and the check on demand. Thresholds
//! are global (ntop's): their globs and a check's report name every site's probes, so a
//! site-scoped user (even an admin) gets 403 on all three; reading them needs any role of every
//! site, replacing them and running a check the operator role. It must not use the other
//! resource modules.

use std::sync::Arc;

use axum::extract::State;
use wirewatch_model::alarms::{AlarmCheck, Alarms, ThresholdFields};
use wirewatch_store::alarms::NewThreshold;

use super::extract::{Json, S};
use crate::ApiState;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::AlarmThresholdsReplaced;

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

/// Run the alarm check now (operators and admins of every site), as
/// `wirewatch-controller alarm check` does; answers when it is done, with the seed's report
/// (globs matching no file included; actions are recorded, not run yet).
#[utoipa::path(post, path = "/api/v1/alarms/check", tag = "alarms",
    responses((status = 200, body = AlarmCheck), Errors))]
pub(super) async fn check(State(st): S, p: Principal) -> ApiResult<Json<AlarmCheck>> {
    require_global(&p, Role::Operator)?;
    let alarms = alarms(&st)?;
    Ok(Json(alarms.check().await.map_err(ApiError::internal)?))
}
