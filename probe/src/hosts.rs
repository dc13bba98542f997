//! Host table: one row per IP address seen on an interface, bounded, with idle-first eviction.
//!
//! Rows live in a slab (`Vec<Host>`) addressed by [`HostRef`] (slot + generation) so that flows
//! can cache their endpoints and skip the hash lookup on every packet after the first. When the
//! table is full, a new address evicts the idlest of a few randomly sampled rows (the
//! approximated-LRU of Redis: O(1), no per-packet list maintenance). Evictions are counted.
//!
//! Distinct peers are counted exactly with one set of directed (sender, receiver) slot pairs
//! shared by the table; pairs of evicted rows are garbage-collected when the set grows.
//!
//! This module owns counting only; it must not decode packets or know about output formats.

use std::net::IpAddr;

use hashbrown::{HashMap, HashSet};

use crate::services::Service;
use crate::slab::Slab;

pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;
pub type FastSet<K> = HashSet<K, foldhash::fast::FixedState>;

/// Packets and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

impl Counter {
    #[inline]
    pub fn add(&mut self, bytes: u64) {
        self.packets += 1;
        self.bytes += bytes;
    }
    #[inline]
    pub fn add_n(&mut self, packets: u64, bytes: u64) {
        self.packets += packets;
        self.bytes += bytes;
    }
    pub fn merge(&mut self, o: &Counter) {
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// Sent and received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TxRx {
    pub tx: Counter,
    pub rx: Counter,
}

impl TxRx {
    pub fn merge(&mut self, o: &TxRx) {
        self.tx.merge(&o.tx);
        self.rx.merge(&o.rx);
    }
}

/// Layer-4 split of a host's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum L4 {
    Tcp = 0,
    Udp = 1,
    Icmp = 2,
    Other = 3,
}

impl L4 {
    #[inline]
    pub fn of(proto: u8) -> L4 {
        match proto {
            6 => L4::Tcp,
            17 => L4::Udp,
            1 | 58 => L4::Icmp,
            _ => L4::Other,
        }
    }
}

/// TCP, UDP, ICMP as kept, and "other" as the total minus those three.
fn split_l4(total: &TxRx, l4: &[TxRx; 3]) -> [TxRx; 4] {
    let mut other = *total;
    for t in l4 {
        other.tx.packets -= t.tx.packets;
        other.tx.bytes -= t.tx.bytes;
        other.rx.packets -= t.rx.packets;
        other.rx.bytes -= t.rx.bytes;
    }
    [l4[0], l4[1], l4[2], other]
}

/// Throughput in bytes/s each way, as ntop's sendThpt/receiveThpt (actual, average, peak).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Throughput {
    /// Bytes at the start of the current measurement window.
    pub(crate) window_tx: u64,
    pub(crate) window_rx: u64,
    pub actual_tx: f32,
    pub actual_rx: f32,
    pub peak_tx: f32,
    pub peak_rx: f32,
}

/// Reference to a host row that survives only as long as the row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRef {
    pub slot: u32,
    pub generation: u32,
}

/// One host (an IP address on one interface).
#[derive(Debug, Clone)]
pub struct Host {
    pub ip: IpAddr,
    /// Last source MAC this address sent from (all zero and `has_mac == false` if none).
    pub mac: [u8; 6],
    pub has_mac: bool,
    /// VLAN of the last packet it sent (0 = untagged).
    pub vlan: u16,
    pub generation: u32,
    pub roles: u32,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub total: TxRx,
    /// TCP, UDP and ICMP, indexed by [`L4`]; "other" is the total minus these (see `l4_split`).
    pub l4: [TxRx; 3],
    /// Sparse split by service (only services seen), sorted by service id.
    pub services: Vec<(Service, TxRx)>,
    pub peers_sent: u32,
    pub peers_rcvd: u32,
    pub tcp_sessions_active: u32,
    pub tcp_sessions_total: u32,
    pub udp_flows: u32,
    pub syn_sent: u32,
    pub thpt: Throughput,
    pub(crate) live: bool,
}

impl Host {
    fn new(ip: IpAddr, ts: u64, generation: u32) -> Host {
        Host {
            ip,
            mac: [0; 6],
            has_mac: false,
            vlan: 0,
            generation,
            roles: 0,
            first_seen_ns: ts,
            last_seen_ns: ts,
            total: TxRx::default(),
            l4: [TxRx::default(); 3],
            services: Vec::new(),
            peers_sent: 0,
            peers_rcvd: 0,
            tcp_sessions_active: 0,
            tcp_sessions_total: 0,
            udp_flows: 0,
            syn_sent: 0,
            thpt: Throughput::default(),
            live: true,
        }
    }

    #[inline]
    fn touch(&mut self, first: u64, last: u64) {
        if first < self.first_seen_ns {
            self.first_seen_ns = first;
        }
        if last > self.last_seen_ns {
            self.last_seen_ns = last;
        }
    }

    fn service_mut(&mut self, svc: Service) -> &mut TxRx {
        let i = match self.services.binary_search_by_key(&svc, |(s, _)| *s) {
            Ok(i) => i,
            Err(i) => {
                // Most hosts use one or two services: grow one entry at a time (a plain push
                // would reserve four, 160 bytes, on the first insert).
                self.services.reserve_exact(1);
                self.services.insert(i, (svc, TxRx::default()));
                i
            }
        };
        &mut self.services[i].1
    }

    /// A row outside any table (rebuilt from stored totals, for reports).
    pub fn detached(ip: IpAddr) -> Host {
        Host::new(ip, 0, 0)
    }

    /// Traffic split TCP, UDP, ICMP, other.
    pub fn l4_split(&self) -> [TxRx; 4] {
        split_l4(&self.total, &self.l4)
    }
}

/// What one or more IP headers of one flow direction contribute to their two hosts.
#[derive(Debug, Clone, Copy)]
pub struct Update {
    pub packets: u64,
    pub bytes: u64,
    /// Packet time of the first and last of them.
    pub first_ns: u64,
    pub last_ns: u64,
    pub l4: L4,
    pub service: Service,
    /// Role flags the sender earns.
    pub sender_roles: u32,
    /// SYNs (without ACK) among them.
    pub syns: u32,
    pub vlan: u16,
}

/// A host's non-additive values at one moment (reported as they are, the latest wins).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostSnapshot {
    pub mac: Option<[u8; 6]>,
    pub vlan: u16,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub peers_sent: u32,
    pub peers_rcvd: u32,
    pub tcp_sessions_active: u32,
    pub thpt: Throughput,
    pub roles: u32,
}

impl HostSnapshot {
    fn of(h: &Host) -> HostSnapshot {
        HostSnapshot {
            mac: h.has_mac.then_some(h.mac),
            vlan: h.vlan,
            first_seen_ns: h.first_seen_ns,
            last_seen_ns: h.last_seen_ns,
            peers_sent: h.peers_sent,
            peers_rcvd: h.peers_rcvd,
            tcp_sessions_active: h.tcp_sessions_active,
            thpt: h.thpt,
            roles: h.roles,
        }
    }
}

/// What a host's counters did since the previous [`HostTable::take_changes`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostChange {
    pub total: TxRx,
    /// TCP, UDP, ICMP as in [`Host::l4`]; other is the total minus these.
    pub l4: [TxRx; 3],
    pub services: Vec<(Service, TxRx)>,
    pub syn_sent: u64,
    pub tcp_sessions_total: u64,
    pub udp_flows: u64,
    /// The row's values when it left the table, if it did since.
    gone: Option<HostSnapshot>,
}

impl HostChange {
    fn service_mut(&mut self, svc: Service) -> &mut TxRx {
        let i = match self.services.binary_search_by_key(&svc, |(s, _)| *s) {
            Ok(i) => i,
            Err(i) => {
                self.services.insert(i, (svc, TxRx::default()));
                i
            }
        };
        &mut self.services[i].1
    }

    /// Split TCP, UDP, ICMP, other.
    pub fn l4_split(&self) -> [TxRx; 4] {
        split_l4(&self.total, &self.l4)
    }
}

/// One host's entry in [`HostTable::take_changes`].
#[derive(Debug, Clone, PartialEq)]
pub struct HostChanged {
    pub ip: IpAddr,
    pub change: HostChange,
    pub now: HostSnapshot,
}

/// Bounded host table of one interface.
#[derive(Debug)]
pub struct HostTable {
    map: FastMap<IpAddr, u32>,
    slots: Slab<Host>,
    free: Vec<u32>,
    max: usize,
    evictions: u64,
    /// Directed (sender slot, receiver slot) pairs, generations folded in, for distinct peers.
    pairs: FastSet<u64>,
    pairs_gc_at: usize,
    rng: u64,
    /// Per address, what changed since the last take; `None` unless changes are tracked (an
    /// uplinked probe). Keyed by address, not slot, so an evicted row's last counts survive.
    changes: Option<FastMap<IpAddr, HostChange>>,
}

impl HostTable {
    pub fn new(max_hosts: usize) -> HostTable {
        HostTable {
            map: FastMap::default(),
            slots: Slab::default(),
            free: Vec::new(),
            max: max_hosts.max(2),
            evictions: 0,
            pairs: FastSet::default(),
            pairs_gc_at: 1 << 16,
            rng: 0x9e37_79b9_7f4a_7c15,
            changes: None,
        }
    }

    /// Starts keeping what changed for [`HostTable::take_changes`].
    pub fn track_changes(&mut self) {
        self.changes.get_or_insert_with(FastMap::default);
    }

    /// Every host that changed since the previous call: its counter deltas and its current
    /// values (or those it had when it left the table).
    pub fn take_changes(&mut self) -> Vec<HostChanged> {
        let Some(changes) = self.changes.as_mut() else { return Vec::new() };
        let mut out = Vec::with_capacity(changes.len());
        for (ip, change) in changes.drain() {
            let now = match self.map.get(&ip) {
                Some(&slot) => HostSnapshot::of(&self.slots[slot]),
                None => match change.gone {
                    Some(g) => g,
                    None => continue,
                },
            };
            out.push(HostChanged { ip, change, now });
        }
        out
    }

    #[inline]
    fn changed(&mut self, slot: u32) -> Option<&mut HostChange> {
        let ip = self.slots[slot].ip;
        self.changes.as_mut().map(|m| m.entry(ip).or_default())
    }

    /// A TCP flow between this host and another was seen for the first time.
    pub fn open_tcp_session(&mut self, r: HostRef) {
        let h = &mut self.slots[r.slot];
        h.tcp_sessions_total += 1;
        h.tcp_sessions_active += 1;
        if let Some(c) = self.changed(r.slot) {
            c.tcp_sessions_total += 1;
        }
    }

    /// A TCP flow of this host closed or left the flow table.
    pub fn close_tcp_session(&mut self, r: HostRef) {
        let h = &mut self.slots[r.slot];
        h.tcp_sessions_active = h.tcp_sessions_active.saturating_sub(1);
        self.changed(r.slot);
    }

    /// A UDP flow of this host was seen for the first time.
    pub fn count_udp_flow(&mut self, r: HostRef) {
        self.slots[r.slot].udp_flows += 1;
        if let Some(c) = self.changed(r.slot) {
            c.udp_flows += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Live hosts, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Host> {
        self.slots.iter().filter(|h| h.live)
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&Host> {
        self.map.get(ip).map(|&s| &self.slots[s])
    }

    /// The row behind `r`, if it still holds the same host.
    #[inline]
    pub fn resolve(&self, r: HostRef) -> bool {
        self.slots.get(r.slot).is_some_and(|h| h.live && h.generation == r.generation)
    }

    /// Finds or creates the row for `ip`, evicting the idlest sampled row if full.
    pub fn lookup(&mut self, ip: IpAddr, ts: u64, protect: Option<HostRef>) -> HostRef {
        if let Some(&slot) = self.map.get(&ip) {
            let h = &self.slots[slot];
            return HostRef { slot, generation: h.generation };
        }
        if self.map.len() >= self.max {
            self.evict_one(protect);
        }
        let slot = match self.free.pop() {
            Some(s) => {
                let generation = self.slots[s].generation.wrapping_add(1) & 0xff;
                self.slots[s] = Host::new(ip, ts, generation);
                s
            }
            None => {
                let s = self.slots.len() as u32;
                self.slots.push(Host::new(ip, ts, 0));
                s
            }
        };
        self.map.insert(ip, slot);
        HostRef { slot, generation: self.slots[slot].generation }
    }

    fn evict_one(&mut self, protect: Option<HostRef>) {
        let victim = self.slots.sample_idlest(&mut self.rng, |i, h| {
            (h.live && protect.is_none_or(|p| p.slot != i)).then_some(h.last_seen_ns)
        });
        if let Some(v) = victim {
            self.remove_slot(v);
            self.evictions += 1;
        }
    }

    fn remove_slot(&mut self, slot: u32) {
        if let Some(m) = self.changes.as_mut() {
            let h = &self.slots[slot];
            if let Some(c) = m.get_mut(&h.ip) {
                c.gone = Some(HostSnapshot::of(h));
            }
        }
        let h = &mut self.slots[slot];
        h.live = false;
        h.services = Vec::new();
        let ip = h.ip;
        self.map.remove(&ip);
        self.free.push(slot);
    }

    /// Removes hosts not seen since `older_than_ns` (live capture housekeeping). Returns how many.
    pub fn purge_idle(&mut self, older_than_ns: u64) -> usize {
        let idle: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, h)| h.live && h.last_seen_ns < older_than_ns)
            .map(|(i, _)| i as u32)
            .collect();
        for s in &idle {
            self.remove_slot(*s);
        }
        idle.len()
    }

    #[inline]
    fn pair_key(a: HostRef, b: HostRef) -> u64 {
        (u64::from(a.slot) << 40)
            | (u64::from(a.generation & 0xff) << 32)
            | (u64::from(b.slot) << 8)
            | u64::from(b.generation & 0xff)
    }

    /// Records that `src` sent to `dst`; counts a new distinct peer on each side.
    pub fn note_pair(&mut self, src: HostRef, dst: HostRef) {
        if self.pairs.insert(Self::pair_key(src, dst)) {
            self.slots[src.slot].peers_sent += 1;
            self.slots[dst.slot].peers_rcvd += 1;
            if self.pairs.len() > self.pairs_gc_at {
                self.gc_pairs();
            }
        }
    }

    fn gc_pairs(&mut self) {
        if self.evictions > 0 {
            let slots = &self.slots;
            let alive = |slot: u64, generation: u64| {
                slots.get(slot as u32).is_some_and(|h| h.live && u64::from(h.generation & 0xff) == generation)
            };
            self.pairs.retain(|k| alive(k >> 40, (k >> 32) & 0xff) && alive((k >> 8) & 0xff_ffff, k & 0xff));
        }
        self.pairs_gc_at = (self.pairs.len() * 2).max(1 << 16);
    }

    /// Applies a flow direction's counts to its sender and receiver (already looked up).
    #[inline]
    pub fn account(&mut self, src: HostRef, dst: HostRef, u: &Update, src_mac: Option<[u8; 6]>) {
        let s = &mut self.slots[src.slot];
        s.touch(u.first_ns, u.last_ns);
        s.total.tx.add_n(u.packets, u.bytes);
        if let Some(c) = s.l4.get_mut(u.l4 as usize) {
            c.tx.add_n(u.packets, u.bytes);
        }
        s.roles |= u.sender_roles;
        s.syn_sent += u.syns;
        if s.vlan != u.vlan && s.total.tx.packets > u.packets {
            s.roles |= crate::services::roles::MULTIVLANED;
        }
        s.vlan = u.vlan;
        if let Some(m) = src_mac {
            s.mac = m;
            s.has_mac = true;
        }
        if u.service != Service::Other {
            s.service_mut(u.service).tx.add_n(u.packets, u.bytes);
        }
        let d = &mut self.slots[dst.slot];
        d.touch(u.first_ns, u.last_ns);
        d.total.rx.add_n(u.packets, u.bytes);
        if let Some(c) = d.l4.get_mut(u.l4 as usize) {
            c.rx.add_n(u.packets, u.bytes);
        }
        if u.service != Service::Other {
            d.service_mut(u.service).rx.add_n(u.packets, u.bytes);
        }
        if self.changes.is_some() {
            self.record(src.slot, dst.slot, u);
        }
    }

    #[cold]
    fn record(&mut self, src: u32, dst: u32, u: &Update) {
        if let Some(c) = self.changed(src) {
            c.total.tx.add_n(u.packets, u.bytes);
            if let Some(t) = c.l4.get_mut(u.l4 as usize) {
                t.tx.add_n(u.packets, u.bytes);
            }
            c.syn_sent += u64::from(u.syns);
            if u.service != Service::Other {
                c.service_mut(u.service).tx.add_n(u.packets, u.bytes);
            }
        }
        if let Some(c) = self.changed(dst) {
            c.total.rx.add_n(u.packets, u.bytes);
            if let Some(t) = c.l4.get_mut(u.l4 as usize) {
                t.rx.add_n(u.packets, u.bytes);
            }
            if u.service != Service::Other {
                c.service_mut(u.service).rx.add_n(u.packets, u.bytes);
            }
        }
    }

    /// Brings a host row into the cache ahead of its use.
    #[inline]
    pub fn prefetch(&self, r: HostRef) {
        if let Some(h) = self.slots.get(r.slot) {
            crate::prefetch::prefetch(h, 4);
        }
    }

    /// Brings a host's service array into the cache (its row should be cached already).
    #[inline]
    pub fn prefetch_services(&self, r: HostRef) {
        if let Some(first) = self.slots.get(r.slot).and_then(|h| h.services.first()) {
            crate::prefetch::prefetch(first, 1);
        }
    }

    pub fn host_mut(&mut self, r: HostRef) -> &mut Host {
        &mut self.slots[r.slot]
    }

    /// Recomputes actual and peak throughput over a window of `window_ns`.
    pub fn tick_throughput(&mut self, window_ns: u64) {
        if window_ns == 0 {
            return;
        }
        let secs = window_ns as f64 / 1e9;
        for h in self.slots.iter_mut().filter(|h| h.live) {
            let t = &mut h.thpt;
            let before = (t.actual_tx, t.actual_rx);
            t.actual_tx = ((h.total.tx.bytes - t.window_tx) as f64 / secs) as f32;
            t.actual_rx = ((h.total.rx.bytes - t.window_rx) as f64 / secs) as f32;
            t.peak_tx = t.peak_tx.max(t.actual_tx);
            t.peak_rx = t.peak_rx.max(t.actual_rx);
            t.window_tx = h.total.tx.bytes;
            t.window_rx = h.total.rx.bytes;
            if let Some(m) = self.changes.as_mut()
                && before != (t.actual_tx, t.actual_rx)
            {
                m.entry(h.ip).or_default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 + n))
    }

    fn upd(ts: u64) -> Update {
        Update {
            packets: 1,
            bytes: 100,
            first_ns: ts,
            last_ns: ts,
            l4: L4::Tcp,
            service: Service::Http,
            sender_roles: 0,
            syns: 0,
            vlan: 0,
        }
    }

    #[test]
    fn counts_both_sides_and_peers() {
        let mut t = HostTable::new(16);
        let a = t.lookup(ip(1), 5, None);
        let b = t.lookup(ip(2), 5, Some(a));
        t.account(a, b, &upd(5), Some([1, 2, 3, 4, 5, 6]));
        t.note_pair(a, b);
        t.note_pair(a, b);
        let ha = t.get(&ip(1)).expect("a");
        assert_eq!((ha.total.tx.packets, ha.total.tx.bytes, ha.peers_sent, ha.mac), (1, 100, 1, [1, 2, 3, 4, 5, 6]));
        let hb = t.get(&ip(2)).expect("b");
        assert_eq!((hb.total.rx.bytes, hb.peers_rcvd, hb.services.len()), (100, 1, 1));
    }

    #[test]
    fn eviction_is_bounded_and_prefers_idle_rows() {
        let mut t = HostTable::new(100);
        for i in 0..100 {
            let r = t.lookup(ip(i), u64::from(i), None);
            t.host_mut(r).last_seen_ns = if i == 0 { 0 } else { 1_000 + u64::from(i) };
        }
        for i in 100..1000 {
            t.lookup(ip(i), 10_000 + u64::from(i), None);
        }
        assert_eq!(t.len(), 100);
        assert_eq!(t.evictions(), 900);
        assert!(t.get(&ip(0)).is_none(), "the idlest row goes first");
        assert!(t.get(&ip(999)).is_some(), "the newest row stays");
    }

    #[test]
    fn stale_refs_do_not_resolve() {
        let mut t = HostTable::new(2);
        let a = t.lookup(ip(1), 1, None);
        t.lookup(ip(2), 2, None);
        t.lookup(ip(3), 3, None);
        t.lookup(ip(4), 4, None);
        assert!(!t.resolve(a) || t.get(&ip(1)).is_some());
    }
}
