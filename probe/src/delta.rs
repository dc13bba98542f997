//! Interval deltas for the uplink: what an interface's tables did since the previous call, as
//! a wire [`InterfaceDelta`]. Host and MAC tables keep their own change sets (see
//! `HostTable::take_changes`); interface counters are diffed against the last report here.
//! The sum of every delta taken equals the final tables (the controller's totals rely on it).

use wirewatch_wire::{HostDelta, HostGauges, InterfaceCounters, InterfaceDelta, InterfaceGauges, MacDelta, Traffic};

use crate::hosts::{HostChanged, TxRx};
use crate::interface::{Interface, InterfaceStats};

/// Counters as of the previous delta.
#[derive(Debug, Clone, Default)]
pub struct Reported {
    stats: InterfaceStats,
    flows_total: u64,
    flows_expired: u64,
    host_evictions: u64,
    mac_evictions: u64,
    flow_evictions: u64,
}

pub fn traffic(t: &TxRx) -> Traffic {
    Traffic { tx_packets: t.tx.packets, tx_bytes: t.tx.bytes, rx_packets: t.rx.packets, rx_bytes: t.rx.bytes }
}

fn host_delta(c: HostChanged) -> HostDelta {
    let n = &c.now;
    let l4 = c.change.l4_split();
    HostDelta {
        ip: c.ip,
        mac: n.mac,
        vlan: n.vlan,
        first_seen_ns: n.first_seen_ns,
        last_seen_ns: n.last_seen_ns,
        traffic: traffic(&c.change.total),
        l4: [traffic(&l4[0]), traffic(&l4[1]), traffic(&l4[2]), traffic(&l4[3])],
        services: c.change.services.iter().map(|(s, t)| (s.name().to_string(), traffic(t))).collect(),
        syn_sent: c.change.syn_sent,
        tcp_sessions_total: c.change.tcp_sessions_total,
        udp_flows: c.change.udp_flows,
        gauges: HostGauges {
            peers_sent: u64::from(n.peers_sent),
            peers_rcvd: u64::from(n.peers_rcvd),
            tcp_sessions_active: u64::from(n.tcp_sessions_active),
            thpt_actual_tx: n.thpt.actual_tx,
            thpt_actual_rx: n.thpt.actual_rx,
            thpt_peak_tx: n.thpt.peak_tx,
            thpt_peak_rx: n.thpt.peak_rx,
            roles: n.roles,
        },
    }
}

fn stats_array<const N: usize>(now: [u64; N], before: [u64; N]) -> [u64; N] {
    let mut out = [0; N];
    for i in 0..N {
        out[i] = now[i].saturating_sub(before[i]);
    }
    out
}

fn bytes_stats(s: &InterfaceStats) -> [u64; 15] {
    let b = &s.bytes_stats;
    [
        b.total,
        b.ipv4,
        b.fragmented,
        b.tcp,
        b.udp,
        b.other_ip,
        b.icmp,
        b.stp,
        b.ipsec,
        b.netbios,
        b.arp_rarp,
        b.gre,
        b.ipv6,
        b.icmp6,
        b.other,
    ]
}

fn pkts_stats(s: &InterfaceStats) -> [u64; 11] {
    let p = &s.pkts_stats;
    [p.total, p.ethernet, p.broadcast, p.multicast, p.ip, p.syn, p.rst, p.rst_ack, p.syn_fin, p.fin_push_urg, p.null]
}

impl Interface {
    /// Starts keeping changes for [`Interface::take_delta`].
    pub fn track_changes(&mut self) {
        self.hosts.track_changes();
        self.macs.track_changes();
    }

    /// Applies pending flow counts, then returns everything that changed since the last call.
    pub fn take_delta(&mut self) -> InterfaceDelta {
        self.flush_all();
        let s = self.stats;
        let r = &self.reported;
        let counters = InterfaceCounters {
            packets: s.packets - r.stats.packets,
            bytes: s.bytes - r.stats.bytes,
            undecoded_packets: s.undecoded_packets - r.stats.undecoded_packets,
            undecoded_bytes: s.undecoded_bytes - r.stats.undecoded_bytes,
            pcap_drops: s.pcap_drops.saturating_sub(r.stats.pcap_drops),
            if_drops: s.if_drops.saturating_sub(r.stats.if_drops),
            flows_total: self.flows.created() - r.flows_total,
            flows_expired: self.flows.expired() - r.flows_expired,
            host_evictions: self.hosts.evictions() - r.host_evictions,
            mac_evictions: self.macs.evictions() - r.mac_evictions,
            flow_evictions: self.flows.evictions() - r.flow_evictions,
            bytes_stats: stats_array(bytes_stats(&s), bytes_stats(&r.stats)),
            pkts_stats: stats_array(pkts_stats(&s), pkts_stats(&r.stats)),
        };
        self.reported = Reported {
            stats: s,
            flows_total: self.flows.created(),
            flows_expired: self.flows.expired(),
            host_evictions: self.hosts.evictions(),
            mac_evictions: self.macs.evictions(),
            flow_evictions: self.flows.evictions(),
        };
        let mut hosts: Vec<HostDelta> = self.hosts.take_changes().into_iter().map(host_delta).collect();
        hosts.sort_unstable_by_key(|h| h.ip);
        let mut macs: Vec<MacDelta> = self
            .macs
            .take_changes()
            .into_iter()
            .map(|m| MacDelta {
                mac: m.mac,
                first_seen_ns: m.first_seen_ns,
                last_seen_ns: m.last_seen_ns,
                traffic: traffic(&m.traffic),
            })
            .collect();
        // An address evicted and seen again within one interval appears twice: merge.
        macs.sort_unstable_by_key(|m| m.mac);
        macs.dedup_by(|b, a| {
            if a.mac == b.mac {
                a.traffic.add(&b.traffic);
                a.first_seen_ns = a.first_seen_ns.min(b.first_seen_ns);
                a.last_seen_ns = a.last_seen_ns.max(b.last_seen_ns);
                true
            } else {
                false
            }
        });
        InterfaceDelta {
            name: self.name.clone(),
            link_type: self.link.name(),
            counters,
            gauges: InterfaceGauges {
                hosts: self.hosts.len() as u64,
                macs: self.macs.len() as u64,
                flows_active: self.flows.len() as u64,
                first_seen_ns: if s.packets > 0 { s.first_seen_ns } else { 0 },
                last_seen_ns: if s.packets > 0 { s.last_seen_ns } else { 0 },
            },
            hosts,
            macs,
        }
    }
}
