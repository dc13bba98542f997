//! The modules scripts import: ntop's `ntop`, `host` and `interface` (names and return types as
//! ntop's 2010 engine, see ../shared/NTOP_API.md) and the low-level `_wirewatch` that the
//! Pythonic `wirewatch` module (wirewatch.py) is written on. This file installs them (with the
//! bootstrap and wirewatch.py) and holds no Python function itself.
//!
//! Each module is a file that uses only `run` (the run's context) and these shared files, never
//! another module: `derived` (host figures shown by `host` and `_wirewatch`), `preferences`
//! (namespaces, `Forbidden`; used by `ntop` and `_wirewatch`), `rrd` (ntop's RRD functions over
//! the archive, with `Forbidden`; used by `ntop`), `ffi` (used by the engine only).
//! `alarms` adds rrdAlarm's and the alarm events' functions to `_wirewatch`.

mod alarms;
mod derived;
mod ffi;
mod host;
mod interface;
mod ntop;
mod preferences;
mod rrd;
mod wirewatch;

use pyo3::prelude::*;

pub(crate) use ffi::{clear_async_exc, raise_in_thread};
pub(crate) use preferences::Forbidden;

const BOOTSTRAP: &str = include_str!("../bootstrap.py");
const WIREWATCH: &str = include_str!("../wirewatch.py");

/// Builds the modules into `sys.modules` and runs the bootstrap. Returns the bootstrap module.
pub(crate) fn install(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let modules = py.import("sys")?.getattr("modules")?;
    for (name, fill) in [
        ("ntop", ntop::register as fn(&Bound<'_, PyModule>) -> PyResult<()>),
        ("host", host::register),
        ("interface", interface::register),
        ("_wirewatch", wirewatch::register),
    ] {
        let m = PyModule::new(py, name)?;
        fill(&m)?;
        if name == "_wirewatch" {
            alarms::register(&m)?;
        }
        modules.set_item(name, m)?;
    }
    let boot = PyModule::from_code(
        py,
        &std::ffi::CString::new(BOOTSTRAP)?,
        c"_wirewatch_bootstrap.py",
        c"_wirewatch_bootstrap",
    )?;
    modules.set_item("_wirewatch_bootstrap", &boot)?;
    let ww = PyModule::from_code(py, &std::ffi::CString::new(WIREWATCH)?, c"wirewatch.py", c"wirewatch")?;
    modules.set_item("wirewatch", ww)?;
    Ok(boot)
}

#[cfg(test)]
mod tests {
    use pyo3::prelude::*;

    /// Lists what scripts can see of the modules: every name with its type and, for functions
    /// and classes, `__module__`, `__qualname__`, text signature and doc string (classes with
    /// their bases), for other values the value.
    const DUMP: &std::ffi::CStr = cr#"
import sys

def describe(v):
    out = [type(v).__name__]
    if not callable(v):
        return f"{out[0]} value={v!r}"
    for attr in ("__module__", "__qualname__", "__text_signature__", "__doc__"):
        out.append(f"{attr}={getattr(v, attr, None)!r}")
    if isinstance(v, type):
        out.append("mro=" + ",".join(f"{c.__module__}.{c.__qualname__}" for c in v.__mro__))
    return " ".join(out)

def dump():
    lines = []
    for name in ("ntop", "host", "interface", "_wirewatch", "wirewatch"):
        m = sys.modules[name]
        for attr in sorted(dir(m)):
            if attr.startswith("__") and attr != "__all__":
                continue
            v = getattr(m, attr)
            lines.append(f"{name}.{attr}: " + (describe(v) if name != "wirewatch" else type(v).__name__))
    return "\n".join(lines) + "\n"
"#;

    /// The Python-visible API (names, signatures, doc strings, exception classes) is what
    /// scripts are written against: any change to it shows here first. After a deliberate
    /// change, regenerate with `WIREWATCH_BLESS=1 cargo test -p wirewatch-python surface`.
    #[test]
    fn python_surface_is_unchanged() {
        Python::initialize();
        let got = Python::attach(|py| -> PyResult<String> {
            super::install(py)?;
            let m = PyModule::from_code(py, DUMP, c"surface_dump.py", c"surface_dump")?;
            m.getattr("dump")?.call0()?.extract()
        })
        .expect("the modules install and can be listed");
        let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/src/modules/surface.txt");
        if std::env::var_os("WIREWATCH_BLESS").is_some() {
            std::fs::write(golden, &got).expect("write the golden file");
        }
        let want = std::fs::read_to_string(golden).unwrap_or_default();
        assert!(got == want, "the Python surface changed; got:\n{got}");
    }
}
