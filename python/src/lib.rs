//! wirewatch's embedded Python engine: the only crate that touches pyo3.
//!
//! One persistent interpreter per controller, fed by a bounded queue and run by a few worker
//! threads (the GIL interleaves them; database reads release it), so scripts run concurrently
//! where ntop ran them one at a time under a global mutex. Each run has its own context
//! (output buffer, status, host cursor, snapshot of the data, CGI environment, stdin): a
//! thread-local on its worker, so `print()` from two scripts never mixes and ntop's global
//! "current host" belongs to one run.
//!
//! A script that raises is a failed page with its traceback; `sys.exit()` ends the script, not
//! the controller; one that runs past its time limit gets a `ScriptTimeout` (a BaseException, so
//! `except Exception` does not swallow it) raised in its thread by the watchdog, and, if it
//! still has not stopped after the grace period, its worker is written off and replaced (the
//! page answers 504 at once). A limit cannot interrupt a blocking C call (`time.sleep`, a socket
//! read): the exception lands when the call returns.

//!
//! Files use each other in one direction only, in this order (each may use those above it):
//! 1. `context`: settings (`PythonConfig`, `EngineInfo`) and `RunEnv`, what a run reads of the
//!    engine; none of ours.
//! 2. `run`: one run's thread-local context, its snapshot reads and ntop's host cursor.
//! 3. `modules`: the Python modules; inside it `ffi` (nothing of ours), `derived` and
//!    `preferences` (`run`), then `ntop`, `host`, `interface`, `wirewatch` (`run` and those
//!    shared files, never each other), then `modules/mod.rs`, which installs them.
//! 4. `engine`: the interpreter, workers, queue and watchdog; builds the `RunEnv`, starts and
//!    ends runs, installs the modules.

mod context;
mod engine;
mod modules;
mod run;

pub use context::{EngineInfo, PythonConfig};
pub use engine::{Engine, StartError};
