//! One monitored interface: its counters and its host, MAC and flow tables, and the per-frame
//! path that feeds them from [`decode`]. Time is packet time throughout (offline replay ticks
//! by capture timestamps, not the wall clock), so a file gives the same tables however fast it
//! is read.

use std::time::Duration;

use crate::capture::LinkType;
use crate::decode::{self, Decoded, Fragment, L3Class, MAX_LAYERS};
use crate::flows::{FlowKey, FlowPacket, FlowTable, Outcome};
use crate::hosts::{HostTable, L4, Update};
use crate::macs::MacTable;
use crate::services;
pub use wirewatch_model::stats::{BytesStats, PacketStats};

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
    /// Interfaces per probe (each file interface or pcapng IDB with frames is one); frames of
    /// interfaces past this are not counted, only tallied (`Engine::over_cap`).
    pub max_interfaces: usize,
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
            max_interfaces: 64,
        }
    }
}

/// Counters as of the previous uplink delta (`delta` diffs against them).
#[derive(Debug, Clone, Default)]
pub(crate) struct Reported {
    pub(crate) stats: InterfaceStats,
    pub(crate) flows_total: u64,
    pub(crate) flows_expired: u64,
    pub(crate) host_evictions: u64,
    pub(crate) mac_evictions: u64,
    pub(crate) flow_evictions: u64,
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

/// A frame decoded ahead of its accounting, with its flow keys hashed, so that the rows it
/// will touch can be prefetched while earlier frames are accounted (see `engine`).
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub ts_ns: u64,
    pub wire_len: u64,
    pub dec: Decoded,
    /// Per IP header: flow key, whether the sender is the key's `lo` side, hash tag.
    keys: [(FlowKey, bool, u32); MAX_LAYERS],
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
    /// Counters as of the last uplink delta (see `delta`).
    pub(crate) reported: Reported,
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
            reported: Default::default(),
        }
    }

    /// Processes one frame: `data` as captured, `wire_len` its original length.
    #[inline]
    pub fn process(&mut self, ts_ns: u64, wire_len: u64, data: &[u8], p: &mut Prepared) {
        self.prepare(ts_ns, wire_len, data, p);
        self.account(p);
    }

    /// First stage: decode, compute flow keys, prefetch their index entries. No side effects.
    #[inline]
    pub fn prepare(&self, ts_ns: u64, wire_len: u64, data: &[u8], p: &mut Prepared) {
        p.ts_ns = ts_ns;
        p.wire_len = wire_len;
        decode::decode(self.link, data, &mut p.dec);
        for (l, k) in p.dec.ip().iter().zip(p.keys.iter_mut()) {
            let (key, lo) = FlowKey::new(l.vlan, l.proto, l.src, l.sport, l.dst, l.dport);
            let tag = self.flows.tag(&key);
            self.flows.prefetch_index(tag);
            *k = (key, lo, tag);
        }
    }

    /// Second stage: prefetch the flow rows of a prepared frame.
    #[inline]
    pub fn prefetch(&self, p: &Prepared) {
        for k in &p.keys[..p.dec.n_ip] {
            self.flows.prefetch(k.2);
        }
    }

    /// Last stage: count a prepared frame. Frames must be accounted in capture order.
    #[inline]
    pub fn account(&mut self, p: &Prepared) {
        let (ts_ns, wire_len, dec) = (p.ts_ns, p.wire_len, &p.dec);
        self.clock(ts_ns);
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
        // Ethernet headers that carry an IP header are counted through that header's flow.
        for e in dec.eth().iter().filter(|e| !e.carries_ip) {
            self.macs.account(e.src, e.dst, wire_len, ts_ns);
        }
        for (l, (key, lo, tag)) in dec.ip().iter().zip(p.keys.iter()) {
            let fp = FlowPacket {
                ts_ns,
                bytes: wire_len,
                tcp_flags: (l.proto == 6 && l.has_ports).then_some(l.tcp_flags),
                macs: l.eth.map(|e| (e.src, e.dst)),
            };
            loop {
                match self.flows.packet(key, *tag, *lo, &fp) {
                    Outcome::Counted(_) => break,
                    Outcome::FlushFirst(s) => self.flush(s),
                    Outcome::EvictFirst(s) => {
                        self.retire(s);
                        self.flows.evict(s);
                    }
                }
            }
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
            self.flush_all();
            self.hosts.tick_throughput(ts - self.last_tick_ns);
            let idle = ts.saturating_sub(self.limits.flow_idle.as_nanos() as u64);
            let closed = ts.saturating_sub(self.limits.tcp_closed_idle.as_nanos() as u64);
            let gone = self.flows.expired_slots(idle, closed);
            for &s in &gone {
                self.retire(s);
            }
            self.flows.remove_expired(&gone);
            if let Some(h) = self.limits.host_idle {
                self.hosts.purge_idle(ts.saturating_sub(h.as_nanos() as u64));
            }
        }
        self.last_tick_ns = ts;
        self.next_tick_ns = ts.saturating_add(window.max(1));
    }

    /// Applies every flow's pending counts to the host and MAC tables.
    pub fn flush_all(&mut self) {
        let slots: Vec<u32> = self.flows.pending_slots().collect();
        // Host rows are scattered: prefetch those of the flow a few places ahead, and their
        // service arrays (a pointer inside the row, so only once the row has arrived).
        const AHEAD: usize = 8;
        const AHEAD_SERVICES: usize = 4;
        for (i, &s) in slots.iter().enumerate() {
            if let Some(&next) = slots.get(i + AHEAD) {
                let f = self.flows.slot_mut(next);
                let (c, v, hints) = (f.client, f.server, f.mac_hints);
                for r in [c, v].into_iter().flatten() {
                    self.hosts.prefetch(r);
                }
                for h in hints.into_iter().flatten() {
                    self.macs.prefetch(h);
                }
            }
            if let Some(&next) = slots.get(i + AHEAD_SERVICES) {
                let f = self.flows.slot_mut(next);
                let (c, v) = (f.client, f.server);
                for r in [c, v].into_iter().flatten() {
                    self.hosts.prefetch_services(r);
                }
            }
            self.flush(s);
        }
    }

    /// Applies one flow's pending counts to the host and MAC tables (see `flows`).
    fn flush(&mut self, slot: u32) {
        let f = self.flows.slot_mut(slot);
        let hosts = &mut self.hosts;
        let proto = f.key.proto;
        let (cport, sport) = f.ports();
        let first = match (f.pending[0].packets, f.pending[1].packets) {
            (0, 0) => f.first_seen_ns,
            (0, _) => f.pending[1].first_ns,
            (_, 0) => f.pending[0].first_ns,
            _ => f.pending[0].first_ns.min(f.pending[1].first_ns),
        };
        let c = match f.client {
            Some(r) if hosts.resolve(r) => r,
            _ => hosts.lookup(f.client_addr(), first, f.server.filter(|r| hosts.resolve(*r))),
        };
        let s = match f.server {
            Some(r) if hosts.resolve(r) => r,
            _ => hosts.lookup(f.server_addr(), first, Some(c)),
        };
        f.client = Some(c);
        f.server = Some(s);
        if !f.counted {
            f.counted = true;
            match proto {
                6 => {
                    for r in [c, s] {
                        hosts.open_tcp_session(r);
                    }
                }
                17 => {
                    hosts.count_udp_flow(c);
                    if s != c {
                        hosts.count_udp_flow(s);
                    }
                }
                _ => {}
            }
        }
        let ported = proto == 6 || proto == 17;
        for dir in 0..2 {
            let p = f.pending[dir];
            if p.packets == 0 {
                continue;
            }
            let (src, dst, sp, dp) = if dir == 0 { (c, s, cport, sport) } else { (s, c, sport, cport) };
            let (service, sender_roles) = if ported {
                (services::classify(sp, dp), services::sender_roles(proto, sp, dp))
            } else {
                (services::Service::Other, 0)
            };
            let u = Update {
                packets: u64::from(p.packets),
                bytes: p.bytes,
                first_ns: p.first_ns,
                last_ns: p.last_ns,
                l4: L4::of(proto),
                service,
                sender_roles,
                syns: p.syns,
                vlan: f.key.vlan,
            };
            let macs = f.macs[dir];
            hosts.account(src, dst, &u, macs.map(|(m, _)| m));
            if !f.paired[dir] {
                f.paired[dir] = true;
                hosts.note_pair(src, dst);
            }
            if let Some((sm, dm)) = macs {
                f.mac_hints[dir] =
                    self.macs.account_bulk(sm, dm, u.packets, u.bytes, p.first_ns, p.last_ns, f.mac_hints[dir]);
            }
            f.pending[dir] = crate::flows::Pending::default();
        }
        if proto == 6 && !f.is_tcp_open() && !f.close_applied {
            f.close_applied = true;
            for r in [c, s] {
                hosts.close_tcp_session(r);
            }
        }
    }

    /// Flushes a flow that is about to leave the table and closes its session on the hosts.
    fn retire(&mut self, slot: u32) {
        self.flush(slot);
        let f = self.flows.slot_mut(slot);
        if f.key.proto == 6 && f.counted && !f.close_applied {
            f.close_applied = true;
            for r in [f.client, f.server].into_iter().flatten() {
                if self.hosts.resolve(r) {
                    self.hosts.close_tcp_session(r);
                }
            }
        }
    }

    /// Records libpcap's drop counters (live capture).
    pub fn set_drops(&mut self, pcap_drops: u64, if_drops: u64) {
        self.stats.pcap_drops = pcap_drops;
        self.stats.if_drops = if_drops;
    }

    /// Applies all pending counts and closes the last throughput window (end of a capture).
    pub fn finish(&mut self) {
        self.flush_all();
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
