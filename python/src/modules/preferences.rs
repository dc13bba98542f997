//! Engine preferences as `ntop.getPreference`/`setPreference` (also in `_wirewatch`) read and
//! write them: the built-in (computed) keys, the namespaces a run may read or write (global,
//! per site) and the `Forbidden` exception raised when the user's role or sites do not allow
//! a call. Must not register functions in a module (the modules do) or use its siblings.

use pyo3::exceptions::{PyPermissionError, PyValueError};
use pyo3::prelude::*;
use wirewatch_model::identity::Role;

use crate::run::{self, with_run};

pyo3::create_exception!(
    ntop,
    Forbidden,
    PyPermissionError,
    "Raised when the signed-in user's role does not allow the call (the page answers 403)."
);

/// Preferences computed from the engine's state (read-only).
fn builtin_preference(py: Python<'_>, key: &str) -> PyResult<Option<String>> {
    Ok(match key {
        "ntop.devices" => Some(run::devices(py)?.iter().map(|(_, i)| i.name.clone()).collect::<Vec<_>>().join(",")),
        _ => None,
    })
}

/// The preference namespaces this run may read: `site` if given (one of the user's sites, or
/// any for a user who sees every site); else the global one for a user who sees every site, or
/// the user's own sites in name order.
pub(super) fn read_scopes(site: Option<&str>) -> PyResult<Vec<String>> {
    let sites = with_run(|r| Ok(r.sites.clone()))?;
    match (site, sites) {
        (Some(s), None) => Ok(vec![s.to_string()]),
        (Some(s), Some(mine)) if mine.iter().any(|m| m == s) => Ok(vec![s.to_string()]),
        (Some(s), Some(_)) => Err(Forbidden::new_err(format!("the preferences of site {s} are not yours to read"))),
        (None, None) => Ok(vec![String::new()]),
        (None, Some(mut mine)) => {
            mine.sort();
            Ok(mine)
        }
    }
}

/// The namespace a write goes to, after the role check: `site` if given; else the global one
/// for a user who sees every site, or the user's only site.
fn write_scope(site: Option<&str>) -> PyResult<String> {
    let (role, sites, user) = with_run(|r| Ok((r.role, r.sites.clone(), r.user.clone())))?;
    if role < Role::Operator {
        return Err(Forbidden::new_err(format!("setPreference needs the operator role ({user} is {})", role.as_str())));
    }
    match (site, sites) {
        (Some(s), None) => Ok(s.to_string()),
        (Some(s), Some(mine)) if mine.iter().any(|m| m == s) => Ok(s.to_string()),
        (Some(s), Some(_)) => Err(Forbidden::new_err(format!("{user} may not set the preferences of site {s}"))),
        (None, None) => Ok(String::new()),
        (None, Some(mine)) if mine.len() == 1 => Ok(mine[0].clone()),
        (None, Some(_)) => Err(Forbidden::new_err(format!(
            "{user} is limited to some sites and may not set global preferences: pass site=..."
        ))),
    }
}

/// ntop: the value or "" when unset; `default` (a wirewatch extension) replaces "". Read from
/// the namespaces of [`read_scopes`]: a user limited to some sites never reads global values
/// or another site's.
#[pyfunction]
#[pyo3(name = "getPreference", signature = (key, default = None, site = None))]
pub(super) fn get_preference(
    py: Python<'_>,
    key: &str,
    default: Option<Py<PyAny>>,
    site: Option<String>,
) -> PyResult<Py<PyAny>> {
    let value = match builtin_preference(py, key)? {
        Some(v) => Some(v),
        None => {
            let k = key.to_string();
            let scopes = read_scopes(site.as_deref())?;
            run::on_pool(py, move |s| Box::pin(async move { s.engine_preference(&scopes, &k).await }))?
        }
    };
    Ok(match (value, default) {
        (Some(v), _) => v.into_pyobject(py)?.into_any().unbind(),
        (None, Some(d)) => d,
        (None, None) => "".into_pyobject(py)?.into_any().unbind(),
    })
}

/// Changes the engine's preference (PostgreSQL, so every controller and every later script
/// sees it). Needs the operator role; the namespace is [`write_scope`]'s.
#[pyfunction]
#[pyo3(name = "setPreference", signature = (key, value, site = None))]
pub(super) fn set_preference(
    py: Python<'_>,
    key: &str,
    value: &Bound<'_, PyAny>,
    site: Option<String>,
) -> PyResult<()> {
    let value: String = value.str()?.to_string();
    let scope = write_scope(site.as_deref())?;
    let user = with_run(|r| Ok(r.user.clone()))?;
    if key.is_empty() || key.len() > 256 {
        return Err(PyValueError::new_err("preference keys are 1 to 256 characters"));
    }
    if builtin_preference(py, key)?.is_some() {
        return Err(PyValueError::new_err(format!("{key} is computed by the engine and cannot be set")));
    }
    let k = key.to_string();
    run::on_pool(py, move |s| Box::pin(async move { s.set_engine_preference(&scope, &k, &value, &user).await }))
}
