//! Message types. Fields are only ever added at the end of a struct together with a protocol
//! version bump; postcard has no field names, so order is the format.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Everything a probe sends (as the first frame of a stream it opens, or as a reply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProbeMessage {
    Hello(Hello),
    Batch(Batch),
    Reply(Reply),
}

/// Everything a controller sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ControllerMessage {
    Welcome(Welcome),
    Ack(Ack),
    Reject(Reject),
    Command(Command),
}

/// First exchange of a connection. The probe's name and site come from its certificate, never
/// from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub software_version: String,
    pub os: String,
    pub hostname: String,
    pub uptime_secs: u64,
    pub interfaces: Vec<InterfaceInfo>,
    pub spool: SpoolStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterfaceInfo {
    pub name: String,
    /// libpcap's link-type name ("EN10MB", …).
    pub link_type: String,
    /// A live interface (false: a capture file being replayed).
    pub live: bool,
}

/// The probe's on-disk spool, as reported in every Hello and Batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolStatus {
    /// Batches waiting for an acknowledgement, and their encoded size.
    pub pending_batches: u64,
    pub pending_bytes: u64,
    /// Batches discarded past the spool's bounds since the spool was created (never resets),
    /// their size and the sequence numbers of the last one.
    pub dropped_batches: u64,
    pub dropped_bytes: u64,
    pub last_dropped_seq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub controller: String,
    pub software_version: String,
    /// The probe as enrolled.
    pub probe: String,
    pub site: String,
    /// Highest sequence number committed for this probe, if any.
    pub last_committed_seq: Option<u64>,
}

/// One interval of one probe: deltas since the previous batch, per interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Strictly increasing per probe, across restarts.
    pub seq: u64,
    /// Interval bounds in packet time (ns since the Unix epoch), `[start, end)`.
    pub interval_start_ns: u64,
    pub interval_end_ns: u64,
    pub spool: SpoolStatus,
    pub interfaces: Vec<InterfaceDelta>,
}

/// Packets and bytes each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
}

impl Traffic {
    pub fn add(&mut self, o: &Traffic) {
        self.tx_packets += o.tx_packets;
        self.tx_bytes += o.tx_bytes;
        self.rx_packets += o.rx_packets;
        self.rx_bytes += o.rx_bytes;
    }
    pub fn is_zero(&self) -> bool {
        *self == Traffic::default()
    }
}

/// One interface's share of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterfaceDelta {
    pub name: String,
    pub link_type: String,
    /// Counter deltas over the interval.
    pub counters: InterfaceCounters,
    /// Values at the end of the interval.
    pub gauges: InterfaceGauges,
    pub hosts: Vec<HostDelta>,
    pub macs: Vec<MacDelta>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceCounters {
    pub packets: u64,
    pub bytes: u64,
    pub undecoded_packets: u64,
    pub undecoded_bytes: u64,
    pub pcap_drops: u64,
    pub if_drops: u64,
    pub flows_total: u64,
    pub flows_expired: u64,
    pub host_evictions: u64,
    pub mac_evictions: u64,
    pub flow_evictions: u64,
    /// ntop's bytesStats, in [`BYTES_STATS_KEYS`] order.
    pub bytes_stats: [u64; 15],
    /// ntop's pktsStats and securityPkts, in [`PKTS_STATS_KEYS`] order.
    pub pkts_stats: [u64; 11],
}

/// bytesStats keys as the JSON report spells them.
pub const BYTES_STATS_KEYS: [&str; 15] = [
    "total",
    "ipv4",
    "fragmented",
    "tcp",
    "udp",
    "otherIp",
    "icmp",
    "stp",
    "ipsec",
    "netbios",
    "arpRarp",
    "gre",
    "ipv6",
    "icmp6",
    "other",
];
/// pktsStats keys as the JSON report spells them.
pub const PKTS_STATS_KEYS: [&str; 11] =
    ["total", "ethernet", "broadcast", "multicast", "ip", "syn", "rst", "rst_ack", "syn_fin", "fin_push_urg", "null"];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceGauges {
    pub hosts: u64,
    pub macs: u64,
    pub flows_active: u64,
    /// Packet time of the interface's first and last frame (0: none yet).
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

/// One host's change over an interval: counters are deltas, the rest are values at its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostDelta {
    pub ip: IpAddr,
    pub mac: Option<[u8; 6]>,
    pub vlan: u16,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub traffic: Traffic,
    /// TCP, UDP, ICMP, other.
    pub l4: [Traffic; 4],
    /// Port-based services (names as the probe's report spells them), only those with traffic.
    pub services: Vec<(String, Traffic)>,
    pub syn_sent: u64,
    pub tcp_sessions_total: u64,
    pub udp_flows: u64,
    pub gauges: HostGauges,
}

/// Host values that are not additive: the latest wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HostGauges {
    pub peers_sent: u64,
    pub peers_rcvd: u64,
    pub tcp_sessions_active: u64,
    /// Bytes/s: actual (last window) and peak, each way.
    pub thpt_actual_tx: f32,
    pub thpt_actual_rx: f32,
    pub thpt_peak_tx: f32,
    pub thpt_peak_rx: f32,
    /// Role bits (the probe's `services::roles`), accumulated.
    pub roles: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacDelta {
    pub mac: [u8; 6],
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub traffic: Traffic,
}

/// The batch is committed (or was already: `duplicate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub seq: u64,
    pub duplicate: bool,
}

/// The batch was not stored. `retry`: a transient failure (database down); the probe keeps it
/// and sends it again later. Otherwise the controller will never accept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    pub seq: u64,
    pub retry: bool,
    pub message: String,
}

/// A live query from the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// The `limit` hosts with the most bytes (tx + rx) right now, over every interface.
    TopTalkers { limit: u32 },
    /// One host's current counters on every interface that knows it.
    HostDetail { ip: IpAddr },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// Rows with the interface name, sorted by bytes, largest first.
    Hosts(Vec<(String, HostDelta)>),
    Error(String),
}
