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
    /// The first interval starts no earlier than this (packet time; see
    /// [`Engine::start_intervals_at`]).
    floor_ns: u64,
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
    /// Called before a frame is counted (the tables as they are, for queries while pacing);
    /// returns the packet time to count the frame at (a looping replay moves it to now). A
    /// frame for which [`Hooks::stopped`] is true afterwards is not counted.
    fn before_frame(&mut self, _interfaces: &mut [Interface], ts_ns: u64) -> u64 {
        ts_ns
    }
    /// Called when packet time reaches `end_ns`, before the first frame at or past it is
    /// counted, and once more after the last frame (with `last` set).
    fn interval_end(&mut self, _interfaces: &mut [Interface], _start_ns: u64, _end_ns: u64, _last: bool) {}
    /// Called every few thousand frames (to answer queries while a long replay runs).
    fn poll(&mut self, _interfaces: &mut [Interface]) {}
    /// A stop was requested: reading ends early (and no last interval is cut, unless
    /// [`Hooks::cut_at_stop`]).
    fn stopped(&self) -> bool {
        false
    }
    /// Every file was read once more (`pass` from 0; `frames` read in this pass, `errors` of
    /// this pass): whether to read them all again (a looping replay). Not called once stopped.
    fn pass_end(&mut self, _interfaces: &mut [Interface], _pass: u64, _frames: u64, _errors: &[ReadError]) -> bool {
        false
    }
    /// Whether the interval in progress is cut (with `last` set) when reading ends on a stop.
    fn cut_at_stop(&self) -> bool {
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
        Engine {
            interfaces: Vec::new(),
            limits,
            interval: (0, 0),
            track_changes: false,
            over_cap: OverCap::default(),
            floor_ns: 0,
        }
    }

    /// The first interval starts at `ns` at the earliest (it still ends where an aligned one
    /// would): a looping replay restarted within an interval it already sent does not send an
    /// interval overlapping that one.
    pub fn start_intervals_at(&mut self, ns: u64) {
        self.floor_ns = ns;
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

    /// [`Engine::read_files`] with hooks that pace the replay and cut intervals, and read the
    /// files again for as long as [`Hooks::pass_end`] asks. The errors returned are the first
    /// pass's, and the last pass's if it was another (a looping replay reads the same files
    /// for ever: its errors are the hooks' to report as they come).
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
        // Per file: its interfaces → engine interfaces, kept over passes (a file read again
        // counts into the interfaces it made the first time).
        let mut maps: Vec<Vec<Option<usize>>> = vec![Vec::new(); paths.len()];
        let mut pass = 0u64;
        loop {
            let before = self.frames_seen();
            let mut pass_errors = Vec::new();
            for (path, map) in paths.iter().zip(maps.iter_mut()) {
                if hooks.stopped() {
                    break;
                }
                let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                progress.file_started(path, size);
                if let Err(e) = self.read_one(path, map, &mut ring, progress, hooks) {
                    pass_errors.push(e);
                }
                progress.file_done();
            }
            let frames = self.frames_seen() - before;
            let again = !hooks.stopped() && hooks.pass_end(&mut self.interfaces, pass, frames, &pass_errors);
            if pass == 0 || !again {
                errors.extend(pass_errors);
            }
            if !again {
                break;
            }
            pass += 1;
        }
        for i in &mut self.interfaces {
            i.finish();
        }
        if hooks.interval_ns() > 0 && (!hooks.stopped() || hooks.cut_at_stop()) {
            let (start, end) = self.interval;
            hooks.interval_end(&mut self.interfaces, start, end, true);
        }
        errors
    }

    /// Frames read so far, counted or left out by the interface cap.
    fn frames_seen(&self) -> u64 {
        self.interfaces.iter().map(|i| i.stats.packets).sum::<u64>() + self.over_cap.frames
    }

    /// Accounts one prepared frame, cutting the interval first if the frame is past its end.
    #[inline]
    fn account_frame(&mut self, idx: usize, p: &Prepared, hooks: &mut dyn Hooks) {
        let every = hooks.interval_ns();
        if every > 0 {
            let ts = p.ts_ns;
            if self.interval.1 == 0 {
                let start = ts - ts % every;
                self.interval = (start.max(self.floor_ns.min(ts)), start + every);
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
        map: &mut Vec<Option<usize>>,
        ring: &mut [(usize, Prepared)],
        progress: &mut dyn Progress,
        hooks: &mut dyn Hooks,
    ) -> Result<(), ReadError> {
        let mut reader = FileReader::open(path)?;
        // `map`: file interface index → engine interface index (made on its first frame).
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
            let ts = hooks.before_frame(&mut self.interfaces, f.ts_ns);
            if hooks.stopped() {
                break;
            }
            let slot = &mut ring[head % RING];
            slot.0 = idx;
            self.interfaces[idx].prepare(ts, f.wire_len, f.data, &mut slot.1);
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
        // Interfaces declared without packets still appear in the report (once: the map
        // remembers them for the next pass of a looping replay).
        for (i, ifc) in reader.interfaces().iter().enumerate() {
            if map.get(i).copied().flatten().is_none() {
                let idx = if self.interfaces.len() >= self.limits.max_interfaces {
                    self.over_cap.interfaces += 1;
                    REFUSED
                } else {
                    self.add_interface(ifc.name.clone(), ifc.link_type)
                };
                if map.len() <= i {
                    map.resize(i + 1, None);
                }
                map[i] = Some(idx);
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
