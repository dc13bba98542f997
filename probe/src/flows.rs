//! Flow table: one row per (VLAN, protocol, address pair, port pair), both directions in one
//! row; the sender of the first packet is the flow's client.
//!
//! The flow table is also where per-packet counting happens. A packet touches only its flow
//! row: it adds to the row's totals and to a *pending* delta per direction. Pending deltas are
//! applied to the host and MAC tables when the row is flushed — at every clock tick (packet
//! time), before a row leaves the table, when a direction's MACs change, and before a report.
//! Everything a host counter needs is constant for a flow direction (addresses, protocol, ports
//! → service and roles, VLAN, MACs) or summable (packets, bytes, SYNs, first/last time), so the
//! host totals after a flush are exactly what per-packet updates would give, at one hash
//! lookup and one row write per packet instead of six or more.
//!
//! Rows live in a slab addressed by a compact open-addressing index (8 bytes per entry: a 32-bit
//! hash tag and the slot), which stays in the CPU caches for hundreds of thousands of flows and
//! lets the reader prefetch a row a few packets before it is needed ([`FlowTable::prefetch`]).
//! Full table: the idlest of 8 sampled rows is flushed and evicted.

use std::hash::{BuildHasher, Hash, Hasher};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::hosts::{Counter, HostRef};
use crate::slab::Slab;

/// Canonical flow key: the lower (address, port) endpoint first. Addresses are 16 bytes
/// (IPv4 mapped into IPv6 space, `v6` tells which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowKey {
    pub lo: [u8; 16],
    pub hi: [u8; 16],
    pub lo_port: u16,
    pub hi_port: u16,
    pub vlan: u16,
    pub proto: u8,
    pub v6: bool,
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_ne_bytes(self.lo));
        state.write_u128(u128::from_ne_bytes(self.hi));
        state.write_u64(
            u64::from(self.lo_port)
                | (u64::from(self.hi_port) << 16)
                | (u64::from(self.vlan) << 32)
                | (u64::from(self.proto) << 48)
                | (u64::from(self.v6) << 56),
        );
    }
}

#[inline]
fn octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

impl FlowKey {
    /// The canonical key and whether `src` is the key's `lo` side.
    #[inline]
    pub fn new(vlan: u16, proto: u8, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> (FlowKey, bool) {
        let v6 = src.is_ipv6();
        let (s, d) = (octets(src), octets(dst));
        if (s, sport) <= (d, dport) {
            (FlowKey { lo: s, hi: d, lo_port: sport, hi_port: dport, vlan, proto, v6 }, true)
        } else {
            (FlowKey { lo: d, hi: s, lo_port: dport, hi_port: sport, vlan, proto, v6 }, false)
        }
    }

    fn addr(&self, b: [u8; 16]) -> IpAddr {
        if self.v6 { IpAddr::V6(Ipv6Addr::from(b)) } else { IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15])) }
    }

    pub fn lo_addr(&self) -> IpAddr {
        self.addr(self.lo)
    }

    pub fn hi_addr(&self) -> IpAddr {
        self.addr(self.hi)
    }
}

/// TCP connection state as far as a passive observer can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    #[default]
    None,
    SynSent,
    SynReceived,
    Established,
    Closing,
    Closed,
    Reset,
}

/// Counts of one direction not yet applied to the host and MAC tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pending {
    pub packets: u32,
    pub syns: u32,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

impl Pending {
    #[inline]
    fn add(&mut self, bytes: u64, ts: u64, syn: bool) {
        if self.packets == 0 {
            self.first_ns = ts;
            self.last_ns = ts;
        } else {
            self.first_ns = self.first_ns.min(ts);
            self.last_ns = self.last_ns.max(ts);
        }
        self.packets += 1;
        self.bytes += bytes;
        self.syns += u32::from(syn);
    }
}

/// Source and destination MAC of one direction's packets (the Ethernet header directly
/// carrying the flow's IP header), when there is one.
pub type MacPair = Option<([u8; 6], [u8; 6])>;

/// One flow. `repr(C, align(64))` puts what the per-packet path reads and writes (key, flags,
/// times, totals, pending deltas, MAC pairs: 186 bytes) in the row's first three cache lines,
/// the ones [`FlowTable::prefetch`] brings in; flush-time fields follow.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Flow {
    pub key: FlowKey,
    tag: u32,
    pub(crate) live: bool,
    /// True when the key's `lo` endpoint sent the first packet.
    pub lo_is_client: bool,
    pub tcp_state: TcpState,
    fin_seen: u8,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// Client → server and server → client totals.
    pub c2s: Counter,
    pub s2c: Counter,
    /// Index 0: client → server, 1: server → client.
    pub(crate) pending: [Pending; 2],
    pub(crate) macs: [MacPair; 2],
    /// MAC table slots of each direction's (source, destination), as hints (see `macs`).
    pub(crate) mac_hints: [[u32; 2]; 2],
    /// Cached host rows of the client and server (validated before use).
    pub(crate) client: Option<HostRef>,
    pub(crate) server: Option<HostRef>,
    /// Peer pair recorded per direction; sessions/flows counted on hosts; close applied.
    pub(crate) paired: [bool; 2],
    pub(crate) counted: bool,
    pub(crate) close_applied: bool,
}

impl Flow {
    pub fn is_tcp_open(&self) -> bool {
        self.key.proto == 6 && !matches!(self.tcp_state, TcpState::Closed | TcpState::Reset)
    }

    pub fn client_addr(&self) -> IpAddr {
        if self.lo_is_client { self.key.lo_addr() } else { self.key.hi_addr() }
    }

    pub fn server_addr(&self) -> IpAddr {
        if self.lo_is_client { self.key.hi_addr() } else { self.key.lo_addr() }
    }

    /// (client port, server port).
    pub fn ports(&self) -> (u16, u16) {
        if self.lo_is_client { (self.key.lo_port, self.key.hi_port) } else { (self.key.hi_port, self.key.lo_port) }
    }

    pub fn has_pending(&self) -> bool {
        self.pending[0].packets > 0 || self.pending[1].packets > 0
    }

    /// Advances the TCP state with a packet's flags, sent by the client if `from_client`.
    pub fn tcp_update(&mut self, flags: u8, from_client: bool) {
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        const ACK: u8 = 0x10;
        if flags & RST != 0 {
            self.tcp_state = TcpState::Reset;
        } else if flags & FIN != 0 {
            self.fin_seen |= if from_client { 1 } else { 2 };
            self.tcp_state = if self.fin_seen == 3 { TcpState::Closed } else { TcpState::Closing };
        } else if flags & SYN != 0 && flags & ACK == 0 {
            if self.tcp_state == TcpState::None {
                self.tcp_state = TcpState::SynSent;
            }
        } else if flags & SYN != 0 {
            if matches!(self.tcp_state, TcpState::None | TcpState::SynSent) {
                self.tcp_state = TcpState::SynReceived;
            }
        } else if flags & ACK != 0
            && matches!(self.tcp_state, TcpState::None | TcpState::SynReceived | TcpState::SynSent)
        {
            self.tcp_state = TcpState::Established;
        }
    }
}

/// What one packet adds to its flow.
#[derive(Debug, Clone, Copy)]
pub struct FlowPacket {
    pub ts_ns: u64,
    pub bytes: u64,
    pub tcp_flags: Option<u8>,
    pub macs: MacPair,
}

/// Result of [`FlowTable::packet`].
#[derive(Debug)]
pub enum Outcome {
    /// Counted in this slot.
    Counted(u32),
    /// This flow's direction changed MACs: flush the slot, then call `packet` again.
    FlushFirst(u32),
    /// The table is full: flush and remove this (idle) slot, then call `packet` again.
    EvictFirst(u32),
}

/// Open-addressing index over the slab. An entry is `(tag << 32) | (slot + 1)`, 0 is empty;
/// the tag is the upper 32 bits of the key's hash and also picks the home position, so the
/// index can grow and delete (backward shift, no tombstones) without touching the rows.
/// Load factor at most 1/2 keeps probe runs short.
#[derive(Debug)]
struct Index {
    entries: Vec<u64>,
    mask: usize,
    len: usize,
}

impl Index {
    fn new() -> Index {
        Index { entries: vec![0; 1024], mask: 1023, len: 0 }
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        (tag as usize).wrapping_mul(0x9e37_79b9) >> 7 & self.mask
    }

    #[inline]
    fn find(&self, tag: u32, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut i = self.home(tag);
        loop {
            let e = self.entries[i];
            if e == 0 {
                return None;
            }
            if (e >> 32) as u32 == tag && eq((e as u32).wrapping_sub(1)) {
                return Some((e as u32).wrapping_sub(1));
            }
            i = (i + 1) & self.mask;
        }
    }

    fn insert(&mut self, tag: u32, slot: u32) {
        if (self.len + 1) * 2 > self.entries.len() {
            self.grow();
        }
        self.place((u64::from(tag) << 32) | u64::from(slot + 1));
        self.len += 1;
    }

    fn place(&mut self, e: u64) {
        let mut i = self.home((e >> 32) as u32);
        while self.entries[i] != 0 {
            i = (i + 1) & self.mask;
        }
        self.entries[i] = e;
    }

    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.entries, vec![0; self.mask.wrapping_add(1) * 2]);
        self.mask = self.entries.len() - 1;
        for e in old.into_iter().filter(|&e| e != 0) {
            self.place(e);
        }
    }

    fn remove(&mut self, tag: u32, slot: u32) {
        let want = (u64::from(tag) << 32) | u64::from(slot + 1);
        let mut i = self.home(tag);
        loop {
            let e = self.entries[i];
            if e == 0 {
                return;
            }
            if e == want {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward-shift deletion: pull later entries of the run into the hole when their
        // home position allows it.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.entries[j];
            if e == 0 {
                break;
            }
            let home = self.home((e >> 32) as u32);
            // Move e into the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j { hole < home && home <= j } else { hole < home || home <= j };
            if !stays {
                self.entries[hole] = e;
                hole = j;
            }
        }
        self.entries[hole] = 0;
        self.len -= 1;
    }
}

/// Bounded flow table of one interface.
#[derive(Debug)]
pub struct FlowTable {
    index: Index,
    slots: Slab<Flow>,
    free: Vec<u32>,
    max: usize,
    hasher: foldhash::fast::FixedState,
    rng: u64,
    evictions: u64,
    expired: u64,
    created: u64,
}

impl FlowTable {
    pub fn new(max: usize) -> FlowTable {
        FlowTable {
            index: Index::new(),
            slots: Slab::default(),
            free: Vec::new(),
            max: max.clamp(2, u32::MAX as usize),
            hasher: foldhash::fast::FixedState::with_seed(0x5eed),
            rng: 0x2545_f491_4f6c_dd1d,
            evictions: 0,
            expired: 0,
            created: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len
    }

    pub fn is_empty(&self) -> bool {
        self.index.len == 0
    }

    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    pub fn expired(&self) -> u64 {
        self.expired
    }

    pub fn created(&self) -> u64 {
        self.created
    }

    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.slots.iter().filter(|f| f.live)
    }

    pub(crate) fn slot_mut(&mut self, slot: u32) -> &mut Flow {
        &mut self.slots[slot]
    }

    /// Slots of live flows with pending counts.
    pub(crate) fn pending_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().enumerate().filter(|(_, f)| f.live && f.has_pending()).map(|(i, _)| i as u32)
    }

    /// The hash tag of a key (computed once per packet, before [`FlowTable::prefetch`]).
    #[inline]
    pub fn tag(&self, key: &FlowKey) -> u32 {
        (self.hasher.hash_one(key) >> 32) as u32
    }

    /// Brings the index entry for `tag` into the cache (first pipeline stage).
    #[inline]
    pub fn prefetch_index(&self, tag: u32) {
        let i = self.index.home(tag);
        crate::prefetch::prefetch(&self.index.entries[i], 1);
    }

    /// Brings the row of the flow with this tag into the cache, if there is one (second stage).
    #[inline]
    pub fn prefetch(&self, tag: u32) {
        let mut i = self.index.home(tag);
        for _ in 0..4 {
            let e = self.index.entries[i];
            if e == 0 {
                return;
            }
            if (e >> 32) as u32 == tag {
                if let Some(f) = self.slots.get((e as u32).wrapping_sub(1)) {
                    crate::prefetch::prefetch(f, 3);
                }
                return;
            }
            i = (i + 1) & self.index.mask;
        }
    }

    /// Counts one packet of the flow `key` (sent by the key's `lo` side if `src_is_lo`).
    #[inline]
    pub fn packet(&mut self, key: &FlowKey, tag: u32, src_is_lo: bool, p: &FlowPacket) -> Outcome {
        let slots = &self.slots;
        let found = self.index.find(tag, |i| slots.get(i).is_some_and(|f| f.key == *key));
        let slot = match found {
            Some(s) => s,
            None => {
                if self.index.len >= self.max
                    && let Some(victim) = self.pick_victim()
                {
                    return Outcome::EvictFirst(victim);
                }
                self.insert(tag, *key, src_is_lo, p.ts_ns)
            }
        };
        let f = &mut self.slots[slot];
        let from_client = src_is_lo == f.lo_is_client;
        let dir = usize::from(!from_client);
        if f.pending[dir].packets > 0 && f.macs[dir] != p.macs {
            return Outcome::FlushFirst(slot);
        }
        f.macs[dir] = p.macs;
        if p.ts_ns > f.last_seen_ns {
            f.last_seen_ns = p.ts_ns;
        }
        if p.ts_ns < f.first_seen_ns {
            f.first_seen_ns = p.ts_ns;
        }
        if from_client {
            f.c2s.add(p.bytes);
        } else {
            f.s2c.add(p.bytes);
        }
        let syn = p.tcp_flags.is_some_and(|fl| fl & 0x12 == 0x02);
        f.pending[dir].add(p.bytes, p.ts_ns, syn);
        if let Some(fl) = p.tcp_flags {
            f.tcp_update(fl, from_client);
        }
        Outcome::Counted(slot)
    }

    fn insert(&mut self, tag: u32, key: FlowKey, src_is_lo: bool, ts: u64) -> u32 {
        let flow = Flow {
            key,
            tag,
            live: true,
            lo_is_client: src_is_lo,
            first_seen_ns: ts,
            last_seen_ns: ts,
            c2s: Counter::default(),
            s2c: Counter::default(),
            tcp_state: TcpState::None,
            fin_seen: 0,
            pending: [Pending::default(); 2],
            macs: [None; 2],
            mac_hints: [[crate::macs::NO_HINT; 2]; 2],
            client: None,
            server: None,
            paired: [false; 2],
            counted: false,
            close_applied: false,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = flow;
                s
            }
            None => {
                self.slots.push(flow);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(tag, slot);
        self.created += 1;
        slot
    }

    /// The idlest of a few randomly sampled live rows.
    fn pick_victim(&mut self) -> Option<u32> {
        self.slots.sample_idlest(&mut self.rng, |_, f| f.live.then_some(f.last_seen_ns))
    }

    /// Removes a row (its pending counts must have been flushed).
    pub(crate) fn remove(&mut self, slot: u32) {
        let tag = self.slots[slot].tag;
        self.index.remove(tag, slot);
        self.slots[slot].live = false;
        self.free.push(slot);
    }

    /// Slots of rows idle since before `idle_before_ns`, or closed TCP rows idle since before
    /// `closed_before_ns`. The caller flushes them, then calls [`FlowTable::remove_expired`].
    pub(crate) fn expired_slots(&self, idle_before_ns: u64, closed_before_ns: u64) -> Vec<u32> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                f.live
                    && (f.last_seen_ns < idle_before_ns
                        || (f.key.proto == 6 && !f.is_tcp_open() && f.last_seen_ns < closed_before_ns))
            })
            .map(|(i, _)| i as u32)
            .collect()
    }

    pub(crate) fn remove_expired(&mut self, slots: &[u32]) {
        for &s in slots {
            self.remove(s);
        }
        self.expired += slots.len() as u64;
    }

    /// Removes a row evicted to make room (its pending counts must have been flushed).
    pub(crate) fn evict(&mut self, slot: u32) {
        self.remove(slot);
        self.evictions += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn pkt(ts: u64, flags: Option<u8>) -> FlowPacket {
        FlowPacket { ts_ns: ts, bytes: 100, tcp_flags: flags, macs: None }
    }

    #[test]
    fn hot_fields_sit_in_the_first_three_cache_lines() {
        let f = std::mem::offset_of!(Flow, macs) + std::mem::size_of::<[MacPair; 2]>();
        assert!(f <= 192, "hot part ends at {f}");
        assert_eq!(std::mem::align_of::<Flow>(), 64);
    }

    #[test]
    fn canonical_key_is_direction_free() {
        let (k1, lo1) = FlowKey::new(0, 6, ip("192.0.2.1"), 40000, ip("192.0.2.2"), 80);
        let (k2, lo2) = FlowKey::new(0, 6, ip("192.0.2.2"), 80, ip("192.0.2.1"), 40000);
        assert_eq!(k1, k2);
        assert_ne!(lo1, lo2);
        assert_eq!(k1.lo_addr(), ip("192.0.2.1"));
        let (k6, _) = FlowKey::new(0, 17, ip("2001:db8::2"), 1, ip("2001:db8::1"), 2);
        assert_eq!(k6.lo_addr(), ip("2001:db8::1"));
    }

    #[test]
    fn both_directions_share_a_row_and_pend() {
        let mut t = FlowTable::new(10);
        let (k, lo) = FlowKey::new(0, 6, ip("192.0.2.1"), 1000, ip("192.0.2.2"), 80);
        let Outcome::Counted(s) = t.packet(&k, t.tag(&k), lo, &pkt(5, Some(0x02))) else { panic!("counted") };
        let Outcome::Counted(s2) = t.packet(&k, t.tag(&k), !lo, &pkt(6, Some(0x12))) else { panic!("counted") };
        assert_eq!(s, s2);
        let f = t.slot_mut(s);
        assert_eq!((f.c2s.packets, f.s2c.packets, f.pending[0].syns, f.pending[1].syns), (1, 1, 1, 0));
        assert_eq!(f.tcp_state, TcpState::SynReceived);
        assert_eq!(f.client_addr(), ip("192.0.2.1"));
        assert_eq!(f.ports(), (1000, 80));
    }

    #[test]
    fn mac_change_asks_for_a_flush() {
        let mut t = FlowTable::new(10);
        let (k, lo) = FlowKey::new(0, 17, ip("192.0.2.1"), 1, ip("192.0.2.2"), 2);
        let mut p = pkt(1, None);
        p.macs = Some(([1; 6], [2; 6]));
        assert!(matches!(t.packet(&k, t.tag(&k), lo, &p), Outcome::Counted(_)));
        p.macs = Some(([3; 6], [2; 6]));
        let Outcome::FlushFirst(s) = t.packet(&k, t.tag(&k), lo, &p) else { panic!("flush first") };
        t.slot_mut(s).pending = [Pending::default(); 2];
        assert!(matches!(t.packet(&k, t.tag(&k), lo, &p), Outcome::Counted(_)));
    }

    #[test]
    fn bounded_with_eviction() {
        let mut t = FlowTable::new(5);
        for port in 0..50u16 {
            let (k, lo) = FlowKey::new(0, 17, ip("192.0.2.1"), port, ip("192.0.2.1"), 53);
            loop {
                match t.packet(&k, t.tag(&k), lo, &pkt(u64::from(port), None)) {
                    Outcome::Counted(_) => break,
                    Outcome::FlushFirst(s) => t.slot_mut(s).pending = [Pending::default(); 2],
                    Outcome::EvictFirst(s) => t.evict(s),
                }
            }
        }
        assert_eq!(t.len(), 5);
        assert_eq!(t.evictions(), 45);
        assert_eq!(t.created(), 50);
    }

    #[test]
    fn index_survives_churn() {
        // Many inserts and removals with colliding home positions: every live key stays findable.
        let mut t = FlowTable::new(1 << 20);
        let mut live = Vec::new();
        for i in 0..20_000u32 {
            let (k, lo) =
                FlowKey::new(0, 17, ip("192.0.2.1"), (i % 60_000) as u16, ip("198.51.100.1"), (i / 60_000) as u16);
            let Outcome::Counted(s) = t.packet(&k, t.tag(&k), lo, &pkt(1, None)) else { panic!("counted") };
            live.push((k, s));
            if i % 3 == 0 {
                let (_, s) = live.swap_remove((i as usize * 7919) % live.len());
                t.remove(s);
            }
        }
        assert_eq!(t.len(), live.len());
        for (k, s) in &live {
            let tag = t.tag(k);
            assert_eq!(t.index.find(tag, |i| t.slots[i].key == *k), Some(*s));
        }
    }

    #[test]
    fn expiry() {
        let mut t = FlowTable::new(10);
        let (k, lo) = FlowKey::new(0, 6, ip("192.0.2.1"), 1, ip("192.0.2.2"), 2);
        t.packet(&k, t.tag(&k), lo, &pkt(0, Some(0x11)));
        t.packet(&k, t.tag(&k), !lo, &pkt(1, Some(0x11)));
        let e = t.expired_slots(0, 5);
        assert_eq!(e.len(), 1, "closed TCP flows go sooner");
        t.remove_expired(&e);
        assert_eq!((t.len(), t.expired()), (0, 1));
    }
}
