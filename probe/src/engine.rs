//! The set of interfaces a probe watches, and the offline driver that feeds capture files
//! through them. Each file interface (one per pcap file, one per pcapng IDB) becomes an
//! [`Interface`] with its own tables.

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
}

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
        Engine { interfaces: Vec::new(), limits, interval: (0, 0), track_changes: false }
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
                    let i = self.add_interface(f.iface.name.clone(), f.iface.link_type);
                    if map.len() <= f.interface {
                        map.resize(f.interface + 1, None);
                    }
                    map[f.interface] = Some(i);
                    i
                }
            };
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
                self.add_interface(ifc.name.clone(), ifc.link_type);
            }
        }
        result
    }
}
