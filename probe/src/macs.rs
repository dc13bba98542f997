//! MAC table: one row per Ethernet address seen on an interface (non-IP traffic included),
//! bounded like the host table (idlest sampled row evicted when full).

use crate::hosts::{FastMap, TxRx};

/// One Ethernet address.
#[derive(Debug, Clone)]
pub struct MacEntry {
    pub mac: [u8; 6],
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub traffic: TxRx,
}

/// Bounded MAC table of one interface.
#[derive(Debug)]
pub struct MacTable {
    map: FastMap<[u8; 6], MacEntry>,
    max: usize,
    evictions: u64,
}

impl MacTable {
    pub fn new(max: usize) -> MacTable {
        MacTable { map: FastMap::default(), max: max.max(2), evictions: 0 }
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

    pub fn iter(&self) -> impl Iterator<Item = &MacEntry> {
        self.map.values()
    }

    pub fn get(&self, mac: &[u8; 6]) -> Option<&MacEntry> {
        self.map.get(mac)
    }

    fn evict_one(&mut self) {
        // Hash order is effectively random: the idlest of the first few rows goes.
        let victim = self.map.values().take(8).min_by_key(|e| e.last_seen_ns).map(|e| e.mac);
        if let Some(m) = victim {
            self.map.remove(&m);
            self.evictions += 1;
        }
    }

    #[inline]
    fn add(&mut self, mac: [u8; 6], tx: bool, packets: u64, bytes: u64, first: u64, last: u64) {
        if let Some(e) = self.map.get_mut(&mac) {
            let c = if tx { &mut e.traffic.tx } else { &mut e.traffic.rx };
            c.packets += packets;
            c.bytes += bytes;
            e.first_seen_ns = e.first_seen_ns.min(first);
            e.last_seen_ns = e.last_seen_ns.max(last);
            return;
        }
        if self.map.len() >= self.max {
            self.evict_one();
        }
        let mut traffic = TxRx::default();
        let c = if tx { &mut traffic.tx } else { &mut traffic.rx };
        c.packets = packets;
        c.bytes = bytes;
        self.map.insert(mac, MacEntry { mac, first_seen_ns: first, last_seen_ns: last, traffic });
    }

    /// Counts one Ethernet header: `src` sent `bytes` to `dst`.
    #[inline]
    pub fn account(&mut self, src: [u8; 6], dst: [u8; 6], bytes: u64, ts: u64) {
        self.add(src, true, 1, bytes, ts, ts);
        self.add(dst, false, 1, bytes, ts, ts);
    }

    /// Counts `packets` Ethernet headers from `src` to `dst` seen between `first` and `last`.
    pub fn account_bulk(&mut self, src: [u8; 6], dst: [u8; 6], packets: u64, bytes: u64, first: u64, last: u64) {
        self.add(src, true, packets, bytes, first, last);
        self.add(dst, false, packets, bytes, first, last);
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
        assert!(t.evictions() > 0);
    }
}
