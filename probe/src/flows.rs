//! Flow table: one row per (VLAN, protocol, address pair, port pair), both directions in one
//! row. The direction of the first packet is the flow's "forward" (client → server) side.
//!
//! Rows cache [`HostRef`]s of their two endpoints so the per-packet path is one hash lookup
//! here plus direct slab writes in the host table. Idle rows are purged by packet time (TCP
//! rows that saw FIN from both sides or a RST go sooner); when full, the idlest sampled row is
//! evicted. Both are counted.

use std::net::IpAddr;

use crate::hosts::{Counter, FastMap, HostRef};

/// Canonical flow key: the lower (address, port) endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub vlan: u16,
    pub proto: u8,
    pub lo: IpAddr,
    pub hi: IpAddr,
    pub lo_port: u16,
    pub hi_port: u16,
}

impl FlowKey {
    /// The canonical key and whether `src` is the key's `lo` side.
    #[inline]
    pub fn new(vlan: u16, proto: u8, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> (FlowKey, bool) {
        if (src, sport) <= (dst, dport) {
            (FlowKey { vlan, proto, lo: src, hi: dst, lo_port: sport, hi_port: dport }, true)
        } else {
            (FlowKey { vlan, proto, lo: dst, hi: src, lo_port: dport, hi_port: sport }, false)
        }
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

/// One flow.
#[derive(Debug, Clone)]
pub struct Flow {
    pub key: FlowKey,
    /// True when the key's `lo` endpoint sent the first packet.
    pub lo_is_client: bool,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// Client → server and server → client.
    pub c2s: Counter,
    pub s2c: Counter,
    pub tcp_state: TcpState,
    fin_seen: u8,
    /// Cached host rows of the client and server (validated before use).
    pub(crate) client: Option<HostRef>,
    pub(crate) server: Option<HostRef>,
    /// Whether each direction has been recorded as a peer pair.
    pub(crate) pair_c2s: bool,
    pub(crate) pair_s2c: bool,
}

impl Flow {
    pub fn is_tcp_open(&self) -> bool {
        self.key.proto == 6 && !matches!(self.tcp_state, TcpState::Closed | TcpState::Reset)
    }

    /// Advances the TCP state with a packet's flags, sent by the client if `from_client`.
    /// Returns true when this packet closed the connection.
    pub fn tcp_update(&mut self, flags: u8, from_client: bool) -> bool {
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        const ACK: u8 = 0x10;
        let before = self.is_tcp_open();
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
        before && !self.is_tcp_open()
    }
}

/// Bounded flow table of one interface.
#[derive(Debug)]
pub struct FlowTable {
    map: FastMap<FlowKey, Flow>,
    max: usize,
    pub(crate) evictions: u64,
    pub(crate) expired: u64,
    pub(crate) created: u64,
}

/// A flow that left the table, with what the host table must undo.
#[derive(Debug, Clone, Copy)]
pub struct Gone {
    pub client: Option<HostRef>,
    pub server: Option<HostRef>,
    pub tcp_open: bool,
}

impl FlowTable {
    pub fn new(max: usize) -> FlowTable {
        FlowTable { map: FastMap::default(), max: max.max(2), evictions: 0, expired: 0, created: 0 }
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

    pub fn expired(&self) -> u64 {
        self.expired
    }

    pub fn created(&self) -> u64 {
        self.created
    }

    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.map.values()
    }

    /// Finds the flow, or creates it (evicting one first if full; the evicted row is returned).
    #[inline]
    pub fn get_or_create(&mut self, key: FlowKey, src_is_lo: bool, ts: u64) -> (&mut Flow, bool, Option<Gone>) {
        let mut gone = None;
        if !self.map.contains_key(&key) && self.map.len() >= self.max {
            let victim = self.map.iter().take(8).min_by_key(|(_, f)| f.last_seen_ns).map(|(k, _)| *k);
            if let Some(k) = victim
                && let Some(f) = self.map.remove(&k)
            {
                self.evictions += 1;
                gone = Some(Gone { client: f.client, server: f.server, tcp_open: f.is_tcp_open() });
            }
        }
        let mut created = false;
        let f = self.map.entry(key).or_insert_with(|| {
            created = true;
            Flow {
                key,
                lo_is_client: src_is_lo,
                first_seen_ns: ts,
                last_seen_ns: ts,
                c2s: Counter::default(),
                s2c: Counter::default(),
                tcp_state: TcpState::None,
                fin_seen: 0,
                client: None,
                server: None,
                pair_c2s: false,
                pair_s2c: false,
            }
        });
        if created {
            self.created += 1;
        }
        (f, created, gone)
    }

    /// Removes flows idle since before `idle_before_ns`, and closed TCP flows idle since before
    /// `closed_before_ns`. Calls `on_gone` for each.
    pub fn expire(&mut self, idle_before_ns: u64, closed_before_ns: u64, mut on_gone: impl FnMut(Gone)) {
        let mut n = 0;
        self.map.retain(|_, f| {
            let dead = f.last_seen_ns < idle_before_ns
                || (f.key.proto == 6 && !f.is_tcp_open() && f.last_seen_ns < closed_before_ns);
            if dead {
                n += 1;
                on_gone(Gone { client: f.client, server: f.server, tcp_open: f.is_tcp_open() });
            }
            !dead
        });
        self.expired += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_key_is_direction_free() {
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let (k1, lo1) = FlowKey::new(0, 6, a, 40000, b, 80);
        let (k2, lo2) = FlowKey::new(0, 6, b, 80, a, 40000);
        assert_eq!(k1, k2);
        assert_ne!(lo1, lo2);
    }

    #[test]
    fn tcp_states_and_expiry() {
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let mut t = FlowTable::new(10);
        let (k, lo) = FlowKey::new(0, 6, a, 1, b, 2);
        let (f, created, _) = t.get_or_create(k, lo, 0);
        assert!(created);
        assert!(!f.tcp_update(0x02, true));
        assert_eq!(f.tcp_state, TcpState::SynSent);
        f.tcp_update(0x12, false);
        f.tcp_update(0x10, true);
        assert_eq!(f.tcp_state, TcpState::Established);
        assert!(!f.tcp_update(0x11, true));
        assert!(f.tcp_update(0x11, false));
        assert_eq!(f.tcp_state, TcpState::Closed);
        let mut gone = 0;
        t.expire(0, 1, |_| gone += 1);
        assert_eq!((gone, t.len(), t.expired()), (1, 0, 1));
    }

    #[test]
    fn bounded() {
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let mut t = FlowTable::new(5);
        for p in 0..50 {
            let (k, lo) = FlowKey::new(0, 17, a, p, a, 53);
            t.get_or_create(k, lo, u64::from(p));
        }
        assert_eq!(t.len(), 5);
        assert_eq!(t.evictions(), 45);
    }
}
