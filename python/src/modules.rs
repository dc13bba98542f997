//! The modules scripts import: ntop's `ntop`, `host` and `interface` (names and return types as
//! ntop's 2010 engine, see ../shared/NTOP_API.md) and the low-level `_wirewatch` that the
//! Pythonic `wirewatch` module (wirewatch.py) is written on.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use pyo3::exceptions::{PyPermissionError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use wirewatch_mobile_api::auth::Role;
use wirewatch_probe::interface::{BytesStats, PacketStats};
use wirewatch_probe::services::roles;
use wirewatch_store::api::{HostQuery, HostRecord, HostSort, Resolution, Span};

use crate::run::{self, current, with_run};

pyo3::create_exception!(
    ntop,
    Forbidden,
    PyPermissionError,
    "Raised when the signed-in user's role does not allow the call (the page answers 403)."
);

const BOOTSTRAP: &str = include_str!("bootstrap.py");
const WIREWATCH: &str = include_str!("wirewatch.py");

/// Builds the modules into `sys.modules` and runs the bootstrap. Returns the bootstrap module.
pub(crate) fn install(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let modules = py.import("sys")?.getattr("modules")?;
    for (name, fill) in [
        ("ntop", ntop as fn(&Bound<'_, PyModule>) -> PyResult<()>),
        ("host", host),
        ("interface", interface),
        ("_wirewatch", lowlevel),
    ] {
        let m = PyModule::new(py, name)?;
        fill(&m)?;
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

#[allow(unsafe_code)]
mod ffi {
    use pyo3::prelude::*;

    /// Raises `exc` in the Python thread `ident` at its next bytecode (GIL held by the caller).
    pub fn raise_in_thread(_py: Python<'_>, ident: u64, exc: &Bound<'_, PyAny>) {
        // SAFETY: the GIL is held (the `Python` token proves it); `exc` is a live exception
        // class; an unknown thread id only makes the call a no-op (returns 0).
        let n = unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, exc.as_ptr()) };
        if n > 1 {
            // More than one thread state matched: undo, as CPython's documentation requires.
            // SAFETY: as above; NULL clears the pending exception.
            unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, std::ptr::null_mut()) };
        }
    }

    /// Clears an exception the watchdog may have raised in this thread after its script ended.
    pub fn clear_async_exc(_py: Python<'_>, ident: u64) {
        // SAFETY: the GIL is held (the token proves it); NULL clears any pending async exception.
        unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, std::ptr::null_mut()) };
    }
}
pub(crate) use ffi::{clear_async_exc, raise_in_thread};

// ---------------------------------------------------------------------------------------- ntop

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

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
fn read_scopes(site: Option<&str>) -> PyResult<Vec<String>> {
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
fn get_preference(py: Python<'_>, key: &str, default: Option<Py<PyAny>>, site: Option<String>) -> PyResult<Py<PyAny>> {
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
fn set_preference(py: Python<'_>, key: &str, value: &Bound<'_, PyAny>, site: Option<String>) -> PyResult<()> {
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

fn ntop(m: &Bound<'_, PyModule>) -> PyResult<()> {
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
    m.add("Forbidden", m.py().get_type::<Forbidden>())?;
    m.add("HTML", 1)?;
    m.add("JSON", 12)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------- host

fn seconds_alive(h: &HostRecord) -> f64 {
    ((h.last_seen_ns - h.first_seen_ns) as f64 / 1e9).max(1.0)
}

fn thpt<'py>(py: Python<'py>, actual: f32, bytes: i64, peak: f32, life: f64) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("actual", f64::from(actual))?;
    d.set_item("average", bytes as f64 / life)?;
    d.set_item("peak", f64::from(peak))?;
    Ok(d)
}

fn geo_dict<'py>(py: Python<'py>, ip: &str) -> PyResult<Bound<'py, PyDict>> {
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

#[pyfunction]
fn serial() -> PyResult<String> {
    current(|h| format!("{}-{}-{}", h.probe_id, h.interface_id, h.ip))
}
#[pyfunction]
#[pyo3(name = "ethAddress")]
fn eth_address() -> PyResult<String> {
    current(|h| h.mac.clone().unwrap_or_default())
}
#[pyfunction]
#[pyo3(name = "ipAddress")]
fn ip_address() -> PyResult<String> {
    current(|h| h.ip.clone())
}
/// The DNS name, or the address itself when none is known (ntop's numeric name).
#[pyfunction]
#[pyo3(name = "hostResolvedName")]
fn host_resolved_name() -> PyResult<String> {
    current(|h| h.names.first().cloned().unwrap_or_else(|| h.ip.clone()))
}
/// A stable bucket number for the host (ntop's hash bucket).
#[pyfunction]
#[pyo3(name = "hostTrafficBucket")]
fn host_traffic_bucket() -> PyResult<u32> {
    current(|h| {
        let mut s = std::collections::hash_map::DefaultHasher::new();
        (h.interface_id, &h.ip).hash(&mut s);
        (s.finish() % 65_521) as u32
    })
}
/// Active TCP sessions, as a string (ntop 2010's type).
#[pyfunction]
#[pyo3(name = "numHostSessions")]
fn num_host_sessions() -> PyResult<String> {
    current(|h| h.tcp_sessions_active.to_string())
}
#[pyfunction]
#[pyo3(name = "vlanId")]
fn vlan_id() -> PyResult<i32> {
    current(|h| h.vlan)
}
/// Bits of the host's local network mask; 0 (ntop: not a local host), as wirewatch has no
/// local-network setting yet.
#[pyfunction]
fn network_mask() -> PyResult<u32> {
    current(|_| 0)
}
/// The NIC vendor from the MAC's OUI ("" if unknown or no MAC).
#[pyfunction]
#[pyo3(name = "hwModel")]
fn hw_model() -> PyResult<String> {
    current(|h| {
        h.mac
            .as_deref()
            .and_then(wirewatch_store::totals::parse_mac)
            .and_then(|m| wirewatch_probe::report::vendor(&m))
            .unwrap_or_default()
    })
}
/// ntop's name types: 19 numeric (IP), 29 DNS name.
#[pyfunction]
#[pyo3(name = "isHostResolvedNameType")]
fn is_host_resolved_name_type(kind: i64) -> PyResult<bool> {
    current(|h| kind == if h.names.is_empty() { 19 } else { 29 })
}

macro_rules! role_functions {
    (detected: $($f:ident => $name:literal : $mask:expr),* ; undetected: $($g:ident => $gname:literal),* $(,)?) => {
        $(
            #[pyfunction]
            #[pyo3(name = $name)]
            fn $f() -> PyResult<bool> {
                current(|h| (h.roles as u32) & ($mask) != 0)
            }
        )*
        $(
            #[pyfunction]
            #[pyo3(name = $gname)]
            fn $g() -> PyResult<bool> {
                current(|_| false)
            }
        )*
        fn add_role_functions(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $( m.add_function(wrap_pyfunction!($f, m)?)?; )*
            $( m.add_function(wrap_pyfunction!($g, m)?)?; )*
            Ok(())
        }
    };
}

// Roles the probe does not detect (NetBIOS master browser, multihomed, bridge, P2P, Facebook
// and Twitter clients) are always false.
role_functions! {
    detected:
    is_ftp_host => "isFTPhost": roles::FTP_SERVER,
    is_server => "isServer": roles::SERVER,
    is_workstation => "isWorkstation": roles::WORKSTATION,
    is_multivlaned => "isMultivlaned": roles::MULTIVLANED,
    is_printer => "isPrinter": roles::PRINTER,
    is_smtp_host => "isSMTPhost": roles::SMTP_SERVER,
    is_pop_host => "isPOPhost": roles::POP_SERVER,
    is_imap_host => "isIMAPhost": roles::IMAP_SERVER,
    is_directory_host => "isDirectoryHost": roles::DIRECTORY_SERVER,
    is_http_host => "isHTTPhost": roles::HTTP_SERVER,
    is_wins_host => "isWINShost": roles::WINS_SERVER,
    is_voip_client => "isVoIPClient": roles::VOIP_CLIENT,
    is_voip_gateway => "isVoIPGateway": roles::VOIP_GATEWAY,
    is_voip_host => "isVoIPHost": roles::VOIP_CLIENT | roles::VOIP_GATEWAY,
    is_dhcp_client => "isDHCPClient": roles::DHCP_CLIENT,
    is_dhcp_server => "isDHCPServer": roles::DHCP_SERVER,
    is_ntp_server => "isNtpServer": roles::NTP_SERVER;
    undetected:
    is_master_browser => "isMasterBrowser",
    is_multihomed => "isMultihomed",
    is_facebook_client => "isFacebookClient",
    is_twitter_client => "isTwitterClient",
    is_bridge_host => "isBridgeHost",
    is_p2p => "isP2P",
}

/// Peers this host sent to, as a string (ntop 2010's type).
#[pyfunction]
#[pyo3(name = "totContactedSentPeers")]
fn tot_contacted_sent_peers() -> PyResult<String> {
    current(|h| h.peers_sent.to_string())
}
#[pyfunction]
#[pyo3(name = "totContactedRcvdPeers")]
fn tot_contacted_rcvd_peers() -> PyResult<String> {
    current(|h| h.peers_rcvd.to_string())
}
/// ntop's OS fingerprint string; "" (ntop's "unknown"): the probe takes no OS fingerprints.
#[pyfunction]
fn fingerprint() -> PyResult<String> {
    current(|_| String::new())
}
#[pyfunction]
#[pyo3(name = "synPktsSent")]
fn syn_pkts_sent() -> PyResult<i64> {
    current(|h| h.syn_sent)
}
#[pyfunction]
#[pyo3(name = "pktSent")]
fn pkt_sent() -> PyResult<i64> {
    current(|h| h.traffic[0])
}
#[pyfunction]
#[pyo3(name = "pktRcvd")]
fn pkt_rcvd() -> PyResult<i64> {
    current(|h| h.traffic[2])
}
#[pyfunction]
#[pyo3(name = "bytesSent")]
fn bytes_sent() -> PyResult<i64> {
    current(|h| h.traffic[1])
}
#[pyfunction]
#[pyo3(name = "bytesRcvd")]
fn bytes_rcvd() -> PyResult<i64> {
    current(|h| h.traffic[3])
}
/// `{actual, average, peak}` bytes/s sent.
#[pyfunction]
#[pyo3(name = "sendThpt")]
fn send_thpt(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let (a, b, p, life) = current(|h| (h.thpt[0], h.traffic[1], h.thpt[2], seconds_alive(h)))?;
    thpt(py, a, b, p, life)
}
#[pyfunction]
#[pyo3(name = "receiveThpt")]
fn receive_thpt(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let (a, b, p, life) = current(|h| (h.thpt[1], h.traffic[3], h.thpt[3], seconds_alive(h)))?;
    thpt(py, a, b, p, life)
}
/// `{country_code, country_name, region, city, latitude, longitude}`; empty when unknown.
#[pyfunction]
#[pyo3(name = "geoIP")]
fn geo_ip(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let ip = current(|h| h.ip.clone())?;
    geo_dict(py, &ip)
}

fn host(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(serial, m)?)?;
    m.add_function(wrap_pyfunction!(eth_address, m)?)?;
    m.add_function(wrap_pyfunction!(ip_address, m)?)?;
    m.add_function(wrap_pyfunction!(host_resolved_name, m)?)?;
    m.add_function(wrap_pyfunction!(host_traffic_bucket, m)?)?;
    m.add_function(wrap_pyfunction!(num_host_sessions, m)?)?;
    m.add_function(wrap_pyfunction!(vlan_id, m)?)?;
    m.add_function(wrap_pyfunction!(network_mask, m)?)?;
    m.add_function(wrap_pyfunction!(hw_model, m)?)?;
    m.add_function(wrap_pyfunction!(is_host_resolved_name_type, m)?)?;
    add_role_functions(m)?;
    m.add_function(wrap_pyfunction!(tot_contacted_sent_peers, m)?)?;
    m.add_function(wrap_pyfunction!(tot_contacted_rcvd_peers, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(syn_pkts_sent, m)?)?;
    m.add_function(wrap_pyfunction!(pkt_sent, m)?)?;
    m.add_function(wrap_pyfunction!(pkt_rcvd, m)?)?;
    m.add_function(wrap_pyfunction!(bytes_sent, m)?)?;
    m.add_function(wrap_pyfunction!(bytes_rcvd, m)?)?;
    m.add_function(wrap_pyfunction!(send_thpt, m)?)?;
    m.add_function(wrap_pyfunction!(receive_thpt, m)?)?;
    m.add_function(wrap_pyfunction!(geo_ip, m)?)?;
    Ok(())
}

// ----------------------------------------------------------------------------------- interface

#[pyfunction]
#[pyo3(name = "numInterfaces")]
fn num_interfaces(py: Python<'_>) -> PyResult<usize> {
    Ok(run::devices(py)?.len())
}
#[pyfunction]
fn name(py: Python<'_>, ifindex: i64) -> PyResult<String> {
    Ok(run::device_at(py, ifindex)?.1.name)
}
/// `site/probe/interface`: unique across the controller.
#[pyfunction]
#[pyo3(name = "uniqueName")]
fn unique_name(py: Python<'_>, ifindex: i64) -> PyResult<String> {
    let (p, i) = run::device_at(py, ifindex)?;
    Ok(format!("{}/{}/{}", p.site, p.name, i.name))
}
#[pyfunction]
#[pyo3(name = "humanName")]
fn human_name(py: Python<'_>, ifindex: i64) -> PyResult<String> {
    let (p, i) = run::device_at(py, ifindex)?;
    Ok(format!("{} on {} ({})", i.name, p.name, p.site))
}
#[pyfunction]
#[pyo3(name = "numHosts")]
fn num_hosts(py: Python<'_>, ifindex: i64) -> PyResult<i64> {
    Ok(run::device_at(py, ifindex)?.1.counters[11])
}
/// `{startTime, firstSeen, lastSeen}` in seconds since the epoch (startTime: when the probe
/// started, as of its last report).
#[pyfunction]
fn time(py: Python<'_>, ifindex: i64) -> PyResult<Bound<'_, PyDict>> {
    let (p, i) = run::device_at(py, ifindex)?;
    let d = PyDict::new(py);
    let first = i.counters[14] / 1_000_000_000;
    let start = match (p.last_hello_at, p.uptime_secs) {
        (Some(at), Some(up)) => at.timestamp() - up,
        _ => first,
    };
    d.set_item("startTime", start)?;
    d.set_item("firstSeen", first)?;
    d.set_item("lastSeen", i.counters[15] / 1_000_000_000)?;
    Ok(d)
}
#[pyfunction]
#[pyo3(name = "pktsStats")]
fn pkts_stats(py: Python<'_>, ifindex: i64) -> PyResult<Bound<'_, PyDict>> {
    let (_, i) = run::device_at(py, ifindex)?;
    let s = PacketStats::from_stored(&i.pkts_stats);
    let d = PyDict::new(py);
    d.set_item("total", s.total)?;
    // The probe processes every packet libpcap hands it (undecodable ones are counted apart).
    d.set_item("ntopDrops", 0)?;
    d.set_item("pcapDrops", i.counters[4])?;
    d.set_item("initialPcapDrops", 0)?;
    d.set_item("ethernet", s.ethernet)?;
    d.set_item("broadcast", s.broadcast)?;
    d.set_item("multicast", s.multicast)?;
    d.set_item("ip", s.ip)?;
    Ok(d)
}
#[pyfunction]
#[pyo3(name = "bytesStats")]
fn bytes_stats(py: Python<'_>, ifindex: i64) -> PyResult<Bound<'_, PyDict>> {
    let (_, i) = run::device_at(py, ifindex)?;
    let s = BytesStats::from_stored(&i.bytes_stats);
    let d = PyDict::new(py);
    for (k, v) in [
        ("total", s.total),
        ("ipv4", s.ipv4),
        ("fragmented", s.fragmented),
        ("tcp", s.tcp),
        ("udp", s.udp),
        ("otherIp", s.other_ip),
        ("icmp", s.icmp),
        ("stp", s.stp),
        ("ipsec", s.ipsec),
        ("netbios", s.netbios),
        ("arp_rarp", s.arp_rarp),
        ("gre", s.gre),
        ("ipv6", s.ipv6),
        ("icmp6", s.icmp6),
        ("other", s.other),
    ] {
        d.set_item(k, v)?;
    }
    Ok(d)
}
/// The TCP flag counters the probe keeps (ntop's other securityPkts keys are not counted).
#[pyfunction]
#[pyo3(name = "securityPkts")]
fn security_pkts(py: Python<'_>, ifindex: i64) -> PyResult<Bound<'_, PyDict>> {
    let (_, i) = run::device_at(py, ifindex)?;
    let s = PacketStats::from_stored(&i.pkts_stats);
    let d = PyDict::new(py);
    d.set_item("synPkts", s.syn)?;
    d.set_item("rstPkts", s.rst)?;
    d.set_item("rstAckPkts", s.rst_ack)?;
    d.set_item("synFinPkts", s.syn_fin)?;
    d.set_item("finPushUrgPkts", s.fin_push_urg)?;
    d.set_item("nullPkts", s.null)?;
    Ok(d)
}

/// Rates from the raw interface samples of the last hour of data (up to the interface's last
/// packet, so replayed captures have figures too): actual = the last interval, lastMin and
/// lastFiveMins = averages over those windows, peak = the busiest interval.
#[pyfunction]
#[pyo3(name = "throughputStats")]
fn throughput_stats(py: Python<'_>, ifindex: i64) -> PyResult<Bound<'_, PyDict>> {
    let (p, i) = run::device_at(py, ifindex)?;
    let last_ns = i.counters[15];
    let to = DateTime::<Utc>::from_timestamp_nanos(last_ns) + ChronoDuration::seconds(1);
    let span = Span { res: Resolution::Raw, from: to - ChronoDuration::hours(1), to, limit: 10_000 };
    let (pid, iid) = (p.id, i.id);
    let points = run::on_pool(py, move |s| Box::pin(async move { s.interface_history(pid, iid, span).await }))?;
    let mut rates = Vec::with_capacity(points.len());
    for (k, pt) in points.iter().enumerate() {
        let dt = if k > 0 {
            (pt.ts - points[k - 1].ts).num_milliseconds() as f64 / 1000.0
        } else if points.len() > 1 {
            (points[1].ts - pt.ts).num_milliseconds() as f64 / 1000.0
        } else {
            10.0
        };
        let dt = dt.max(1.0);
        rates.push((pt.ts, pt.packets as f64 / dt, pt.bytes as f64 / dt));
    }
    let end = points.last().map(|p| p.ts).unwrap_or(to);
    let window = |secs: i64, f: fn(&wirewatch_store::api::InterfacePoint) -> i64| {
        let from = end - ChronoDuration::seconds(secs);
        points.iter().filter(|p| p.ts > from).map(f).sum::<i64>() as f64 / secs as f64
    };
    let d = PyDict::new(py);
    d.set_item("peakPkts", rates.iter().map(|r| r.1).fold(0.0, f64::max))?;
    d.set_item("actualPkts", rates.last().map_or(0.0, |r| r.1))?;
    d.set_item("lastMinPkts", window(60, |p| p.packets))?;
    d.set_item("lastFiveMinsPkts", window(300, |p| p.packets))?;
    d.set_item("peakBytes", rates.iter().map(|r| r.2).fold(0.0, f64::max))?;
    d.set_item("actualBytes", rates.last().map_or(0.0, |r| r.2))?;
    d.set_item("lastMinBytes", window(60, |p| p.bytes))?;
    d.set_item("lastFiveMinsBytes", window(300, |p| p.bytes))?;
    Ok(d)
}

fn interface(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(num_interfaces, m)?)?;
    m.add_function(wrap_pyfunction!(name, m)?)?;
    m.add_function(wrap_pyfunction!(unique_name, m)?)?;
    m.add_function(wrap_pyfunction!(human_name, m)?)?;
    m.add_function(wrap_pyfunction!(num_hosts, m)?)?;
    m.add_function(wrap_pyfunction!(time, m)?)?;
    m.add_function(wrap_pyfunction!(pkts_stats, m)?)?;
    m.add_function(wrap_pyfunction!(bytes_stats, m)?)?;
    m.add_function(wrap_pyfunction!(throughput_stats, m)?)?;
    m.add_function(wrap_pyfunction!(security_pkts, m)?)?;
    Ok(())
}

// ---------------------------------------------------------------------------------- _wirewatch

/// Everything about a host, for `wirewatch.Host`.
fn host_dict<'py>(py: Python<'py>, device: Option<usize>, h: &HostRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let t = &h.traffic;
    let life = seconds_alive(h);
    d.set_item("device", device)?;
    d.set_item("site", &h.site)?;
    d.set_item("probe", &h.probe)?;
    d.set_item("interface", &h.interface)?;
    d.set_item("interface_id", h.interface_id)?;
    d.set_item("ip", &h.ip)?;
    d.set_item("mac", &h.mac)?;
    d.set_item("names", &h.names)?;
    d.set_item("vlan", h.vlan)?;
    d.set_item("first_seen", h.first_seen_ns as f64 / 1e9)?;
    d.set_item("last_seen", h.last_seen_ns as f64 / 1e9)?;
    d.set_item("pkts_sent", t[0])?;
    d.set_item("bytes_sent", t[1])?;
    d.set_item("pkts_rcvd", t[2])?;
    d.set_item("bytes_rcvd", t[3])?;
    let proto = PyDict::new(py);
    for (k, name) in ["tcp", "udp", "icmp", "other"].iter().enumerate() {
        let b = 4 + 4 * k;
        proto.set_item(*name, (t[b], t[b + 1], t[b + 2], t[b + 3]))?;
    }
    d.set_item("protocols", proto)?;
    d.set_item("syn_sent", h.syn_sent)?;
    d.set_item("tcp_sessions_active", h.tcp_sessions_active)?;
    d.set_item("tcp_sessions_total", h.tcp_sessions_total)?;
    d.set_item("udp_flows", h.udp_flows)?;
    d.set_item("peers_sent", h.peers_sent)?;
    d.set_item("peers_rcvd", h.peers_rcvd)?;
    d.set_item("thpt_sent", thpt(py, h.thpt[0], t[1], h.thpt[2], life)?)?;
    d.set_item("thpt_rcvd", thpt(py, h.thpt[1], t[3], h.thpt[3], life)?)?;
    let names: Vec<&str> =
        roles::NAMES.iter().filter(|(bit, _)| (h.roles as u32) & bit != 0).map(|(_, n)| *n).collect();
    d.set_item("roles", names)?;
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
        d.set_item("packets", i.counters[0])?;
        d.set_item("bytes", i.counters[1])?;
        d.set_item("hosts", i.counters[11])?;
        d.set_item("first_seen", i.counters[14] as f64 / 1e9)?;
        d.set_item("last_seen", i.counters[15] as f64 / 1e9)?;
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
type HostPointTuple = (f64, i64, i64, i64, i64);

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
        after: after.map(|(key, probe_id, interface_id, ip)| wirewatch_store::api::HostCursor {
            key,
            probe_id,
            interface_id,
            ip,
        }),
        limit: limit.clamp(1, 100_000),
    };
    let (rows, more) = run::read(py, move |s| Box::pin(async move { s.host_page(&q).await }))?;
    let out = PyList::empty(py);
    for h in &rows {
        out.append(host_dict(py, idx, h)?)?;
    }
    Ok((out, more.map(|c| (c.key, c.probe_id, c.interface_id, c.ip))))
}

/// One host on a device, with its services, or None.
#[pyfunction]
fn host_detail<'py>(py: Python<'py>, ip: &str, device: i64) -> PyResult<Option<Bound<'py, PyDict>>> {
    let (_, iface) = run::device_at(py, device)?;
    if ip.parse::<IpAddr>().is_err() {
        return Err(PyValueError::new_err(format!("not an IP address: {ip:?}")));
    }
    let ip_owned = ip.to_string();
    let id = iface.id;
    let Some((h, services)) = run::read(py, move |s| Box::pin(async move { s.host(id, &ip_owned).await }))? else {
        return Ok(None);
    };
    let d = host_dict(py, usize::try_from(device).ok(), &h)?;
    let sv = PyDict::new(py);
    for (name, v) in services {
        sv.set_item(name, (v[0], v[1], v[2], v[3]))?;
    }
    d.set_item("services", sv)?;
    Ok(Some(d))
}

#[pyfunction]
fn geo<'py>(py: Python<'py>, ip: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    let d = geo_dict(py, ip)?;
    Ok(if d.is_empty() { None } else { Some(d) })
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
    let ip = ip.to_string();
    let (pid, iid) = (p.id, i.id);
    let pts = run::on_pool(py, move |s| Box::pin(async move { s.host_history(pid, iid, &ip, span).await }))?;
    Ok(pts
        .iter()
        .map(|p| (p.ts.timestamp_millis() as f64 / 1000.0, p.traffic[0], p.traffic[1], p.traffic[2], p.traffic[3]))
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

fn lowlevel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ww_write, m)?)?;
    m.add_function(wrap_pyfunction!(request, m)?)?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    m.add_function(wrap_pyfunction!(hosts, m)?)?;
    m.add_function(wrap_pyfunction!(host_detail, m)?)?;
    m.add_function(wrap_pyfunction!(geo, m)?)?;
    m.add_function(wrap_pyfunction!(host_history, m)?)?;
    m.add_function(wrap_pyfunction!(interface_history, m)?)?;
    m.add_function(wrap_pyfunction!(preferences, m)?)?;
    m.add_function(wrap_pyfunction!(get_preference, m)?)?;
    m.add_function(wrap_pyfunction!(set_preference, m)?)?;
    m.add("Forbidden", m.py().get_type::<Forbidden>())?;
    Ok(())
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
        let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/src/surface.txt");
        if std::env::var_os("WIREWATCH_BLESS").is_some() {
            std::fs::write(golden, &got).expect("write the golden file");
        }
        let want = std::fs::read_to_string(golden).unwrap_or_default();
        assert!(got == want, "the Python surface changed; got:\n{got}");
    }
}
