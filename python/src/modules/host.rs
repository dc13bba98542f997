//! ntop's `host` module: the run's current host (set by `ntop.getFirstHost`/`getNextHost`/
//! `findHostByNumIP`) as ntop 2010's functions and return types, roles included. Must not move
//! the cursor (that is `ntop`'s) or read the database.

use std::hash::{Hash, Hasher};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use wirewatch_model::roles;

use super::derived::{geo_dict, seconds_alive, thpt};
use crate::run::current;

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
            .and_then(|m| m.parse::<wirewatch_model::Mac>().ok())
            .and_then(|m| m.vendor())
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

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
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
