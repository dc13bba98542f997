//! Python values derived from a host or an address, shared by the `host` and `_wirewatch`
//! modules so both show the same figures: the `{actual, average, peak}` throughput dict, the
//! GeoIP dict. Must not register functions or use its sibling modules.

use std::net::IpAddr;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::run::with_run;

/// ntop's `{actual, average, peak}` throughput dict (bytes/s).
pub(super) fn thpt<'py>(py: Python<'py>, actual: f32, average: f64, peak: f32) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("actual", f64::from(actual))?;
    d.set_item("average", average)?;
    d.set_item("peak", f64::from(peak))?;
    Ok(d)
}

pub(super) fn geo_dict<'py>(py: Python<'py>, ip: &str) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let geo = with_run(|r| Ok(r.ctx.geo.clone()))?;
    if let (Some(g), Ok(addr)) = (geo, ip.parse::<IpAddr>())
        && let Some(p) = g.lookup(addr)
    {
        d.set_item("country_code", p.country_code.unwrap_or_default())?;
        d.set_item("country_name", p.country.unwrap_or_default())?;
        d.set_item("region", p.region.unwrap_or_default())?;
        d.set_item("city", p.city.unwrap_or_default())?;
        d.set_item("latitude", p.latitude.unwrap_or(0.0))?;
        d.set_item("longitude", p.longitude.unwrap_or(0.0))?;
    }
    Ok(d)
}
