//! The looping replay against captures with weird timestamps, without a controller: what it
//! spools has packet times at now that never go back, whatever the file claims (times going
//! backwards, zero, a gap of years), it sleeps through gaps instead of spinning, stops on
//! request, and reads the same files into the same interfaces pass after pass.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wirewatch_probe::Limits;
use wirewatch_probe::run::{LoopOutcome, replay_loop};
use wirewatch_probe::spool::{Bounds, Spool};
use wirewatch_probe::uplink::Shared;
use wirewatch_wire::{Batch, ProbeMessage};

/// The first `n` frames of demo/lab.pcap, their times replaced by `times` (µs since the epoch).
fn capture(dir: &Path, name: &str, times: &[u64]) -> (PathBuf, u64) {
    let lab = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/lab.pcap")).expect("lab");
    let mut out = lab[..24].to_vec();
    let (mut off, mut bytes) = (24, 0u64);
    for &t in times {
        let incl = u32::from_le_bytes(lab[off + 8..off + 12].try_into().expect("incl")) as usize;
        let orig = u32::from_le_bytes(lab[off + 12..off + 16].try_into().expect("orig"));
        out.extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&lab[off + 8..off + 16 + incl]);
        bytes += u64::from(orig);
        off += 16 + incl;
    }
    let p = dir.join(name);
    std::fs::write(&p, out).expect("write");
    (p, bytes)
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as u64
}

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
    let f: Vec<&str> = stat.rsplit_once(')').expect("comm").1.split_whitespace().collect();
    (f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime")) / 100.0
}

/// Loops `file` for `secs` at `factor`; the outcome, the spooled batches in order, the wall
/// clock before and after, and the CPU time the process used meanwhile.
fn run_for(file: &Path, factor: f64, secs: f64) -> (LoopOutcome, Vec<Batch>, u64, u64, f64) {
    let spool_dir = tempfile::tempdir().expect("spool");
    run_in(spool_dir.path(), file, factor, secs)
}

fn run_in(spool_dir: &Path, file: &Path, factor: f64, secs: f64) -> (LoopOutcome, Vec<Batch>, u64, u64, f64) {
    let shared = Shared::new(Spool::open(spool_dir, Bounds::default()).expect("spool"));
    let (t0, cpu0) = (now_ns(), cpu_secs());
    let s = shared.clone();
    let files = vec![file.to_path_buf()];
    let h = std::thread::spawn(move || replay_loop(&files, Limits::default(), Duration::from_secs(1), factor, s));
    std::thread::sleep(Duration::from_secs_f64(secs));
    shared.stop.store(true, Ordering::Relaxed);
    let stopped = Instant::now();
    let (outcome, errors) = h.join().expect("loop thread");
    assert!(stopped.elapsed() < Duration::from_millis(500), "stopped in {:?}", stopped.elapsed());
    assert!(errors.is_empty(), "{errors:?}");
    let (t1, cpu) = (now_ns(), cpu_secs() - cpu0);
    let mut batches = Vec::new();
    let mut spool = shared.spool.lock().expect("spool");
    while let Some((seq, frame)) = spool.oldest().expect("oldest") {
        match wirewatch_wire::decode::<ProbeMessage>(&frame, frame.len()).expect("batch") {
            ProbeMessage::Batch(b) => batches.push(b),
            other => panic!("{other:?}"),
        }
        spool.ack(seq).expect("ack");
    }
    (outcome, batches, t0, t1, cpu)
}

fn check_intervals(batches: &[Batch], t0: u64, t1: u64) {
    assert!(!batches.is_empty());
    for w in batches.windows(2) {
        assert!(w[1].seq == w[0].seq + 1, "live numbering");
        assert!(w[1].interval_start_ns >= w[0].interval_end_ns, "intervals move forward");
    }
    for b in batches {
        assert!(b.interval_start_ns < b.interval_end_ns);
        assert!(b.interval_start_ns + 1_000_000_000 >= t0 && b.interval_end_ns <= t1 + 1_000_000_000, "{b:?}");
        for i in &b.interfaces {
            for h in &i.hosts {
                assert!(h.last_seen_ns == 0 || (h.last_seen_ns + 1_000_000_000 >= t0 && h.last_seen_ns <= t1), "{h:?}");
            }
        }
    }
}

#[test]
fn times_going_back_or_zero_are_moved_to_now_and_never_go_back() {
    let dir = tempfile::tempdir().expect("tmp");
    // 2.0 s, back to 1.0 s, zero, 2.2 s, 2.3 s: the pass spans 0.3 s of its own time.
    let base = 1_700_000_000_000_000;
    let (file, pass_bytes) =
        capture(dir.path(), "odd.pcap", &[base + 2_000_000, base + 1_000_000, 0, base + 2_200_000, base + 2_300_000]);
    let (out, batches, t0, t1, cpu) = run_for(&file, 1.0, 3.6);
    // A pass spans 0.3 s, so passes start a second apart: 3 or 4 in 3.6 s, not thousands.
    assert!((3..=4).contains(&out.passes), "{out:?}");
    let stored: u64 = batches.iter().flat_map(|b| &b.interfaces).map(|i| i.counters.bytes).sum();
    assert_eq!(stored, out.passes * pass_bytes + out.partial_bytes, "{out:?}");
    assert_eq!(
        batches
            .iter()
            .flat_map(|b| &b.interfaces)
            .map(|i| i.name.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        1,
        "one interface over passes"
    );
    check_intervals(&batches, t0, t1);
    assert!(cpu < 1.0, "{cpu:.2} s of CPU");
}

#[test]
fn a_gap_of_years_is_slept_through_and_a_stop_ends_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = 1_700_000_000_000_000;
    let year = 365 * 86_400 * 1_000_000;
    let (file, _) = capture(dir.path(), "gap.pcap", &[base, base + 100_000, base + 10 * year, base + 10 * year + 1]);
    let (out, batches, t0, t1, cpu) = run_for(&file, 1.0, 1.5);
    assert_eq!((out.passes, out.partial_frames), (0, 2), "{out:?}");
    check_intervals(&batches, t0, t1);
    assert!(cpu < 0.5, "{cpu:.2} s of CPU while waiting");
    // At a tiny speed every offset saturates: still no panic, still a stop.
    let (out, batches, t0, t1, _) = run_for(&file, 1e-300, 1.0);
    assert_eq!((out.passes, out.partial_frames), (0, 1), "{out:?}");
    check_intervals(&batches, t0, t1);
}

#[test]
fn a_restarted_loop_goes_on_after_the_interval_it_stopped_in() {
    let dir = tempfile::tempdir().expect("tmp");
    let spool = tempfile::tempdir().expect("spool");
    let base = 1_700_000_000_000_000;
    // 0.6 s of packets, intervals of 1 s: a stop lands inside an interval most of the time.
    let (file, _) = capture(dir.path(), "short.pcap", &[base, base + 200_000, base + 400_000, base + 600_000]);
    let (_, first, t0, _, _) = run_in(spool.path(), &file, 1.0, 1.3);
    let (_, second, _, t1, _) = run_in(spool.path(), &file, 1.0, 1.3);
    let last = first.last().expect("first run");
    assert!(last.interval_end_ns <= now_ns(), "the stop's interval ends with its last packet: {last:?}");
    assert_eq!(second.first().map(|b| b.seq), Some(last.seq + 1), "numbered on");
    check_intervals(&[first, second].concat(), t0, t1);
}
