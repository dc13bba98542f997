//! The RRD archives' shared vocabulary: the layout (ntop's file names, how a probe, interface
//! or host becomes a directory name), the rule an archive path given by a client must follow,
//! and the graph interface the HTTP layer calls ([`Archives`], implemented by `wirewatch-rrd`,
//! so the HTTP layer does not link librrd).
//!
//! Layout below the archive root (as ntop's, relative to its `rrd` directory):
//! `<probe>/interfaces/<interface>/<name>.rrd` and `<probe>/hosts/<host>/<name>.rrd`.

use std::net::IpAddr;

use crate::scripts::BoxFuture;
use crate::stats::BytesStats;

/// An interface's files besides the `<proto>Bytes` ones (ntop's names).
pub const INTERFACE_FILES: [&str; 4] = ["ethernetBytes", "ethernetPkts", "throughput", "knownHostsNum"];

/// A host's files (ntop's names).
pub const HOST_FILES: [&str; 4] = ["bytesSent", "bytesRcvd", "pktSent", "pktRcvd"];

/// The `<proto>Bytes` file of each bytesStats key but `total` (that is `ethernetBytes`), with the
/// key's index in [`BytesStats::KEYS`].
pub fn proto_files() -> impl Iterator<Item = (usize, String)> {
    BytesStats::KEYS.iter().enumerate().filter(|(_, k)| **k != "total").map(|(i, k)| (i, format!("{k}Bytes")))
}

/// Longest directory name made of a name (longer names keep a prefix and a hash).
const MAX_COMPONENT: usize = 120;

/// A probe's or interface's name as one directory name: bytes outside `A-Z a-z 0-9 _ - .` and
/// a leading `.` are written `%XX` (so no `/`, no `.` or `..`, no hidden file, no `:` that
/// rrdgraph's argument syntax would split on, and two names never share a directory: the
/// escape is injective); an empty name is `%`. A
/// result longer than 120 bytes keeps 100 and appends `~` and 16 hex digits of its SHA-256.
/// Probes choose their interfaces' names: this is the only way one reaches the file system.
pub fn dir_name(name: &str) -> String {
    if name.is_empty() {
        return "%".into();
    }
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_COMPONENT {
        let digest = sha256_hex16(name.as_bytes());
        out.truncate(100);
        // A cut never splits an escape into something that reads as another one.
        while out.ends_with('%') || out.as_bytes().get(out.len().saturating_sub(2)) == Some(&b'%') {
            out.pop();
        }
        out.push('~');
        out.push_str(&digest);
    }
    out
}

/// A host's directory name: its address, IPv6 colons written `_` (rrdgraph splits its
/// arguments on `:`), e.g. `192.168.1.1`, `2001_db8__1`.
pub fn host_dir_name(ip: IpAddr) -> String {
    ip.to_string().replace(':', "_")
}

/// The first 16 hex digits of a SHA-256 (FIPS 180-4; small and dependency-free on purpose:
/// only directory names use it).
fn sha256_hex16(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in chunk.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h[..2].iter().map(|x| format!("{x:08x}")).collect()
}

/// Why an archive request failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The path or a parameter breaks the rules (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such file, or not one the caller may see (404).
    #[error("no archive {0}")]
    NotFound(String),
    /// The renderer's queue is full (503).
    #[error("the graph renderer is busy; try again")]
    Busy,
    #[error("rrd: {0}")]
    Failed(String),
}

/// Longest archive path accepted from a client.
pub const MAX_PATH: usize = 512;

/// A path below the archive root as a client gives it (`probe/interfaces/eth0/ethernetBytes.rrd`):
/// relative, components of `A-Z a-z 0-9 . _ - % ~` that are not `.` or `..` and do not start
/// with `.`, no empty component, at most [`MAX_PATH`] bytes. (A file the archive wrote always
/// has this form; the caller's site scope is checked on the first component, the probe.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePath(String);

impl ArchivePath {
    /// Parses a complete path (ending in `.rrd` when `file`) or a prefix (for completion: its
    /// last component may be partial or empty).
    pub fn parse(s: &str, file: bool) -> Result<ArchivePath, ArchiveError> {
        let bad = |why: &str| Err(ArchiveError::BadRequest(format!("archive path {s:?}: {why}")));
        if s.len() > MAX_PATH {
            return bad("too long");
        }
        if s.starts_with('/') {
            return bad("must be relative to the archive root");
        }
        let parts: Vec<&str> = s.split('/').collect();
        for (i, p) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            // A prefix may end in an empty (not yet typed) component.
            if p.is_empty() && (file || !last) {
                return bad("empty component");
            }
            if p.starts_with('.') {
                return bad("a component may not start with '.' (no '..')");
            }
            if !p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'%' | b'~')) {
                return bad("only A-Z a-z 0-9 . _ - % ~ and / are allowed");
            }
        }
        if file && (!s.ends_with(".rrd") || parts.len() < 2) {
            return bad("must name a .rrd file below a probe's directory");
        }
        Ok(ArchivePath(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first component: the probe's directory.
    pub fn probe_dir(&self) -> &str {
        self.0.split('/').next().unwrap_or_default()
    }
}

/// The image formats a graph comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Png,
    Svg,
}

/// A graph of one archive file.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub path: ArchivePath,
    /// Seconds since the epoch.
    pub start: i64,
    pub end: i64,
    /// The image's size in pixels.
    pub width: u32,
    pub height: u32,
    pub format: GraphFormat,
}

/// The archives as the HTTP layer sees them (implemented by `wirewatch-rrd`). Site scope is
/// the caller's job: it passes only paths (and probe directories) the user may see.
pub trait Archives: Send + Sync {
    /// Renders a graph (librrd, on the one rendering thread).
    fn graph(&self, req: GraphRequest) -> BoxFuture<'_, Result<Vec<u8>, ArchiveError>>;
    /// The `.rrd` files (relative paths, sorted) starting with `prefix`, below the given probe
    /// directories only; at most `limit`.
    fn files(
        &self,
        probe_dirs: Vec<String>,
        prefix: ArchivePath,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<String>, ArchiveError>>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_become_single_safe_components() {
        assert_eq!(dir_name("eth0"), "eth0");
        assert_eq!(dir_name("eth0.100"), "eth0.100");
        assert_eq!(dir_name(".."), "%2E.");
        assert_eq!(dir_name("."), "%2E");
        assert_eq!(dir_name(".hidden"), "%2Ehidden");
        assert_eq!(dir_name("../../etc"), "%2E.%2F..%2Fetc");
        assert_eq!(dir_name("eth0:1"), "eth0%3A1");
        assert_eq!(dir_name("a%b"), "a%25b");
        assert_eq!(dir_name(""), "%");
        assert_eq!(dir_name("é"), "%C3%A9");
        // Distinct names, distinct directories (the escape is injective).
        assert_ne!(dir_name("a/b"), dir_name("a%2Fb"));
        let long = "x".repeat(500);
        let d = dir_name(&long);
        assert!(d.len() <= MAX_COMPONENT && d.contains('~'), "{d}");
        assert_ne!(d, dir_name(&"x".repeat(501)));
        for n in ["a/b", "..", "x:y", "\0", &long] {
            ArchivePath::parse(&format!("{}/interfaces/{}/ethernetBytes.rrd", dir_name(n), dir_name(n)), true).unwrap();
        }
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        assert_eq!(sha256_hex16(b"abc"), "ba7816bf8f01cfea");
        assert_eq!(sha256_hex16(b""), "e3b0c44298fc1c14");
    }

    #[test]
    fn host_dirs_have_no_colon() {
        assert_eq!(host_dir_name("2001:db8::1".parse().unwrap()), "2001_db8__1");
        assert_eq!(host_dir_name("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn client_paths_stay_inside_the_root() {
        for bad in [
            "../x.rrd",
            "p/../../etc/passwd.rrd",
            "/etc/x.rrd",
            "p//x.rrd",
            "p/.hidden.rrd",
            "p/a:b.rrd",
            "p/a\\b.rrd",
            "x.rrd",
            "p/x.txt",
            "p/x y.rrd",
        ] {
            assert!(ArchivePath::parse(bad, true).is_err(), "{bad}");
        }
        let p = ArchivePath::parse("pa/interfaces/eth0/ethernetBytes.rrd", true).unwrap();
        assert_eq!(p.probe_dir(), "pa");
        assert_eq!(ArchivePath::parse("pa/interfaces/", false).unwrap().probe_dir(), "pa");
        assert_eq!(ArchivePath::parse("", false).unwrap().probe_dir(), "");
        assert!(ArchivePath::parse("pa/../", false).is_err());
    }
}
