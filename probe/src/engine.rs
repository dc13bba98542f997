//! The set of interfaces a probe watches, and the offline driver that feeds capture files
//! through them. Each file interface (one per pcap file, one per pcapng IDB) becomes an
//! [`Interface`] with its own tables, up to `Limits::max_interfaces` per engine: frames of
//! interfaces past the cap are tallied in [`Engine::over_cap`] (and logged), not counted.

use std::path::PathBuf;

use crate::capture::LinkType;
use crate::capture::file::{FileReader, ReadError};
use crate::interface::{Interface, Limits, Prepared};

const RING: usize = 16;
const AHEAD: usize = 8;

/// Every interface of one probe run.
#[derive(Debug, Default)]
pub struct Engine {
    pub interfaces: Vec<Interface>,
    pub limits: Limits,
    /// Current interval `[start, end)` in packet time (0, 0 before the first frame).
    interval: (u64, u64),
    /// New interfaces keep their changes (an uplinked replay).
    track_changes: bool,
    /// What was left out because of the interface cap.
    pub over_cap: OverCap,
}

/// Interfaces refused by the interface cap, and their frames (not counted anywhere else).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverCap {
    pub interfaces: u64,
    pub frames: u64,
    pub bytes: u64,
}

/// Marks a file interface refused by the cap in `read_one`'s map.
const REFUSED: usize = usize::MAX;

/// Progress callback: bytes of the current file consumed so far.
pub trait Progress {
    fn file_started(&mut self, path: &std::path::Path, size: u64);
    fn advanced(&mut self, position: u64);
    fn file_done(&mut self);
}

/// What a replay driver wants to see besides the frames: each frame's packet time before it is
/// counted (to pace a replay) and the end of every interval of packet time (to cut a batch).
pub trait Hooks {
    /// Interval length in ns; 0: never cut.
    fn interval_ns(&self) -> u64 {
        0
    }
    /// Called before a frame is counted (the tables as they are, for queries while pacing).
    fn before_frame(&mut self, _interfaces: &mut [Interface], _ts_ns: u64) {}
    /// Called when packet time reaches `end_ns`, before the first frame at or past it is
    /// counted, and once more after the last frame (with `last` set).
    fn interval_end(&mut self, _interfaces: &mut [Interface], _start_ns: u64, _end_ns: u64, _last: bool) {}
    /// Called every few thousand frames (to answer queries while a long replay runs).
    fn poll(&mut self, _interfaces: &mut [Interface]) {}
    /// A stop was requested: reading ends early (and no last interval is cut).
    fn stopped(&self) -> bool {
        false
    }
}

/// Hooks that do nothing (plain `read`).
pub struct NoHooks;
impl Hooks for NoHooks {}

/// A progress sink that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn file_started(&mut self, _: &std::path::Path, _: u64) {}
    fn advanced(&mut self, _: u64) {}
    fn file_done(&mut self) {}
}

impl Engine {
    pub fn new(limits: Limits) -> Engine {
        Engine { interfaces: Vec::new(), limits, interval: (0, 0), track_changes: false, over_cap: OverCap::default() }
    }

    /// Adds an interface and returns its index.
    /// Interfaces added from now on keep what changed for `Interface::take_delta`.
    pub fn track_changes(&mut self) {
        self.track_changes = true;
    }

    pub fn add_interface(&mut self, name: String, link: LinkType) -> usize {
        let mut i = Interface::new(name, link, self.limits.clone());
        if self.track_changes {
            i.track_changes();
        }
        self.interfaces.push(i);
        self.interfaces.len() - 1
    }

    /// Reads capture files in order. A file that cannot be opened or is damaged produces an
    /// error; every frame before the damage is counted, and the next file is still read.
    pub fn read_files(&mut self, paths: &[PathBuf], progress: &mut dyn Progress) -> Vec<ReadError> {
        self.read_files_with(paths, progress, &mut NoHooks)
    }

    /// [`Engine::read_files`] with hooks that pace the replay and cut intervals.
    pub fn read_files_with(
        &mut self,
        paths: &[PathBuf],
        progress: &mut dyn Progress,
        hooks: &mut dyn Hooks,
    ) -> Vec<ReadError> {
        let mut errors = Vec::new();
        // Ring of frames decoded ahead of their accounting (see `prefetch`): a frame is
        // decoded RING packets before it is counted, and its flow rows prefetched AHEAD
        // packets before.
        let mut ring: Vec<(usize, Prepared)> = (0..RING).map(|_| (0, Prepared::default())).collect();
        for path in paths {
            if hooks.stopped() {
                break;
            }
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            progress.file_started(path, size);
            if let Err(e) = self.read_one(path, &mut ring, progress, hooks) {
                errors.push(e);
            }
            progress.file_done();
        }
        for i in &mut self.interfaces {
            i.finish();
        }
        if hooks.interval_ns() > 0 && !hooks.stopped() {
            let (start, end) = self.interval;
            hooks.interval_end(&mut self.interfaces, start, end, true);
        }
        errors
    }

    /// Accounts one prepared frame, cutting the interval first if the frame is past its end.
    #[inline]
    fn account_frame(&mut self, idx: usize, p: &Prepared, hooks: &mut dyn Hooks) {
        let every = hooks.interval_ns();
        if every > 0 {
            let ts = p.ts_ns;
            if self.interval.1 == 0 {
                let start = ts - ts % every;
                self.interval = (start, start + every);
            } else if ts >= self.interval.1 {
                let (start, end) = self.interval;
                hooks.interval_end(&mut self.interfaces, start, end, false);
                let start = ts - ts % every;
                self.interval = (start, start + every);
            }
        }
        self.interfaces[idx].account(p);
    }

    fn read_one(
        &mut self,
        path: &std::path::Path,
        ring: &mut [(usize, Prepared)],
        progress: &mut dyn Progress,
        hooks: &mut dyn Hooks,
    ) -> Result<(), ReadError> {
        let mut reader = FileReader::open(path)?;
        // File interface index → engine interface index (created on its first frame).
        let mut map: Vec<Option<usize>> = Vec::new();
        let mut n: u64 = 0;
        let mut result = Ok(());
        // Frames prepared and accounted so far (head - tail frames are in flight).
        let (mut head, mut tail) = (0usize, 0usize);
        loop {
            n += 1;
            if n & 0xffff == 0 {
                progress.advanced(reader.position());
            }
            if n & 0xfff == 0 {
                hooks.poll(&mut self.interfaces);
                if hooks.stopped() {
                    break;
                }
            }
            let f = match reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let idx = match map.get(f.interface).copied().flatten() {
                Some(i) => i,
                None => {
                    let i = if self.interfaces.len() < self.limits.max_interfaces {
                        self.add_interface(f.iface.name.clone(), f.iface.link_type)
                    } else {
                        self.over_cap.interfaces += 1;
                        if self.over_cap.interfaces == 1 {
                            tracing::warn!(file = %path.display(), interface = %f.iface.name,
                                cap = self.limits.max_interfaces,
                                "interface cap reached: frames of further interfaces are not counted");
                        }
                        REFUSED
                    };
                    if map.len() <= f.interface {
                        map.resize(f.interface + 1, None);
                    }
                    map[f.interface] = Some(i);
                    i
                }
            };
            if idx == REFUSED {
                self.over_cap.frames += 1;
                self.over_cap.bytes += f.wire_len;
                continue;
            }
            if head - tail == RING {
                let (i, p) = &ring[tail % RING];
                self.account_frame(*i, p, hooks);
                tail += 1;
            }
            hooks.before_frame(&mut self.interfaces, f.ts_ns);
            let slot = &mut ring[head % RING];
            slot.0 = idx;
            self.interfaces[idx].prepare(f.ts_ns, f.wire_len, f.data, &mut slot.1);
            if head >= AHEAD && head - AHEAD >= tail {
                let (i, p) = &ring[(head - AHEAD) % RING];
                self.interfaces[*i].prefetch(p);
            }
            head += 1;
        }
        while tail < head {
            let (i, p) = &ring[tail % RING];
            self.account_frame(*i, p, hooks);
            tail += 1;
        }
        progress.advanced(reader.position());
        // Interfaces declared without packets still appear in the report.
        for (i, ifc) in reader.interfaces().iter().enumerate() {
            if map.get(i).copied().flatten().is_none() {
                if self.interfaces.len() >= self.limits.max_interfaces {
                    self.over_cap.interfaces += 1;
                    continue;
                }
                self.add_interface(ifc.name.clone(), ifc.link_type);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian pcapng: one section, `n` IDBs (Ethernet), one frame on each.
    fn many_interfaces(n: u32) -> Vec<u8> {
        fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
            let len = (12 + body.len()) as u32;
            out.extend(kind.to_le_bytes());
            out.extend(len.to_le_bytes());
            out.extend(body);
            out.extend(len.to_le_bytes());
        }
        let mut out = Vec::new();
        let mut shb = Vec::new();
        shb.extend(0x1a2b_3c4du32.to_le_bytes());
        shb.extend(1u16.to_le_bytes());
        shb.extend(0u16.to_le_bytes());
        shb.extend((-1i64).to_le_bytes());
        block(&mut out, 0x0a0d_0d0a, &shb);
        for _ in 0..n {
            let mut idb = Vec::new();
            idb.extend(1u16.to_le_bytes());
            idb.extend(0u16.to_le_bytes());
            idb.extend(0u32.to_le_bytes());
            block(&mut out, 1, &idb);
        }
        // An Ethernet + IPv4 frame (60 bytes) from 10.0.0.1 to 10.0.0.2.
        let mut frame = vec![0u8; 60];
        frame[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame[14] = 0x45;
        frame[16..18].copy_from_slice(&46u16.to_be_bytes());
        frame[22] = 64;
        frame[23] = 17;
        frame[26..30].copy_from_slice(&[10, 0, 0, 1]);
        frame[30..34].copy_from_slice(&[10, 0, 0, 2]);
        for i in 0..n {
            let mut epb = Vec::new();
            epb.extend(i.to_le_bytes());
            epb.extend(0u32.to_le_bytes());
            epb.extend((1_000_000 + i).to_le_bytes());
            epb.extend(60u32.to_le_bytes());
            epb.extend(60u32.to_le_bytes());
            epb.extend(&frame);
            block(&mut out, 6, &epb);
        }
        out
    }

    #[test]
    fn interfaces_past_the_cap_are_tallied_not_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("many.pcapng");
        std::fs::write(&path, many_interfaces(1000)).expect("write");
        let mut engine = Engine::new(Limits { max_interfaces: 64, ..Limits::default() });
        let errors = engine.read_files(std::slice::from_ref(&path), &mut NoProgress);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(engine.interfaces.len(), 64);
        assert_eq!(engine.over_cap, OverCap { interfaces: 936, frames: 936, bytes: 936 * 60 });
        let counted: u64 = engine.interfaces.iter().map(|i| i.stats.packets).sum();
        assert_eq!(counted, 64);
    }
}
