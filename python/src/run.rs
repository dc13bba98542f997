//! One script run's context: a thread-local on the worker running it, read by the module
//! functions. Database reads go through the run's snapshot (one REPEATABLE READ transaction,
//! opened at the first read) with the GIL released.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use wirewatch_model::Host;
use wirewatch_model::identity::Role;
use wirewatch_model::scripts::{ScriptReply, ScriptRequest};
use wirewatch_store::api::{InterfaceRow, ProbeRow};
use wirewatch_store::snapshot::Snapshot;

use crate::context::RunEnv;

thread_local! {
    static RUN: RefCell<Option<Run>> = const { RefCell::new(None) };
}

/// ntop's host cursor over one interface, read page by page from the snapshot.
pub(crate) struct Cursor {
    pub device: usize,
    pub probe_id: i64,
    pub interface_id: i64,
    pub buf: VecDeque<Host>,
    /// The last address read.
    pub after: Option<IpAddr>,
    pub done: bool,
}

pub(crate) struct Run {
    /// What the run reads of the engine (store, GeoIP, runtime, info, config).
    pub ctx: Arc<RunEnv>,
    /// The script's path below its root (`alarms/disk.py`).
    pub script: String,
    pub user: String,
    pub role: Role,
    pub sites: Option<Vec<String>>,
    pub out: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub snapshot: Option<Snapshot>,
    pub probes: Option<Arc<Vec<ProbeRow>>>,
    pub cursor: Option<Cursor>,
    /// The host ntop's `host` module reads.
    pub current: Option<Host>,
    pub request: Py<PyDict>,
}

/// The output and headers a run produced.
pub(crate) struct Output {
    pub body: String,
    pub status: u16,
    pub content_type: Option<String>,
}

impl Output {
    pub fn reply(self) -> ScriptReply {
        ScriptReply {
            status: self.status,
            content_type: self.content_type.unwrap_or_else(|| "text/html; charset=utf-8".into()),
            body: self.body.into_bytes(),
        }
    }
}

pub(crate) fn no_run() -> PyErr {
    PyRuntimeError::new_err("the wirewatch API is only available in the thread running a script")
}

/// Runs `f` on this thread's run.
pub(crate) fn with_run<T>(f: impl FnOnce(&mut Run) -> PyResult<T>) -> PyResult<T> {
    RUN.with(|r| match r.borrow_mut().as_mut() {
        Some(run) => f(run),
        None => Err(no_run()),
    })
}

/// Appends to the page (print and ntop.sendString).
pub(crate) fn write(s: &str) -> PyResult<()> {
    with_run(|r| {
        if r.out.len() + s.len() > r.ctx.config.max_output_bytes {
            return Err(PyValueError::new_err(format!(
                "page larger than max_output_bytes ({} bytes)",
                r.ctx.config.max_output_bytes
            )));
        }
        r.out.push_str(s);
        Ok(())
    })
}

/// Sets up a run on this thread: the context, the CGI environment and stdin (bootstrap
/// `_begin`), and the script's globals.
pub(crate) fn begin<'py>(
    py: Python<'py>,
    ctx: Arc<RunEnv>,
    id: &str,
    req: &ScriptRequest,
    docroot: &Path,
    file: &Path,
) -> PyResult<Bound<'py, PyDict>> {
    let environ = PyDict::new(py);
    environ.set_item("DOCUMENT_ROOT", docroot.display().to_string())?;
    environ.set_item("SCRIPT_NAME", format!("/python/{}", req.path))?;
    environ.set_item("SCRIPT_FILENAME", file.display().to_string())?;
    environ.set_item("REQUEST_METHOD", &req.method)?;
    environ.set_item("QUERY_STRING", &req.query)?;
    environ.set_item("CONTENT_LENGTH", req.body.len().to_string())?;
    environ.set_item(
        "CONTENT_TYPE",
        req.content_type.clone().unwrap_or_else(|| "application/x-www-form-urlencoded".into()),
    )?;
    environ.set_item("REMOTE_USER", &req.caller.name)?;
    environ.set_item("REMOTE_ADDR", &req.remote_addr)?;
    environ.set_item("GATEWAY_INTERFACE", "CGI/1.1")?;
    environ.set_item("SERVER_SOFTWARE", format!("wirewatch/{}", ctx.info.version))?;
    for (k, v) in &req.headers {
        environ.set_item(format!("HTTP_{}", k.to_ascii_uppercase().replace('-', "_")), v)?;
    }
    // The plain dict of parameters: query string, then form fields of a urlencoded POST.
    let boot = py.import("_wirewatch_bootstrap")?;
    let params = boot.getattr("_params")?.call1((
        &req.query,
        req.content_type.clone().unwrap_or_default(),
        PyBytes::new(py, &req.body),
    ))?;
    let request = PyDict::new(py);
    request.set_item("method", &req.method)?;
    request.set_item("path", &req.path)?;
    request.set_item("query_string", &req.query)?;
    request.set_item("params", &params)?;
    request.set_item("user", &req.caller.name)?;
    request.set_item("role", req.caller.role.as_str())?;
    request.set_item("sites", req.caller.sites.clone())?;
    request.set_item("id", id)?;
    request.set_item("csp_nonce", &req.csp_nonce)?;
    RUN.with(|r| {
        *r.borrow_mut() = Some(Run {
            ctx: ctx.clone(),
            script: req.path.clone(),
            user: req.caller.name.clone(),
            role: req.caller.role,
            sites: req.caller.sites.clone(),
            out: String::new(),
            status: 200,
            content_type: None,
            snapshot: None,
            probes: None,
            cursor: None,
            current: None,
            request: request.clone().unbind(),
        })
    });
    // sys.argv: the run's own when the request has one (an alarm action's `-p PARAM -t TEXT`),
    // read through the bootstrap's per-thread dispatcher like os.environ.
    let argv = (!req.argv.is_empty()).then(|| req.argv.clone());
    boot.getattr("_begin")?.call1((environ, PyBytes::new(py, &req.body), argv))?;
    let globals = PyDict::new(py);
    globals.set_item("__name__", "__main__")?;
    globals.set_item("__file__", file.display().to_string())?;
    globals.set_item("__builtins__", py.import("builtins")?)?;
    globals.set_item("params", params)?;
    Ok(globals)
}

/// Ends the run on this thread and returns what it produced.
pub(crate) fn end(py: Python<'_>) -> Output {
    if let Ok(boot) = py.import("_wirewatch_bootstrap")
        && let Err(e) = boot.getattr("_end").and_then(|f| f.call0())
    {
        tracing::warn!(error = %e, "bootstrap _end failed");
    }
    match discard() {
        Some((body, status, content_type)) => Output { body, status, content_type },
        None => Output { body: String::new(), status: 500, content_type: None },
    }
}

/// Drops this thread's run (if any) and returns its page. The snapshot's pooled connection
/// must go back to the pool inside the runtime's context.
pub(crate) fn discard() -> Option<(String, u16, Option<String>)> {
    let mut run = RUN.with(|r| r.borrow_mut().take())?;
    let guard = run.ctx.handle.enter();
    drop(run.snapshot.take());
    drop(guard);
    Some((run.out, run.status, run.content_type))
}

/// "ValueError: message" for an exception.
pub(crate) fn describe(py: Python<'_>, e: &PyErr) -> String {
    let name = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    format!("{name}: {}", e.value(py))
}

/// The formatted traceback, as Python prints it.
pub(crate) fn traceback(py: Python<'_>, e: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|tb| tb.getattr("format_exception")?.call1((e.get_type(py), e.value(py), e.traceback(py))))
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat(),
        Err(_) => describe(py, e),
    }
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = wirewatch_store::Result<T>> + Send + 'a>>;

/// Runs a read on the run's snapshot (opened on first use) with the GIL released.
pub(crate) fn read<T: Send + 'static>(
    py: Python<'_>,
    f: impl for<'a> FnOnce(&'a mut Snapshot) -> Fut<'a, T> + Send + 'static,
) -> PyResult<T> {
    let (ctx, sites, snap) = with_run(|r| Ok((r.ctx.clone(), r.sites.clone(), r.snapshot.take())))?;
    let store = ctx.store.clone();
    let result = py
        .detach(|| {
            on_runtime(&ctx.handle, async move {
                let mut snap = match snap {
                    Some(s) => s,
                    None => store.snapshot(sites).await?,
                };
                let out = f(&mut snap).await;
                Ok::<_, wirewatch_store::StoreError>((snap, out))
            })
        })
        .and_then(|r| r);
    match result {
        Ok((snap, out)) => {
            with_run(|r| {
                r.snapshot = Some(snap);
                Ok(())
            })?;
            out.map_err(store_err)
        }
        Err(e) => Err(store_err(e)),
    }
}

/// Runs something on the pool (not the snapshot) with the GIL released.
pub(crate) fn on_pool<T: Send + 'static>(
    py: Python<'_>,
    f: impl for<'a> FnOnce(&'a wirewatch_store::Store) -> Fut<'a, T> + Send + 'static,
) -> PyResult<T> {
    let ctx = with_run(|r| Ok(r.ctx.clone()))?;
    let store = ctx.store.clone();
    py.detach(|| on_runtime(&ctx.handle, async move { f(&store).await })).and_then(|r| r).map_err(store_err)
}

/// Runs a future as a task of the controller's runtime and waits for it on this (worker)
/// thread. Polled on a runtime thread, the query's socket reads need no cross-thread wake-up
/// each (`Handle::block_on` from this thread did: 2x slower on a 100k-host walk).
fn on_runtime<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    fut: impl Future<Output = wirewatch_store::Result<T>> + Send + 'static,
) -> wirewatch_store::Result<wirewatch_store::Result<T>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| wirewatch_store::StoreError::Invalid("the query task was cancelled (shutdown)".into()))
}

pub(crate) fn store_err(e: wirewatch_store::StoreError) -> PyErr {
    match e {
        wirewatch_store::StoreError::Invalid(m) => PyValueError::new_err(m),
        other => PyRuntimeError::new_err(format!("database: {other}")),
    }
}

/// The probes (with interfaces) this run may see, read once per run.
pub(crate) fn probes(py: Python<'_>) -> PyResult<Arc<Vec<ProbeRow>>> {
    if let Some(p) = with_run(|r| Ok(r.probes.clone()))? {
        return Ok(p);
    }
    let p = Arc::new(read(py, |s| Box::pin(s.probes()))?);
    with_run(|r| {
        r.probes = Some(p.clone());
        Ok(())
    })?;
    Ok(p)
}

/// ntop's devices: every interface of every probe this run may see, in (site, probe,
/// interface) order; a device id is an index into this list.
pub(crate) fn devices(py: Python<'_>) -> PyResult<Vec<(ProbeRow, InterfaceRow)>> {
    let probes = probes(py)?;
    Ok(probes.iter().flat_map(|p| p.interfaces.iter().map(move |i| (p.clone(), i.clone()))).collect())
}

pub(crate) fn device_at(py: Python<'_>, idx: i64) -> PyResult<(ProbeRow, InterfaceRow)> {
    let probes = probes(py)?;
    let mut n = 0i64;
    for p in probes.iter() {
        for i in &p.interfaces {
            if n == idx {
                return Ok((p.clone(), i.clone()));
            }
            n += 1;
        }
    }
    Err(pyo3::exceptions::PyIndexError::new_err(format!(
        "no interface {idx}: there are {n} (interface.numInterfaces())"
    )))
}

/// Hosts read per round trip by a cursor.
const PAGE: i64 = 5000;

/// Moves the cursor of `device` one host on; `first` starts it again. Returns whether there
/// is a current host.
pub(crate) fn step(py: Python<'_>, device: i64, first: bool) -> PyResult<bool> {
    let idx = usize::try_from(device).unwrap_or(usize::MAX);
    let restart = first || with_run(|r| Ok(r.cursor.as_ref().is_none_or(|c| c.device != idx)))?;
    if restart {
        let (probe, iface) = device_at(py, device)?;
        with_run(|r| {
            r.cursor = Some(Cursor {
                device: idx,
                probe_id: probe.id,
                interface_id: iface.id,
                buf: VecDeque::new(),
                after: None,
                done: false,
            });
            r.current = None;
            Ok(())
        })?;
    }
    loop {
        let next = with_run(|r| {
            let c = r.cursor.as_mut().ok_or_else(no_run)?;
            Ok(match c.buf.pop_front() {
                Some(h) => Some(Some(h)),
                None if c.done => Some(None),
                None => None,
            })
        })?;
        match next {
            Some(Some(h)) => {
                with_run(|r| {
                    r.current = Some(h);
                    Ok(())
                })?;
                return Ok(true);
            }
            Some(None) => {
                // ntop: past the last host the cursor is reset (the next call starts again).
                with_run(|r| {
                    r.cursor = None;
                    r.current = None;
                    Ok(())
                })?;
                return Ok(false);
            }
            None => {
                let (probe_id, interface_id, after) = with_run(|r| {
                    let c = r.cursor.as_ref().ok_or_else(no_run)?;
                    Ok((c.probe_id, c.interface_id, c.after))
                })?;
                let rows = read(py, move |s| {
                    Box::pin(async move { s.interface_hosts(probe_id, interface_id, after, PAGE).await })
                })?;
                with_run(|r| {
                    let c = r.cursor.as_mut().ok_or_else(no_run)?;
                    c.done = i64::try_from(rows.len()).unwrap_or(i64::MAX) < PAGE;
                    c.after = rows.last().map(|h| h.key.ip);
                    c.buf.extend(rows);
                    Ok(())
                })?;
            }
        }
    }
}

/// Positions ntop's cursor on one host (`findHostByNumIP`).
pub(crate) fn find(py: Python<'_>, ip: &str, vlan: i64, device: i64) -> PyResult<bool> {
    let (_, iface) = device_at(py, device)?;
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return Err(PyValueError::new_err(format!("not an IP address: {ip:?}")));
    };
    let id = iface.id;
    let found = read(py, move |s| Box::pin(async move { s.host(id, ip).await }))?;
    let host = found.map(|(h, _)| h).filter(|h| vlan <= 0 || i64::from(h.vlan) == vlan);
    let ok = host.is_some();
    with_run(|r| {
        r.current = host;
        Ok(())
    })?;
    Ok(ok)
}

/// Reads the current host.
pub(crate) fn current<T>(f: impl FnOnce(&Host) -> T) -> PyResult<T> {
    with_run(|r| match &r.current {
        Some(h) => Ok(f(h)),
        None => Err(pyo3::exceptions::PyLookupError::new_err(
            "no current host: call ntop.getFirstHost/getNextHost/findHostByNumIP first",
        )),
    })
}
