//! A host as every layer sees it: one address on one interface of one probe, with its counters
//! under one set of names from the probe's delta to the API's JSON, the Python `host` module
//! and the CLI.

use std::net::IpAddr;

use crate::{Mac, Traffic, roles, time};

/// Where a host is counted: one address on one interface of one probe (the store's ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey {
    pub probe_id: i64,
    pub interface_id: i64,
    pub ip: IpAddr,
}

/// Traffic split by layer-4 protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L4 {
    pub tcp: Traffic,
    pub udp: Traffic,
    pub icmp: Traffic,
    pub other: Traffic,
}

impl L4 {
    /// The protocols' names, in the order of the wire format's `l4` array.
    pub const NAMES: [&'static str; 4] = ["tcp", "udp", "icmp", "other"];

    /// (name, traffic) in [`L4::NAMES`] order.
    pub fn named(&self) -> [(&'static str, &Traffic); 4] {
        [("tcp", &self.tcp), ("udp", &self.udp), ("icmp", &self.icmp), ("other", &self.other)]
    }
}

/// Throughput in bytes/s: the last window's ("actual") and the highest window's, each way.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thpt {
    pub actual_tx: f32,
    pub actual_rx: f32,
    pub peak_tx: f32,
    pub peak_rx: f32,
}

/// A host's values that do not add up over intervals: the latest wins.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostGauges {
    pub peers_sent: u64,
    pub peers_rcvd: u64,
    pub tcp_sessions_active: u64,
    pub thpt: Thpt,
}

/// What a host list shows of a host (and all a list reads).
#[derive(Debug, Clone, PartialEq)]
pub struct HostSummary {
    pub key: HostKey,
    pub site: String,
    pub probe: String,
    pub interface: String,
    pub mac: Option<Mac>,
    /// Reverse-DNS names, the first one the host's name.
    pub names: Vec<String>,
    pub vlan: u16,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub traffic: Traffic,
}

/// A host with every counter.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub summary: HostSummary,
    pub l4: L4,
    pub syn_sent: u64,
    pub tcp_sessions_total: u64,
    pub udp_flows: u64,
    pub gauges: HostGauges,
    /// Role bits as detected ([`roles`]); [`Host::roles`] adds the workstation rule.
    pub role_bits: u32,
}

impl HostSummary {
    /// The host's name: its first reverse-DNS name.
    pub fn name(&self) -> Option<&str> {
        self.names.first().map(String::as_str)
    }

    /// The NIC vendor of its MAC.
    pub fn vendor(&self) -> Option<String> {
        self.mac.as_ref().and_then(Mac::vendor)
    }

    /// Seconds between first and last seen, at least one.
    pub fn seconds_alive(&self) -> f64 {
        time::seconds_alive(self.first_seen_ns, self.last_seen_ns)
    }

    /// Average bytes/s sent over its life ([`time::average_thpt`]).
    pub fn average_thpt_tx(&self) -> f64 {
        time::average_thpt(self.traffic.tx_bytes, self.first_seen_ns, self.last_seen_ns)
    }

    /// Average bytes/s received over its life.
    pub fn average_thpt_rx(&self) -> f64 {
        time::average_thpt(self.traffic.rx_bytes, self.first_seen_ns, self.last_seen_ns)
    }
}

impl Host {
    /// Role bits with ntop's workstation rule applied ([`roles::effective`]).
    pub fn roles(&self) -> u32 {
        roles::effective(self.role_bits, self.syn_sent)
    }

    /// Role names ([`roles::names`]).
    pub fn role_names(&self) -> Vec<&'static str> {
        roles::names(self.role_bits, self.syn_sent)
    }
}

impl std::ops::Deref for Host {
    type Target = HostSummary;
    fn deref(&self) -> &HostSummary {
        &self.summary
    }
}

/// What host lists can be sorted by (the API's `sort`, `wirewatch.hosts(sort=…)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostSort {
    #[default]
    Bytes,
    Packets,
    SentBytes,
    RcvdBytes,
    SentPackets,
    RcvdPackets,
    FirstSeen,
    LastSeen,
    Ip,
    Name,
}

impl std::str::FromStr for HostSort {
    type Err = String;
    /// The API's names: bytes, packets, sent_bytes, rcvd_bytes, sent_packets, rcvd_packets,
    /// first_seen, last_seen, ip, name.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "bytes" => HostSort::Bytes,
            "packets" => HostSort::Packets,
            "sent_bytes" => HostSort::SentBytes,
            "rcvd_bytes" => HostSort::RcvdBytes,
            "sent_packets" => HostSort::SentPackets,
            "rcvd_packets" => HostSort::RcvdPackets,
            "first_seen" => HostSort::FirstSeen,
            "last_seen" => HostSort::LastSeen,
            "ip" => HostSort::Ip,
            "name" => HostSort::Name,
            other => {
                return Err(format!(
                    "sort {other:?}: use bytes, packets, sent_bytes, rcvd_bytes, sent_packets, rcvd_packets, first_seen, last_seen, ip or name"
                ));
            }
        })
    }
}
