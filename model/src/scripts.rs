//! The script engine's interface, shared by the HTTP layer (which serves `/python/…`) and the
//! engine (pyo3, in `wirewatch-python`, which implements [`Scripts`]), so neither depends on
//! the other and the HTTP layer does not link libpython: a page request as the engine sees it,
//! its reply, why it failed, and the HTML escape both use.

use std::future::Future;
use std::pin::Pin;

use crate::identity::Caller;

/// A boxed future (traits such as [`Scripts`] are used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The top-level directories of the scripts roots whose scripts the controller runs itself
/// (rrdAlarm's actions, script alarms, scheduled reports) and never serves as pages: a viewer
/// asking for `/python/actions/x.py` would otherwise run an action.
pub const PRIVATE_DIRS: [&str; 3] = ["actions", "alarms", "reports"];

/// Whether a script path (relative to a scripts root) lies in one of [`PRIVATE_DIRS`].
pub fn is_private_path(path: &std::path::Path) -> bool {
    match path.components().find(|c| !matches!(c, std::path::Component::CurDir)) {
        Some(std::path::Component::Normal(first)) => PRIVATE_DIRS.iter().any(|d| first == std::ffi::OsStr::new(d)),
        _ => false,
    }
}

/// Who asked for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptOrigin {
    /// A page request over HTTP: scripts of [`PRIVATE_DIRS`] are not found.
    Http,
    /// The controller itself (an alarm action): any script of the roots.
    Controller,
}

/// One run request as the engine sees it: a page (`/python/<path>`) or a script the controller
/// runs itself.
#[derive(Debug, Clone)]
pub struct ScriptRequest {
    /// Path below `/python/` (below a scripts root), e.g. `json/info.py`.
    pub path: String,
    pub origin: ScriptOrigin,
    /// `sys.argv` for this run (the run's own: other runs keep theirs); empty for pages, which
    /// see the process's.
    pub argv: Vec<String>,
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
    fn private_paths_are_the_three_top_level_directories() {
        use std::path::Path;
        for p in ["actions/x.py", "alarms/a/b.py", "reports/r.py", "./actions/x.py"] {
            assert!(is_private_path(Path::new(p)), "{p}");
        }
        for p in ["x.py", "json/actions/x.py", "actionsx/y.py", "Actions/x.py", "rrdalarm/actions.py"] {
            assert!(!is_private_path(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn html_escape_covers_elements_and_double_quoted_attributes() {
        assert_eq!(html_escape(r#"<a href="x">&</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
        assert_eq!(html_escape("plain 'text'"), "plain 'text'");
    }
}
