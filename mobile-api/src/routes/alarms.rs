//! rrdAlarm's thresholds (the whole list read, or replaced all or nothing after the
//! controller's validation through the `Alarms` trait) and the check on demand. Thresholds
//! are global (ntop's): reading them needs any role; replacing them and running a check need
//! the operator role and every site (a site-scoped user, even an admin, gets 403: a threshold's
//! glob and a check's report cover every site's files). It must not use the other resource
//! modules.

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

/// Operators and admins whose scope is every site.
fn require_global_operator(p: &Principal) -> ApiResult<()> {
    p.require(Role::Operator)?;
    if p.sites.is_some() {
        return Err(ApiError::forbidden(
            "alarm thresholds are global: changing them or running a check needs access to every site",
        ));
    }
    Ok(())
}

/// The alarm thresholds in ntop's order, each with its ten fields.
#[utoipa::path(get, path = "/api/v1/alarms/thresholds", tag = "alarms",
    responses((status = 200, body = Vec<ThresholdFields>), Errors))]
pub(super) async fn thresholds(State(st): S, _p: Principal) -> ApiResult<Json<Vec<ThresholdFields>>> {
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
    require_global_operator(&p)?;
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
    require_global_operator(&p)?;
    let alarms = alarms(&st)?;
    Ok(Json(alarms.check().await.map_err(ApiError::internal)?))
}
