//! The probe↔controller protocol, sans IO: message types and a size-limited codec. No socket,
//! no clock, no file: bytes in, messages out, so both ends, the tests and the fuzzer drive it
//! the same way. Both binaries depend on this crate; it depends on nothing of ours.
//!
//! Transport (QUIC, see ARCHITECTURE.md "Wire protocol"): every exchange is one bidirectional
//! stream carrying one request frame and one response frame — Hello→Welcome,
//! Batch→Ack/Reject from the probe, Command→Reply from the controller.
//!
//! Frame: `u32` big-endian payload length, then the payload: one version byte
//! ([`PROTOCOL_VERSION`]) and the message in postcard encoding (varint integers). A frame longer
//! than the receiver's limit is refused before its body is read.

mod codec;
mod messages;

pub use codec::{Decoder, WireError, decode, encode, encode_into, encoded_len};
pub use messages::*;

/// Protocol version carried in every frame. A receiver refuses any other.
pub const PROTOCOL_VERSION: u8 = 1;

/// TLS ALPN identifier; both ends require it.
pub const ALPN: &[u8] = b"wirewatch/1";

/// Default frame limit (32 MiB: about 150,000 host rows).
pub const DEFAULT_MAX_FRAME: usize = 32 << 20;

/// Default size a probe keeps each batch under (a quarter of [`DEFAULT_MAX_FRAME`], so a
/// controller configured with a smaller frame limit still takes them); a larger interval is
/// split into several batches.
pub const DEFAULT_MAX_BATCH: usize = DEFAULT_MAX_FRAME / 4;

/// QUIC application close codes.
pub mod close {
    /// Normal shutdown.
    pub const DONE: u32 = 0;
    /// A frame could not be decoded or a message came out of order.
    pub const MALFORMED: u32 = 0x10;
    /// A frame was longer than the receiver's limit.
    pub const TOO_LARGE: u32 = 0x11;
    /// The protocol version is not this side's.
    pub const VERSION: u32 = 0x12;
    /// The certificate is valid but no enrolled probe holds it (or it was revoked since).
    pub const UNKNOWN_PROBE: u32 = 0x13;
    /// The controller is at its connection limit.
    pub const BUSY: u32 = 0x14;
    /// The controller is shutting down.
    pub const SHUTDOWN: u32 = 0x15;
    /// The same probe connected again; this older connection is replaced.
    pub const REPLACED: u32 = 0x16;
    /// The probe (or its certificate) was revoked while connected. A probe should not
    /// reconnect to this controller soon: it will be refused until it is enrolled again.
    pub const REVOKED: u32 = 0x17;
}
