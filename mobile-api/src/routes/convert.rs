//! Store values → the response models' pieces that several resources show: packet-time
//! nanoseconds as timestamps, a stored `[sent packets, sent bytes, rcvd packets, rcvd bytes]`
//! slice as `Traffic`. It must not read the store, nor use the resource modules.

use chrono::{DateTime, Utc};

use crate::model::Traffic;

/// Packet time in nanoseconds (0: never) as a timestamp.
pub(crate) fn ns_time(ns: i64) -> Option<DateTime<Utc>> {
    (ns > 0).then(|| DateTime::from_timestamp_nanos(ns))
}

/// `[sent packets, sent bytes, rcvd packets, rcvd bytes]` (a stored counter slice).
pub(crate) fn traffic(t: &[i64]) -> Traffic {
    Traffic { sent_packets: t[0], sent_bytes: t[1], rcvd_packets: t[2], rcvd_bytes: t[3] }
}
