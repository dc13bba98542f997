//! Final tables as JSON (stable shape, for scripts and tests) or an aligned text table sorted by
//! total bytes (for people). `hosts` and `macs` are totals over every interface; per-interface
//! counters are under `interfaces`. IPs are in canonical text form (RFC 5952 for IPv6), MACs
//! lower-case and colon-separated, times RFC 3339 in UTC.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;

use crate::engine::Engine;
use crate::flows::{Flow, TcpState};
use crate::hosts::{FastMap, Host, TxRx};
use crate::interface::{BytesStats, PacketStats};
use crate::services::{Service, roles};

#[derive(Debug, Serialize)]
pub struct Report {
    pub interfaces: Vec<InterfaceReport>,
    pub hosts: Vec<HostReport>,
    pub macs: Vec<MacReport>,
    /// Present when asked for (`read --flows`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<Vec<FlowReport>>,
}

/// One flow: the client is the sender of its first packet.
#[derive(Debug, Serialize)]
pub struct FlowReport {
    pub interface: String,
    pub vlan: u16,
    /// IP protocol number (6 TCP, 17 UDP, …).
    pub proto: u8,
    pub client: String,
    pub client_port: u16,
    pub server: String,
    pub server_port: u16,
    pub c2s_packets: u64,
    pub c2s_bytes: u64,
    pub s2c_packets: u64,
    pub s2c_bytes: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub tcp_state: TcpState,
}

fn flow_row(iface: &str, f: &Flow) -> FlowReport {
    let (cp, sp) = f.ports();
    FlowReport {
        interface: iface.to_string(),
        vlan: f.key.vlan,
        proto: f.key.proto,
        client: f.client_addr().to_string(),
        client_port: cp,
        server: f.server_addr().to_string(),
        server_port: sp,
        c2s_packets: f.c2s.packets,
        c2s_bytes: f.c2s.bytes,
        s2c_packets: f.s2c.packets,
        s2c_bytes: f.s2c.bytes,
        first_seen: rfc3339(f.first_seen_ns),
        last_seen: rfc3339(f.last_seen_ns),
        tcp_state: f.tcp_state,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InterfaceReport {
    pub name: String,
    pub link_type: String,
    pub packets: u64,
    pub bytes: u64,
    pub undecoded_packets: u64,
    pub undecoded_bytes: u64,
    pub pcap_drops: u64,
    pub if_drops: u64,
    pub hosts: usize,
    pub macs: usize,
    pub flows_active: usize,
    pub flows_total: u64,
    pub flows_expired: u64,
    pub host_evictions: u64,
    pub mac_evictions: u64,
    pub flow_evictions: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub bytes_stats: BytesStats,
    pub pkts_stats: PacketStats,
}

/// Four counters, flat, as the JSON contract spells them.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Flat {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
}

impl From<&TxRx> for Flat {
    fn from(t: &TxRx) -> Flat {
        Flat { tx_packets: t.tx.packets, tx_bytes: t.tx.bytes, rx_packets: t.rx.packets, rx_bytes: t.rx.bytes }
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Thpt {
    pub actual: f64,
    pub average: f64,
    pub peak: f64,
}

#[derive(Debug, Serialize)]
pub struct HostReport {
    pub ip: String,
    pub mac: Option<String>,
    pub vendor: Option<String>,
    pub vlan: u16,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub protocols: BTreeMap<&'static str, Flat>,
    pub services: BTreeMap<&'static str, Flat>,
    pub peers_sent: u64,
    pub peers_rcvd: u64,
    pub tcp_sessions_active: u64,
    pub tcp_sessions_total: u64,
    pub udp_flows: u64,
    pub syn_sent: u64,
    pub send_thpt: Thpt,
    pub receive_thpt: Thpt,
    pub roles: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct MacReport {
    pub mac: String,
    pub vendor: Option<String>,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub first_seen: String,
    pub last_seen: String,
}

pub use wirewatch_model::mac::{mac_text, vendor};
pub use wirewatch_model::time::rfc3339;

struct HostAcc<'a> {
    ip: IpAddr,
    mac: Option<([u8; 6], u64)>,
    vlan: (u16, u64),
    first: u64,
    last: u64,
    total: TxRx,
    l4: [TxRx; 4],
    services: std::borrow::Cow<'a, [(Service, TxRx)]>,
    peers_sent: u64,
    peers_rcvd: u64,
    tcp_active: u64,
    tcp_total: u64,
    udp_flows: u64,
    syn_sent: u64,
    actual: (f64, f64),
    peak: (f64, f64),
    roles: u32,
}

/// Per-interface tables merged into totals per address, sorted by total bytes (then address),
/// before they are turned into report rows one at a time (a million rows never exist at once).
pub struct Merged<'a> {
    interfaces: Vec<InterfaceReport>,
    /// One interface: rows straight from its table (no copy), sorted.
    single: Vec<&'a Host>,
    /// Several interfaces: merged totals, sorted.
    hosts: Vec<HostAcc<'a>>,
    macs: Vec<([u8; 6], TxRx, u64, u64)>,
    /// (interface name, flow), largest first; empty unless asked for.
    flows: Option<Vec<(&'a str, &'a Flow)>>,
}

impl<'a> HostAcc<'a> {
    fn of(h: &'a Host) -> HostAcc<'a> {
        HostAcc {
            ip: h.ip,
            mac: h.has_mac.then_some((h.mac, h.last_seen_ns)),
            vlan: (h.vlan, h.last_seen_ns),
            first: h.first_seen_ns,
            last: h.last_seen_ns,
            total: h.total,
            l4: h.l4_split(),
            services: std::borrow::Cow::Borrowed(&h.services),
            peers_sent: u64::from(h.peers_sent),
            peers_rcvd: u64::from(h.peers_rcvd),
            tcp_active: u64::from(h.tcp_sessions_active),
            tcp_total: u64::from(h.tcp_sessions_total),
            udp_flows: u64::from(h.udp_flows),
            syn_sent: u64::from(h.syn_sent),
            actual: (f64::from(h.thpt.actual_tx), f64::from(h.thpt.actual_rx)),
            peak: (f64::from(h.thpt.peak_tx), f64::from(h.thpt.peak_rx)),
            roles: h.roles,
        }
    }
}

impl<'a> Merged<'a> {
    /// Host rows, largest first.
    pub fn host_rows(&self) -> impl Iterator<Item = HostReport> + '_ {
        let single = self.single.iter().map(|h| host_row(&HostAcc::of(h)));
        single.chain(self.hosts.iter().map(host_row))
    }

    /// MAC rows, largest first.
    pub fn mac_rows(&self) -> impl Iterator<Item = MacReport> + '_ {
        self.macs.iter().map(|(m, t, first, last)| MacReport {
            mac: mac_text(m),
            vendor: vendor(m),
            tx_packets: t.tx.packets,
            tx_bytes: t.tx.bytes,
            rx_packets: t.rx.packets,
            rx_bytes: t.rx.bytes,
            first_seen: rfc3339(*first),
            last_seen: rfc3339(*last),
        })
    }

    /// Writes the JSON document, streaming host and MAC rows.
    pub fn write_json<W: std::io::Write>(&self, w: W) -> serde_json::Result<()> {
        struct Rows<I>(std::cell::RefCell<Option<I>>);
        impl<I: Iterator<Item = T>, T: Serialize> Serialize for Rows<I> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.0.borrow_mut().take() {
                    Some(it) => s.collect_seq(it),
                    None => s.collect_seq(std::iter::empty::<T>()),
                }
            }
        }
        #[derive(Serialize)]
        struct Doc<'a, H: Serialize, M: Serialize, F: Serialize> {
            interfaces: &'a [InterfaceReport],
            hosts: H,
            macs: M,
            #[serde(skip_serializing_if = "Option::is_none")]
            flows: Option<F>,
        }
        let doc = Doc {
            interfaces: &self.interfaces,
            hosts: Rows(std::cell::RefCell::new(Some(self.host_rows()))),
            macs: Rows(std::cell::RefCell::new(Some(self.mac_rows()))),
            flows: self
                .flows
                .as_ref()
                .map(|fl| Rows(std::cell::RefCell::new(Some(fl.iter().map(|(i, f)| flow_row(i, f)))))),
        };
        serde_json::to_writer(w, &doc)
    }

    /// Collects everything into a [`Report`] (small captures, tests, the text table).
    pub fn into_report(self) -> Report {
        let hosts = self.host_rows().collect();
        let macs = self.mac_rows().collect();
        let flows = self.flows.as_ref().map(|fl| fl.iter().map(|(i, f)| flow_row(i, f)).collect());
        Report { interfaces: self.interfaces, hosts, macs, flows }
    }
}

fn host_row(a: &HostAcc<'_>) -> HostReport {
    let avg = |b: u64| wirewatch_model::time::average_thpt(b, a.first, a.last);
    let role_names = roles::names(a.roles, a.syn_sent);
    HostReport {
        ip: a.ip.to_string(),
        mac: a.mac.map(|(m, _)| mac_text(&m)),
        vendor: a.mac.and_then(|(m, _)| vendor(&m)),
        vlan: a.vlan.0,
        tx_packets: a.total.tx.packets,
        tx_bytes: a.total.tx.bytes,
        rx_packets: a.total.rx.packets,
        rx_bytes: a.total.rx.bytes,
        first_seen: rfc3339(a.first),
        last_seen: rfc3339(a.last),
        protocols: ["tcp", "udp", "icmp", "other"]
            .into_iter()
            .zip(a.l4.iter())
            .filter(|(_, t)| t.tx.packets + t.rx.packets > 0)
            .map(|(n, t)| (n, Flat::from(t)))
            .collect(),
        services: a.services.iter().map(|(svc, t)| (svc.name(), Flat::from(t))).collect(),
        peers_sent: a.peers_sent,
        peers_rcvd: a.peers_rcvd,
        tcp_sessions_active: a.tcp_active,
        tcp_sessions_total: a.tcp_total,
        udp_flows: a.udp_flows,
        syn_sent: a.syn_sent,
        send_thpt: Thpt { actual: a.actual.0, average: avg(a.total.tx.bytes), peak: a.peak.0 },
        receive_thpt: Thpt { actual: a.actual.1, average: avg(a.total.rx.bytes), peak: a.peak.1 },
        roles: role_names,
    }
}

/// Builds the report from an engine's final tables (flushed: see `Interface::finish`).
pub fn build(engine: &Engine) -> Report {
    merge(engine).into_report()
}

/// Merges the per-interface tables into per-address totals.
pub fn merge(engine: &Engine) -> Merged<'_> {
    merge_with(engine, false)
}

/// One interface's share of a report built from tables held elsewhere (the controller's
/// stored totals): its counters and its host and MAC rows.
pub struct Part<'a> {
    pub report: InterfaceReport,
    pub hosts: Vec<&'a Host>,
    pub macs: Vec<&'a crate::macs::MacEntry>,
}

/// Like [`merge`], and lists every flow too when `flows` is set.
pub fn merge_with(engine: &Engine, with_flows: bool) -> Merged<'_> {
    let parts = engine
        .interfaces
        .iter()
        .map(|i| {
            let s = &i.stats;
            Part {
                report: InterfaceReport {
                    name: i.name.clone(),
                    link_type: i.link.name(),
                    packets: s.packets,
                    bytes: s.bytes,
                    undecoded_packets: s.undecoded_packets,
                    undecoded_bytes: s.undecoded_bytes,
                    pcap_drops: s.pcap_drops,
                    if_drops: s.if_drops,
                    hosts: i.hosts.len(),
                    macs: i.macs.len(),
                    flows_active: i.flows.len(),
                    flows_total: i.flows.created(),
                    flows_expired: i.flows.expired(),
                    host_evictions: i.hosts.evictions(),
                    mac_evictions: i.macs.evictions(),
                    flow_evictions: i.flows.evictions(),
                    first_seen: (s.packets > 0).then(|| rfc3339(s.first_seen_ns)),
                    last_seen: (s.packets > 0).then(|| rfc3339(s.last_seen_ns)),
                    bytes_stats: s.bytes_stats,
                    pkts_stats: s.pkts_stats,
                },
                hosts: i.hosts.iter().collect(),
                macs: i.macs.iter().collect(),
            }
        })
        .collect();
    let mut m = merge_parts(parts);
    m.flows = with_flows.then(|| {
        let mut all: Vec<(&str, &Flow)> =
            engine.interfaces.iter().flat_map(|i| i.flows.iter().map(move |f| (i.name.as_str(), f))).collect();
        all.sort_unstable_by_key(|(_, f)| std::cmp::Reverse(f.c2s.bytes + f.s2c.bytes));
        all
    });
    m
}

/// Merges interfaces' rows into per-address totals (the same rules whatever holds the rows).
pub fn merge_parts(parts: Vec<Part<'_>>) -> Merged<'_> {
    let mut interfaces = Vec::new();
    let mut index: FastMap<IpAddr, usize> = FastMap::default();
    let mut hosts: Vec<HostAcc<'_>> = Vec::new();
    let mut single_rows: Vec<&Host> = Vec::new();
    let mut mac_index: FastMap<[u8; 6], usize> = FastMap::default();
    // With one interface every address is unique: no index needed.
    let single = parts.len() == 1;
    let mut macs: Vec<([u8; 6], TxRx, u64, u64)> = Vec::new();
    for part in parts {
        interfaces.push(part.report);
        if single {
            single_rows.extend(part.hosts.iter().copied());
        }
        for h in part.hosts.iter().copied().filter(|_| !single) {
            let new = || HostAcc {
                ip: h.ip,
                mac: None,
                vlan: (h.vlan, h.last_seen_ns),
                first: h.first_seen_ns,
                last: h.last_seen_ns,
                total: TxRx::default(),
                l4: [TxRx::default(); 4],
                services: std::borrow::Cow::Owned(Vec::new()),
                peers_sent: 0,
                peers_rcvd: 0,
                tcp_active: 0,
                tcp_total: 0,
                udp_flows: 0,
                syn_sent: 0,
                actual: (0.0, 0.0),
                peak: (0.0, 0.0),
                roles: 0,
            };
            let k = *index.entry(h.ip).or_insert_with(|| {
                hosts.push(new());
                hosts.len() - 1
            });
            let a = &mut hosts[k];
            if h.has_mac && a.mac.is_none_or(|(_, t)| h.last_seen_ns >= t) {
                a.mac = Some((h.mac, h.last_seen_ns));
            }
            if h.last_seen_ns >= a.vlan.1 {
                a.vlan = (h.vlan, h.last_seen_ns);
            }
            a.first = a.first.min(h.first_seen_ns);
            a.last = a.last.max(h.last_seen_ns);
            a.total.merge(&h.total);
            for (x, y) in a.l4.iter_mut().zip(h.l4_split().iter()) {
                x.merge(y);
            }
            let services = a.services.to_mut();
            for (svc, t) in &h.services {
                match services.binary_search_by_key(svc, |(s, _)| *s) {
                    Ok(p) => services[p].1.merge(t),
                    Err(p) => services.insert(p, (*svc, *t)),
                }
            }
            a.peers_sent += u64::from(h.peers_sent);
            a.peers_rcvd += u64::from(h.peers_rcvd);
            a.tcp_active += u64::from(h.tcp_sessions_active);
            a.tcp_total += u64::from(h.tcp_sessions_total);
            a.udp_flows += u64::from(h.udp_flows);
            a.syn_sent += u64::from(h.syn_sent);
            a.actual.0 += f64::from(h.thpt.actual_tx);
            a.actual.1 += f64::from(h.thpt.actual_rx);
            a.peak.0 += f64::from(h.thpt.peak_tx);
            a.peak.1 += f64::from(h.thpt.peak_rx);
            a.roles |= h.roles;
        }
        for m in part.macs.iter().copied() {
            let k = if single {
                macs.push((m.mac, TxRx::default(), m.first_seen_ns, m.last_seen_ns));
                macs.len() - 1
            } else {
                *mac_index.entry(m.mac).or_insert_with(|| {
                    macs.push((m.mac, TxRx::default(), m.first_seen_ns, m.last_seen_ns));
                    macs.len() - 1
                })
            };
            let e = &mut macs[k];
            e.1.merge(&m.traffic);
            e.2 = e.2.min(m.first_seen_ns);
            e.3 = e.3.max(m.last_seen_ns);
        }
    }
    // Sort small (key, index) pairs, then permute once: the rows themselves are large.
    let mut order: Vec<(std::cmp::Reverse<u64>, IpAddr, u32)> = hosts
        .iter()
        .enumerate()
        .map(|(i, a)| (std::cmp::Reverse(a.total.tx.bytes + a.total.rx.bytes), a.ip, i as u32))
        .collect();
    order.sort_unstable();
    let mut slots: Vec<Option<HostAcc<'_>>> = hosts.into_iter().map(Some).collect();
    let hosts: Vec<HostAcc<'_>> = order.iter().filter_map(|(_, _, i)| slots[*i as usize].take()).collect();
    single_rows.sort_unstable_by_key(|h| (std::cmp::Reverse(h.total.tx.bytes + h.total.rx.bytes), h.ip));
    macs.sort_unstable_by_key(|m| (std::cmp::Reverse(m.1.tx.bytes + m.1.rx.bytes), m.0));
    Merged { interfaces, single: single_rows, hosts, macs, flows: None }
}

fn human(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// The aligned text table for people.
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<40} {:>10} {:>12} {:>10} {:>10}", "INTERFACE", "LINK", "PACKETS", "BYTES", "UNDECODED");
    for i in &r.interfaces {
        let _ = writeln!(
            out,
            "{:<40} {:>10} {:>12} {:>10} {:>10}",
            i.name,
            i.link_type,
            i.packets,
            human(i.bytes),
            i.undecoded_packets
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<39} {:<17} {:<24} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "HOST", "MAC", "VENDOR", "TX PKTS", "TX", "RX PKTS", "RX", "TOTAL"
    );
    for h in &r.hosts {
        let vendor: String = h.vendor.as_deref().unwrap_or("").chars().take(24).collect();
        let _ = writeln!(
            out,
            "{:<39} {:<17} {:<24} {:>10} {:>10} {:>10} {:>10} {:>10}",
            h.ip,
            h.mac.as_deref().unwrap_or("-"),
            vendor,
            h.tx_packets,
            human(h.tx_bytes),
            h.rx_packets,
            human(h.rx_bytes),
            human(h.tx_bytes + h.rx_bytes)
        );
    }
    let _ = writeln!(out);
    let _ =
        writeln!(out, "{:<17} {:<24} {:>10} {:>10} {:>10} {:>10}", "MAC", "VENDOR", "TX PKTS", "TX", "RX PKTS", "RX");
    for m in &r.macs {
        let vendor: String = m.vendor.as_deref().unwrap_or("").chars().take(24).collect();
        let _ = writeln!(
            out,
            "{:<17} {:<24} {:>10} {:>10} {:>10} {:>10}",
            m.mac,
            vendor,
            m.tx_packets,
            human(m.tx_bytes),
            m.rx_packets,
            human(m.rx_bytes)
        );
    }
    if let Some(flows) = &r.flows {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<5} {:<46} {:<46} {:>12} {:>12} {:<11}",
            "PROTO", "CLIENT", "SERVER", "C→S", "S→C", "TCP STATE"
        );
        for f in flows {
            let ep = |a: &str, p: u16| if a.contains(':') { format!("[{a}]:{p}") } else { format!("{a}:{p}") };
            let _ = writeln!(
                out,
                "{:<5} {:<46} {:<46} {:>12} {:>12} {:<11}",
                f.proto,
                ep(&f.client, f.client_port),
                ep(&f.server, f.server_port),
                human(f.c2s_bytes),
                human(f.s2c_bytes),
                format!("{:?}", f.tcp_state).to_lowercase()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(1_537_044_271_794_779_000), "2018-09-15T20:44:31.794779Z");
        assert_eq!(mac_text(&[0xa4, 0xc6, 0x4f, 0x3b, 0xb3, 0x9a]), "a4:c6:4f:3b:b3:9a");
        assert_eq!(vendor(&[0x02, 0, 0, 0, 0, 1]), None);
        assert!(vendor(&[0x00, 0x00, 0x0c, 1, 2, 3]).is_some_and(|v| v.to_lowercase().contains("cisco")));
        assert_eq!(human(1536), "1.5 KiB");
    }
}
