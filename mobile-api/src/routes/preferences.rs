//! A probe's preferences (ntop's getPreference/setPreference store): list, read, set, delete.
//! It must not use the other resource modules.

use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Json, Path, S, visible_probe};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::*;

fn check_key(k: &str) -> ApiResult<()> {
    let ok =
        !k.is_empty() && k.len() <= 128 && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(ApiError::bad_request("a preference key has 1-128 of A-Z a-z 0-9 . _ -")) }
}

fn pref_model(x: wirewatch_store::accounts::Preference) -> Preference {
    Preference { key: x.key, value: x.value, updated_at: x.updated_at, updated_by: x.updated_by }
}

/// A probe's preferences (ntop's getPreference/setPreference store).
#[utoipa::path(get, path = "/api/v1/probes/{probe}/preferences", tag = "preferences", params(("probe" = String, Path)),
    responses((status = 200, body = Preferences), Errors))]
pub(super) async fn preferences(State(st): S, p: Principal, Path(probe): Path<String>) -> ApiResult<Json<Preferences>> {
    let id = visible_probe(&st, &p, &probe).await?;
    let prefs = st.store.preferences(id).await?.into_iter().map(pref_model).collect();
    Ok(Json(Preferences { probe, preferences: prefs }))
}

/// One preference.
#[utoipa::path(get, path = "/api/v1/probes/{probe}/preferences/{key}", tag = "preferences",
    params(("probe" = String, Path), ("key" = String, Path, pattern = "^[A-Za-z0-9._-]{1,128}$")),
    responses((status = 200, body = Preference), Errors))]
pub(super) async fn get_preference(
    State(st): S,
    p: Principal,
    Path((probe, key)): Path<(String, String)>,
) -> ApiResult<Json<Preference>> {
    check_key(&key)?;
    let id = visible_probe(&st, &p, &probe).await?;
    st.store
        .preferences(id)
        .await?
        .into_iter()
        .find(|x| x.key == key)
        .map(|x| Json(pref_model(x)))
        .ok_or_else(|| ApiError::not_found(format!("preference {key:?}")))
}

/// Set a preference (operators and admins).
#[utoipa::path(put, path = "/api/v1/probes/{probe}/preferences/{key}", tag = "preferences",
    params(("probe" = String, Path), ("key" = String, Path, pattern = "^[A-Za-z0-9._-]{1,128}$")), request_body = PreferenceValue,
    responses((status = 200, body = Preference), Errors))]
pub(super) async fn put_preference(
    State(st): S,
    p: Principal,
    Path((probe, key)): Path<(String, String)>,
    Json(v): Json<PreferenceValue>,
) -> ApiResult<Json<Preference>> {
    p.require(Role::Operator)?;
    check_key(&key)?;
    if v.value.len() > 4096 {
        return Err(ApiError::bad_request("a preference value has at most 4096 bytes"));
    }
    let id = visible_probe(&st, &p, &probe).await?;
    Ok(Json(pref_model(st.store.set_preference(id, &key, &v.value, &p.name).await?)))
}

/// Delete a preference (operators and admins).
#[utoipa::path(delete, path = "/api/v1/probes/{probe}/preferences/{key}", tag = "preferences",
    params(("probe" = String, Path), ("key" = String, Path, pattern = "^[A-Za-z0-9._-]{1,128}$")),
    responses((status = 204, description = "deleted"), Errors))]
pub(super) async fn delete_preference(
    State(st): S,
    p: Principal,
    Path((probe, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    p.require(Role::Operator)?;
    check_key(&key)?;
    let id = visible_probe(&st, &p, &probe).await?;
    if st.store.delete_preference(id, &key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("preference {key:?}")))
    }
}
