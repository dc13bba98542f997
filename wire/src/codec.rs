//! Framing and encoding. Decoding never panics and never allocates more than the frame limit.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PROTOCOL_VERSION;

/// Why bytes could not become a message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// The frame announces more than the receiver accepts.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    /// The frame's version byte is not [`PROTOCOL_VERSION`].
    #[error("protocol version {0} is not supported (this side speaks {PROTOCOL_VERSION})")]
    Version(u8),
    /// The payload is not a valid message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The input ended inside a frame.
    #[error("frame truncated: {have} of {need} bytes")]
    Truncated { have: usize, need: usize },
    /// Bytes follow the frame (one frame per stream).
    #[error("{0} bytes after the frame")]
    Trailing(usize),
}

/// Encodes one message as a frame.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(256);
    encode_into(msg, &mut out)?;
    Ok(out)
}

/// Appends one frame to `out`.
pub fn encode_into<T: Serialize>(msg: &T, out: &mut Vec<u8>) -> Result<(), WireError> {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, PROTOCOL_VERSION]);
    let body = postcard::to_extend(msg, std::mem::take(out)).map_err(|e| WireError::Malformed(e.to_string()))?;
    *out = body;
    let len = out.len() - start - 4;
    let len32 = u32::try_from(len).map_err(|_| WireError::TooLarge { len, max: u32::MAX as usize })?;
    out[start..start + 4].copy_from_slice(&len32.to_be_bytes());
    Ok(())
}

/// Size of a value's postcard encoding (a message or a part of one), without encoding it. A
/// message's frame is this plus 5 bytes (length and version).
pub fn encoded_len<T: Serialize + ?Sized>(v: &T) -> Result<usize, WireError> {
    postcard::serialize_with_flavor::<T, postcard::ser_flavors::Size, usize>(v, postcard::ser_flavors::Size::default())
        .map_err(|e| WireError::Malformed(e.to_string()))
}

/// Decodes exactly one frame that fills `buf` (a whole stream's contents).
pub fn decode<T: DeserializeOwned>(buf: &[u8], max: usize) -> Result<T, WireError> {
    let mut d = Decoder::new(max);
    d.push(buf)?;
    match d.next_message()? {
        Some(m) => {
            if d.buffered() > 0 {
                return Err(WireError::Trailing(d.buffered()));
            }
            Ok(m)
        }
        None => Err(WireError::Truncated { have: buf.len(), need: d.needed().unwrap_or(4) }),
    }
}

/// Incremental decoder for a byte stream carrying frames back to back.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    max: usize,
}

impl Decoder {
    pub fn new(max_frame: usize) -> Decoder {
        Decoder { buf: Vec::new(), max: max_frame }
    }

    /// Adds bytes. Fails as soon as the next frame's header announces more than the limit, so
    /// an oversized frame is refused before its body arrives.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.buf.extend_from_slice(bytes);
        self.check_header()
    }

    fn check_header(&self) -> Result<(), WireError> {
        match self.announced() {
            Some(len) if len > self.max => Err(WireError::TooLarge { len, max: self.max }),
            _ => Ok(()),
        }
    }

    fn announced(&self) -> Option<usize> {
        let h: [u8; 4] = self.buf.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(h) as usize)
    }

    /// Bytes the current frame still needs, if its header has arrived.
    pub fn needed(&self) -> Option<usize> {
        self.announced().map(|l| (l + 4).saturating_sub(self.buf.len()))
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message, if one has arrived.
    pub fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, WireError> {
        let Some(len) = self.announced() else { return Ok(None) };
        if len > self.max {
            return Err(WireError::TooLarge { len, max: self.max });
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let payload = &self.buf[4..4 + len];
        let msg = match payload.split_first() {
            None => return Err(WireError::Malformed("empty frame".into())),
            Some((&v, _)) if v != PROTOCOL_VERSION => return Err(WireError::Version(v)),
            Some((_, body)) => match postcard::take_from_bytes::<T>(body) {
                Ok((m, [])) => m,
                Ok((_, rest)) => return Err(WireError::Malformed(format!("{} bytes left in the frame", rest.len()))),
                Err(e) => return Err(WireError::Malformed(e.to_string())),
            },
        };
        self.buf.drain(..4 + len);
        self.check_header()?;
        Ok(Some(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;
    use proptest::prelude::*;

    fn traffic() -> impl Strategy<Value = Traffic> {
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(a, b, c, d)| Traffic {
            tx_packets: a,
            tx_bytes: b,
            rx_packets: c,
            rx_bytes: d,
        })
    }

    fn host() -> impl Strategy<Value = HostDelta> {
        (
            any::<std::net::IpAddr>(),
            proptest::option::of(any::<[u8; 6]>()),
            any::<u16>(),
            (any::<u64>(), any::<u64>()),
            traffic(),
            proptest::array::uniform4(traffic()),
            proptest::collection::vec(("[a-z]{1,8}", traffic()), 0..4),
            (any::<u64>(), any::<u64>(), any::<u64>()),
            (any::<u64>(), any::<u64>(), any::<u64>(), any::<u32>(), -1e9f32..1e9f32),
        )
            .prop_map(
                |(ip, mac, vlan, (f, l), traffic, l4, services, (syn, tcp, udp), (ps, pr, act, roles, t))| HostDelta {
                    ip,
                    mac,
                    vlan,
                    first_seen_ns: f,
                    last_seen_ns: l,
                    traffic,
                    l4,
                    services,
                    syn_sent: syn,
                    tcp_sessions_total: tcp,
                    udp_flows: udp,
                    gauges: HostGauges {
                        peers_sent: ps,
                        peers_rcvd: pr,
                        tcp_sessions_active: act,
                        thpt_actual_tx: t,
                        thpt_actual_rx: t / 2.0,
                        thpt_peak_tx: t * 2.0,
                        thpt_peak_rx: 0.0,
                        roles,
                    },
                },
            )
    }

    fn batch() -> impl Strategy<Value = Batch> {
        (
            any::<u64>(),
            any::<u64>(),
            any::<[u64; 15]>(),
            proptest::collection::vec(host(), 0..20),
            proptest::collection::vec((any::<[u8; 6]>(), traffic()), 0..5),
            "[a-z0-9]{1,12}",
        )
            .prop_map(|(seq, start, bs, hosts, macs, name)| Batch {
                seq,
                interval_start_ns: start,
                interval_end_ns: start.saturating_add(10),
                spool: SpoolStatus { pending_batches: 3, last_dropped_seq: Some(seq / 2), ..Default::default() },
                interfaces: vec![InterfaceDelta {
                    name,
                    link_type: "EN10MB".into(),
                    counters: InterfaceCounters { packets: seq, bytes_stats: bs, ..Default::default() },
                    gauges: InterfaceGauges { hosts: hosts.len() as u64, ..Default::default() },
                    hosts,
                    macs: macs
                        .into_iter()
                        .map(|(mac, traffic)| MacDelta { mac, first_seen_ns: 1, last_seen_ns: 2, traffic })
                        .collect(),
                }],
            })
    }

    proptest! {
        #[test]
        fn batches_round_trip(b in batch()) {
            let msg = ProbeMessage::Batch(b);
            let bytes = encode(&msg).expect("encode");
            prop_assert_eq!(decode::<ProbeMessage>(&bytes, DEFAULT_MAX_FRAME).expect("decode"), msg);
        }

        #[test]
        fn frames_split_anywhere_decode_the_same(b in batch(), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
            let msgs = vec![ProbeMessage::Batch(b.clone()), ProbeMessage::Reply(Reply::Error("x".into()))];
            let mut bytes = Vec::new();
            for m in &msgs { encode_into(m, &mut bytes).expect("encode"); }
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut d = Decoder::new(DEFAULT_MAX_FRAME);
            let mut got = Vec::new();
            let mut last = 0;
            for p in points.into_iter().chain([bytes.len()]) {
                d.push(&bytes[last..p]).expect("push");
                last = p;
                while let Some(m) = d.next_message::<ProbeMessage>().expect("next") { got.push(m); }
            }
            prop_assert_eq!(got, msgs);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<ProbeMessage>(&bytes, 1 << 16);
            let _ = decode::<ControllerMessage>(&bytes, 1 << 16);
        }
    }

    #[test]
    fn controller_messages_round_trip() {
        for m in [
            ControllerMessage::Ack(Ack { seq: 7, duplicate: true }),
            ControllerMessage::Reject(Reject { seq: 1, retry: true, message: "database down".into() }),
            ControllerMessage::Command(Command::TopTalkers { limit: 10 }),
            ControllerMessage::Command(Command::HostDetail { ip: "2001:db8::1".parse().expect("ip") }),
            ControllerMessage::Welcome(Welcome {
                controller: "c1".into(),
                software_version: "0.1.0".into(),
                probe: "p".into(),
                site: "s".into(),
                last_committed_seq: None,
            }),
        ] {
            let b = encode(&m).expect("encode");
            assert_eq!(decode::<ControllerMessage>(&b, 1024).expect("decode"), m);
        }
    }

    #[test]
    fn oversized_frames_are_refused_from_the_header() {
        let mut d = Decoder::new(100);
        assert_eq!(d.push(&[0, 0, 0, 101]), Err(WireError::TooLarge { len: 101, max: 100 }));
        let big = encode(&Reply::Error("x".repeat(200))).expect("encode");
        assert!(matches!(decode::<Reply>(&big, 100), Err(WireError::TooLarge { .. })));
    }

    #[test]
    fn wrong_version_and_trailing_bytes_are_errors() {
        let mut b = encode(&Ack { seq: 1, duplicate: false }).expect("encode");
        b[4] = 9;
        assert_eq!(decode::<Ack>(&b, 1024), Err(WireError::Version(9)));
        let mut b = encode(&Ack { seq: 1, duplicate: false }).expect("encode");
        b.push(0);
        assert_eq!(decode::<Ack>(&b, 1024), Err(WireError::Trailing(1)));
        assert!(matches!(decode::<Ack>(&b[..3], 1024), Err(WireError::Truncated { .. })));
    }
}
