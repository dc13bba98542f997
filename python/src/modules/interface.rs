//! ntop's `interface` module: a device (an interface of a probe this run may see, by index) as
//! ntop 2010's functions and return types: names, counters, packet and byte statistics,
//! throughput from its recent samples. Must not read hosts.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wirewatch_model::stats::{BytesStats, PacketStats};
use wirewatch_store::api::{Resolution, Span};

use crate::run;

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
    let s = PacketStats::from_values(&i.pkts_stats);
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
    let s = BytesStats::from_values(&i.bytes_stats);
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
    let s = PacketStats::from_values(&i.pkts_stats);
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

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
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
