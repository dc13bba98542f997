//! The web console: the built single-page app (`web/dist`, `[api] web_dir`) served from disk.
//! It is the router's fallback, so every route the router knows (`/api/v1/…`, `/python/…`,
//! `/login`, `/logout`, `/healthz`) comes first; here:
//!
//! - `/api…`, `/python…`, `/login…`, `/logout…`, `/healthz…` and `/metrics…` that no route took
//!   are the API's JSON 404 (never the app);
//! - a path whose components are all plain file names (`A-Z a-z 0-9 . _ -`, no leading dot) and
//!   that names a regular file under the directory is that file: `/assets/…` (names carry a
//!   content hash) cached for a year, anything else `no-cache`;
//! - any other `/assets/…` is a 404; every other GET is `index.html` (the app routes deep links
//!   such as `/hosts/3/2001:db8::1` itself), `no-cache`.
//!
//! Every answer carries the console's Content-Security-Policy: scripts, styles and connections
//! to this origin only, images also from `blob:` (graphs fetched with the Bearer token), no
//! inline script or style, no framing. A directory without `index.html` (the app not built)
//! answers 503 with the command that builds it. It must not use the other resource modules.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::extract::S;
use crate::error::ApiError;

/// The console's policy: nothing inline, nothing from elsewhere.
pub(crate) const CSP_CONSOLE: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Paths that belong to the server, never to the app.
const SERVER_PREFIXES: &[&str] = &["/api", "/python", "/login", "/logout", "/healthz", "/metrics"];

/// The built app's directory: `[api] web_dir`, or `web/dist` of the source tree this binary
/// was built from.
pub fn web_dir(configured: Option<&Path>) -> PathBuf {
    match configured {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist")),
    }
}

fn is_server_path(path: &str) -> bool {
    SERVER_PREFIXES.iter().any(|p| path.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// The path's components when every one is a plain file name (so it can be joined under the
/// directory without leaving it); `None` otherwise (a deep link, not a file).
fn file_components(path: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let plain = |c: &str| {
        !c.is_empty()
            && !c.starts_with('.')
            && c.len() <= 255
            && c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    (parts.len() <= 8 && parts.iter().all(|c| plain(c))).then_some(parts)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(status: StatusCode, ct: &str, cache: &'static str, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(ct) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP_CONSOLE));
    r
}

fn not_built(dir: &Path) -> Response {
    let d = wirewatch_model::scripts::html_escape(&dir.display().to_string());
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>wirewatch: console not built</title>\
         </head><body><h1>The console is not built</h1><p>This controller serves the web console from \
         <code>{d}</code>, which has no <code>index.html</code>. Build it with <code>scripts/setup</code> \
         (or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>), or point <code>[api] web_dir</code> \
         (<code>WIREWATCH_API_WEB_DIR</code>) at a built copy.</p><p>The JSON API (<code>/api/v1/</code>) and \
         the Python pages (<code>/python/hosts.py</code>) work without it.</p></body></html>"
    );
    respond(StatusCode::SERVICE_UNAVAILABLE, "text/html; charset=utf-8", "no-store", html.into_bytes())
}

/// The router's fallback: the console's files and its deep links.
pub(super) async fn console(State(st): S, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_server_path(path) {
        return ApiError::not_found("this path").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this path")
            .into_response();
    }
    let dir = web_dir(st.config.web_dir.as_deref());
    if let Some(parts) = file_components(path) {
        let file = parts.iter().fold(dir.clone(), |p, c| p.join(c));
        if let Ok(meta) = tokio::fs::metadata(&file).await
            && meta.is_file()
            && let Ok(body) = tokio::fs::read(&file).await
        {
            let cache =
                if parts.first() == Some(&"assets") { "public, max-age=31536000, immutable" } else { "no-cache" };
            return respond(StatusCode::OK, content_type(parts.last().copied().unwrap_or("")), cache, body);
        }
    }
    if path.starts_with("/assets/") {
        return respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "no-store", b"no such asset\n".to_vec());
    }
    match tokio::fs::read(dir.join("index.html")).await {
        Ok(body) => respond(StatusCode::OK, "text/html; charset=utf-8", "no-cache", body),
        Err(_) => not_built(&dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_and_files() {
        for p in ["/api", "/api/v1/nope", "/python/", "/login", "/logout", "/healthz", "/metrics", "/metrics/x"] {
            assert!(is_server_path(p), "{p}");
        }
        for p in ["/", "/hosts", "/apis", "/loginx", "/hosts/1/10.0.0.1", "/alarms"] {
            assert!(!is_server_path(p), "{p}");
        }
        assert_eq!(file_components("/assets/index-Ab1.js"), Some(vec!["assets", "index-Ab1.js"]));
        assert_eq!(file_components("/favicon.svg"), Some(vec!["favicon.svg"]));
        for p in ["/", "/assets/../x", "/.env", "/assets//x", "/hosts/1/2001:db8::1", "/a%2f..", "/a\\b"] {
            assert_eq!(file_components(p), None, "{p}");
        }
    }
}
