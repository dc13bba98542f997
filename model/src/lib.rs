//! The vocabulary every layer of wirewatch shares, so a host is one thing from the probe's
//! delta to an API response: its counters with named fields ([`Traffic`], [`L4`],
//! [`HostGauges`]), its key ([`HostKey`]), the stored host ([`Host`], [`HostSummary`]), role
//! bits and names ([`roles`], with ntop's workstation rule), service names ([`Service`]), MAC
//! text and vendor ([`Mac`]), the interface statistics in one order ([`BytesStats`],
//! [`PacketStats`]), timestamps and the one throughput formula ([`time`]).
//!
//! Depends only on the wire protocol (whose [`Traffic`] it re-exports: the delta a probe sends
//! and the totals a reader shows count the same four things) and on small leaf crates; no IO.

pub mod host;
pub mod mac;
pub mod roles;
pub mod service;
pub mod stats;
pub mod time;

pub use host::{Host, HostGauges, HostKey, HostSort, HostSummary, L4, Thpt};
pub use mac::Mac;
pub use service::Service;
pub use stats::{BytesStats, PacketStats};
pub use wirewatch_wire::Traffic;
