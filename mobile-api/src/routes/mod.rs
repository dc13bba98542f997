//! The HTTP layer: the router and the OpenAPI document assembled from the endpoints. Each
//! handler is registered with its OpenAPI description in one place (utoipa-axum), so the
//! document cannot drift from the router. The endpoints live in one module per resource;
//! they share only `extract` (extractors, request parsing) and `convert` (store values →
//! response pieces), never each other. This file holds no endpoint and no SQL.

mod alarms;
mod auth;
pub(crate) mod console;
mod convert;
mod extract;
mod geo;
mod health;
mod history;
mod hosts;
mod inventory;
mod live;
pub(crate) mod pages;
mod preferences;
mod reports;
mod rrd;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::model::{HostSort, ImageFormat, Order, Resolution, Unit};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wirewatch API",
        description = "Sites, probes, interfaces and hosts of a wirewatch controller, with history. \
                       Sign in with POST /api/v1/auth/login and send `Authorization: Bearer <access_token>`; \
                       scripts use API tokens the same way.",
        version = "1"
    ),
    components(schemas(ErrorBody, HostSort, Order, Unit, Resolution, ImageFormat, crate::model::EventStateParam)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The endpoints with their OpenAPI descriptions (the document is assembled from them).
fn api_routes() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::users, auth::create_user))
        .routes(routes!(auth::update_user))
        .routes(routes!(auth::list_tokens, auth::create_token))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(inventory::sites))
        .routes(routes!(inventory::site))
        .routes(routes!(inventory::probes))
        .routes(routes!(inventory::probe))
        .routes(routes!(inventory::interface))
        .routes(routes!(history::interface_history))
        .routes(routes!(hosts::hosts))
        .routes(routes!(hosts::host))
        .routes(routes!(history::host_history))
        .routes(routes!(hosts::top_talkers))
        .routes(routes!(geo::geo_countries))
        .routes(routes!(geo::geo_cities))
        .routes(routes!(preferences::preferences))
        .routes(routes!(preferences::get_preference, preferences::put_preference, preferences::delete_preference))
        .routes(routes!(live::live_top_talkers))
        .routes(routes!(rrd::graph))
        .routes(routes!(rrd::files))
        .routes(routes!(alarms::thresholds, alarms::put_thresholds))
        .routes(routes!(alarms::check))
        .routes(routes!(alarms::actions))
        .routes(routes!(alarms::events))
        .routes(routes!(alarms::ack_event))
        .routes(routes!(reports::reports))
        .routes(routes!(reports::report_output))
        .routes(routes!(health::healthz))
}

/// The API's router (state applied), including `/healthz` and `/api/v1/openapi.json`.
pub fn router(state: Arc<ApiState>) -> Router {
    let (r, doc) = api_routes().split_for_parts();
    let doc = Arc::new(doc);
    let limit = state.config.max_body_bytes;
    r.route(
        "/python/{*path}",
        axum::routing::any(pages::python_page)
            .layer(axum::middleware::from_fn_with_state(state.clone(), pages::python_per_user)),
    )
    .route("/login", axum::routing::get(pages::login_form).post(pages::login_submit))
    .route("/logout", axum::routing::get(pages::logout))
    .route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let d = doc.clone();
            async move { axum::Json(d.as_ref().clone()) }
        }),
    )
    // Everything else is the web console (its files, or index.html for its deep links);
    // unknown /api/… paths stay the API's JSON 404 there.
    .fallback(console::console)
    .method_not_allowed_fallback(|| async {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this path")
    })
    .layer(axum::extract::DefaultBodyLimit::max(limit))
    .with_state(state)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// The document `/api/v1/openapi.json` serves (the same serde_json bytes) has every
    /// endpoint. `WIREWATCH_OPENAPI_OUT=<file>` writes those bytes out, to compare two versions
    /// of the code byte for byte.
    #[test]
    fn openapi_document_has_every_endpoint() {
        let (_, doc) = super::api_routes().split_for_parts();
        let bytes = serde_json::to_vec(&doc).unwrap();
        if let Some(out) = std::env::var_os("WIREWATCH_OPENAPI_OUT") {
            std::fs::write(out, &bytes).unwrap();
        }
        let mut paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "/api/v1/alarms/actions",
                "/api/v1/alarms/check",
                "/api/v1/alarms/events",
                "/api/v1/alarms/events/{id}/ack",
                "/api/v1/alarms/thresholds",
                "/api/v1/auth/login",
                "/api/v1/auth/logout",
                "/api/v1/auth/refresh",
                "/api/v1/geo/cities",
                "/api/v1/geo/countries",
                "/api/v1/hosts",
                "/api/v1/interfaces/{id}",
                "/api/v1/interfaces/{id}/history",
                "/api/v1/interfaces/{id}/hosts/{ip}",
                "/api/v1/interfaces/{id}/hosts/{ip}/history",
                "/api/v1/me",
                "/api/v1/probes",
                "/api/v1/probes/{probe}",
                "/api/v1/probes/{probe}/live/top-talkers",
                "/api/v1/probes/{probe}/preferences",
                "/api/v1/probes/{probe}/preferences/{key}",
                "/api/v1/reports",
                "/api/v1/reports/{id}/output",
                "/api/v1/rrd/files",
                "/api/v1/rrd/graph",
                "/api/v1/sites",
                "/api/v1/sites/{site}",
                "/api/v1/tokens",
                "/api/v1/tokens/{id}",
                "/api/v1/top-talkers",
                "/api/v1/users",
                "/api/v1/users/{id}",
                "/healthz",
            ]
        );
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object(), "{}", doc["components"]);
    }
}
