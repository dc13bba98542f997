//! The one error shape of the API: `{"error": {"code", "message"}}` with a matching status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, ResponseBuilder, ResponsesBuilder};

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`bad_request`, `unauthorized`, `not_found`, …).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error (logged on the controller)")
    }
}

impl From<wirewatch_store::StoreError> for ApiError {
    fn from(e: wirewatch_store::StoreError) -> Self {
        use wirewatch_store::StoreError as E;
        match e {
            E::NotFound(what) => ApiError::not_found(what),
            E::Exists(what) => ApiError::new(StatusCode::CONFLICT, "conflict", format!("{what} already exists")),
            E::Invalid(m) => ApiError::bad_request(m),
            E::Timeout => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "the query ran past this server's read time limit and was cancelled; narrow it",
            ),
            e if e.is_transient() => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "database unavailable; retry later")
            }
            e => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"wirewatch\""));
        }
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// Rejections of axum's extractors (bad JSON, bad query, body too large, …) in our shape, with
/// their own status (400, 413, 415, 422 → 400).
macro_rules! from_rejection {
    ($t:ty) => {
        impl From<$t> for ApiError {
            fn from(r: $t) -> Self {
                let status = r.status();
                let (status, code) = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => (status, "payload_too_large"),
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => (status, "unsupported_media_type"),
                    s if s.is_client_error() => (StatusCode::BAD_REQUEST, "bad_request"),
                    s => (s, "internal"),
                };
                ApiError::new(status, code, r.body_text())
            }
        }
    };
}
from_rejection!(axum::extract::rejection::JsonRejection);
from_rejection!(axum::extract::rejection::QueryRejection);
from_rejection!(axum::extract::rejection::PathRejection);

/// The error responses every authenticated endpoint documents.
pub struct Errors;

impl utoipa::IntoResponses for Errors {
    fn responses() -> std::collections::BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let mut b = ResponsesBuilder::new();
        for (code, what) in [
            ("400", "Bad request: a parameter outside its allow-list, malformed JSON or cursor"),
            ("401", "No valid token"),
            ("403", "The role does not allow this"),
            ("404", "No such object (or not in the caller's sites)"),
            ("409", "Conflict with the current state"),
            ("413", "Body over the size limit"),
            ("415", "Body is not JSON"),
            ("429", "Rate limited"),
            ("503", "Database unavailable"),
            ("504", "A probe did not answer in time"),
        ] {
            b = b.response(
                code,
                ResponseBuilder::new().description(what).content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"))))
                        .build(),
                ),
            );
        }
        b.build().into()
    }
}
