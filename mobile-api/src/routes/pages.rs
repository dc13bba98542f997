//! The browser side: `GET/POST /python/<path>.py` script pages (authenticated like the API,
//! run by the [`Scripts`](wirewatch_model::scripts::Scripts) engine), the sign-in form (`/login`, the
//! session cookie) and `/logout`, the per-user limit of page runs, and the security headers of
//! every response. It must not use the other resource modules; signing in is
//! `crate::sign_in`, shared with the API's login.
//!
//! A script that fails is a 500 (a script stopped at its time limit: 504): admins get the
//! traceback in the page, everyone else an error id to quote (the log has the traceback under
//! that id).
//!
//! Every response of the router carries [`security_headers`]: a Content-Security-Policy that
//! runs no script except a page's own (a per-response nonce the script gets as
//! `wirewatch.csp_nonce()`), `nosniff`, a same-origin referrer policy, no framing. Sign-in and
//! page POSTs made by a browser from another site are refused ([`cross_site`]).

use std::sync::Arc;
use wirewatch_model::scripts::html_escape as escape;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::{ClientAddr, S};
use crate::ApiState;
use crate::auth::{Principal, Role, SESSION_COOKIE};
use crate::error::ApiError;
use wirewatch_model::scripts::{ScriptError, ScriptOrigin, ScriptRequest};

/// `/python/` runs per user: the caller is authenticated here (and handed to the page handler
/// in the request's extensions) so a user holding `python_runs_per_user` runs waits, then
/// gets 429, while other users' pages run. Unauthenticated requests pass to the handler,
/// which answers them (sign-in redirect or 401).
pub(super) async fn python_per_user(
    State(st): S,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(p) = Principal::from_request_parts(&mut parts, &st).await else {
        return next.run(axum::extract::Request::from_parts(parts, body)).await;
    };
    let permit = match st.python_slots.acquire(p.user_id).await {
        Ok(permit) => permit,
        Err(e) => return e.into_response(),
    };
    parts.extensions.insert(p);
    let r = next.run(axum::extract::Request::from_parts(parts, body)).await;
    drop(permit);
    r
}

/// The policy of every response that does not set its own: no script at all, inline styles
/// (the sign-in form and error pages have them), images from here, forms posting here only.
const CSP_NO_SCRIPT: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A script page's policy: only the scripts that carry this response's nonce run (markup that
/// a stored name smuggles past a page's escaping cannot run: it has no nonce).
fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Middleware: the security headers on every response (the router's layer). A handler's own
/// Content-Security-Policy (a script page's, with its nonce) is kept.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP_NO_SCRIPT));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // `same-origin`, not `no-referrer`: with no-referrer a browser sends `Origin: null` on
    // same-origin POSTs, which the cross-site check must refuse.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// The scheme://host[:port] of a URL (lower case), for comparing with `Origin`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// Whether a state-changing request was sent by a browser from another site (CSRF): a
/// `Sec-Fetch-Site` other than `same-origin`/`none`, or else an `Origin` that is neither this
/// host's (as the request names it) nor `public_url`'s. A request with neither header is not a
/// modern browser's cross-site request (clients such as curl send none) and passes; the
/// session cookie is `SameSite=Strict` besides.
pub fn cross_site(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str().map(str::to_ascii_lowercase).as_deref(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str().map(str::to_ascii_lowercase) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
    let own = host.iter().flat_map(|h| [format!("http://{h}"), format!("https://{h}")]);
    let public = origin_of(public_url);
    !own.chain(public).any(|o| o == origin)
}

fn forbidden_cross_site() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "<p>This request came from another site (cross-site request refused).</p>",
        false,
    )
}

/// A fresh CSP nonce (128 random bits, base64).
fn nonce() -> Option<String> {
    crate::auth::random_bytes::<16>()
        .ok()
        .map(|b| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b))
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
    headers: HeaderMap,
    axum::extract::Form(f): axum::extract::Form<LoginForm>,
) -> Response {
    if cross_site(&headers, &st.config.public_url) {
        return forbidden_cross_site();
    }
    let next = safe_next(f.next.as_deref());
    match crate::sign_in::sign_in(&st, &f.username, f.password, addr).await {
        Ok(pair) => {
            let secure = if st.config.cookie_is_secure() { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
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
        HeaderValue::from_static(if st.config.cookie_is_secure() {
            "wirewatch_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
        } else {
            "wirewatch_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        }),
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
    // A page POST carried by the session cookie (not a bearer token) from another site: CSRF.
    if method != Method::GET
        && method != Method::HEAD
        && headers.get(header::AUTHORIZATION).is_none()
        && cross_site(&headers, &st.config.public_url)
    {
        return forbidden_cross_site();
    }
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
    let Some(nonce) = nonce() else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Engine error", "no random numbers", json);
    };
    let req = ScriptRequest {
        path,
        // Http: the engine refuses the controller's own scripts (actions/, alarms/, reports/).
        origin: ScriptOrigin::Http,
        argv: Vec::new(),
        method: if method == Method::HEAD { "GET".into() } else { method.to_string() },
        query: uri.query().unwrap_or("").to_string(),
        content_type: headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string),
        body: body.to_vec(),
        caller: p.caller(),
        headers: headers
            .iter()
            .filter(|(k, _)| *k != header::AUTHORIZATION && *k != header::COOKIE)
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        remote_addr: addr.0.to_string(),
        csp_nonce: nonce.clone(),
    };
    match engine.run(req).await {
        Ok(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
            let ct = HeaderValue::from_str(&r.content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("text/html; charset=utf-8"));
            let csp =
                HeaderValue::from_str(&page_csp(&nonce)).unwrap_or_else(|_| HeaderValue::from_static(CSP_NO_SCRIPT));
            (status, [(header::CONTENT_TYPE, ct), (header::CONTENT_SECURITY_POLICY, csp)], r.body).into_response()
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
