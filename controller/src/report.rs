//! `wirewatch-controller hosts`: the stored totals in the same JSON (and table) shape as
//! `wirewatch-probe read`, built by the probe's own merge so the two cannot drift apart.

use wirewatch_probe::hosts::{Counter, Host, TxRx};
use wirewatch_probe::interface::{BytesStats, PacketStats};
use wirewatch_probe::macs::MacEntry;
use wirewatch_probe::report::{InterfaceReport, Part, merge_parts, rfc3339};
use wirewatch_probe::services::Service;
use wirewatch_store::totals::Totals;

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn txrx(a: &[i64]) -> TxRx {
    TxRx { tx: Counter { packets: u(a[0]), bytes: u(a[1]) }, rx: Counter { packets: u(a[2]), bytes: u(a[3]) } }
}

/// Rows rebuilt from the database, one set per (probe, interface).
pub struct Rebuilt {
    parts: Vec<(InterfaceReport, Vec<Host>, Vec<MacEntry>)>,
}

pub fn rebuild(t: &Totals) -> Rebuilt {
    let mut parts = Vec::new();
    for i in &t.interfaces {
        let c = &i.counters;
        let report = InterfaceReport {
            name: i.name.clone(),
            link_type: i.link_type.clone(),
            packets: u(c[0]),
            bytes: u(c[1]),
            undecoded_packets: u(c[2]),
            undecoded_bytes: u(c[3]),
            pcap_drops: u(c[4]),
            if_drops: u(c[5]),
            flows_total: u(c[6]),
            flows_expired: u(c[7]),
            host_evictions: u(c[8]),
            mac_evictions: u(c[9]),
            flow_evictions: u(c[10]),
            hosts: u(c[11]) as usize,
            macs: u(c[12]) as usize,
            flows_active: u(c[13]) as usize,
            first_seen: (c[0] > 0).then(|| rfc3339(u(c[14]))),
            last_seen: (c[0] > 0).then(|| rfc3339(u(c[15]))),
            bytes_stats: BytesStats::from_values(&i.bytes_stats),
            pkts_stats: PacketStats::from_values(&i.pkts_stats),
        };
        let hosts = t
            .hosts
            .iter()
            .filter(|h| h.probe == i.probe && h.interface == i.name)
            .map(|s| {
                let mut h = Host::detached(s.ip);
                if let Some(m) = s.mac {
                    h.mac = m;
                    h.has_mac = true;
                }
                h.vlan = s.vlan;
                h.first_seen_ns = u(s.first_seen_ns);
                h.last_seen_ns = u(s.last_seen_ns);
                h.total = txrx(&s.traffic[0..4]);
                for k in 0..3 {
                    h.l4[k] = txrx(&s.traffic[4 + 4 * k..8 + 4 * k]);
                }
                h.syn_sent = u(s.syn_sent) as u32;
                h.tcp_sessions_total = u(s.tcp_sessions_total) as u32;
                h.udp_flows = u(s.udp_flows) as u32;
                h.peers_sent = u(s.peers_sent) as u32;
                h.peers_rcvd = u(s.peers_rcvd) as u32;
                h.tcp_sessions_active = u(s.tcp_sessions_active) as u32;
                h.thpt.actual_tx = s.thpt[0];
                h.thpt.actual_rx = s.thpt[1];
                h.thpt.peak_tx = s.thpt[2];
                h.thpt.peak_rx = s.thpt[3];
                h.roles = s.roles as u32;
                let mut svc: Vec<(Service, TxRx)> =
                    s.services.iter().filter_map(|(n, c)| Service::from_name(n).map(|sv| (sv, txrx(c)))).collect();
                svc.sort_by_key(|(sv, _)| *sv);
                h.services = svc;
                h
            })
            .collect();
        let macs = t
            .macs
            .iter()
            .filter(|m| m.probe == i.probe && m.interface == i.name)
            .map(|m| MacEntry::detached(m.mac, u(m.first_seen_ns), u(m.last_seen_ns), txrx(&m.traffic)))
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
