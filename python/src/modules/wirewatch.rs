//! `_wirewatch`, the low-level module the Pythonic `wirewatch` (wirewatch.py) is written on:
//! page output, the request, devices, pages of hosts with a cursor, host detail, GeoIP,
//! histories and preferences, as plain dicts, lists and tuples. Must not keep state between
//! calls (the run does) or shape objects (wirewatch.py does).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use wirewatch_model::{Host, HostSort};
use wirewatch_store::api::{Resolution, Span};
use wirewatch_store::hosts::{HostCursor, HostQuery};

use super::derived::{geo_dict, thpt};
use super::preferences::{Forbidden, get_preference, read_scopes, set_preference};
use crate::run::{self, with_run};

/// Everything about a host, for `wirewatch.Host`.
fn host_dict<'py>(py: Python<'py>, device: Option<usize>, h: &Host) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let t = &h.traffic;
    let g = &h.gauges;
    d.set_item("device", device)?;
    d.set_item("site", &h.site)?;
    d.set_item("probe", &h.probe)?;
    d.set_item("interface", &h.interface)?;
    d.set_item("interface_id", h.key.interface_id)?;
    d.set_item("ip", h.key.ip.to_string())?;
    d.set_item("mac", h.mac.map(|m| m.to_string()))?;
    d.set_item("names", &h.names)?;
    d.set_item("vlan", h.vlan)?;
    d.set_item("first_seen", h.first_seen_ns as f64 / 1e9)?;
    d.set_item("last_seen", h.last_seen_ns as f64 / 1e9)?;
    d.set_item("pkts_sent", t.tx_packets)?;
    d.set_item("bytes_sent", t.tx_bytes)?;
    d.set_item("pkts_rcvd", t.rx_packets)?;
    d.set_item("bytes_rcvd", t.rx_bytes)?;
    let proto = PyDict::new(py);
    for (name, p) in h.l4.named() {
        proto.set_item(name, (p.tx_packets, p.tx_bytes, p.rx_packets, p.rx_bytes))?;
    }
    d.set_item("protocols", proto)?;
    d.set_item("syn_sent", h.syn_sent)?;
    d.set_item("tcp_sessions_active", g.tcp_sessions_active)?;
    d.set_item("tcp_sessions_total", h.tcp_sessions_total)?;
    d.set_item("udp_flows", h.udp_flows)?;
    d.set_item("peers_sent", g.peers_sent)?;
    d.set_item("peers_rcvd", g.peers_rcvd)?;
    d.set_item("thpt_sent", thpt(py, g.thpt.actual_tx, h.average_thpt_tx(), g.thpt.peak_tx)?)?;
    d.set_item("thpt_rcvd", thpt(py, g.thpt.actual_rx, h.average_thpt_rx(), g.thpt.peak_rx)?)?;
    d.set_item("roles", h.role_names())?;
    Ok(d)
}

#[pyfunction]
#[pyo3(name = "write")]
fn ww_write(s: &str) -> PyResult<()> {
    run::write(s)
}

#[pyfunction]
fn request(py: Python<'_>) -> PyResult<Py<PyDict>> {
    with_run(|r| Ok(r.request.clone_ref(py)))
}

/// Every interface (device) this run may see.
#[pyfunction]
fn devices(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let out = PyList::empty(py);
    for (k, (p, i)) in run::devices(py)?.iter().enumerate() {
        let d = PyDict::new(py);
        d.set_item("index", k)?;
        d.set_item("id", i.id)?;
        d.set_item("name", &i.name)?;
        d.set_item("probe", &p.name)?;
        d.set_item("site", &p.site)?;
        d.set_item("link_type", &i.link_type)?;
        d.set_item("live", i.live)?;
        d.set_item("packets", i.counters.packets)?;
        d.set_item("bytes", i.counters.bytes)?;
        d.set_item("hosts", i.gauges.hosts)?;
        d.set_item("first_seen", i.gauges.first_seen_ns as f64 / 1e9)?;
        d.set_item("last_seen", i.gauges.last_seen_ns as f64 / 1e9)?;
        d.set_item("probe_version", &p.software_version)?;
        d.set_item("probe_os", &p.os)?;
        d.set_item("probe_last_batch", p.last_batch_at.map(|t| t.timestamp()))?;
        out.append(d)?;
    }
    Ok(out)
}

/// A host-list cursor as Python sees it: (sort key, probe id, interface id, ip).
type CursorTuple = (String, i64, i64, String);
/// (ts, pkts_sent, bytes_sent, pkts_rcvd, bytes_rcvd)
type HostPointTuple = (f64, u64, u64, u64, u64);

/// One page of hosts: (list of host dicts, cursor for the next page or None).
#[pyfunction]
#[pyo3(signature = (device = None, site = None, probe = None, cidr = None, search = None, sort = "bytes", descending = true, after = None, limit = 1000))]
#[allow(clippy::too_many_arguments)]
fn hosts<'py>(
    py: Python<'py>,
    device: Option<i64>,
    site: Option<String>,
    probe: Option<String>,
    cidr: Option<String>,
    search: Option<String>,
    sort: &str,
    descending: bool,
    after: Option<CursorTuple>,
    limit: i64,
) -> PyResult<(Bound<'py, PyList>, Option<CursorTuple>)> {
    let sort: HostSort = sort.parse().map_err(|e: String| PyValueError::new_err(e))?;
    let (interface_id, idx) = match device {
        Some(d) => (Some(run::device_at(py, d)?.1.id), usize::try_from(d).ok()),
        None => (None, None),
    };
    let q = HostQuery {
        site,
        probe,
        interface_id,
        cidr,
        search,
        sort,
        descending,
        after: after
            .map(|(key, probe_id, interface_id, ip)| {
                let ip = ip.parse().map_err(|_| PyValueError::new_err(format!("cursor: not an IP address: {ip:?}")))?;
                Ok::<_, PyErr>(HostCursor { key, probe_id, interface_id, ip })
            })
            .transpose()?,
        limit: limit.clamp(1, 100_000),
    };
    let (rows, more) = run::read(py, move |s| Box::pin(async move { s.host_page(&q).await }))?;
    let out = PyList::empty(py);
    for h in &rows {
        out.append(host_dict(py, idx, h)?)?;
    }
    Ok((out, more.map(|c| (c.key, c.probe_id, c.interface_id, c.ip.to_string()))))
}

/// One host on a device, with its services, or None.
#[pyfunction]
fn host_detail<'py>(py: Python<'py>, ip: &str, device: i64) -> PyResult<Option<Bound<'py, PyDict>>> {
    let (_, iface) = run::device_at(py, device)?;
    let Ok(addr) = ip.parse::<IpAddr>() else {
        return Err(PyValueError::new_err(format!("not an IP address: {ip:?}")));
    };
    let id = iface.id;
    let Some((h, services)) = run::read(py, move |s| Box::pin(async move { s.host(id, addr).await }))? else {
        return Ok(None);
    };
    let d = host_dict(py, usize::try_from(device).ok(), &h)?;
    let sv = PyDict::new(py);
    for (name, v) in services {
        sv.set_item(name, (v.tx_packets, v.tx_bytes, v.rx_packets, v.rx_bytes))?;
    }
    d.set_item("services", sv)?;
    Ok(Some(d))
}

#[pyfunction]
fn geo<'py>(py: Python<'py>, ip: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    let d = geo_dict(py, ip)?;
    Ok(if d.is_empty() { None } else { Some(d) })
}

/// What must be shown with geolocation figures (`{"text", "url", "license"}`), or None when
/// no database is configured or its licence asks for nothing.
#[pyfunction]
fn geo_attribution(py: Python<'_>) -> PyResult<Option<Bound<'_, PyDict>>> {
    let Some(a) = with_run(|r| Ok(r.ctx.geo.as_ref().and_then(|g| g.attribution.clone())))? else {
        return Ok(None);
    };
    let d = PyDict::new(py);
    d.set_item("text", a.text)?;
    d.set_item("url", a.url)?;
    d.set_item("license", a.license)?;
    Ok(Some(d))
}

fn resolution(s: &str) -> PyResult<Resolution> {
    match s {
        "raw" => Ok(Resolution::Raw),
        "hourly" => Ok(Resolution::Hourly),
        "daily" => Ok(Resolution::Daily),
        other => Err(PyValueError::new_err(format!("resolution {other:?}: use raw, hourly or daily"))),
    }
}

fn span(res: &str, start: f64, end: f64, limit: i64) -> PyResult<Span> {
    let t = |s: f64| {
        DateTime::<Utc>::from_timestamp_millis((s * 1000.0) as i64)
            .ok_or_else(|| PyValueError::new_err(format!("time out of range: {s}")))
    };
    Ok(Span { res: resolution(res)?, from: t(start)?, to: t(end)?, limit: limit.clamp(1, 100_000) })
}

/// A host's history: list of (ts, pkts_sent, bytes_sent, pkts_rcvd, bytes_rcvd).
#[pyfunction]
#[pyo3(signature = (device, ip, resolution = "hourly", start = 0.0, end = 4_102_444_800.0, limit = 10_000))]
fn host_history(
    py: Python<'_>,
    device: i64,
    ip: &str,
    resolution: &str,
    start: f64,
    end: f64,
    limit: i64,
) -> PyResult<Vec<HostPointTuple>> {
    let (p, i) = run::device_at(py, device)?;
    let span = span(resolution, start, end, limit)?;
    let ip: IpAddr = ip.parse().map_err(|_| PyValueError::new_err(format!("not an IP address: {ip:?}")))?;
    let (pid, iid) = (p.id, i.id);
    let pts = run::on_pool(py, move |s| Box::pin(async move { s.host_history(pid, iid, ip, span).await }))?;
    Ok(pts
        .iter()
        .map(|p| {
            let t = &p.traffic;
            (p.ts.timestamp_millis() as f64 / 1000.0, t.tx_packets, t.tx_bytes, t.rx_packets, t.rx_bytes)
        })
        .collect())
}

/// An interface's history: list of (ts, packets, bytes, drops).
#[pyfunction]
#[pyo3(signature = (device, resolution = "hourly", start = 0.0, end = 4_102_444_800.0, limit = 10_000))]
fn interface_history(
    py: Python<'_>,
    device: i64,
    resolution: &str,
    start: f64,
    end: f64,
    limit: i64,
) -> PyResult<Vec<(f64, i64, i64, i64)>> {
    let (p, i) = run::device_at(py, device)?;
    let span = span(resolution, start, end, limit)?;
    let (pid, iid) = (p.id, i.id);
    let pts = run::on_pool(py, move |s| Box::pin(async move { s.interface_history(pid, iid, span).await }))?;
    Ok(pts.iter().map(|p| (p.ts.timestamp_millis() as f64 / 1000.0, p.packets, p.bytes, p.drops)).collect())
}

/// Engine preferences as a dict: those of [`read_scopes`] (for several sites, the first site
/// in name order that has a key wins, as in `getPreference`).
#[pyfunction]
#[pyo3(signature = (site = None))]
fn preferences(py: Python<'_>, site: Option<String>) -> PyResult<Vec<(String, String)>> {
    let scopes = read_scopes(site.as_deref())?;
    let all = run::on_pool(py, move |s| Box::pin(async move { s.engine_preferences(&scopes).await }))?;
    let mut seen = std::collections::HashSet::new();
    Ok(all.into_iter().filter(|p| seen.insert(p.key.clone())).map(|p| (p.key, p.value)).collect())
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ww_write, m)?)?;
    m.add_function(wrap_pyfunction!(request, m)?)?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    m.add_function(wrap_pyfunction!(hosts, m)?)?;
    m.add_function(wrap_pyfunction!(host_detail, m)?)?;
    m.add_function(wrap_pyfunction!(geo, m)?)?;
    m.add_function(wrap_pyfunction!(geo_attribution, m)?)?;
    m.add_function(wrap_pyfunction!(host_history, m)?)?;
    m.add_function(wrap_pyfunction!(interface_history, m)?)?;
    m.add_function(wrap_pyfunction!(preferences, m)?)?;
    m.add_function(wrap_pyfunction!(get_preference, m)?)?;
    m.add_function(wrap_pyfunction!(set_preference, m)?)?;
    m.add("Forbidden", m.py().get_type::<Forbidden>())?;
    Ok(())
}
