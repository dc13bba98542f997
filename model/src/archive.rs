//! The RRD archives' shared vocabulary: the layout (ntop's file names, how a probe, interface
//! or host becomes a directory name), the rule an archive path given by a client must follow,
//! and the graph interface the HTTP layer calls ([`Archives`], implemented by `wirewatch-rrd`,
//! so the HTTP layer does not link librrd).
//!
//! Layout below the archive root (as ntop's, relative to its `rrd` directory):
//! `<probe>/interfaces/<interface>/<name>.rrd` and `<probe>/hosts/<host>/<name>.rrd`, and
//! beside the probes' directories the [`RESERVED_DIRS`] no probe can have:
//! `rrdAlarm/{duration,results}.rrd` (rrdAlarm's check history) and `scripts/…` (what scripts
//! write with `ntop.updateRRDCounter`/`updateRRDGauge`).

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

/// rrdAlarm's own directory below the root: its check history (`duration.rrd`, `results.rrd`).
pub const ALARM_DIR: &str = "rrdAlarm";

/// The directory below the root that scripts write in (`ntop.updateRRDCounter`/`updateRRDGauge`).
pub const SCRIPTS_DIR: &str = "scripts";

/// Top-level directories that are not a probe's: [`probe_dir_name`] never gives one of them, so
/// the archiver never writes, prunes or rebuilds them as a probe's, and no probe's site scope
/// reaches them.
pub const RESERVED_DIRS: [&str; 2] = [ALARM_DIR, SCRIPTS_DIR];

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

/// A probe's directory below the root: [`dir_name`], except that a name whose directory would
/// be one of the [`RESERVED_DIRS`] (compared without case, for case-insensitive file systems)
/// has its first byte written `%XX` too (`scripts` → `%73cripts`). Still injective: `dir_name`
/// never escapes a letter.
pub fn probe_dir_name(name: &str) -> String {
    let d = dir_name(name);
    if RESERVED_DIRS.iter().any(|r| r.eq_ignore_ascii_case(&d)) {
        // Reserved names are ASCII letters: the first byte is one character.
        format!("%{:02X}{}", d.as_bytes()[0], &d[1..])
    } else {
        d
    }
}

/// A host's directory name: its address, IPv6 colons written `_` (rrdgraph splits its
/// arguments on `:`), e.g. `192.168.1.1`, `2001_db8__1`.
pub fn host_dir_name(ip: IpAddr) -> String {
    ip.to_string().replace(':', "_")
}

/// A host's directory relative to the root, as clients name it (`probe/hosts/address`).
pub fn host_dir(probe: &str, ip: IpAddr) -> String {
    format!("{}/hosts/{}", probe_dir_name(probe), host_dir_name(ip))
}

/// An interface's directory relative to the root, as clients name it (`probe/interfaces/name`).
pub fn interface_dir(probe: &str, interface: &str) -> String {
    format!("{}/interfaces/{}", probe_dir_name(probe), dir_name(interface))
}

/// The first 16 hex digits of a SHA-256.
fn sha256_hex16(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(data)[..8])
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
    fn clients_name_directories_as_the_archiver_writes_them() {
        assert_eq!(interface_dir("pa", "eth0:1"), "pa/interfaces/eth0%3A1");
        assert_eq!(host_dir("scripts", "2001:db8::1".parse().unwrap()), "%73cripts/hosts/2001_db8__1");
        assert_eq!(host_dir("pa", "192.0.2.1".parse().unwrap()), "pa/hosts/192.0.2.1");
    }

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
    fn no_probe_gets_a_reserved_directory() {
        assert_eq!(probe_dir_name("pa"), "pa");
        assert_eq!(probe_dir_name("scripts"), "%73cripts");
        assert_eq!(probe_dir_name("rrdAlarm"), "%72rdAlarm");
        assert_eq!(probe_dir_name("RRDALARM"), "%52RDALARM");
        assert_eq!(probe_dir_name("scripts2"), "scripts2");
        assert_eq!(probe_dir_name(".."), dir_name(".."));
        // Still injective: the escaped form is not another name's directory.
        assert_ne!(probe_dir_name("scripts"), probe_dir_name("%73cripts"));
        for r in RESERVED_DIRS {
            assert!(!RESERVED_DIRS.contains(&probe_dir_name(r).as_str()));
            ArchivePath::parse(&format!("{}/x.rrd", probe_dir_name(r)), true).unwrap();
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
