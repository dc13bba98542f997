//! The script engine's interface: a page request as the engine sees it, its reply, why it
//! failed, and the [`Scripts`] trait the engine (pyo3, in the `wirewatch-python` crate)
//! implements, so this crate does not link libpython. Serving `/python/…` over HTTP is the
//! router's (`routes::pages`); this module knows no HTTP.

use crate::BoxFuture;
use crate::auth::Role;

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
    /// This response's CSP nonce: only `<script nonce="...">` elements run in the page.
    pub csp_nonce: String,
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

/// Text made safe inside HTML elements and double-quoted attributes (error pages, the sign-in
/// form, ntop's `printFlagedWarning`).
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
