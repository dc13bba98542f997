//! `/healthz`: liveness and database reachability, unauthenticated. It must not use the other
//! resource modules.

use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Json, S};
use crate::model::*;

/// Liveness and database reachability (no authentication: a generic status only; the
/// error itself goes to the log).
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(super) async fn healthz(State(st): S) -> (StatusCode, Json<Health>) {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ok".into(), database: "up".into() })),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health { status: "degraded".into(), database: "unavailable".into() }),
            )
        }
    }
}
