//! The interpreter, its workers, the queue that feeds them and the watchdog that enforces
//! time limits.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use pyo3::exceptions::PySystemExit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use tokio::sync::oneshot;
use wirewatch_model::geo::Geo;
use wirewatch_model::scripts::{
    BoxFuture, ScriptError, ScriptOrigin, ScriptReply, ScriptRequest, Scripts, is_private_path,
};
use wirewatch_store::Store;

use crate::context::{EngineInfo, PythonConfig, RunEnv};
use crate::run;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Python engine: {0}")]
    Python(String),
    #[error("Python engine: {0}")]
    Io(#[from] std::io::Error),
}

/// Shared by the workers, the watchdog and request handlers.
pub(crate) struct Ctx {
    /// What runs read: the store, GeoIP, the runtime handle, the info and the config.
    pub env: Arc<RunEnv>,
    pub roots: Vec<PathBuf>,
    /// The bootstrap module's ScriptTimeout class.
    timeout_exc: Py<PyAny>,
    /// Compiled scripts by path, with the (mtime, size) they were compiled from.
    cache: Mutex<HashMap<PathBuf, Compiled>>,
    slots: Mutex<Vec<Slot>>,
    next_id: AtomicU64,
    jobs: crossbeam_channel::Receiver<Job>,
}

/// A script's code object and the (mtime, size) of the file it was compiled from.
type Compiled = (SystemTime, u64, Py<PyAny>);

type Reply = oneshot::Sender<Result<ScriptReply, ScriptError>>;

struct Job {
    req: ScriptRequest,
    /// The root the script was found in (CGI's DOCUMENT_ROOT).
    docroot: PathBuf,
    file: PathBuf,
    reply: Reply,
}

/// A worker's state, as the watchdog sees it.
#[derive(Default)]
struct Slot {
    /// Python's id of the worker thread (`threading.get_ident()`).
    ident: u64,
    running: Option<Running>,
    /// Written off after a script ignored its stop: the thread exits if it ever returns.
    abandoned: bool,
}

struct Running {
    id: String,
    path: String,
    deadline: Instant,
    kicked: Option<Instant>,
    /// Taken by whoever answers: the worker when the script ends, the watchdog when it gives up.
    reply: Option<Reply>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The engine (cheap to clone).
#[derive(Clone)]
pub struct Engine {
    ctx: Arc<Ctx>,
    queue: crossbeam_channel::Sender<Job>,
}

impl Engine {
    /// Starts the interpreter (once per process), the workers and the watchdog.
    pub fn start(
        store: Store,
        geo: Option<Arc<Geo>>,
        info: EngineInfo,
        config: PythonConfig,
    ) -> Result<Engine, StartError> {
        std::fs::create_dir_all(&info.spool_path)?;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| StartError::Python(format!("needs a tokio runtime: {e}")))?;
        Python::initialize();
        let timeout_exc = Python::attach(|py| -> PyResult<Py<PyAny>> {
            let boot = crate::modules::install(py)?;
            Ok(boot.getattr("ScriptTimeout")?.unbind())
        })
        .map_err(|e| StartError::Python(Python::attach(|py| crate::run::describe(py, &e))))?;
        let roots = config.roots();
        let (tx, rx) = crossbeam_channel::bounded(config.queue.max(1));
        let ctx = Arc::new(Ctx {
            env: Arc::new(RunEnv { store, alarms: std::sync::OnceLock::new(), geo, handle, info, config }),
            roots,
            timeout_exc,
            cache: Mutex::new(HashMap::new()),
            slots: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            jobs: rx,
        });
        for _ in 0..ctx.env.config.workers.max(1) {
            spawn_worker(&ctx)?;
        }
        let weak = Arc::downgrade(&ctx);
        std::thread::Builder::new().name("python-watchdog".into()).spawn(move || watchdog(&weak))?;
        tracing::info!(roots = ?ctx.roots, workers = ctx.env.config.workers, "Python engine started");
        Ok(Engine { ctx, queue: tx })
    }

    /// Where a script is: the first root that has it. Paths are relative, `.py`, and may not
    /// leave the root (no `..`, no symlink out). A page request never reaches the controller's
    /// own scripts ([`PRIVATE_DIRS`](wirewatch_model::scripts::PRIVATE_DIRS)), by its path or
    /// through a symbolic link: "not found", as for a script that does not exist.
    fn resolve(&self, path: &str, origin: ScriptOrigin) -> Result<(PathBuf, PathBuf), ScriptError> {
        let rel = Path::new(path);
        if !path.ends_with(".py") || path.contains('\0') {
            return Err(ScriptError::NotFound(path.to_string()));
        }
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(ScriptError::BadPath(path.to_string()));
        }
        let page = origin == ScriptOrigin::Http;
        if page && is_private_path(rel) {
            return Err(ScriptError::NotFound(path.to_string()));
        }
        for root in &self.ctx.roots {
            if let Ok(file) = root.join(rel).canonicalize()
                && let Ok(inside) = file.strip_prefix(root)
                && file.is_file()
            {
                if page && is_private_path(inside) {
                    return Err(ScriptError::NotFound(path.to_string()));
                }
                return Ok((root.clone(), file));
            }
        }
        Err(ScriptError::NotFound(path.to_string()))
    }

    /// Where scripts' alarms go (`wirewatch.raise_alarm`); set once, later calls are ignored.
    /// Until it is set, raising an alarm fails with a clear error.
    pub fn set_alarm_service(&self, sink: Arc<dyn wirewatch_model::alarms::AlarmService>) {
        let _ = self.ctx.env.alarms.set(sink);
    }

    /// Workers alive (not written off).
    pub fn workers(&self) -> usize {
        lock(&self.ctx.slots).iter().filter(|s| !s.abandoned).count()
    }
}

impl Scripts for Engine {
    fn run(&self, req: ScriptRequest) -> BoxFuture<'_, Result<ScriptReply, ScriptError>> {
        Box::pin(async move {
            let (docroot, file) = self.resolve(&req.path, req.origin)?;
            let (tx, rx) = oneshot::channel();
            match self.queue.try_send(Job { req, docroot, file, reply: tx }) {
                Ok(()) => {}
                Err(crossbeam_channel::TrySendError::Full(_)) => return Err(ScriptError::Busy(self.queue.len())),
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                    return Err(ScriptError::Engine("the engine has stopped".into()));
                }
            }
            rx.await.map_err(|_| ScriptError::Engine("the worker running this script went away".into()))?
        })
    }
}

fn spawn_worker(ctx: &Arc<Ctx>) -> std::io::Result<()> {
    let idx = {
        let mut slots = lock(&ctx.slots);
        slots.push(Slot::default());
        slots.len() - 1
    };
    let ctx = ctx.clone();
    std::thread::Builder::new().name(format!("python-{idx}")).spawn(move || worker(&ctx, idx))?;
    Ok(())
}

fn worker(ctx: &Arc<Ctx>, idx: usize) {
    let ident =
        Python::attach(|py| -> PyResult<u64> { py.import("threading")?.getattr("get_ident")?.call0()?.extract() });
    match ident {
        Ok(i) => lock(&ctx.slots)[idx].ident = i,
        Err(e) => {
            tracing::error!(error = %e, "Python worker could not start");
            return;
        }
    }
    while let Ok(job) = ctx.jobs.recv() {
        let Job { req, docroot, file, reply } = job;
        let id = format!("py-{}", ctx.next_id.fetch_add(1, Ordering::Relaxed));
        let path = req.path.clone();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Python::attach(|py| execute(py, ctx, idx, &id, req, &docroot, &file, reply))
        }));
        // Left in the slot only when execute panicked with the script running.
        let (leftover, abandoned) = {
            let mut slots = lock(&ctx.slots);
            let slot = &mut slots[idx];
            (slot.running.take().and_then(|mut r| r.reply.take()), slot.abandoned)
        };
        match outcome {
            Ok(Some((reply, result))) => {
                let _ = reply.send(result);
            }
            Ok(None) => {}
            Err(_) => {
                // A bug of ours, not the script's: answer, clean up, keep the worker.
                tracing::error!(script_run = %id, script = %path, "the Python engine panicked running a script");
                run::discard();
                if let Some(reply) = leftover {
                    let _ = reply.send(Err(ScriptError::Engine(format!(
                        "internal error running {path} ({id}); see the controller log"
                    ))));
                }
            }
        }
        // The watchdog answered (and replaced this worker) if the script ignored its stop.
        if abandoned {
            tracing::warn!(script_run = %id, "a written-off Python worker finished its script; it exits");
            return;
        }
    }
}

/// Runs one script on this worker (GIL held). Returns the answer and who waits for it, unless
/// it was given already (a failure before the script ran, or the watchdog's write-off).
#[allow(clippy::too_many_arguments)]
fn execute(
    py: Python<'_>,
    ctx: &Arc<Ctx>,
    idx: usize,
    id: &str,
    req: ScriptRequest,
    docroot: &Path,
    file: &Path,
    reply: Reply,
) -> Option<(Reply, Result<ScriptReply, ScriptError>)> {
    let started = Instant::now();
    let code = match compile(py, ctx, file) {
        Ok(c) => c,
        Err(e) => {
            let _ = reply.send(Err(failed(py, id, &req.path, 500, &e)));
            return None;
        }
    };
    let path = req.path.clone();
    let begin = run::begin(py, ctx.env.clone(), id, &req, docroot, file);
    let globals = match begin {
        Ok(g) => g,
        Err(e) => {
            run::end(py);
            let _ = reply.send(Err(failed(py, id, &path, 500, &e)));
            return None;
        }
    };
    let timeout = Duration::from_secs_f64(ctx.env.config.timeout_secs.max(0.001));
    {
        let mut slots = lock(&ctx.slots);
        slots[idx].running = Some(Running {
            id: id.to_string(),
            path: path.clone(),
            deadline: started + timeout,
            kicked: None,
            reply: Some(reply),
        });
    }
    let result = exec(py, code.bind(py), &globals);
    // Still holding the GIL: the watchdog (which needs it to raise in this thread) cannot be
    // between its check and its raise. Out of the slot, the run is invisible to it; clear what
    // it may have raised just before.
    let (running, ident) = {
        let mut slots = lock(&ctx.slots);
        (slots[idx].running.take(), slots[idx].ident)
    };
    crate::modules::clear_async_exc(py, ident);
    let out = run::end(py);
    let reply = running.and_then(|mut r| r.reply.take())?;
    let elapsed = started.elapsed();
    Some((
        reply,
        match result {
            Ok(()) => Ok(out.reply()),
            Err(e) if e.is_instance_of::<PySystemExit>(py) => {
                // sys.exit(): the script is over; 0/None is success.
                let code = e.value(py).getattr("code").ok();
                let ok = code.as_ref().is_none_or(|c| c.is_none() || c.extract::<i64>().is_ok_and(|v| v == 0));
                if ok {
                    Ok(out.reply())
                } else {
                    let shown = code.map(|c| c.to_string()).unwrap_or_default();
                    Err(ScriptError::Failed {
                        id: id.to_string(),
                        path,
                        status: 500,
                        message: format!("the script called sys.exit({shown})"),
                        traceback: run::traceback(py, &e),
                    })
                }
            }
            Err(e) if e.is_instance(py, ctx.timeout_exc.bind(py)) => Err(ScriptError::Failed {
                id: id.to_string(),
                path,
                status: 504,
                message: format!(
                    "stopped after {:.1} s (the limit is {:.1} s)",
                    elapsed.as_secs_f64(),
                    timeout.as_secs_f64()
                ),
                traceback: run::traceback(py, &e),
            }),
            Err(e) if e.is_instance_of::<crate::modules::Forbidden>(py) => {
                Err(ScriptError::Forbidden { message: e.value(py).to_string() })
            }
            Err(e) => Err(failed(py, id, &path, 500, &e)),
        },
    ))
}

fn failed(py: Python<'_>, id: &str, path: &str, status: u16, e: &PyErr) -> ScriptError {
    ScriptError::Failed {
        id: id.to_string(),
        path: path.to_string(),
        status,
        message: run::describe(py, e),
        traceback: run::traceback(py, e),
    }
}

fn exec(py: Python<'_>, code: &Bound<'_, PyAny>, globals: &Bound<'_, PyDict>) -> PyResult<()> {
    py.import("builtins")?.getattr("exec")?.call1((code, globals))?;
    Ok(())
}

/// The script's code object, compiled again when its file changed (mtime or size).
fn compile(py: Python<'_>, ctx: &Ctx, file: &Path) -> PyResult<Py<PyAny>> {
    let meta = std::fs::metadata(file).map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
    let stamp = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
    if let Some((m, l, code)) = lock(&ctx.cache).get(file)
        && (*m, *l) == stamp
    {
        return Ok(code.clone_ref(py));
    }
    let source = std::fs::read(file).map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
    let code = py
        .import("builtins")?
        .getattr("compile")?
        .call1((PyBytes::new(py, &source), file.to_string_lossy().to_string(), "exec"))?
        .unbind();
    lock(&ctx.cache).insert(file.to_path_buf(), (stamp.0, stamp.1, code.clone_ref(py)));
    Ok(code)
}

/// Raises ScriptTimeout in scripts past their deadline; writes off workers whose script
/// ignores it past the grace period (answering their request and starting a replacement).
fn watchdog(ctx: &std::sync::Weak<Ctx>) {
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let Some(ctx) = ctx.upgrade() else { return };
        let now = Instant::now();
        let overdue = lock(&ctx.slots).iter().any(|s| {
            !s.abandoned
                && s.running.as_ref().is_some_and(|r| {
                    r.deadline <= now && r.kicked.is_none_or(|k| now >= k + Duration::from_millis(200))
                })
        });
        if !overdue {
            continue;
        }
        let grace = Duration::from_secs_f64(ctx.env.config.grace_secs.max(0.0));
        let mut respawn = 0;
        Python::attach(|py| {
            let mut slots = lock(&ctx.slots);
            let now = Instant::now();
            for slot in slots.iter_mut().filter(|s| !s.abandoned) {
                let ident = slot.ident;
                let Some(r) = slot.running.as_mut() else { continue };
                if r.deadline > now {
                    continue;
                }
                match r.kicked {
                    None => {
                        tracing::warn!(script_run = %r.id, script = %r.path, "script past its time limit: stopping it");
                        crate::modules::raise_in_thread(py, ident, ctx.timeout_exc.bind(py));
                        r.kicked = Some(now);
                    }
                    Some(k) if now >= k + grace => {
                        tracing::error!(script_run = %r.id, script = %r.path,
                            "script ignored its stop: its worker is written off and replaced");
                        if let Some(reply) = r.reply.take() {
                            let _ = reply.send(Err(ScriptError::Failed {
                                id: r.id.clone(),
                                path: r.path.clone(),
                                status: 504,
                                message: format!(
                                    "did not stop within {:.1} s of its time limit ({:.1} s); its worker was replaced",
                                    grace.as_secs_f64(),
                                    ctx.env.config.timeout_secs
                                ),
                                traceback: String::new(),
                            }));
                        }
                        slot.abandoned = true;
                        respawn += 1;
                    }
                    Some(k) if now >= k + Duration::from_millis(200) => {
                        // Caught and carried on (a bare `except:`): ask again.
                        crate::modules::raise_in_thread(py, ident, ctx.timeout_exc.bind(py));
                    }
                    Some(_) => {}
                }
            }
        });
        for _ in 0..respawn {
            if let Err(e) = spawn_worker(&ctx) {
                tracing::error!(error = %e, "could not start a replacement Python worker");
            }
        }
    }
}
