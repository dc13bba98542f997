//! `GET/POST /python/<path>.py`: script pages, authenticated like the API. The engine itself
//! (pyo3) lives in the `wirewatch-python` crate and is reached through the [`Scripts`] trait,
//! so this crate does not link libpython.
//!
//! A script that fails is a 500 (a script stopped at its time limit: 504): admins get the
//! traceback in the page, everyone else an error id to quote (the log has the traceback under
//! that id).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{Principal, Role, SESSION_COOKIE};
use crate::error::ApiError;
use crate::routes::ClientAddr;
use crate::{ApiState, BoxFuture};

/// One page request as the engine sees it.
#[derive(Debug, Clone)]
pub struct ScriptRequest {
    /// Path below `/python/`, e.g. `json/info.py`.
    pub path: String,
    pub method: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub user: String,
    pub role: Role,
    /// Sites the user may see (`None`: all).
    pub sites: Option<Vec<String>>,
    /// Request headers (names lower case), for `HTTP_*` CGI variables.
    pub headers: Vec<(String, String)>,
    pub remote_addr: String,
}

/// What a script produced.
#[derive(Debug, Clone)]
pub struct ScriptReply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Why a page could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("no script {0}")]
    NotFound(String),
    #[error("invalid script path: {0}")]
    BadPath(String),
    #[error("the Python engine is busy ({0} requests queued); try again")]
    Busy(usize),
    #[error("{message}")]
    Forbidden { message: String },
    /// The script raised (500) or ran past its time limit (504).
    #[error("script {path} failed ({id}): {message}")]
    Failed { id: String, path: String, status: u16, message: String, traceback: String },
    #[error("Python engine: {0}")]
    Engine(String),
}

/// The script engine (implemented by `wirewatch-python`).
pub trait Scripts: Send + Sync {
    fn run(&self, req: ScriptRequest) -> BoxFuture<'_, Result<ScriptReply, ScriptError>>;
}

/// Percent-encodes a path and query for a query-string value.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn error_page(status: StatusCode, title: &str, body: &str, json: bool) -> Response {
    if json {
        return ApiError::new(status, "script_error", format!("{title}: {body}")).into_response();
    }
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// Where `/login` may send the browser back to: a page under /python/ (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/python/") && !n.contains("//") && !n.contains('\\') => n.to_string(),
        _ => "/python/hosts.py".to_string(),
    }
}

fn login_page(status: StatusCode, next: &str, message: Option<&str>) -> Response {
    let msg = message.map(|m| format!("<p class=\"error\">{}</p>", escape(m))).unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>wirewatch: sign in</title>\
         <style>body{{font-family:system-ui,sans-serif;display:flex;justify-content:center;margin-top:10vh}}\
         form{{display:grid;gap:.6em;min-width:18em}}.error{{color:#b00}}</style></head><body>\
         <form method=\"post\" action=\"/login\"><h1>wirewatch</h1>{msg}\
         <label>User <input name=\"username\" autocomplete=\"username\" required autofocus></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><button type=\"submit\">Sign in</button></form></body></html>",
        escape(next)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

#[derive(serde::Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// `GET /login`: the sign-in form for pages opened in a browser.
pub async fn login_form(axum::extract::Query(q): axum::extract::Query<NextParam>) -> Response {
    login_page(StatusCode::OK, &safe_next(q.next.as_deref()), None)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`: signs in like the API (same checks and rate limits) and keeps the access
/// token in an HttpOnly, SameSite=Strict cookie for /python/ pages (never read by /api).
pub async fn login_submit(
    State(st): State<Arc<ApiState>>,
    ClientAddr(addr): ClientAddr,
    axum::extract::Form(f): axum::extract::Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    match crate::routes::sign_in(&st, &f.username, f.password, addr).await {
        Ok(pair) => {
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                pair.access_token, pair.expires_in
            );
            let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let mut r = login_page(e.status, &next, Some(&e.message));
            if let Some(s) = e.retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
                r.headers_mut().insert(header::RETRY_AFTER, s);
            }
            r
        }
    }
}

/// `GET /logout`: ends the browser's session (its sign-in is revoked) and clears the cookie.
pub async fn logout(State(st): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Some(token) = crate::auth::session_cookie(&headers)
        && let Ok(claims) = st.keys.check(&token)
        && let (Ok(user_id), Ok(family)) = (
            claims.sub.parse::<i64>(),
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &claims.fam),
        )
    {
        if let Err(e) = st.store.revoke_family(user_id, &family).await {
            tracing::warn!(error = %e, "logout: could not revoke the session");
        }
        st.sessions.forget_user(user_id);
    }
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("wirewatch_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// The handler for `/python/{*path}`.
#[allow(clippy::too_many_arguments)]
pub async fn python_page(
    State(st): State<Arc<ApiState>>,
    p: Result<Principal, ApiError>,
    Path(path): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    addr: ClientAddr,
    body: Bytes,
) -> Response {
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"));
    let p = match p {
        Ok(p) => p,
        // A browser without a session goes to the sign-in form, and comes back.
        Err(e)
            if e.status == StatusCode::UNAUTHORIZED
                && !json
                && method == Method::GET
                && headers.get(header::AUTHORIZATION).is_none()
                && headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|a| a.contains("text/html")) =>
        {
            let next = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/python/hosts.py");
            let q: String = url_escape(next);
            return (StatusCode::SEE_OTHER, [(header::LOCATION, format!("/login?next={q}"))]).into_response();
        }
        Err(e) => return e.into_response(),
    };
    let Some(engine) = st.scripts.clone() else {
        return ApiError::not_found("the Python engine (disabled in this controller)").into_response();
    };
    if method != Method::GET && method != Method::POST && method != Method::HEAD {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "scripts take GET and POST")
            .into_response();
    }
    let req = ScriptRequest {
        path,
        method: if method == Method::HEAD { "GET".into() } else { method.to_string() },
        query: uri.query().unwrap_or("").to_string(),
        content_type: headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string),
        body: body.to_vec(),
        user: p.name.clone(),
        role: p.role,
        sites: p.sites.clone(),
        headers: headers
            .iter()
            .filter(|(k, _)| *k != header::AUTHORIZATION && *k != header::COOKIE)
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        remote_addr: addr.0.to_string(),
    };
    match engine.run(req).await {
        Ok(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
            let ct = HeaderValue::from_str(&r.content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("text/html; charset=utf-8"));
            (status, [(header::CONTENT_TYPE, ct)], r.body).into_response()
        }
        Err(ScriptError::NotFound(p)) => error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("<p>No script <code>{}</code>.</p>", escape(&p)),
            json,
        ),
        Err(e @ ScriptError::BadPath(_)) => {
            error_page(StatusCode::BAD_REQUEST, "Bad request", &escape(&e.to_string()), json)
        }
        Err(e @ ScriptError::Busy(_)) => {
            let mut r = error_page(StatusCode::SERVICE_UNAVAILABLE, "Busy", &escape(&e.to_string()), json);
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Err(ScriptError::Forbidden { message }) => {
            error_page(StatusCode::FORBIDDEN, "Forbidden", &escape(&message), json)
        }
        Err(ScriptError::Failed { id, path, status, message, traceback }) => {
            tracing::error!(error_id = %id, script = %path, user = %p.name, %message, %traceback, "script failed");
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let title = if status == StatusCode::GATEWAY_TIMEOUT { "Script stopped" } else { "Script error" };
            if p.role >= Role::Admin {
                let body = format!(
                    "<p>Error id <code>{id}</code> in <code>{}</code>: {}</p><pre class=\"traceback\">{}</pre>",
                    escape(&path),
                    escape(&message),
                    escape(&traceback)
                );
                if json {
                    return ApiError::new(status, "script_error", format!("{message} (error id {id})\n{traceback}"))
                        .into_response();
                }
                error_page(status, title, &body, false)
            } else {
                error_page(
                    status,
                    title,
                    &format!("<p>The page failed. Quote error id <code>{id}</code> to your administrator.</p>"),
                    json,
                )
            }
        }
        Err(e @ ScriptError::Engine(_)) => {
            tracing::error!(error = %e, "Python engine");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, "Engine error", &escape(&e.to_string()), json)
        }
    }
}
