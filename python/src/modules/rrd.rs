//! ntop's RRD functions for the `ntop` module (see ../shared/NTOP_API.md §1):
//! `updateRRDCounter(path, key, value, step)`, `updateRRDGauge(path, key, value, step)` and
//! `rrd_fetch(pathFilename, function, start, end)`, over the controller's RRD archive. The rules
//! (paths below the root, the caller's sites, writes below `scripts/` only, bounds) are
//! `wirewatch_rrd::scripts`'; this file applies them to the run: its caller's role and sites,
//! and a bound on the files one run makes (`[python] rrd_files_per_run`). Shared like
//! `preferences`: the `ntop` module registers these functions. librrd runs with the GIL
//! released.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyFileNotFoundError, PyIOError, PyPermissionError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use wirewatch_model::archive::probe_dir_name;
use wirewatch_rrd::files::{Update, Value};
use wirewatch_rrd::scripts::{self, ReadScope, ScriptFileError};

use super::preferences::Forbidden;
use crate::run::{self, with_run};

thread_local! {
    /// Files made by the run on this thread: (the run's id, how many).
    static CREATED: RefCell<(String, u32)> = const { RefCell::new((String::new(), 0)) };
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

fn archive_root() -> PyResult<PathBuf> {
    with_run(|r| {
        r.ctx
            .info
            .rrd_root
            .clone()
            .ok_or_else(|| PyIOError::new_err("this controller keeps no RRD archive ([rrd] enabled is false)"))
    })
}

fn to_py(e: ScriptFileError, per_run: u32) -> PyErr {
    match e {
        ScriptFileError::Invalid(m) => PyValueError::new_err(m),
        ScriptFileError::Role(m) => Forbidden::new_err(m),
        ScriptFileError::Forbidden(m) => PyPermissionError::new_err(m),
        ScriptFileError::Limit => PyPermissionError::new_err(format!(
            "this run made {per_run} archive files already, as many as one run may ([python] rrd_files_per_run)"
        )),
        ScriptFileError::NotFound(m) => PyFileNotFoundError::new_err(m),
        ScriptFileError::Failed(m) => PyIOError::new_err(m),
    }
}

/// The run's id (its files are counted under it).
fn run_id(py: Python<'_>) -> PyResult<String> {
    with_run(|r| Ok(r.request.bind(py).get_item("id")?.and_then(|v| v.extract::<String>().ok()).unwrap_or_default()))
}

fn made_by(id: &str) -> u32 {
    CREATED.with(|c| {
        let c = c.borrow();
        if c.0 == id { c.1 } else { 0 }
    })
}

/// ntop's update: `<archive root>/<path>/<key>.rrd` made when missing, then `value` written at
/// now. 0 when written, -1 when the file already holds a value for this second (not written).
fn update(py: Python<'_>, path: &str, key: &str, value: Value, step: i64) -> PyResult<i64> {
    let (role, every_site, per_run) = with_run(|r| Ok((r.role, r.sites.is_none(), r.ctx.config.rrd_files_per_run)))?;
    scripts::may_write(role, every_site).map_err(|e| to_py(e, per_run))?;
    let root = archive_root()?;
    let id = run_id(py)?;
    let may_create = made_by(&id) < per_run;
    let (path, key) = (path.to_string(), key.to_string());
    let now = now_secs();
    let r = py.detach(move || scripts::update(&root, &path, &key, value, step, now, may_create));
    match r.map_err(|e| to_py(e, per_run))? {
        Update::Written { created } => {
            if created {
                CREATED.with(|c| {
                    let mut c = c.borrow_mut();
                    if c.0 != id {
                        *c = (id, 0);
                    }
                    c.1 = c.1.saturating_add(1);
                });
            }
            Ok(0)
        }
        Update::NotAfterLast { .. } => Ok(-1),
    }
}

/// ntop: `updateRRDCounter(path, key, value, step)`: a running total (a whole number ≥ 0) into
/// `<path>/<key>.rrd` below the archive root (`path` below `scripts/`), made when missing (one
/// DERIVE data source named `counter`, step `step` seconds), written at now. Returns 0, or -1
/// when the file already holds this second. Needs an operator who sees every site.
#[pyfunction]
#[pyo3(name = "updateRRDCounter")]
pub(super) fn update_rrd_counter(
    py: Python<'_>,
    path: &str,
    key: &str,
    value: &Bound<'_, PyAny>,
    step: i64,
) -> PyResult<i64> {
    let bad = || PyValueError::new_err(format!("a counter is a whole number from 0 to 2**64-1, not {value}"));
    let n = if let Ok(i) = value.extract::<i128>() {
        u64::try_from(i).map_err(|_| bad())?
    } else {
        // ntop's C took a long: a float with no fraction is taken as that number.
        let f: f64 = value.extract().map_err(|_| bad())?;
        if !(f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0) {
            return Err(bad());
        }
        f as u64
    };
    update(py, path, key, Value::Counter(n), step)
}

/// ntop: `updateRRDGauge(path, key, value, step)`: a level (a number ≥ 0) into `<path>/<key>.rrd`
/// below the archive root (`path` below `scripts/`), made when missing (one GAUGE data source
/// named `counter`, step `step` seconds), written at now. Returns 0, or -1 when the file
/// already holds this second. Needs an operator who sees every site.
#[pyfunction]
#[pyo3(name = "updateRRDGauge")]
pub(super) fn update_rrd_gauge(py: Python<'_>, path: &str, key: &str, value: f64, step: i64) -> PyResult<i64> {
    update(py, path, key, Value::Gauge(value), step)
}

/// An AT-style time as text (`now-1h`, `e-30min`) or epoch seconds.
fn at_text(v: &Bound<'_, PyAny>, which: &str) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_str()?.to_string());
    }
    v.extract::<i64>().map(|n| n.to_string()).map_err(|_| {
        PyValueError::new_err(format!("{which} is an AT-style time (\"now-1h\") or epoch seconds, not {v}"))
    })
}

/// ntop: `rrd_fetch(pathFilename, function, start, end)`: rrdtool fetch of a file below the
/// archive root with a consolidation function (`AVERAGE`, `MIN`, `MAX`, `LAST`) over AT-style
/// times, returned as python-rrdtool's `fetch` did: `((start, end, step), (ds names...),
/// [(value, ...) per row, None for unknown])`. A caller limited to some sites reads its probes'
/// files only.
#[pyfunction]
#[pyo3(name = "rrd_fetch")]
#[allow(non_snake_case)]
pub(super) fn rrd_fetch<'py>(
    py: Python<'py>,
    pathFilename: &str,
    function: &str,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let (start, end) = (at_text(start, "start")?, at_text(end, "end")?);
    let (all_sites, per_run) = with_run(|r| Ok((r.sites.is_none(), r.ctx.config.rrd_files_per_run)))?;
    let scope = if all_sites {
        ReadScope::Every
    } else {
        ReadScope::Probes(run::probes(py)?.iter().map(|p| probe_dir_name(&p.name)).collect())
    };
    let root = archive_root()?;
    let (path, function) = (pathFilename.to_string(), function.to_string());
    let now = now_secs();
    let t = py
        .detach(move || scripts::fetch(&root, &path, &function, &start, &end, now, &scope))
        .map_err(|e| to_py(e, per_run))?;
    let range = PyTuple::new(py, [t.start, t.end, i64::try_from(t.step).unwrap_or(i64::MAX)])?;
    let names = PyTuple::new(py, &t.names)?;
    let rows = PyList::empty(py);
    for row in t.rows() {
        let values: Vec<Option<f64>> = row.iter().map(|v| Some(*v).filter(|v| !v.is_nan())).collect();
        rows.append(PyTuple::new(py, values)?)?;
    }
    PyTuple::new(py, [range.into_any(), names.into_any(), rows.into_any()])
}
