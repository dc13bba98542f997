//! An interface's statistics split as ntop's `bytesStats` and `pktsStats`, with their keys in the
//! one order the wire format, the store's arrays and every reader use.

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

impl BytesStats {
    /// The keys, in the order of the wire format's and the store's arrays.
    pub const KEYS: [&'static str; 15] = wirewatch_wire::BYTES_STATS_KEYS;

    /// The values in [`BytesStats::KEYS`] order.
    pub fn to_array(&self) -> [u64; 15] {
        [
            self.total,
            self.ipv4,
            self.fragmented,
            self.tcp,
            self.udp,
            self.other_ip,
            self.icmp,
            self.stp,
            self.ipsec,
            self.netbios,
            self.arp_rarp,
            self.gre,
            self.ipv6,
            self.icmp6,
            self.other,
        ]
    }

    /// From the values in [`BytesStats::KEYS`] order (the wire format's and the store's array).
    pub fn from_array(v: [u64; 15]) -> BytesStats {
        let g = |i: usize| v[i];
        BytesStats {
            total: g(0),
            ipv4: g(1),
            fragmented: g(2),
            tcp: g(3),
            udp: g(4),
            other_ip: g(5),
            icmp: g(6),
            stp: g(7),
            ipsec: g(8),
            netbios: g(9),
            arp_rarp: g(10),
            gre: g(11),
            ipv6: g(12),
            icmp6: g(13),
            other: g(14),
        }
    }
}

impl PacketStats {
    /// The keys, in the order of the wire format's and the store's arrays.
    pub const KEYS: [&'static str; 11] = wirewatch_wire::PKTS_STATS_KEYS;

    /// The values in [`PacketStats::KEYS`] order.
    pub fn to_array(&self) -> [u64; 11] {
        [
            self.total,
            self.ethernet,
            self.broadcast,
            self.multicast,
            self.ip,
            self.syn,
            self.rst,
            self.rst_ack,
            self.syn_fin,
            self.fin_push_urg,
            self.null,
        ]
    }

    /// From the values in [`PacketStats::KEYS`] order (the wire format's and the store's array).
    pub fn from_array(v: [u64; 11]) -> PacketStats {
        let g = |i: usize| v[i];
        PacketStats {
            total: g(0),
            ethernet: g(1),
            broadcast: g(2),
            multicast: g(3),
            ip: g(4),
            syn: g(5),
            rst: g(6),
            rst_ack: g(7),
            syn_fin: g(8),
            fin_push_urg: g(9),
            null: g(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys are the serialized field names, in array order.
    #[test]
    fn keys_name_the_fields_in_array_order() {
        let b = BytesStats::from_array(std::array::from_fn(|i| i as u64 + 1));
        let v = serde_json::to_value(b).expect("json");
        for (i, k) in BytesStats::KEYS.iter().enumerate() {
            assert_eq!(v[k], i as u64 + 1, "{k}");
        }
        assert_eq!(b.to_array()[14], 15);
        let p = PacketStats::from_array(std::array::from_fn(|i| i as u64 + 1));
        let v = serde_json::to_value(p).expect("json");
        for (i, k) in PacketStats::KEYS.iter().enumerate() {
            assert_eq!(v[k], i as u64 + 1, "{k}");
        }
        assert_eq!(p.to_array()[10], 11);
    }
}
