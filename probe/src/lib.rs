//! wirewatch probe: capture (live through libpcap, or capture files), decode every frame with
//! etherparse, and keep per-interface host, MAC and flow tables whose per-host totals equal
//! tshark's endpoint statistics on the same capture (../shared/pcaps/README.md).
//!
//! Data flow: `capture` (frames) → `decode` (headers, pure) → `interface` (tables: `hosts`,
//! `macs`, `flows`) → `report` (JSON / text). `engine` drives files through interfaces.

pub mod capture;
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
