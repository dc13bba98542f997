//! Capture-file reader: classic pcap (µs and ns, either byte order) and pcapng (several
//! sections, interfaces, link types and timestamp resolutions in one file).
//!
//! Why not libpcap for files: libpcap 1.10 refuses pcapng files whose interfaces have different
//! snaplens (modify-request.pcapng in ../shared/pcaps) and its per-record callback costs more
//! than this reader's zero-copy loop. Live interfaces still go through libpcap (`live.rs`).
//!
//! This module owns only the container format: it yields raw frames (bytes, wire length,
//! timestamp, interface) and never looks inside them. It must not panic on any input: every
//! length read from the file is checked before use, and a damaged file ends with a
//! [`ReadError`] that names the file, the record number and the byte offset.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::LinkType;

/// Largest record body accepted (captured length). libpcap's own limit is 256 KiB for most
/// link types; pcapng allows more, and TSO/GRO captures reach 64 KiB. 16 MiB bounds memory
/// while accepting anything real.
const MAX_RECORD: usize = 16 << 20;
/// Most interface description blocks one file may declare (its interface table is kept for
/// the whole file). The engine counts far fewer ([`crate::interface::Limits::max_interfaces`]);
/// this only bounds the reader's own table.
const MAX_FILE_INTERFACES: usize = 1 << 16;
/// Longest interface name kept from a pcapng `if_name` option (bytes; longer names are cut).
const MAX_IF_NAME: usize = 256;
/// Read-buffer size: large enough that refills are rare, small enough to stay cache-friendly.
const BUF_SIZE: usize = 1 << 20;

/// What went wrong while reading a capture file.
#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    /// The operating system refused a read.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The first bytes are neither a pcap nor a pcapng header.
    #[error("not a pcap or pcapng file (magic {0:#010x})")]
    BadMagic(u32),
    /// The file ends inside a file header, record header or record body.
    #[error("file ends inside {what} (needs {need} bytes, {have} left)")]
    Truncated { what: &'static str, need: usize, have: usize },
    /// A length field is impossible (too large, too small, misaligned).
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

/// A read error with its location: the file, the 1-based record number being read and the
/// byte offset of that record's header.
#[derive(Debug, thiserror::Error)]
#[error("{}: record {record} at byte offset {offset}: {kind}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    pub record: u64,
    pub offset: u64,
    #[source]
    pub kind: ReadErrorKind,
}

/// One frame out of a capture file. `data` borrows the reader's buffer.
#[derive(Debug)]
pub struct FileFrame<'a> {
    /// Index into [`FileReader::interfaces`].
    pub interface: usize,
    /// That interface.
    pub iface: &'a FileInterface,
    /// Timestamp in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Original (wire) length.
    pub wire_len: u64,
    /// Captured bytes (may be shorter than `wire_len`).
    pub data: &'a [u8],
}

/// An interface declared by the file (one per pcap file, one per IDB in pcapng).
#[derive(Debug, Clone)]
pub struct FileInterface {
    pub name: String,
    pub link_type: LinkType,
    pub snaplen: u32,
    /// pcapng: a timestamp tick lasts 10^-n or 2^-n seconds; stored as a converter.
    ts_res: TsRes,
    ts_offset_s: i64,
}

#[derive(Debug, Clone, Copy)]
enum TsRes {
    Pow10(u32),
    Pow2(u32),
}

impl TsRes {
    fn to_ns(self, ticks: u64) -> u64 {
        match self {
            TsRes::Pow10(n) if n <= 9 => ticks.saturating_mul(10u64.pow(9 - n)),
            TsRes::Pow10(n) => {
                let div = 10u128.pow(n.min(38) - 9);
                (u128::from(ticks) / div) as u64
            }
            TsRes::Pow2(n) => ((u128::from(ticks) * 1_000_000_000u128) >> n.min(127)) as u64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Classic pcap; `swap`: the file's byte order differs from little-endian reading.
    Pcap { big_endian: bool, nanos: bool },
    /// pcapng; byte order of the current section.
    Pcapng { big_endian: bool },
}

/// Streaming reader over one capture file.
pub struct FileReader<R: Read = File> {
    path: PathBuf,
    src: R,
    buf: Vec<u8>,
    /// Valid bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[start]`.
    offset: u64,
    format: Format,
    interfaces: Vec<FileInterface>,
    /// Interfaces of earlier pcapng sections are kept (their frames were counted); the current
    /// section's interface ids are offset by this base.
    section_base: usize,
    records: u64,
}

fn u16_at(b: &[u8], big: bool) -> u16 {
    let a = [b[0], b[1]];
    if big { u16::from_be_bytes(a) } else { u16::from_le_bytes(a) }
}

fn u32_at(b: &[u8], big: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
}

impl FileReader<File> {
    /// Opens a capture file and reads its header.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let file = File::open(path).map_err(|e| ReadError {
            path: path.to_path_buf(),
            record: 0,
            offset: 0,
            kind: ReadErrorKind::Io(e),
        })?;
        Self::new(path.to_path_buf(), file)
    }
}

impl<R: Read> FileReader<R> {
    /// Wraps any reader (a file, a pipe, bytes in memory) and reads the file header.
    pub fn new(path: PathBuf, src: R) -> Result<Self, ReadError> {
        let mut r = FileReader {
            path,
            src,
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            format: Format::Pcap { big_endian: false, nanos: false },
            interfaces: Vec::new(),
            section_base: 0,
            records: 0,
        };
        r.read_file_header()?;
        Ok(r)
    }

    /// The interfaces declared so far (pcapng declares them as it goes).
    pub fn interfaces(&self) -> &[FileInterface] {
        &self.interfaces
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes consumed so far (for progress bars).
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn err(&self, kind: ReadErrorKind) -> ReadError {
        ReadError { path: self.path.clone(), record: self.records + 1, offset: self.offset, kind }
    }

    /// Makes at least `n` bytes available at `buf[start..]`, unless the file ends first.
    /// Returns the number available (may be < n only at end of file).
    fn fill(&mut self, n: usize) -> Result<usize, ReadError> {
        if self.end - self.start >= n {
            return Ok(self.end - self.start);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n.next_power_of_two(), 0);
        }
        while self.end < n && !self.eof {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.err(ReadErrorKind::Io(e))),
            }
        }
        Ok(self.end - self.start)
    }

    fn need(&mut self, n: usize, what: &'static str) -> Result<(), ReadError> {
        let have = self.fill(n)?;
        if have < n {
            return Err(self.err(ReadErrorKind::Truncated { what, need: n, have }));
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    fn read_file_header(&mut self) -> Result<(), ReadError> {
        self.need(4, "the file header")?;
        let magic = u32_at(&self.buf[self.start..], false);
        match magic {
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
                self.need(24, "the pcap file header")?;
                let big_endian = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1);
                let nanos = matches!(magic, 0xa1b2_3c4d | 0x4d3c_b2a1);
                let h = &self.buf[self.start..self.start + 24];
                let snaplen = u32_at(&h[16..], big_endian);
                // The upper bits of the link-type word carry FCS information (pcap spec).
                let link = u32_at(&h[20..], big_endian) & 0x03ff_ffff;
                self.format = Format::Pcap { big_endian, nanos };
                self.interfaces.push(FileInterface {
                    name: self.iface_name(0, None),
                    link_type: LinkType(link as u16),
                    snaplen,
                    ts_res: if nanos { TsRes::Pow10(9) } else { TsRes::Pow10(6) },
                    ts_offset_s: 0,
                });
                self.consume(24);
                Ok(())
            }
            0x0a0d_0d0a => {
                self.format = Format::Pcapng { big_endian: false };
                // The section header is read like any other block.
                Ok(())
            }
            _ => Err(self.err(ReadErrorKind::BadMagic(magic))),
        }
    }

    fn iface_name(&self, idx: usize, name: Option<&str>) -> String {
        let file = self.path.file_name().map(|s| s.to_string_lossy().into_owned());
        let file = file.unwrap_or_else(|| self.path.display().to_string());
        match name {
            Some(n) => format!("{file}#{idx}:{n}"),
            None if idx == 0 && matches!(self.format, Format::Pcap { .. }) => file,
            None => format!("{file}#{idx}"),
        }
    }

    /// Returns the next frame, `Ok(None)` at a clean end of file, or the error that stopped
    /// reading (the frames before it were all returned).
    pub fn next_frame(&mut self) -> Result<Option<FileFrame<'_>>, ReadError> {
        match self.format {
            Format::Pcap { big_endian, nanos } => self.next_pcap(big_endian, nanos),
            Format::Pcapng { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self, big: bool, nanos: bool) -> Result<Option<FileFrame<'_>>, ReadError> {
        let have = self.fill(16)?;
        if have == 0 {
            return Ok(None);
        }
        if have < 16 {
            return Err(self.err(ReadErrorKind::Truncated { what: "a record header", need: 16, have }));
        }
        let h = &self.buf[self.start..self.start + 16];
        let sec = u64::from(u32_at(h, big));
        let frac = u64::from(u32_at(&h[4..], big));
        let caplen = u32_at(&h[8..], big) as usize;
        let wire_len = u64::from(u32_at(&h[12..], big));
        if caplen > MAX_RECORD {
            return Err(self.err(ReadErrorKind::Corrupt {
                what: "record header",
                detail: format!("captured length {caplen} exceeds the {MAX_RECORD}-byte limit"),
            }));
        }
        let have = self.fill(16 + caplen)?;
        if have < 16 + caplen {
            return Err(self.err(ReadErrorKind::Truncated {
                what: "a record (16-byte header and its captured bytes)",
                need: 16 + caplen,
                have,
            }));
        }
        let ts_ns = sec * 1_000_000_000 + if nanos { frac } else { frac.saturating_mul(1000) };
        let data_start = self.start + 16;
        self.consume(16 + caplen);
        self.records += 1;
        Ok(Some(FileFrame {
            interface: 0,
            iface: &self.interfaces[0],
            ts_ns,
            wire_len,
            data: &self.buf[data_start..data_start + caplen],
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<FileFrame<'_>>, ReadError> {
        loop {
            let have = self.fill(8)?;
            if have == 0 {
                return Ok(None);
            }
            if have < 8 {
                return Err(self.err(ReadErrorKind::Truncated { what: "a block header", need: 8, have }));
            }
            let Format::Pcapng { mut big_endian } = self.format else {
                return Ok(None);
            };
            let raw_type = u32_at(&self.buf[self.start..], false);
            if raw_type == 0x0a0d_0d0a {
                // Section header: its byte-order magic decides the section's endianness.
                self.need(12, "a section header")?;
                let bom = u32_at(&self.buf[self.start + 8..], false);
                big_endian = match bom {
                    0x1a2b_3c4d => false,
                    0x4d3c_2b1a => true,
                    other => {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "section header",
                            detail: format!("byte-order magic {other:#010x}"),
                        }));
                    }
                };
                self.format = Format::Pcapng { big_endian };
                self.section_base = self.interfaces.len();
            }
            let btype = u32_at(&self.buf[self.start..], big_endian);
            let blen = u32_at(&self.buf[self.start + 4..], big_endian) as usize;
            if blen < 12 || !blen.is_multiple_of(4) || blen > MAX_RECORD + 64 {
                return Err(self.err(ReadErrorKind::Corrupt {
                    what: "block header",
                    detail: format!("block type {btype:#x} has total length {blen}"),
                }));
            }
            let have = self.fill(blen)?;
            if have < blen {
                return Err(self.err(ReadErrorKind::Truncated { what: "a block", need: blen, have }));
            }
            let block_start = self.start;
            let body = block_start + 8..block_start + blen - 4;
            match btype {
                // Interface description block.
                1 => {
                    let b = &self.buf[body.clone()];
                    if b.len() < 8 {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "interface description block",
                            detail: format!("body of {} bytes", b.len()),
                        }));
                    }
                    let link = u16_at(b, big_endian);
                    let snaplen = u32_at(&b[4..], big_endian);
                    let mut ts_res = TsRes::Pow10(6);
                    let mut ts_offset_s = 0i64;
                    let mut name = None;
                    for (code, val) in Options::new(&b[8..], big_endian) {
                        match code {
                            2 => name = Some(String::from_utf8_lossy(val).trim_end_matches('\0').to_string()),
                            9 if !val.is_empty() => {
                                let v = val[0];
                                ts_res = if v & 0x80 == 0 {
                                    TsRes::Pow10(u32::from(v))
                                } else {
                                    TsRes::Pow2(u32::from(v & 0x7f))
                                };
                            }
                            14 if val.len() >= 8 => {
                                let hi = u64::from(u32_at(val, big_endian));
                                let lo = u64::from(u32_at(&val[4..], big_endian));
                                ts_offset_s = ((hi << 32) | lo) as i64;
                            }
                            _ => {}
                        }
                    }
                    let idx = self.interfaces.len();
                    if idx >= MAX_FILE_INTERFACES {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "interface description block",
                            detail: format!("more than {MAX_FILE_INTERFACES} interfaces"),
                        }));
                    }
                    let name = name.map(|mut n| {
                        if n.len() > MAX_IF_NAME {
                            let mut cut = MAX_IF_NAME;
                            while !n.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            n.truncate(cut);
                        }
                        n
                    });
                    let name = self.iface_name(idx, name.as_deref());
                    self.interfaces.push(FileInterface {
                        name,
                        link_type: LinkType(link),
                        snaplen,
                        ts_res,
                        ts_offset_s,
                    });
                    self.consume(blen);
                }
                // Enhanced packet block (6) and the obsolete packet block (2).
                6 | 2 => {
                    let b = &self.buf[body.clone()];
                    if b.len() < 20 {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "packet block",
                            detail: format!("body of {} bytes", b.len()),
                        }));
                    }
                    let iface =
                        if btype == 6 { u32_at(b, big_endian) as usize } else { usize::from(u16_at(b, big_endian)) };
                    let ts = (u64::from(u32_at(&b[4..], big_endian)) << 32) | u64::from(u32_at(&b[8..], big_endian));
                    let caplen = u32_at(&b[12..], big_endian) as usize;
                    let wire_len = u64::from(u32_at(&b[16..], big_endian));
                    if caplen > b.len() - 20 {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "packet block",
                            detail: format!("captured length {caplen} exceeds the block"),
                        }));
                    }
                    let global = self.section_base + iface;
                    let Some(ifc) = self.interfaces.get(global) else {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "packet block",
                            detail: format!("interface id {iface} was never described"),
                        }));
                    };
                    let ts_ns =
                        ifc.ts_res.to_ns(ts).saturating_add_signed(ifc.ts_offset_s.saturating_mul(1_000_000_000));
                    let data_start = body.start + 20;
                    self.consume(blen);
                    self.records += 1;
                    return Ok(Some(FileFrame {
                        interface: global,
                        iface: &self.interfaces[global],
                        ts_ns,
                        wire_len,
                        data: &self.buf[data_start..data_start + caplen],
                    }));
                }
                // Simple packet block: interface 0 of the section, no timestamp.
                3 => {
                    let b = &self.buf[body.clone()];
                    if b.len() < 4 {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "simple packet block",
                            detail: format!("body of {} bytes", b.len()),
                        }));
                    }
                    let wire_len = u64::from(u32_at(b, big_endian));
                    let global = self.section_base;
                    let Some(ifc) = self.interfaces.get(global) else {
                        return Err(self.err(ReadErrorKind::Corrupt {
                            what: "simple packet block",
                            detail: "no interface was described".to_string(),
                        }));
                    };
                    let mut caplen = (b.len() - 4).min(usize::try_from(wire_len).unwrap_or(usize::MAX));
                    if ifc.snaplen > 0 {
                        caplen = caplen.min(ifc.snaplen as usize);
                    }
                    let data_start = body.start + 4;
                    self.consume(blen);
                    self.records += 1;
                    return Ok(Some(FileFrame {
                        interface: global,
                        iface: &self.interfaces[global],
                        ts_ns: 0,
                        wire_len,
                        data: &self.buf[data_start..data_start + caplen],
                    }));
                }
                // Section header, statistics, name resolution, custom, … : nothing to count.
                _ => self.consume(blen),
            }
        }
    }
}

/// Iterator over pcapng options (code, value), stopping at opt_endofopt or on damage.
struct Options<'a> {
    b: &'a [u8],
    big: bool,
}

impl<'a> Options<'a> {
    fn new(b: &'a [u8], big: bool) -> Self {
        Options { b, big }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.b.len() < 4 {
            return None;
        }
        let code = u16_at(self.b, self.big);
        let len = usize::from(u16_at(&self.b[2..], self.big));
        if code == 0 || 4 + len > self.b.len() {
            return None;
        }
        let val = &self.b[4..4 + len];
        let padded = (4 + len + 3) & !3;
        self.b = &self.b[padded.min(self.b.len())..];
        Some((code, val))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_bytes(big: bool, nanos: bool, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        out.extend(w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend(w16(2));
        out.extend(w16(4));
        out.extend(w32(0));
        out.extend(w32(0));
        out.extend(w32(65535));
        out.extend(w32(1));
        for (s, f, d, wire) in records {
            out.extend(w32(*s));
            out.extend(w32(*f));
            out.extend(w32(d.len() as u32));
            out.extend(w32(*wire));
            out.extend_from_slice(d);
        }
        out
    }

    #[test]
    fn pcap_both_byte_orders_and_resolutions() {
        for big in [false, true] {
            for nanos in [false, true] {
                let bytes = pcap_bytes(big, nanos, &[(10, 5, b"abc", 60), (11, 0, b"", 0)]);
                let mut r = FileReader::new("t.pcap".into(), &bytes[..]).expect("header");
                let f = r.next_frame().expect("ok").expect("frame");
                assert_eq!(f.data, b"abc");
                assert_eq!(f.wire_len, 60);
                assert_eq!(f.ts_ns, 10_000_000_000 + if nanos { 5 } else { 5_000 });
                let f = r.next_frame().expect("ok").expect("frame");
                assert_eq!(f.ts_ns, 11_000_000_000);
                assert!(r.next_frame().expect("ok").is_none());
                assert_eq!(r.records(), 2);
            }
        }
    }

    #[test]
    fn truncated_record_names_record_and_offset() {
        let mut bytes = pcap_bytes(false, false, &[(1, 0, b"abcd", 4), (2, 0, b"efgh", 4)]);
        bytes.truncate(bytes.len() - 2);
        let mut r = FileReader::new("cut.pcap".into(), &bytes[..]).expect("header");
        assert!(r.next_frame().expect("first").is_some());
        let e = r.next_frame().expect_err("cut short");
        assert_eq!(e.record, 2);
        assert_eq!(e.offset, 24 + 16 + 4);
        assert!(e.to_string().contains("cut.pcap"), "{e}");
    }

    #[test]
    fn bad_magic_is_an_error() {
        let e = FileReader::new("x".into(), &b"hello world, not a capture"[..]).err();
        assert!(matches!(e, Some(ReadError { kind: ReadErrorKind::BadMagic(_), .. })));
    }

    #[test]
    fn pcapng_two_interfaces_and_resolution() {
        let mut out = Vec::new();
        let block = |out: &mut Vec<u8>, t: u32, body: &[u8]| {
            let len = 12 + body.len().div_ceil(4) * 4;
            out.extend(t.to_le_bytes());
            out.extend((len as u32).to_le_bytes());
            out.extend_from_slice(body);
            out.extend(std::iter::repeat_n(0u8, len - 12 - body.len()));
            out.extend((len as u32).to_le_bytes());
        };
        let mut shb = Vec::new();
        shb.extend(0x1a2b_3c4du32.to_le_bytes());
        shb.extend(1u16.to_le_bytes());
        shb.extend(0u16.to_le_bytes());
        shb.extend((-1i64).to_le_bytes());
        block(&mut out, 0x0a0d_0d0a, &shb);
        let mut idb = Vec::new();
        idb.extend(1u16.to_le_bytes());
        idb.extend(0u16.to_le_bytes());
        idb.extend(0u32.to_le_bytes());
        block(&mut out, 1, &idb);
        let mut idb2 = Vec::new();
        idb2.extend(113u16.to_le_bytes());
        idb2.extend(0u16.to_le_bytes());
        idb2.extend(0u32.to_le_bytes());
        idb2.extend(9u16.to_le_bytes()); // if_tsresol = 10^-9
        idb2.extend(1u16.to_le_bytes());
        idb2.extend([9u8, 0, 0, 0]);
        idb2.extend([0u8; 4]);
        block(&mut out, 1, &idb2);
        let mut epb = Vec::new();
        epb.extend(1u32.to_le_bytes());
        epb.extend(0u32.to_le_bytes());
        epb.extend(1_500_000_000u32.to_le_bytes());
        epb.extend(3u32.to_le_bytes());
        epb.extend(100u32.to_le_bytes());
        epb.extend(b"xyz");
        block(&mut out, 6, &epb);
        let mut r = FileReader::new("t.pcapng".into(), &out[..]).expect("header");
        let f = r.next_frame().expect("ok").expect("frame");
        assert_eq!((f.interface, f.ts_ns, f.wire_len, f.data), (1, 1_500_000_000, 100, &b"xyz"[..]));
        assert_eq!(r.interfaces()[1].link_type, LinkType(113));
        assert!(r.next_frame().expect("ok").is_none());
    }

    #[test]
    fn pcapng_interface_table_and_names_are_bounded() {
        let block = |out: &mut Vec<u8>, t: u32, body: &[u8]| {
            let len = 12 + body.len().div_ceil(4) * 4;
            out.extend(t.to_le_bytes());
            out.extend((len as u32).to_le_bytes());
            out.extend_from_slice(body);
            out.extend(std::iter::repeat_n(0u8, len - 12 - body.len()));
            out.extend((len as u32).to_le_bytes());
        };
        let mut out = Vec::new();
        let mut shb = Vec::new();
        shb.extend(0x1a2b_3c4du32.to_le_bytes());
        shb.extend(1u16.to_le_bytes());
        shb.extend(0u16.to_le_bytes());
        shb.extend((-1i64).to_le_bytes());
        block(&mut out, 0x0a0d_0d0a, &shb);
        // First IDB: an if_name of 10,000 bytes.
        let mut idb = Vec::new();
        idb.extend(1u16.to_le_bytes());
        idb.extend(0u16.to_le_bytes());
        idb.extend(0u32.to_le_bytes());
        idb.extend(2u16.to_le_bytes());
        idb.extend(10_000u16.to_le_bytes());
        idb.extend(std::iter::repeat_n(b'x', 10_000));
        idb.extend([0u8; 4]);
        block(&mut out, 1, &idb);
        let plain: Vec<u8> =
            [1u16.to_le_bytes(), 0u16.to_le_bytes()].concat().into_iter().chain(0u32.to_le_bytes()).collect();
        for _ in 0..MAX_FILE_INTERFACES {
            block(&mut out, 1, &plain);
        }
        let mut r = FileReader::new("many.pcapng".into(), &out[..]).expect("header");
        let e = r.next_frame().expect_err("one interface too many");
        assert!(e.to_string().contains("more than 65536 interfaces"), "{e}");
        assert_eq!(r.interfaces().len(), MAX_FILE_INTERFACES);
        let name = &r.interfaces()[0].name;
        assert!(name.len() <= MAX_IF_NAME + 20 && name.ends_with('x'), "{} bytes", name.len());
    }
}
