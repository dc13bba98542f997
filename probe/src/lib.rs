//! wirewatch probe: capture (live through libpcap, or capture files), decode every frame with
//! etherparse, and keep per-interface host, MAC and flow tables whose per-host totals equal
//! tshark's endpoint statistics on the same capture (../shared/pcaps/README.md).
//!
//! Data flow: `capture` (frames) → `decode` (headers, pure) → `interface` (tables: `hosts`,
//! `macs`, `flows`) → `report` (JSON / text). `engine` drives files through interfaces.
//!
//! [`run`] is the whole probe as a library call (capture or replay, spool, uplink; until
//! delivered or stopped); the `wirewatch-probe` binary only parses its command line and
//! configuration file ([`config`]) and calls it, as does the controller's `demo`.

pub mod capture;
pub mod config;
pub mod decode;
pub mod delta;
pub mod engine;
pub mod flows;
pub mod hosts;
pub mod interface;
pub mod macs;
mod prefetch;
pub mod report;
pub mod run;
pub mod services;
pub mod slab;
pub mod spool;
pub mod uplink;

pub use capture::LinkType;
pub use engine::Engine;
pub use interface::{Interface, Limits};
pub use run::{RunConfig, RunError, RunOutcome, Source, run};
