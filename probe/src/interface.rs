//! One monitored interface: its counters and its host, MAC and flow tables, and the per-frame
//! path that feeds them from [`decode`]. Time is packet time throughout (offline replay ticks
//! by capture timestamps, not the wall clock), so a file gives the same tables however fast it
//! is read.

use std::time::Duration;

use crate::capture::LinkType;
use crate::decode::{self, Decoded, Fragment, IpLayer, L3Class};
use crate::flows::{FlowKey, FlowTable, Gone};
use crate::hosts::{HostRef, HostTable, L4, Update};
use crate::macs::MacTable;
use crate::services;

/// Table bounds and timers.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Hosts per interface (at most 2^24). Default 1M.
    pub max_hosts: usize,
    pub max_macs: usize,
    pub max_flows: usize,
    /// A flow with no packet for this long is removed.
    pub flow_idle: Duration,
    /// A TCP flow closed by FIN/RST is removed after this long without packets.
    pub tcp_closed_idle: Duration,
    /// Hosts idle this long are removed (live capture); `None` keeps them (file reading).
    pub host_idle: Option<Duration>,
    /// Throughput measurement window.
    pub thpt_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_hosts: 1 << 20,
            max_macs: 1 << 20,
            max_flows: 1 << 21,
            flow_idle: Duration::from_secs(120),
            tcp_closed_idle: Duration::from_secs(10),
            host_idle: None,
            thpt_window: Duration::from_secs(10),
        }
    }
}

/// ntop's bytesStats split (outermost header decides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BytesStats {
    pub total: u64,
    pub ipv4: u64,
    pub fragmented: u64,
    pub tcp: u64,
    pub udp: u64,
    pub other_ip: u64,
    pub icmp: u64,
    pub stp: u64,
    pub ipsec: u64,
    pub netbios: u64,
    pub arp_rarp: u64,
    pub gre: u64,
    pub ipv6: u64,
    pub icmp6: u64,
    pub other: u64,
}

/// ntop's pktsStats (subset meaningful here) and securityPkts TCP flag counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PacketStats {
    pub total: u64,
    pub ethernet: u64,
    pub broadcast: u64,
    pub multicast: u64,
    pub ip: u64,
    pub syn: u64,
    pub rst: u64,
    pub rst_ack: u64,
    pub syn_fin: u64,
    pub fin_push_urg: u64,
    pub null: u64,
}

/// Interface-level counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceStats {
    pub packets: u64,
    pub bytes: u64,
    pub undecoded_packets: u64,
    pub undecoded_bytes: u64,
    /// Packets libpcap dropped (buffer full) and the interface dropped (live capture only).
    pub pcap_drops: u64,
    pub if_drops: u64,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub bytes_stats: BytesStats,
    pub pkts_stats: PacketStats,
}

/// An interface and its tables.
#[derive(Debug)]
pub struct Interface {
    pub name: String,
    pub link: LinkType,
    pub stats: InterfaceStats,
    pub hosts: HostTable,
    pub macs: MacTable,
    pub flows: FlowTable,
    limits: Limits,
    next_tick_ns: u64,
    last_tick_ns: u64,
}

impl Interface {
    pub fn new(name: String, link: LinkType, limits: Limits) -> Interface {
        Interface {
            name,
            link,
            stats: InterfaceStats::default(),
            hosts: HostTable::new(limits.max_hosts.min(1 << 24)),
            macs: MacTable::new(limits.max_macs),
            flows: FlowTable::new(limits.max_flows),
            limits,
            next_tick_ns: 0,
            last_tick_ns: 0,
        }
    }

    /// Processes one frame: `data` as captured, `wire_len` its original length.
    #[inline]
    pub fn process(&mut self, ts_ns: u64, wire_len: u64, data: &[u8], dec: &mut Decoded) {
        self.clock(ts_ns);
        decode::decode(self.link, data, dec);
        let st = &mut self.stats;
        if st.packets == 0 || ts_ns < st.first_seen_ns {
            st.first_seen_ns = ts_ns;
        }
        st.last_seen_ns = st.last_seen_ns.max(ts_ns);
        st.packets += 1;
        st.bytes += wire_len;
        st.pkts_stats.total += 1;
        if dec.undecoded() {
            st.undecoded_packets += 1;
            st.undecoded_bytes += wire_len;
        }
        Self::class_stats(st, dec, wire_len);
        for e in dec.eth() {
            self.macs.account(e.src, e.dst, wire_len, ts_ns);
        }
        for i in 0..dec.n_ip {
            let l = dec.ip[i];
            self.account_ip(&l, wire_len, ts_ns);
        }
    }

    fn class_stats(st: &mut InterfaceStats, dec: &Decoded, wire: u64) {
        let b = &mut st.bytes_stats;
        b.total += wire;
        if let Some(e) = dec.eth().first() {
            st.pkts_stats.ethernet += 1;
            if e.dst == [0xff; 6] {
                st.pkts_stats.broadcast += 1;
            } else if e.dst[0] & 1 == 1 {
                st.pkts_stats.multicast += 1;
            }
        }
        match dec.l3 {
            L3Class::Ipv4 | L3Class::Ipv6 => {
                st.pkts_stats.ip += 1;
                let Some(l) = dec.ip().first() else { return };
                if dec.l3 == L3Class::Ipv4 {
                    b.ipv4 += wire;
                } else {
                    b.ipv6 += wire;
                }
                if l.fragment != Fragment::No {
                    b.fragmented += wire;
                }
                match l.proto {
                    6 => b.tcp += wire,
                    17 => b.udp += wire,
                    1 => b.icmp += wire,
                    58 => b.icmp6 += wire,
                    47 => b.gre += wire,
                    50 | 51 => b.ipsec += wire,
                    _ => b.other_ip += wire,
                }
                if l.has_ports && (137..=139).contains(&l.sport.min(l.dport)) {
                    b.netbios += wire;
                }
                if l.proto == 6 {
                    let p = &mut st.pkts_stats;
                    let f = l.tcp_flags;
                    match f & 0x3f {
                        0x02 => p.syn += 1,
                        0x00 => p.null += 1,
                        _ => {}
                    }
                    if f & 0x04 != 0 {
                        if f & 0x10 != 0 {
                            p.rst_ack += 1;
                        } else {
                            p.rst += 1;
                        }
                    }
                    if f & 0x03 == 0x03 {
                        p.syn_fin += 1;
                    }
                    if f & 0x29 == 0x29 {
                        p.fin_push_urg += 1;
                    }
                }
            }
            L3Class::ArpRarp => b.arp_rarp += wire,
            L3Class::Stp => b.stp += wire,
            L3Class::Other | L3Class::None => b.other += wire,
        }
    }

    /// Periodic work driven by packet time: throughput windows, flow expiry, host purge.
    #[inline]
    fn clock(&mut self, ts: u64) {
        if ts < self.next_tick_ns {
            return;
        }
        self.tick(ts);
    }

    fn tick(&mut self, ts: u64) {
        let window = self.limits.thpt_window.as_nanos() as u64;
        if self.last_tick_ns != 0 {
            self.hosts.tick_throughput(ts - self.last_tick_ns);
            let idle = ts.saturating_sub(self.limits.flow_idle.as_nanos() as u64);
            let closed = ts.saturating_sub(self.limits.tcp_closed_idle.as_nanos() as u64);
            let hosts = &mut self.hosts;
            self.flows.expire(idle, closed, |g| Self::forget_flow(hosts, g));
            if let Some(h) = self.limits.host_idle {
                self.hosts.purge_idle(ts.saturating_sub(h.as_nanos() as u64));
            }
        }
        self.last_tick_ns = ts;
        self.next_tick_ns = ts.saturating_add(window.max(1));
    }

    fn forget_flow(hosts: &mut HostTable, g: Gone) {
        if !g.tcp_open {
            return;
        }
        for r in [g.client, g.server].into_iter().flatten() {
            if hosts.resolve(r) {
                let h = hosts.host_mut(r);
                h.tcp_sessions_active = h.tcp_sessions_active.saturating_sub(1);
            }
        }
    }

    #[inline]
    fn host_ref(
        hosts: &mut HostTable,
        cached: Option<HostRef>,
        ip: std::net::IpAddr,
        ts: u64,
        protect: Option<HostRef>,
    ) -> (HostRef, bool) {
        match cached {
            Some(r) if hosts.resolve(r) => (r, false),
            _ => (hosts.lookup(ip, ts, protect), true),
        }
    }

    #[inline]
    fn account_ip(&mut self, l: &IpLayer, wire: u64, ts: u64) {
        let (key, src_is_lo) = FlowKey::new(l.vlan, l.proto, l.src, l.sport, l.dst, l.dport);
        let (flow, created, gone) = self.flows.get_or_create(key, src_is_lo, ts);
        if let Some(g) = gone {
            Self::forget_flow(&mut self.hosts, g);
        }
        let from_client = src_is_lo == flow.lo_is_client;
        let (cached_src, cached_dst) =
            if from_client { (flow.client, flow.server) } else { (flow.server, flow.client) };
        let (src, src_new) = Self::host_ref(&mut self.hosts, cached_src, l.src, ts, None);
        let (dst, dst_new) = Self::host_ref(&mut self.hosts, cached_dst, l.dst, ts, Some(src));
        if src_new || dst_new {
            // A lookup may have evicted the other endpoint's row (when they differ and the
            // table is full); re-resolve the source so both refs are current.
            let src = if self.hosts.resolve(src) { src } else { self.hosts.lookup(l.src, ts, Some(dst)) };
            if from_client {
                flow.client = Some(src);
                flow.server = Some(dst);
            } else {
                flow.server = Some(src);
                flow.client = Some(dst);
            }
        }
        let (src, dst) = if from_client { (flow.client, flow.server) } else { (flow.server, flow.client) };
        let (Some(src), Some(dst)) = (src, dst) else { return };
        if ts > flow.last_seen_ns {
            flow.last_seen_ns = ts;
        }
        if from_client {
            flow.c2s.add(wire);
        } else {
            flow.s2c.add(wire);
        }
        let new_pair = if from_client {
            !std::mem::replace(&mut flow.pair_c2s, true)
        } else {
            !std::mem::replace(&mut flow.pair_s2c, true)
        };
        let mut closed = false;
        let syn = l.proto == 6 && l.tcp_flags & 0x12 == 0x02;
        if l.proto == 6 && l.has_ports {
            closed = flow.tcp_update(l.tcp_flags, from_client);
        }
        let hosts = &mut self.hosts;
        if created {
            match l.proto {
                6 => {
                    for r in [src, dst] {
                        let h = hosts.host_mut(r);
                        h.tcp_sessions_total += 1;
                        h.tcp_sessions_active += 1;
                    }
                }
                17 => {
                    hosts.host_mut(src).udp_flows += 1;
                    if dst != src {
                        hosts.host_mut(dst).udp_flows += 1;
                    }
                }
                _ => {}
            }
        }
        if closed {
            for r in [src, dst] {
                let h = hosts.host_mut(r);
                h.tcp_sessions_active = h.tcp_sessions_active.saturating_sub(1);
            }
        }
        if new_pair {
            hosts.note_pair(src, dst);
        }
        let (service, sender_roles) = if l.has_ports && (l.proto == 6 || l.proto == 17) {
            (services::classify(l.sport, l.dport), services::sender_roles(l.proto, l.sport, l.dport))
        } else {
            (services::Service::Other, 0)
        };
        let u = Update { ts_ns: ts, bytes: wire, l4: L4::of(l.proto), service, sender_roles, syn, vlan: l.vlan };
        hosts.account(src, dst, &u, l.src_mac);
    }

    /// Records libpcap's drop counters (live capture).
    pub fn set_drops(&mut self, pcap_drops: u64, if_drops: u64) {
        self.stats.pcap_drops = pcap_drops;
        self.stats.if_drops = if_drops;
    }

    /// Final throughput window at the end of a capture.
    pub fn finish(&mut self) {
        let end = self.stats.last_seen_ns;
        if end > self.last_tick_ns && self.last_tick_ns != 0 {
            self.hosts.tick_throughput(end - self.last_tick_ns);
            self.last_tick_ns = end;
        } else if self.last_tick_ns == 0 && end > self.stats.first_seen_ns {
            // The whole capture fit in one window.
            self.hosts.tick_throughput(end - self.stats.first_seen_ns);
        }
    }
}
