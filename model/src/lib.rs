//! The vocabulary every layer of wirewatch shares, so a host is one thing from the probe's
//! delta to an API response: its counters with named fields ([`Traffic`], [`L4`],
//! [`HostGauges`]), its key ([`HostKey`]), the stored host ([`Host`], [`HostSummary`]), role
//! bits and names ([`roles`], with ntop's workstation rule), service names ([`Service`]), MAC
//! text and vendor ([`Mac`]), the interface statistics in one order ([`BytesStats`],
//! [`PacketStats`]), timestamps and the one throughput formula ([`time`]).
//!
//! It also holds what the HTTP layer (`wirewatch-mobile-api`) and the script engine
//! (`wirewatch-python`) share, so neither depends on the other and only the controller knows
//! both: the caller's identity ([`identity`]: [`Role`], [`Caller`] with its site scope), the
//! script engine's interface ([`scripts`]: [`Scripts`], [`ScriptRequest`], [`ScriptReply`],
//! [`ScriptError`], [`BoxFuture`], the HTML escape) GeoIP lookups ([`geo`]) and the RRD archives' layout and graph interface ([`archive`]:
//! [`Archives`], implemented by `wirewatch-rrd`, so the HTTP layer does not link librrd) and
//! rrdAlarm's thresholds, report and check interface ([`alarms`]: [`Alarms`], implemented by
//! the controller).
//!
//! Depends only on the wire protocol (whose [`Traffic`] it re-exports: the delta a probe sends
//! and the totals a reader shows count the same four things) and on small leaf crates
//! (`utoipa` only with the `openapi` feature, for the HTTP layer's schemas). No IO but opening
//! the GeoIP database ([`geo::Geo::open`]).

pub mod alarms;
pub mod archive;
pub mod geo;
pub mod host;
pub mod identity;
pub mod mac;
pub mod roles;
pub mod scripts;
pub mod service;
pub mod stats;
pub mod time;

pub use alarms::Alarms;
pub use archive::{ArchiveError, ArchivePath, Archives, GraphFormat, GraphRequest};
pub use geo::{Geo, GeoError, Place};
pub use host::{Host, HostGauges, HostKey, HostSort, HostSummary, L4, Thpt};
pub use identity::{Caller, Role};
pub use mac::Mac;
pub use scripts::{BoxFuture, ScriptError, ScriptOrigin, ScriptReply, ScriptRequest, Scripts};
pub use service::Service;
pub use stats::{BytesStats, PacketStats};
pub use wirewatch_wire::Traffic;
