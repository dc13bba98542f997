//! Interval deltas for the uplink: what an interface's tables did since the previous call, as
//! a wire [`InterfaceDelta`]. Host and MAC tables keep their own change sets (see
//! `HostTable::take_changes`); interface counters are diffed against the last report here.
//! The sum of every delta taken equals the final tables (the controller's totals rely on it).
//!
//! An interval too large for one frame (hundreds of thousands of new hosts) is cut into
//! several batches by [`split_batch`] before it is spooled.

use wirewatch_wire::{
    Batch, HostDelta, HostGauges, InterfaceCounters, InterfaceDelta, InterfaceGauges, MacDelta, Traffic,
};

use crate::hosts::{HostChanged, TxRx};
use crate::interface::{Interface, Reported};

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
            bytes_stats: stats_array(s.bytes_stats.to_array(), r.stats.bytes_stats.to_array()),
            pkts_stats: stats_array(s.pkts_stats.to_array(), r.stats.pkts_stats.to_array()),
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

/// Room kept per interface entry and per batch for the length prefixes (varints of up to 10
/// bytes), the frame header and the message tag, which the row sizes do not include.
const SLACK: usize = 64;

/// Cuts `batch` into batches whose encoded frames each stay under `max_bytes` (a batch that
/// fits is returned as it is). Every host and MAC row goes into exactly one part, in order. An
/// interface's counters go with the part holding its first rows; the later parts carry it with
/// zero counters and the same end-of-interval gauges, so every sum over the parts equals the
/// interval's. All parts keep the interval; the spool gives each its own sequence number.
/// A single row larger than `max_bytes` (impossible with the host table's bounds) gets a part
/// of its own.
pub fn split_batch(batch: Batch, max_bytes: usize) -> Vec<Batch> {
    let whole = wirewatch_wire::encoded_len(&batch).unwrap_or(usize::MAX);
    if whole.saturating_add(SLACK) <= max_bytes {
        return vec![batch];
    }
    let empty = Batch { interfaces: Vec::new(), ..batch.clone() };
    let base = wirewatch_wire::encoded_len(&empty).unwrap_or(0) + SLACK;
    let mut s = Splitter { max_bytes, base, cur: empty.clone(), empty, parts: Vec::new(), size: base, rows: 0 };
    for iface in batch.interfaces {
        let InterfaceDelta { name, link_type, counters, gauges, hosts, macs } = iface;
        let head = InterfaceDelta {
            name,
            link_type,
            counters: InterfaceCounters::default(),
            gauges,
            hosts: Vec::new(),
            macs: Vec::new(),
        };
        let head_size = wirewatch_wire::encoded_len(&head).unwrap_or(0) + SLACK;
        // This interface's first entry (with its counters), in the current part if it fits.
        if s.rows > 0 && s.size + head_size > max_bytes {
            s.next_part();
        }
        s.cur.interfaces.push(InterfaceDelta { counters, ..head.clone() });
        s.size += head_size;
        for h in hosts {
            let n = wirewatch_wire::encoded_len(&h).unwrap_or(0);
            if let Some(entry) = s.entry(n, &head, head_size) {
                entry.hosts.push(h);
            }
        }
        for m in macs {
            let n = wirewatch_wire::encoded_len(&m).unwrap_or(0);
            if let Some(entry) = s.entry(n, &head, head_size) {
                entry.macs.push(m);
            }
        }
    }
    if !s.cur.interfaces.is_empty() || s.parts.is_empty() {
        s.parts.push(s.cur);
    }
    s.parts
}

/// The parts of [`split_batch`] being filled.
struct Splitter {
    max_bytes: usize,
    /// Encoded size of a part without interfaces, plus slack.
    base: usize,
    empty: Batch,
    parts: Vec<Batch>,
    cur: Batch,
    /// Estimated encoded size of `cur`, and its rows.
    size: usize,
    rows: usize,
}

impl Splitter {
    fn next_part(&mut self) {
        self.parts.push(std::mem::replace(&mut self.cur, self.empty.clone()));
        (self.size, self.rows) = (self.base, 0);
    }

    /// The entry a row of `n` bytes of the interface `head` goes into: the current part's last
    /// entry, or a new part's (with zero counters) when the row does not fit.
    fn entry(&mut self, n: usize, head: &InterfaceDelta, head_size: usize) -> Option<&mut InterfaceDelta> {
        if self.rows > 0 && self.size + n > self.max_bytes {
            self.next_part();
            self.cur.interfaces.push(head.clone());
            self.size += head_size;
        }
        self.size += n;
        self.rows += 1;
        self.cur.interfaces.last_mut()
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn host(i: u32) -> HostDelta {
        HostDelta {
            ip: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
            mac: None,
            vlan: 0,
            first_seen_ns: 1,
            last_seen_ns: 2,
            traffic: Traffic { tx_packets: 1, tx_bytes: 60, rx_packets: 0, rx_bytes: 0 },
            l4: Default::default(),
            services: vec![],
            syn_sent: 0,
            tcp_sessions_total: 0,
            udp_flows: 1,
            gauges: HostGauges::default(),
        }
    }

    fn iface(name: &str, hosts: u32) -> InterfaceDelta {
        InterfaceDelta {
            name: name.into(),
            link_type: "EN10MB".into(),
            counters: InterfaceCounters {
                packets: u64::from(hosts),
                bytes: 60 * u64::from(hosts),
                ..Default::default()
            },
            gauges: InterfaceGauges { hosts: u64::from(hosts), ..Default::default() },
            hosts: (0..hosts).map(host).collect(),
            macs: vec![MacDelta {
                mac: [2, 0, 0, 0, 0, 1],
                first_seen_ns: 1,
                last_seen_ns: 2,
                traffic: Traffic::default(),
            }],
        }
    }

    #[test]
    fn a_large_interval_becomes_batches_under_the_limit_with_every_row_once_and_exact_counters() {
        let b = Batch {
            seq: 0,
            interval_start_ns: 10,
            interval_end_ns: 20,
            spool: Default::default(),
            interfaces: vec![iface("a", 50_000), iface("b", 3), iface("c", 20_000)],
        };
        let max = 256 << 10;
        let whole = wirewatch_wire::encode(&wirewatch_wire::ProbeMessage::Batch(b.clone())).expect("encode").len();
        assert!(whole > 4 * max, "the test batch must need several parts ({whole} bytes)");
        let parts = split_batch(b.clone(), max);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        for p in &parts {
            let len = wirewatch_wire::encode(&wirewatch_wire::ProbeMessage::Batch(p.clone())).expect("encode").len();
            assert!(len <= max, "part of {len} bytes over {max}");
            assert_eq!((p.interval_start_ns, p.interval_end_ns), (10, 20));
        }
        for orig in &b.interfaces {
            let entries: Vec<&InterfaceDelta> =
                parts.iter().flat_map(|p| p.interfaces.iter()).filter(|i| i.name == orig.name).collect();
            let hosts: Vec<&HostDelta> = entries.iter().flat_map(|i| i.hosts.iter()).collect();
            assert_eq!(hosts.len(), orig.hosts.len(), "{}: every host once", orig.name);
            assert!(hosts.iter().zip(&orig.hosts).all(|(a, b)| *a == b), "{}: hosts in order", orig.name);
            assert_eq!(entries.iter().map(|i| i.macs.len()).sum::<usize>(), orig.macs.len());
            assert_eq!(entries.iter().map(|i| i.counters.packets).sum::<u64>(), orig.counters.packets);
            assert_eq!(entries.iter().map(|i| i.counters.bytes).sum::<u64>(), orig.counters.bytes);
            assert!(entries.iter().all(|i| i.gauges == orig.gauges));
        }
    }

    #[test]
    fn a_batch_that_fits_is_left_whole() {
        let b = Batch {
            seq: 0,
            interval_start_ns: 1,
            interval_end_ns: 2,
            spool: Default::default(),
            interfaces: vec![iface("a", 10)],
        };
        assert_eq!(split_batch(b.clone(), 1 << 20), vec![b]);
    }
}
