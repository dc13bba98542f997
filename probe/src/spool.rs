//! The on-disk spool: every batch is written here (atomically, fsynced) before it is sent, and
//! removed only when the controller acknowledges it, so a dead link, a dead controller or a
//! probe restart loses nothing and batches go out in sequence order.
//!
//! Layout of the spool directory: `state.json` (next sequence number, the replay run in
//! progress, drop counters) and one `<seq>.batch` file per unacknowledged batch holding its
//! encoded frame. Writes go to a temporary name, are fsynced, then renamed.
//!
//! Bounds: total bytes and age. A live probe over the bound drops its *oldest* batches and
//! counts them (reported to the controller in every Hello and Batch); a file replay never
//! drops: it waits for acknowledgements instead ([`Spool::has_room`]).
//!
//! A batch file that cannot be read or does not hold a whole batch frame of its own sequence
//! number (disk damage, a truncated copy, a stray file) would block delivery for ever: it is
//! moved to `quarantine/` inside the spool, logged, counted as dropped (so the controller sees
//! it in the spool status) and as quarantined (`state.json`), and delivery goes on.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use wirewatch_wire::{Batch, SpoolStatus};

/// Spool failures (all I/O on the spool directory, or a damaged state file).
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("spool state {path} is damaged: {source}")]
    State { path: PathBuf, source: serde_json::Error },
    #[error("cannot encode batch {seq}: {source}")]
    Encode { seq: u64, source: wirewatch_wire::WireError },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.to_path_buf(), source }
}

/// Spool bounds.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_bytes: u64,
    pub max_age: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { max_bytes: 1 << 30, max_age: Duration::from_secs(7 * 24 * 3600) }
    }
}

/// A file replay in progress: its batches are numbered `base + index`, so a restarted probe
/// that reads the same files again produces the same numbers and skips what it already spooled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Run {
    pub key: String,
    pub base: u64,
    /// Batches of this run already spooled.
    pub produced: u64,
    /// The last batch of the run is spooled.
    pub complete: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    next_seq: u64,
    run: Option<Run>,
    dropped_batches: u64,
    dropped_bytes: u64,
    last_dropped_seq: Option<u64>,
    /// Batch files moved to `quarantine/` (also counted as dropped).
    #[serde(default)]
    quarantined_batches: u64,
    /// The latest interval end of a batch spooled with the next number (live capture, looping
    /// replay): where a restarted looping replay starts.
    #[serde(default)]
    last_end_ns: u64,
}

/// The spool. Not thread-safe by itself: the uplink shares it behind a mutex.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    bounds: Bounds,
    state: State,
    /// seq → (size, written at)
    files: BTreeMap<u64, (u64, SystemTime)>,
    bytes: u64,
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}.batch")
}

/// The batch in `data` if it is one whole batch frame numbered `seq`.
fn check_frame(seq: u64, data: &[u8]) -> Result<Batch, String> {
    match wirewatch_wire::decode::<wirewatch_wire::ProbeMessage>(data, data.len()) {
        Ok(wirewatch_wire::ProbeMessage::Batch(b)) if b.seq == seq => Ok(b),
        Ok(wirewatch_wire::ProbeMessage::Batch(b)) => Err(format!("holds batch {} instead", b.seq)),
        Ok(_) => Err("not a batch".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<(), SpoolError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(data).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Spool {
    /// Opens (or creates) a spool directory and finds the batches left in it.
    pub fn open(dir: &Path, bounds: Bounds) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let state_path = dir.join("state.json");
        let state = match fs::read(&state_path) {
            Ok(b) => {
                serde_json::from_slice(&b).map_err(|source| SpoolError::State { path: state_path.clone(), source })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io(&state_path)(e)),
        };
        let mut files = BTreeMap::new();
        let mut bytes = 0;
        for e in fs::read_dir(dir).map_err(io(dir))? {
            let e = e.map_err(io(dir))?;
            let name = e.file_name();
            let Some(seq) = name.to_str().and_then(|n| n.strip_suffix(".batch")).and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let meta = e.metadata().map_err(io(&e.path()))?;
            files.insert(seq, (meta.len(), meta.modified().unwrap_or_else(|_| SystemTime::now())));
            bytes += meta.len();
        }
        let mut s = Spool { dir: dir.to_path_buf(), bounds, state, files, bytes };
        // A state file older than the batches (crash between the two writes) must not reuse
        // their numbers.
        if let Some((&last, _)) = s.files.iter().next_back() {
            s.state.next_seq = s.state.next_seq.max(last + 1);
        }
        Ok(s)
    }

    fn save(&self) -> Result<(), SpoolError> {
        let b = serde_json::to_vec(&self.state)
            .map_err(|source| SpoolError::State { path: self.dir.join("state.json"), source })?;
        write_atomic(&self.dir, "state.json", &b)
    }

    /// Starts or resumes the replay run `key`. A run of the same key that did not complete
    /// is resumed (its numbering is kept); anything else starts a new run.
    pub fn begin_run(&mut self, key: &str) -> Result<Run, SpoolError> {
        match &self.state.run {
            Some(r) if r.key == key && !r.complete => {}
            _ => {
                self.state.run =
                    Some(Run { key: key.to_string(), base: self.state.next_seq, produced: 0, complete: false });
                self.save()?;
            }
        }
        Ok(self.state.run.clone().unwrap_or(Run { key: key.into(), base: 0, produced: 0, complete: false }))
    }

    /// Whether a completed run of `key` still has batches waiting (then there is nothing to
    /// read again, only to deliver).
    pub fn run_complete(&self, key: &str) -> bool {
        self.state.run.as_ref().is_some_and(|r| r.key == key && r.complete)
    }

    /// Spools batch number `index` of the current run (numbered `base + index`). Returns
    /// false when that batch was spooled before (a resumed run re-reading its files).
    pub fn put_run_batch(&mut self, index: u64, batch: &mut Batch, last: bool) -> Result<bool, SpoolError> {
        let Some(run) = self.state.run.clone() else { return Ok(false) };
        if index < run.produced {
            return Ok(false);
        }
        batch.seq = run.base + index;
        self.write_batch(batch)?;
        self.state.next_seq = self.state.next_seq.max(batch.seq + 1);
        if let Some(r) = self.state.run.as_mut() {
            r.produced = index + 1;
            r.complete = last;
        }
        self.save()?;
        Ok(true)
    }

    /// The latest interval end of the batches spooled with [`Spool::put`] (0: none).
    pub fn last_interval_end(&self) -> u64 {
        self.state.last_end_ns
    }

    /// Makes the numbers given from now on come after `seq`, the controller's last committed
    /// batch of this probe: a spool that was lost or made anew must not number new traffic
    /// with numbers the controller holds (it would take those batches for copies and drop
    /// them). Returns whether the next number moved.
    pub fn number_after(&mut self, seq: u64) -> Result<bool, SpoolError> {
        if self.state.next_seq > seq {
            return Ok(false);
        }
        self.state.next_seq = seq.saturating_add(1);
        self.save()?;
        Ok(true)
    }

    /// Spools a batch with the next sequence number (live capture), then enforces the bounds
    /// by dropping the oldest batches.
    pub fn put(&mut self, batch: &mut Batch) -> Result<u64, SpoolError> {
        batch.seq = self.state.next_seq;
        self.write_batch(batch)?;
        self.state.next_seq += 1;
        self.state.last_end_ns = self.state.last_end_ns.max(batch.interval_end_ns);
        self.enforce_bounds(batch.seq)?;
        self.save()?;
        Ok(batch.seq)
    }

    fn write_batch(&mut self, batch: &mut Batch) -> Result<(), SpoolError> {
        batch.spool = self.status();
        let msg = wirewatch_wire::ProbeMessage::Batch(batch.clone());
        let data = wirewatch_wire::encode(&msg).map_err(|source| SpoolError::Encode { seq: batch.seq, source })?;
        write_atomic(&self.dir, &file_name(batch.seq), &data)?;
        self.files.insert(batch.seq, (data.len() as u64, SystemTime::now()));
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn enforce_bounds(&mut self, keep: u64) -> Result<(), SpoolError> {
        let now = SystemTime::now();
        while let Some((&seq, &(size, at))) = self.files.iter().next() {
            let too_big = self.bytes > self.bounds.max_bytes;
            let too_old = now.duration_since(at).unwrap_or_default() > self.bounds.max_age;
            if seq == keep || !(too_big || too_old) {
                break;
            }
            self.remove(seq)?;
            self.state.dropped_batches += 1;
            self.state.dropped_bytes += size;
            self.state.last_dropped_seq = Some(seq);
            tracing::warn!(seq, size, "spool over its bounds: oldest batch dropped");
        }
        Ok(())
    }

    /// Drops batches past the age bound (called periodically by a live probe).
    pub fn expire(&mut self) -> Result<(), SpoolError> {
        let newest = self.files.keys().next_back().copied().unwrap_or(u64::MAX);
        let before = self.state.dropped_batches;
        self.enforce_bounds(newest)?;
        if self.state.dropped_batches != before {
            self.save()?;
        }
        Ok(())
    }

    fn remove(&mut self, seq: u64) -> Result<(), SpoolError> {
        if let Some((size, _)) = self.files.remove(&seq) {
            self.bytes -= size;
            let p = self.dir.join(file_name(seq));
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
        }
        Ok(())
    }

    /// The oldest unacknowledged batch: its sequence number and encoded frame, carrying the
    /// spool's status as of now (not as of spooling, so the controller learns of drops and
    /// quarantines at once). A damaged batch file on the way is quarantined (see the module
    /// documentation) and skipped.
    pub fn oldest(&mut self) -> Result<Option<(u64, Vec<u8>)>, SpoolError> {
        while let Some((&seq, _)) = self.files.iter().next() {
            let p = self.dir.join(file_name(seq));
            let problem = match fs::read(&p) {
                Ok(data) => match check_frame(seq, &data) {
                    Ok(mut b) => {
                        b.spool = self.status();
                        let msg = wirewatch_wire::ProbeMessage::Batch(b);
                        let frame = wirewatch_wire::encode(&msg).unwrap_or(data);
                        return Ok(Some((seq, frame)));
                    }
                    Err(why) => why,
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Gone behind our back: nothing to send or to keep.
                    self.remove(seq)?;
                    continue;
                }
                Err(e) => format!("unreadable: {e}"),
            };
            self.quarantine(seq, &problem)?;
        }
        Ok(None)
    }

    /// Moves batch `seq`'s file to `quarantine/` and counts it (also as dropped).
    pub fn quarantine(&mut self, seq: u64, problem: &str) -> Result<(), SpoolError> {
        let qdir = self.dir.join("quarantine");
        fs::create_dir_all(&qdir).map_err(io(&qdir))?;
        let from = self.dir.join(file_name(seq));
        let to = qdir.join(file_name(seq));
        if let Err(e) = fs::rename(&from, &to) {
            // Cannot keep it aside: it must still not block delivery.
            tracing::warn!(seq, error = %e, "cannot move a damaged batch to quarantine; deleting it");
        }
        let size = self.files.get(&seq).map(|f| f.0).unwrap_or(0);
        self.remove(seq)?;
        self.state.dropped_batches += 1;
        self.state.dropped_bytes += size;
        self.state.last_dropped_seq = Some(seq);
        self.state.quarantined_batches += 1;
        self.save()?;
        tracing::error!(seq, size, problem, quarantine = %to.display(), "damaged spool batch quarantined; delivery goes on");
        Ok(())
    }

    /// Batch files moved to `quarantine/` since the spool was created.
    pub fn quarantined(&self) -> u64 {
        self.state.quarantined_batches
    }

    /// The controller committed `seq`.
    pub fn ack(&mut self, seq: u64) -> Result<(), SpoolError> {
        self.remove(seq)
    }

    /// The controller will never take `seq` (a permanent rejection): count it as dropped.
    pub fn discard(&mut self, seq: u64) -> Result<(), SpoolError> {
        if let Some(&(size, _)) = self.files.get(&seq) {
            self.remove(seq)?;
            self.state.dropped_batches += 1;
            self.state.dropped_bytes += size;
            self.state.last_dropped_seq = Some(seq);
            self.save()?;
        }
        Ok(())
    }

    /// Whether a replay may spool another batch of about `next` bytes without passing the
    /// byte bound (a replay waits instead of dropping). An empty spool always has room.
    pub fn has_room(&self, next: u64) -> bool {
        self.files.is_empty() || self.bytes + next <= self.bounds.max_bytes
    }

    pub fn status(&self) -> SpoolStatus {
        SpoolStatus {
            pending_batches: self.files.len() as u64,
            pending_bytes: self.bytes,
            dropped_batches: self.state.dropped_batches,
            dropped_bytes: self.state.dropped_bytes,
            last_dropped_seq: self.state.last_dropped_seq,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        Batch { seq: 0, interval_start_ns: 1, interval_end_ns: 2, spool: SpoolStatus::default(), interfaces: vec![] }
    }

    #[test]
    fn batches_survive_reopen_in_order_until_acked() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = Spool::open(d.path(), Bounds::default()).expect("open");
        for _ in 0..3 {
            s.put(&mut batch()).expect("put");
        }
        s.ack(0).expect("ack");
        drop(s);
        let mut s = Spool::open(d.path(), Bounds::default()).expect("reopen");
        assert_eq!(s.oldest().expect("read").map(|(q, _)| q), Some(1));
        assert_eq!(s.quarantined(), 0);
        assert_eq!(s.put(&mut batch()).expect("put"), 3, "numbers continue after a restart");
        assert_eq!(s.status().pending_batches, 3);
    }

    #[test]
    fn a_live_spool_drops_its_oldest_past_the_byte_bound_and_counts_them() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = Spool::open(d.path(), Bounds { max_bytes: 100, max_age: Duration::from_secs(60) }).expect("open");
        for _ in 0..10 {
            s.put(&mut batch()).expect("put");
        }
        let st = s.status();
        assert!(st.pending_bytes <= 100, "{st:?}");
        assert_eq!(st.dropped_batches + st.pending_batches, 10);
        assert!(st.dropped_batches > 0);
        assert_eq!(st.last_dropped_seq, Some(st.dropped_batches - 1));
    }

    #[test]
    fn a_resumed_run_keeps_its_numbers_and_skips_what_it_spooled() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = Spool::open(d.path(), Bounds::default()).expect("open");
        s.put(&mut batch()).expect("an earlier live batch");
        let r = s.begin_run("files-a").expect("run");
        assert_eq!((r.base, r.produced), (1, 0));
        assert!(s.put_run_batch(0, &mut batch(), false).expect("put"));
        assert!(s.put_run_batch(1, &mut batch(), false).expect("put"));
        drop(s);
        let mut s = Spool::open(d.path(), Bounds::default()).expect("reopen");
        let r = s.begin_run("files-a").expect("resume");
        assert_eq!((r.base, r.produced), (1, 2));
        assert!(!s.put_run_batch(1, &mut batch(), false).expect("skip"));
        let mut b = batch();
        assert!(s.put_run_batch(2, &mut b, true).expect("put"));
        assert_eq!(b.seq, 3);
        assert!(s.run_complete("files-a"));
        let r = s.begin_run("files-b").expect("another run");
        assert_eq!(r.base, 4);
    }

    #[test]
    fn numbers_after_the_controllers_last_survive_a_lost_spool() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = Spool::open(d.path(), Bounds::default()).expect("open");
        assert_eq!(s.put(&mut batch()).expect("put"), 0);
        // The controller holds batches up to 41 from this probe's earlier spool.
        assert!(s.number_after(41).expect("after"));
        assert_eq!(s.put(&mut batch()).expect("put"), 42);
        assert!(!s.number_after(41).expect("after"), "already past it");
        assert!(!s.number_after(10).expect("after"));
        drop(s);
        let mut s = Spool::open(d.path(), Bounds::default()).expect("reopen");
        assert_eq!(s.put(&mut batch()).expect("put"), 43, "kept in the state file");
    }

    #[test]
    fn damaged_batch_files_are_quarantined_and_delivery_goes_on() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut s = Spool::open(d.path(), Bounds::default()).expect("open");
        for _ in 0..5 {
            s.put(&mut batch()).expect("put");
        }
        // 1: garbage; 2: cut short; 3: a valid frame of another batch.
        fs::write(d.path().join(file_name(1)), b"not a batch at all").expect("garbage");
        let two = fs::read(d.path().join(file_name(2))).expect("read");
        fs::write(d.path().join(file_name(2)), &two[..two.len() - 3]).expect("truncate");
        fs::copy(d.path().join(file_name(4)), d.path().join(file_name(3))).expect("copy");
        drop(s);
        let mut s = Spool::open(d.path(), Bounds::default()).expect("reopen");
        let mut delivered = Vec::new();
        while let Some((seq, frame)) = s.oldest().expect("oldest") {
            assert!(check_frame(seq, &frame).is_ok());
            delivered.push(seq);
            s.ack(seq).expect("ack");
        }
        assert_eq!(delivered, vec![0, 4]);
        assert_eq!(s.quarantined(), 3);
        let st = s.status();
        assert_eq!((st.dropped_batches, st.last_dropped_seq, st.pending_batches), (3, Some(3), 0));
        let mut q: Vec<String> = fs::read_dir(d.path().join("quarantine"))
            .expect("quarantine dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
            .collect();
        q.sort();
        assert_eq!(q, vec![file_name(1), file_name(2), file_name(3)]);
        drop(s);
        // The counts survive a restart.
        let s = Spool::open(d.path(), Bounds::default()).expect("reopen");
        assert_eq!(s.quarantined(), 3);
        assert!(s.is_empty());
    }
}
