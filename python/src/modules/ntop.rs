//! ntop's `ntop` module (names and 2010 return types, see ../shared/NTOP_API.md): HTTP headers
//! and statuses, the page chrome, output, the host cursor, the controller's facts, the
//! preferences (from `preferences`) and the RRD functions (from `rrd`). Must not read the
//! database except through `run`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wirewatch_model::scripts::html_escape;

use super::preferences::{Forbidden, get_preference, set_preference};
use super::rrd::{rrd_fetch, update_rrd_counter, update_rrd_gauge};
use crate::run::{self, with_run};

/// ntop's MIME codes (1 = HTML, 12 = JSON), or a MIME type string.
#[pyfunction]
#[pyo3(name = "sendHTTPHeader", signature = (mime_type = None, **_kwargs))]
fn send_http_header(mime_type: Option<&Bound<'_, PyAny>>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
    let ct = match mime_type {
        None => "text/html; charset=utf-8".to_string(),
        Some(v) => {
            if let Ok(code) = v.extract::<i64>() {
                match code {
                    1 => "text/html; charset=utf-8".to_string(),
                    12 => "application/json".to_string(),
                    other => {
                        return Err(PyValueError::new_err(format!(
                            "unknown MIME code {other}: use 1 (HTML), 12 (JSON) or a MIME type string"
                        )));
                    }
                }
            } else {
                let s: String = v.extract()?;
                if s.contains(['\r', '\n']) || !s.contains('/') {
                    return Err(PyValueError::new_err(format!("not a MIME type: {s:?}")));
                }
                s
            }
        }
    };
    with_run(|r| {
        r.content_type = Some(ct);
        Ok(())
    })
}

fn status_page(code: u16, text: &str) -> PyResult<()> {
    with_run(|r| {
        r.status = code;
        r.content_type = Some("text/html; charset=utf-8".into());
        r.out.push_str(&format!(
            "<!DOCTYPE html><html><head><title>{code} {text}</title></head><body><h1>{code} {text}</h1></body></html>"
        ));
        Ok(())
    })
}

#[pyfunction]
#[pyo3(name = "returnHTTPnotImplemented")]
fn return_http_not_implemented() -> PyResult<()> {
    status_page(501, "Not Implemented")
}

#[pyfunction]
#[pyo3(name = "returnHTTPversionServerError")]
fn return_http_version_server_error() -> PyResult<()> {
    status_page(500, "Internal Server Error")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}\
header{background:#1f3b57;color:#fff;padding:.5em 1em}header a{color:#cfe3ff;margin-right:1em;text-decoration:none}\
main{padding:1em}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2em .5em}\
th{background:#eef2f6}.warning{background:#fff3cd;border:1px solid #e0c36b;padding:.5em;margin:.5em 0}\
footer{color:#777;font-size:.85em;padding:1em;border-top:1px solid #ddd}";

/// ntop: `printHTMLHeader(title, sectionTitle, refresh)`: the page head and the navigation;
/// `sectionTitle` true shows the title as a heading, `refresh` true reloads every 120 s.
#[pyfunction]
#[pyo3(name = "printHTMLHeader", signature = (title, section_title = 1, refresh = 0))]
fn print_html_header(title: &str, section_title: i64, refresh: i64) -> PyResult<()> {
    let t = html_escape(title);
    let meta = if refresh != 0 { "<meta http-equiv=\"refresh\" content=\"120\">" } else { "" };
    let heading = if section_title != 0 { format!("<h1>{t}</h1>") } else { String::new() };
    run::write(&format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">{meta}<title>{t}</title><style>{STYLE}</style></head><body>\
         <header><b>wirewatch</b> &nbsp; <a href=\"/python/hosts.py\">Hosts</a><a href=\"/python/throughput.py\">Throughput</a>\
         <a href=\"/python/region_map.py\">Host Region Map</a><a href=\"/logout\" style=\"float:right\">Sign out</a></header><main>{heading}\n"
    ))?;
    with_run(|r| {
        r.content_type.get_or_insert_with(|| "text/html; charset=utf-8".into());
        Ok(())
    })
}

#[pyfunction]
#[pyo3(name = "printHTMLFooter")]
fn print_html_footer() -> PyResult<()> {
    let (version, user) = with_run(|r| Ok((r.ctx.info.version.clone(), r.user.clone())))?;
    run::write(&format!(
        "</main><footer>wirewatch {} &middot; signed in as {}</footer></body></html>\n",
        html_escape(&version),
        html_escape(&user)
    ))
}

#[pyfunction]
#[pyo3(name = "sendString")]
fn send_string(msg: &str) -> PyResult<()> {
    run::write(msg)
}

#[pyfunction]
#[pyo3(name = "printFlagedWarning")]
fn print_flaged_warning(msg: &str) -> PyResult<()> {
    run::write(&format!("<div class=\"warning\">&#9888; {}</div>\n", html_escape(msg)))
}

#[pyfunction]
#[pyo3(name = "getFirstHost", signature = (actual_device_id = 0))]
fn get_first_host(py: Python<'_>, actual_device_id: i64) -> PyResult<i64> {
    Ok(i64::from(run::step(py, actual_device_id, true)?))
}

#[pyfunction]
#[pyo3(name = "getNextHost", signature = (actual_device_id = 0))]
fn get_next_host(py: Python<'_>, actual_device_id: i64) -> PyResult<i64> {
    Ok(i64::from(run::step(py, actual_device_id, false)?))
}

#[pyfunction]
#[pyo3(name = "findHostByNumIP", signature = (host_ip_address, vlan_id = 0, actual_device_id = 0))]
fn find_host_by_num_ip(py: Python<'_>, host_ip_address: &str, vlan_id: i64, actual_device_id: i64) -> PyResult<i64> {
    Ok(i64::from(run::find(py, host_ip_address, vlan_id, actual_device_id)?))
}

#[pyfunction]
fn version() -> PyResult<String> {
    with_run(|r| Ok(r.ctx.info.version.clone()))
}

#[pyfunction]
fn os() -> PyResult<String> {
    with_run(|r| Ok(r.ctx.info.os.clone()))
}

/// Seconds since the controller started.
#[pyfunction]
fn uptime() -> PyResult<u64> {
    with_run(|r| Ok(r.ctx.info.started.elapsed().as_secs()))
}

#[pyfunction]
#[pyo3(name = "getDBPath")]
fn get_db_path() -> PyResult<String> {
    with_run(|r| Ok(r.ctx.info.db_path.display().to_string()))
}

#[pyfunction]
#[pyo3(name = "getSpoolPath")]
fn get_spool_path() -> PyResult<String> {
    with_run(|r| Ok(r.ctx.info.spool_path.display().to_string()))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(send_http_header, m)?)?;
    m.add_function(wrap_pyfunction!(return_http_not_implemented, m)?)?;
    m.add_function(wrap_pyfunction!(return_http_version_server_error, m)?)?;
    m.add_function(wrap_pyfunction!(print_html_header, m)?)?;
    m.add_function(wrap_pyfunction!(print_html_footer, m)?)?;
    m.add_function(wrap_pyfunction!(send_string, m)?)?;
    m.add_function(wrap_pyfunction!(print_flaged_warning, m)?)?;
    m.add_function(wrap_pyfunction!(get_first_host, m)?)?;
    m.add_function(wrap_pyfunction!(get_next_host, m)?)?;
    m.add_function(wrap_pyfunction!(find_host_by_num_ip, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(os, m)?)?;
    m.add_function(wrap_pyfunction!(uptime, m)?)?;
    m.add_function(wrap_pyfunction!(get_preference, m)?)?;
    m.add_function(wrap_pyfunction!(set_preference, m)?)?;
    m.add_function(wrap_pyfunction!(get_db_path, m)?)?;
    m.add_function(wrap_pyfunction!(get_spool_path, m)?)?;
    m.add_function(wrap_pyfunction!(update_rrd_counter, m)?)?;
    m.add_function(wrap_pyfunction!(update_rrd_gauge, m)?)?;
    m.add_function(wrap_pyfunction!(rrd_fetch, m)?)?;
    m.add("Forbidden", m.py().get_type::<Forbidden>())?;
    m.add("HTML", 1)?;
    m.add("JSON", 12)?;
    Ok(())
}
