//! MAC table: one row per Ethernet address seen on an interface (non-IP traffic included),
//! bounded like the host table (idlest of a few sampled rows evicted when full).
//!
//! Rows live in a chunked slab; a flow remembers the slots of its MAC pairs as *hints* and
//! passes them back at flush time, which skips the hash lookup when the slot still holds the
//! same address (a hint is only ever compared, never trusted).

use crate::hosts::{FastMap, TxRx};
use crate::slab::Slab;

/// One Ethernet address.
#[derive(Debug, Clone)]
pub struct MacEntry {
    pub mac: [u8; 6],
    live: bool,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub traffic: TxRx,
    /// Traffic already reported upstream (see [`MacTable::take_changes`]).
    reported: TxRx,
}

impl MacEntry {
    /// A row outside any table (rebuilt from stored totals, for reports).
    pub fn detached(mac: [u8; 6], first_seen_ns: u64, last_seen_ns: u64, traffic: TxRx) -> MacEntry {
        MacEntry { mac, live: true, first_seen_ns, last_seen_ns, traffic, reported: traffic }
    }
}

/// What an address did since the previous [`MacTable::take_changes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacChange {
    pub mac: [u8; 6],
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub traffic: TxRx,
}

fn minus(a: &TxRx, b: &TxRx) -> TxRx {
    let mut d = *a;
    d.tx.packets -= b.tx.packets;
    d.tx.bytes -= b.tx.bytes;
    d.rx.packets -= b.rx.packets;
    d.rx.bytes -= b.rx.bytes;
    d
}

/// Bounded MAC table of one interface.
#[derive(Debug)]
pub struct MacTable {
    index: FastMap<[u8; 6], u32>,
    slots: Slab<MacEntry>,
    free: Vec<u32>,
    max: usize,
    evictions: u64,
    rng: u64,
    /// Unreported traffic of evicted rows (only while changes are taken).
    evicted: Vec<MacChange>,
    tracking: bool,
}

/// "No hint" for [`MacTable::account_bulk`].
pub const NO_HINT: u32 = u32::MAX;

impl MacTable {
    pub fn new(max: usize) -> MacTable {
        MacTable {
            index: FastMap::default(),
            slots: Slab::default(),
            free: Vec::new(),
            max: max.max(2),
            evictions: 0,
            rng: 0x853c_49e6_748f_ea9b,
            evicted: Vec::new(),
            tracking: false,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    pub fn iter(&self) -> impl Iterator<Item = &MacEntry> {
        self.slots.iter().filter(|e| e.live)
    }

    pub fn get(&self, mac: &[u8; 6]) -> Option<&MacEntry> {
        self.index.get(mac).and_then(|&s| self.slots.get(s))
    }

    /// Starts keeping what changed for [`MacTable::take_changes`] (an uplinked probe).
    pub fn track_changes(&mut self) {
        self.tracking = true;
    }

    /// Every address whose traffic changed since the previous call, with the change. Walks
    /// the table: MAC tables are small next to host tables (one segment's stations).
    pub fn take_changes(&mut self) -> Vec<MacChange> {
        let mut out = std::mem::take(&mut self.evicted);
        for e in self.slots.iter_mut().filter(|e| e.live && e.traffic != e.reported) {
            out.push(MacChange {
                mac: e.mac,
                first_seen_ns: e.first_seen_ns,
                last_seen_ns: e.last_seen_ns,
                traffic: minus(&e.traffic, &e.reported),
            });
            e.reported = e.traffic;
        }
        out
    }

    /// Brings a hinted row into the cache ahead of its use.
    #[inline]
    pub fn prefetch(&self, hint: u32) {
        if let Some(e) = self.slots.get(hint) {
            crate::prefetch::prefetch(e, 1);
        }
    }

    fn evict_one(&mut self) {
        if let Some(s) = self.slots.sample_idlest(&mut self.rng, |_, e| e.live.then_some(e.last_seen_ns)) {
            let e = &self.slots[s];
            let mac = e.mac;
            if self.tracking && e.traffic != e.reported {
                self.evicted.push(MacChange {
                    mac,
                    first_seen_ns: e.first_seen_ns,
                    last_seen_ns: e.last_seen_ns,
                    traffic: minus(&e.traffic, &e.reported),
                });
            }
            self.slots[s].live = false;
            self.index.remove(&mac);
            self.free.push(s);
            self.evictions += 1;
        }
    }

    /// The slot of `mac`, created if needed; `hint` is tried first.
    #[inline]
    fn slot(&mut self, mac: [u8; 6], hint: u32, first: u64) -> u32 {
        if let Some(e) = self.slots.get(hint)
            && e.live
            && e.mac == mac
        {
            return hint;
        }
        if let Some(&s) = self.index.get(&mac) {
            return s;
        }
        if self.index.len() >= self.max {
            self.evict_one();
        }
        let e = MacEntry {
            mac,
            live: true,
            first_seen_ns: first,
            last_seen_ns: first,
            traffic: TxRx::default(),
            reported: TxRx::default(),
        };
        let s = match self.free.pop() {
            Some(s) => {
                self.slots[s] = e;
                s
            }
            None => self.slots.push(e),
        };
        self.index.insert(mac, s);
        s
    }

    #[inline]
    fn add(&mut self, slot: u32, tx: bool, packets: u64, bytes: u64, first: u64, last: u64) {
        let e = &mut self.slots[slot];
        let c = if tx { &mut e.traffic.tx } else { &mut e.traffic.rx };
        c.packets += packets;
        c.bytes += bytes;
        e.first_seen_ns = e.first_seen_ns.min(first);
        e.last_seen_ns = e.last_seen_ns.max(last);
    }

    /// Counts one Ethernet header: `src` sent `bytes` to `dst`.
    #[inline]
    pub fn account(&mut self, src: [u8; 6], dst: [u8; 6], bytes: u64, ts: u64) {
        self.account_bulk(src, dst, 1, bytes, ts, ts, [NO_HINT; 2]);
    }

    /// Counts `packets` Ethernet headers from `src` to `dst` seen between `first` and `last`.
    /// `hints` are the slots these addresses had last time (or [`NO_HINT`]); the slots used
    /// are returned to be kept as the next hints.
    #[allow(clippy::too_many_arguments)]
    pub fn account_bulk(
        &mut self,
        src: [u8; 6],
        dst: [u8; 6],
        packets: u64,
        bytes: u64,
        first: u64,
        last: u64,
        hints: [u32; 2],
    ) -> [u32; 2] {
        let s = self.slot(src, hints[0], first);
        self.add(s, true, packets, bytes, first, last);
        let d = self.slot(dst, hints[1], first);
        self.add(d, false, packets, bytes, first, last);
        // Creating `dst` may have evicted `src` (full table): the hint check catches that.
        [s, d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_bounds() {
        let mut t = MacTable::new(4);
        t.account([1; 6], [2; 6], 60, 1);
        t.account([1; 6], [1; 6], 60, 2);
        let a = t.get(&[1; 6]).expect("a");
        assert_eq!((a.traffic.tx.packets, a.traffic.rx.packets, a.last_seen_ns), (2, 1, 2));
        for i in 3..20u8 {
            t.account([i; 6], [2; 6], 1, u64::from(i));
        }
        assert!(t.len() <= 4);
        assert_eq!(t.iter().count(), t.len());
        assert!(t.evictions() > 0);
    }

    #[test]
    fn changes_add_up_to_the_totals_even_across_evictions() {
        let mut t = MacTable::new(3);
        t.track_changes();
        let mut sum: std::collections::BTreeMap<[u8; 6], u64> = Default::default();
        for round in 0..5u8 {
            for i in 0..(3 + round) {
                t.account([i; 6], [9; 6], 10, u64::from(round));
            }
            for c in t.take_changes() {
                *sum.entry(c.mac).or_default() += c.traffic.tx.bytes + c.traffic.rx.bytes;
            }
        }
        let total: u64 = sum.values().sum();
        assert_eq!(total, 2 * 10 * (3 + 4 + 5 + 6 + 7));
        assert!(t.take_changes().is_empty());
    }

    #[test]
    fn hints_are_checked_not_trusted() {
        let mut t = MacTable::new(100);
        let h = t.account_bulk([1; 6], [2; 6], 3, 300, 1, 2, [NO_HINT; 2]);
        let h2 = t.account_bulk([1; 6], [2; 6], 1, 100, 3, 3, h);
        assert_eq!(h, h2);
        // A wrong hint (another address's slot) still counts the right address.
        t.account_bulk([2; 6], [1; 6], 1, 10, 4, 4, h);
        assert_eq!(t.get(&[2; 6]).map(|e| (e.traffic.tx.bytes, e.traffic.rx.bytes)), Some((10, 400)));
        assert_eq!(t.get(&[1; 6]).map(|e| (e.traffic.tx.bytes, e.traffic.rx.bytes)), Some((400, 10)));
    }
}
