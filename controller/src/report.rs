//! `wirewatch-controller hosts`: the stored totals in the same JSON (and table) shape as
//! `wirewatch-probe read`, built by the probe's own merge so the two cannot drift apart.

use wirewatch_model::{BytesStats, PacketStats, Traffic};
use wirewatch_probe::hosts::{Counter, Host, TxRx};
use wirewatch_probe::macs::MacEntry;
use wirewatch_probe::report::{InterfaceReport, Part, merge_parts, rfc3339};
use wirewatch_probe::services::Service;
use wirewatch_store::totals::Totals;

fn txrx(t: &Traffic) -> TxRx {
    TxRx {
        tx: Counter { packets: t.tx_packets, bytes: t.tx_bytes },
        rx: Counter { packets: t.rx_packets, bytes: t.rx_bytes },
    }
}

/// Rows rebuilt from the database, one set per (probe, interface).
pub struct Rebuilt {
    parts: Vec<(InterfaceReport, Vec<Host>, Vec<MacEntry>)>,
}

pub fn rebuild(t: &Totals) -> Rebuilt {
    let mut parts = Vec::new();
    for i in &t.interfaces {
        let c = &i.counters;
        let g = &i.gauges;
        let report = InterfaceReport {
            name: i.name.clone(),
            link_type: i.link_type.clone(),
            packets: c.packets,
            bytes: c.bytes,
            undecoded_packets: c.undecoded_packets,
            undecoded_bytes: c.undecoded_bytes,
            pcap_drops: c.pcap_drops,
            if_drops: c.if_drops,
            flows_total: c.flows_total,
            flows_expired: c.flows_expired,
            host_evictions: c.host_evictions,
            mac_evictions: c.mac_evictions,
            flow_evictions: c.flow_evictions,
            hosts: usize::try_from(g.hosts).unwrap_or(usize::MAX),
            macs: usize::try_from(g.macs).unwrap_or(usize::MAX),
            flows_active: usize::try_from(g.flows_active).unwrap_or(usize::MAX),
            first_seen: (c.packets > 0).then(|| rfc3339(g.first_seen_ns)),
            last_seen: (c.packets > 0).then(|| rfc3339(g.last_seen_ns)),
            bytes_stats: BytesStats::from_array(c.bytes_stats),
            pkts_stats: PacketStats::from_array(c.pkts_stats),
        };
        let hosts = t
            .hosts
            .iter()
            .filter(|(h, _)| h.probe == i.probe && h.interface == i.name)
            .map(|(s, services)| {
                let mut h = Host::detached(s.key.ip);
                if let Some(m) = s.mac {
                    h.mac = m.0;
                    h.has_mac = true;
                }
                h.vlan = s.vlan;
                h.first_seen_ns = s.first_seen_ns;
                h.last_seen_ns = s.last_seen_ns;
                h.total = txrx(&s.traffic);
                h.l4 = [txrx(&s.l4.tcp), txrx(&s.l4.udp), txrx(&s.l4.icmp)];
                let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
                h.syn_sent = n(s.syn_sent);
                h.tcp_sessions_total = n(s.tcp_sessions_total);
                h.udp_flows = n(s.udp_flows);
                h.peers_sent = n(s.gauges.peers_sent);
                h.peers_rcvd = n(s.gauges.peers_rcvd);
                h.tcp_sessions_active = n(s.gauges.tcp_sessions_active);
                h.thpt.actual_tx = s.gauges.thpt.actual_tx;
                h.thpt.actual_rx = s.gauges.thpt.actual_rx;
                h.thpt.peak_tx = s.gauges.thpt.peak_tx;
                h.thpt.peak_rx = s.gauges.thpt.peak_rx;
                h.roles = s.role_bits;
                let mut svc: Vec<(Service, TxRx)> =
                    services.iter().filter_map(|(n, c)| Service::from_name(n).map(|sv| (sv, txrx(c)))).collect();
                svc.sort_by_key(|(sv, _)| *sv);
                h.services = svc;
                h
            })
            .collect();
        let macs = t
            .macs
            .iter()
            .filter(|m| m.probe == i.probe && m.interface == i.name)
            .map(|m| MacEntry::detached(m.mac.0, m.first_seen_ns, m.last_seen_ns, txrx(&m.traffic)))
            .collect();
        parts.push((report, hosts, macs));
    }
    Rebuilt { parts }
}

impl Rebuilt {
    /// The merged report (per address over every interface, as `wirewatch-probe read`).
    pub fn merged(&self) -> wirewatch_probe::report::Merged<'_> {
        merge_parts(
            self.parts
                .iter()
                .map(|(r, h, m)| Part { report: r.clone(), hosts: h.iter().collect(), macs: m.iter().collect() })
                .collect(),
        )
    }
}
