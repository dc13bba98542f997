//! The check on real RRD files the tests write with librrd (GAUGE, step 60 s, known values),
//! read back through `RrdFetch`, with a fake wall clock.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rrd::ConsolidationFn;
use rrd::ops::create::{Archive, DataSource, DataSourceName};
use rrd::ops::update::{BatchTime, Datum};
use wirewatch_alarm::{CheckReport, Fetch, Outcome, RearmKey, RearmState, RrdFetch, Threshold, check};

const STEP: i64 = 60;
/// 2017-03-31 16:00:00 UTC, step-aligned: files start here.
const T0: i64 = 1_490_976_000;

/// Writes `values` (oldest first) to a new GAUGE file: value `i` covers the minute ending at
/// `T0 + 60 (i + 1)`; `None` is written as unknown. Returns the time of the last value.
fn write_rrd(path: &Path, values: &[Option<f64>]) -> i64 {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let name = DataSourceName::new("gauge").unwrap();
    let ds = DataSource::gauge(&name, 120, None, None);
    let rra = Archive::new(ConsolidationFn::Avg, 0.5, 1, 1440).unwrap();
    let at = |s: i64| UNIX_EPOCH + Duration::from_secs(s as u64);
    rrd::ops::create::create(path, at(T0), Duration::from_secs(STEP as u64), true, None, &[], [&ds], [&rra]).unwrap();
    let updates: Vec<(BatchTime, [Datum; 1])> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let t = T0 + STEP * (i as i64 + 1);
            (BatchTime::Timestamp(at(t)), [v.map_or(Datum::Unspecified, Datum::Float)])
        })
        .collect();
    rrd::ops::update::update_all(path, rrd::ops::update::Options::default(), &updates).unwrap();
    T0 + STEP * values.len() as i64
}

fn clock(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

/// A row's fields in file order (action `savelog alarms.txt` for all).
#[allow(clippy::too_many_arguments)]
fn threshold(
    id: u32,
    glob: &str,
    kind: &str,
    value: &str,
    reps: &str,
    start: &str,
    end: &str,
    rearm: &str,
) -> Threshold {
    let id = id.to_string();
    Threshold::from_fields(&[id.as_str(), glob, kind, value, reps, start, end, "savelog", "alarms.txt", rearm]).unwrap()
}

fn some(v: &[f64]) -> Vec<Option<f64>> {
    v.iter().copied().map(Some).collect()
}

fn outcomes(r: &CheckReport) -> Vec<(u32, String, Outcome)> {
    r.rows.iter().map(|x| (x.threshold_id, x.file.clone(), x.outcome.clone())).collect()
}

/// librrd gives back what was written, each value timed at the end of its minute.
#[test]
fn fetch_reads_the_written_values() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.rrd");
    let last = write_rrd(&f, &[Some(1.0), Some(2.0), None, Some(4.0)]);
    let s = RrdFetch.fetch(&f, T0, last).unwrap();
    assert_eq!(s.step, 60);
    let known: Vec<(i64, Option<f64>)> = s.points.iter().copied().filter(|(t, _)| *t > T0 && *t <= last).collect();
    assert_eq!(known, vec![(T0 + 60, Some(1.0)), (T0 + 120, Some(2.0)), (T0 + 180, None), (T0 + 240, Some(4.0))]);
    assert!(RrdFetch.fetch(&dir.path().join("missing.rrd"), T0, last).is_err());
}

/// The whole fetch (ntop's `rrd_fetch` shape): librrd's start, end and step, the data
/// sources, and one row per step after the start, unknown as NaN; any consolidation by name.
#[test]
fn fetch_table_is_librrds_window() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.rrd");
    let last = write_rrd(&f, &[Some(1.0), Some(2.0), None, Some(4.0)]);
    let t = wirewatch_alarm::fetch_table(&f, ConsolidationFn::Avg, T0, last).unwrap();
    // An end on a step boundary: librrd includes the step that begins there (not written yet).
    assert_eq!((t.start, t.end, t.step), (T0, last + 60, 60));
    assert_eq!(t.names, ["gauge"]);
    assert_eq!(t.row_count(), 5);
    let rows: Vec<Option<f64>> = t.rows().map(|r| Some(r[0]).filter(|v| !v.is_nan())).collect();
    assert_eq!(rows, [Some(1.0), Some(2.0), None, Some(4.0), None]);
    assert_eq!(wirewatch_alarm::consolidation("max"), Some(ConsolidationFn::Max));
    assert_eq!(wirewatch_alarm::consolidation("LAST"), Some(ConsolidationFn::Last));
    assert_eq!(wirewatch_alarm::consolidation("MEDIAN"), None);
    // A file that is not an RRD: librrd's error, naming the file.
    std::fs::write(dir.path().join("bad.rrd"), b"not an rrd").unwrap();
    let e = wirewatch_alarm::fetch_table(&dir.path().join("bad.rrd"), ConsolidationFn::Avg, T0, last).unwrap_err();
    assert!(e.0.contains("bad.rrd"), "{e}");
}

#[test]
fn above_and_below() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Ten minutes: quiet at 100, one spike to 900 at minute 6, one dip to 5 at minute 8.
    let mut v = vec![100.0; 10];
    v[5] = 900.0;
    v[7] = 5.0;
    let now = write_rrd(&root.join("pa/interfaces/eth0/throughput.rrd"), &some(&v));
    let ts = [
        threshold(1, "pa/interfaces/eth0/throughput.rrd", "above", "500", "0", "now-1h", "now", "0"),
        threshold(2, "pa/interfaces/eth0/throughput.rrd", "below", "10", "1", "now-1h", "now", "0"),
        threshold(3, "pa/interfaces/eth0/throughput.rrd", "above", "900", "0", "now-1h", "now", "0"),
        threshold(4, "pa/interfaces/eth0/throughput.rrd", "below", "5", "0", "now-1h", "now", "0"),
    ];
    let mut state = RearmState::new();
    let r = check(root, &ts, &RrdFetch, clock(now), &mut state);
    let file = "pa/interfaces/eth0/throughput.rrd";
    assert_eq!(r.rows.len(), 4);
    assert_eq!(r.rows[0].outcome, Outcome::Fired);
    assert_eq!((r.rows[0].value, r.rows[0].time), (Some(900.0), Some(T0 + 6 * 60)));
    assert_eq!(r.rows[0].action, "savelog");
    assert_eq!(r.rows[0].action_parameter, "alarms.txt");
    assert_eq!(r.rows[1].outcome, Outcome::Fired);
    assert_eq!((r.rows[1].value, r.rows[1].time), (Some(5.0), Some(T0 + 8 * 60)));
    // Equal to the threshold is not beyond it: OK, no value, timed at the window's end.
    assert_eq!(r.rows[2].outcome, Outcome::Ok);
    assert_eq!(r.rows[2].value, None);
    assert!(r.rows[2].time.unwrap() >= now, "{:?}", r.rows[2].time);
    assert_eq!(r.rows[3].outcome, Outcome::Ok);
    assert_eq!((r.files_checked, r.alarms_fired), (4, 2));
    assert!(r.unmatched.is_empty());
    assert_eq!(state.len(), 2);
    assert_eq!(state[&RearmKey { threshold_id: 1, file: file.into() }], clock(now));
    // The seed's report layout.
    let table = r.table();
    assert!(table.starts_with("ID\tFile\tValue\tType\tThreshold\tTime\tAction\tStatus\n"), "{table}");
    assert!(
        table.contains(&format!("1\t{file}\t900.0\tabove\t500.0\tFri, 31 Mar 2017 16:06:00\tsavelog\tALARM FIRED\n")),
        "{table}"
    );
    assert!(table.contains(&format!("3\t{file}\t-\tabove\t900.0\t")), "{table}");
    assert!(table.contains("\tNone\tOK\n"), "{table}");
}

/// A counter of consecutive values beyond the threshold, newest first; a value inside resets
/// it; it fires when it reaches the repetitions, at the value that reached them.
#[test]
fn repetitions_before_firing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Oldest → newest: a run of 5 hot values, one cool, a run of 3 hot (newest).
    let v = [1.0, 50.0, 51.0, 52.0, 53.0, 54.0, 1.0, 60.0, 61.0, 62.0];
    let now = write_rrd(&root.join("x.rrd"), &some(&v));
    let t = |id, reps| threshold(id, "x.rrd", "above", "10", reps, "now-1h", "now", "0");
    let ts = [t(1, "1"), t(2, "3"), t(3, "4"), t(4, "5"), t(5, "6")];
    let r = check(root, &ts, &RrdFetch, clock(now), &mut RearmState::new());
    let fired: Vec<(u32, Option<f64>, Option<i64>)> = r.fired().map(|x| (x.threshold_id, x.value, x.time)).collect();
    assert_eq!(
        fired,
        vec![
            (1, Some(62.0), Some(T0 + 600)),
            (2, Some(60.0), Some(T0 + 480)),
            // The newest run (3) is reset by the cool value; the older run reaches 4, then 5.
            (3, Some(51.0), Some(T0 + 180)),
            (4, Some(50.0), Some(T0 + 120)),
        ]
    );
    assert_eq!(r.rows[4].outcome, Outcome::Ok);
}

/// Re-arm on wall time, per threshold and file: a second firing waits until more than the
/// re-arm time has passed since the first; another file of the same glob is not held.
#[test]
fn rearm_holds_a_second_firing_until_its_time_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let now = write_rrd(&root.join("pa/interfaces/eth0/ethernetBytes.rrd"), &some(&[5.0, 7.0, 9.0]));
    write_rrd(&root.join("pa/interfaces/eth1/ethernetBytes.rrd"), &some(&[0.0, 0.0, 0.0]));
    let ts = [threshold(1, "*/interfaces/*/ethernetBytes.rrd", "above", "0", "0", "now-1h", "now", "600")];
    let mut state = RearmState::new();
    let eth0 = "pa/interfaces/eth0/ethernetBytes.rrd";
    let eth1 = "pa/interfaces/eth1/ethernetBytes.rrd";

    let first = check(root, &ts, &RrdFetch, clock(now), &mut state);
    assert_eq!(outcomes(&first), vec![(1, eth0.into(), Outcome::Fired), (1, eth1.into(), Outcome::Ok)]);
    assert_eq!(first.rows[0].value, Some(9.0));

    // Five minutes later (the fake clock; the hot values are still in the window): held.
    let held = check(root, &ts, &RrdFetch, clock(now + 300), &mut state);
    assert_eq!(held.rows[0].outcome, Outcome::Ok);
    assert!(held.rows[0].held_by_rearm);
    assert_eq!(held.alarms_fired, 0);
    // Exactly the re-arm time: still held (ntop's "elapsed > time before next").
    let at_600 = check(root, &ts, &RrdFetch, clock(now + 600), &mut state);
    assert_eq!(at_600.alarms_fired, 0);
    assert_eq!(state[&RearmKey { threshold_id: 1, file: eth0.into() }], clock(now));

    // Once it has passed, eth1 turns hot too: eth0 fires again, eth1 (never fired) at once.
    write_rrd_more(&root.join(eth1), now, &[3.0]);
    let again = check(root, &ts, &RrdFetch, clock(now + 601), &mut state);
    assert_eq!(outcomes(&again), vec![(1, eth0.into(), Outcome::Fired), (1, eth1.into(), Outcome::Fired)]);
    assert_eq!(state[&RearmKey { threshold_id: 1, file: eth0.into() }], clock(now + 601));
    assert_eq!(state[&RearmKey { threshold_id: 1, file: eth1.into() }], clock(now + 601));

    // Re-arm 0: every check fires.
    let every = [threshold(2, "pa/interfaces/eth0/ethernetBytes.rrd", "above", "0", "0", "now-1h", "now", "0")];
    for k in 0..3 {
        let r = check(root, &every, &RrdFetch, clock(now + 602 + k), &mut state);
        assert_eq!(r.alarms_fired, 1, "check {k}");
    }
}

/// One more minute's value after `last`.
fn write_rrd_more(path: &Path, last: i64, values: &[f64]) {
    let updates: Vec<(BatchTime, [Datum; 1])> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let t = last + STEP * (i as i64 + 1);
            (BatchTime::Timestamp(UNIX_EPOCH + Duration::from_secs(t as u64)), [Datum::Float(*v)])
        })
        .collect();
    rrd::ops::update::update_all(path, rrd::ops::update::Options::default(), &updates).unwrap();
}

#[test]
fn globs_matching_many_files_and_none() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut now = 0;
    let mut want = Vec::new();
    for probe in ["pb", "pa"] {
        for ifname in ["eth1", "eth0", "lo"] {
            let rel = format!("{probe}/interfaces/{ifname}/ethernetBytes.rrd");
            // Only eth0 of each probe is hot.
            let v = if ifname == "eth0" { 2000.0 } else { 10.0 };
            now = write_rrd(&root.join(&rel), &some(&[v, v]));
            want.push((rel, if ifname == "eth0" { Outcome::Fired } else { Outcome::Ok }));
        }
        write_rrd(&root.join(format!("{probe}/interfaces/eth0/ipBytes.rrd")), &some(&[1.0]));
    }
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let ts = [
        threshold(4, "*/interfaces/*/ethernetBytes.rrd", "above", "1000", "0", "now-1h", "now", "0"),
        threshold(5, "*/interfaces/wlan0/*.rrd", "above", "0", "0", "now-1h", "now", "0"),
        threshold(6, "pa/hosts/*/bytesSent.rrd", "above", "0", "0", "now-1h", "now", "0"),
    ];
    let r = check(root, &ts, &RrdFetch, clock(now), &mut RearmState::new());
    let got: Vec<(String, Outcome)> = r.rows.iter().map(|x| (x.file.clone(), x.outcome.clone())).collect();
    assert_eq!(got, want);
    assert!(r.rows.iter().all(|x| x.threshold_id == 4));
    assert_eq!((r.files_checked, r.alarms_fired), (6, 2));
    let unmatched: Vec<(u32, &str)> = r.unmatched.iter().map(|u| (u.threshold_id, u.glob.as_str())).collect();
    assert_eq!(unmatched, vec![(5, "*/interfaces/wlan0/*.rrd"), (6, "pa/hosts/*/bytesSent.rrd")]);
    assert!(r.table().contains("5\t*/interfaces/wlan0/*.rrd\tno file matches\n"));
}

/// The window decides which values are scanned: hot values two hours back fire only for a
/// window that reaches them. librrd fetches whole steps: from the one ending after the start
/// to the one that contains the end (for an end on a step boundary, the step that begins
/// there), as `rrdtool fetch` prints them and as ntop scanned them.
#[test]
fn start_and_end_windows_include_or_exclude_hot_values() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Four hours of minutes; hot (500) from 150 to 120 minutes before the end, else 1.
    let mut v = vec![1.0; 240];
    for x in &mut v[90..120] {
        *x = 500.0;
    }
    let now = write_rrd(&root.join("x.rrd"), &some(&v));
    let hot_newest = T0 + 120 * 60; // the last hot value's time: now - 2h
    let t = |id, start: &str, end: &str| threshold(id, "x.rrd", "above", "100", "0", start, end, "0");
    let epoch_start = (hot_newest - 600).to_string();
    let ts = [
        t(1, "now-1h", "now"),
        t(2, "now-3h", "now"),
        t(3, "now-150min", "now-125min"),
        t(4, "e-30min", "now-80min"),
        t(5, "-10800", "s+25min"),
        t(6, &epoch_start, "s+5min"),
        t(7, "now-10h", "now-5h"),
    ];
    let r = check(root, &ts, &RrdFetch, clock(now), &mut RearmState::new());
    let by_id: Vec<(u32, Outcome, Option<i64>)> =
        r.rows.iter().map(|x| (x.threshold_id, x.outcome.clone(), x.time)).collect();
    assert_eq!(by_id[0].1, Outcome::Ok);
    // The newest hot value fires when the window includes it.
    assert_eq!((by_id[1].1.clone(), by_id[1].2), (Outcome::Fired, Some(hot_newest)));
    // A window that ends before the newest hot value fires at the newest hot one inside it.
    assert_eq!(by_id[2].1, Outcome::Fired);
    assert_eq!(by_id[2].2, Some(now - 125 * 60 + STEP), "{:?}", by_id[2]);
    // Windows that end before the hot values (start relative to the end) or start after them.
    assert_eq!(by_id[3].1, Outcome::Ok);
    assert_eq!(by_id[4].1, Outcome::Ok);
    assert_eq!((by_id[5].1.clone(), by_id[5].2), (Outcome::Fired, Some(hot_newest - 300 + STEP)));
    // Before the file's first value: all unknown, nothing fires.
    assert_eq!(by_id[6].1, Outcome::Ok);
}

/// A file that is not an RRD, and a window that is empty, are rows with their error.
#[test]
fn errors_are_reported_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let now = write_rrd(&root.join("a/good.rrd"), &some(&[1.0]));
    std::fs::write(root.join("a/junk.rrd"), b"not an rrd").unwrap();
    let ts = [
        threshold(1, "a/*.rrd", "above", "0", "0", "now-1h", "now", "0"),
        // The seed's row 2: `now-2m` is two months to rrdtool, so the window is empty.
        threshold(2, "a/good.rrd", "below", "10", "0", "now-5h", "now-2m", "3600"),
    ];
    let r = check(root, &ts, &RrdFetch, clock(now), &mut RearmState::new());
    assert_eq!(r.rows.len(), 3);
    assert_eq!((r.rows[0].file.as_str(), &r.rows[0].outcome), ("a/good.rrd", &Outcome::Fired));
    assert_eq!(r.rows[1].file, "a/junk.rrd");
    assert!(matches!(&r.rows[1].outcome, Outcome::Error(e) if e.contains("junk.rrd")), "{:?}", r.rows[1]);
    assert!(matches!(&r.rows[2].outcome, Outcome::Error(e) if e.contains("months")), "{:?}", r.rows[2]);
    assert_eq!(r.files_checked, 1);
}
