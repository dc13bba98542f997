//! Model values → the response models' pieces that several resources show: packet-time
//! nanoseconds as timestamps, the model's `Traffic` (tx/rx) as the API's (sent/rcvd). It must
//! not read the store, nor use the resource modules.

use chrono::{DateTime, Utc};

use crate::model::Traffic;

/// Packet time in nanoseconds (0: never) as a timestamp.
pub(crate) fn ns_time(ns: u64) -> Option<DateTime<Utc>> {
    if ns > 0 { wirewatch_model::time::datetime(ns) } else { None }
}

/// A model counter in the API's integers (JSON numbers past 2^63 do not occur: ingest refuses
/// totals past PostgreSQL's bigint).
pub(crate) fn n(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The model's traffic (tx: sent, rx: received) in the API's names.
pub(crate) fn traffic(t: &wirewatch_model::Traffic) -> Traffic {
    Traffic {
        sent_packets: n(t.tx_packets),
        sent_bytes: n(t.tx_bytes),
        rcvd_packets: n(t.rx_packets),
        rcvd_bytes: n(t.rx_bytes),
    }
}
