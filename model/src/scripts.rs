//! The script engine's interface, shared by the HTTP layer (which serves `/python/…`) and the
//! engine (pyo3, in `wirewatch-python`, which implements [`Scripts`]), so neither depends on
//! the other and the HTTP layer does not link libpython: a page request as the engine sees it,
//! its reply, why it failed, and the HTML escape both use.

use std::future::Future;
use std::pin::Pin;

use crate::identity::Caller;

/// A boxed future (traits such as [`Scripts`] are used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
    /// Who is asking (name, role, the sites they may see).
    pub caller: Caller,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_covers_elements_and_double_quoted_attributes() {
        assert_eq!(html_escape(r#"<a href="x">&</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
        assert_eq!(html_escape("plain 'text'"), "plain 'text'");
    }
}
