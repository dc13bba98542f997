//! wirewatch's rrdAlarm: ntop's thresholds on RRD files, as a library.
//!
//! - [`config`]: a [`Threshold`] (ntop's ten fields, each validated, each keeping the text it
//!   was given) and ntop's tab-separated `rrdAlarmConfig.txt`, parsed and formatted back
//!   unchanged.
//! - [`at`]: rrdfetch's AT-style times (`now-3h`, `e-1h`, epoch seconds) resolved against
//!   an injected "now".
//! - [`paths`]: the files a glob matches under the archive root, never outside it.
//! - [`fetch`]: [`fetch_table`] (librrd's fetch, every data source: what ntop's `rrd_fetch`
//!   returned), the [`Fetch`] trait (a file's values over a window) and [`RrdFetch`] (librrd).
//! - [`check`]: ntop's check (newest → oldest, repetitions, first firing per file stops its
//!   scan, re-arm on wall time) producing the seed's report rows.
//!
//! Not here, by design: storing thresholds or re-arm state (the caller's: PostgreSQL),
//! running actions, scheduling, HTTP. No clock is read and no file is written: time comes in
//! as an argument, so every rule is testable with a fake clock.

pub mod at;
pub mod check;
pub mod config;
pub mod fetch;
pub mod paths;

pub use check::{CheckReport, Outcome, RearmKey, RearmState, ResultRow, Unmatched, check};
pub use config::{ConfigFile, Direction, Field, FieldError, Threshold};
pub use fetch::{Fetch, FetchError, RrdFetch, Series, Table, consolidation, fetch_table};
