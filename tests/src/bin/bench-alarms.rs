//! `scripts/bench-alarms`: rrdAlarm's check and the archive writer (release build). Prints
//! figures; asserts no timing.
//!
//! 1. One check of `--thresholds` thresholds over as many RRD files (written like the
//!    archiver's host files: ABSOLUTE counts at a 10 s step, `--hours` of known values ending
//!    now; every other threshold fires): `wirewatch_alarm::check` with librrd's fetch, the
//!    median of `--runs` runs and files/s (ntop's reference: 28 files in 0.08 s; target 1,000
//!    in under 1 s); then once the whole controller path, `wirewatch-controller alarm check
//!    --format json` against a private PostgreSQL, the thresholds imported with `alarm import`.
//! 2. The archive writer against ingest, in one run: `--probes` probes' batches of
//!    `--archived-hosts` hosts in all written through the store's ingest (`write_batch`, as the
//!    controller's writers do; host rows/s), then the archiver's passes over them
//!    (`Archiver::sync`, every host archived: 4 files each): the first pass (files made, every
//!    interval so far) and a steady pass (one more interval per file), RRD updates/s, and the
//!    ratio to ingest's host rows/s; and the steady pass's file work alone (librrd: each host
//!    file's last update read and one interval appended), to tell librrd's share from the
//!    store's.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use wirewatch_alarm::config::ConfigFile;
use wirewatch_alarm::{RearmState, RrdFetch};
use wirewatch_e2e::*;
use wirewatch_rrd::files::{Kind, Point, append};

const STEP: i64 = 10;

/// The file threshold `i` watches (as the archiver names a host's file).
fn file_of(i: u64) -> String {
    format!("bench/hosts/10.{}.{}.{}/bytesSent.rrd", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

/// ntop's config file: threshold `i` (1-based IDs) on file `i`, over the last `hours`; the
/// even ones fire (above 50 B/s: every file carries 90–110 B/s), the odd ones never do (above
/// 10⁹), so the odd ones scan their whole window.
fn config(n: u64, hours: u64) -> String {
    let mut s = String::from("#rrdAlarmConfig File. bench-alarms\n");
    for i in 0..n {
        let value = if i % 2 == 0 { "50" } else { "1e9" };
        s.push_str(&format!("{}\t{}\tabove\t{value}\t3\tnow-{hours}h\tnow\tNone\t \t0\n", i + 1, file_of(i)));
    }
    s
}

/// `n` host files under `root` with `hours` of 10 s counts ending at the last step boundary
/// before now (each interval ~1000 bytes: 90–110 B/s).
fn write_files(root: &Path, n: u64, hours: u64) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let last = now / STEP * STEP;
    let count = (hours as i64 * 3600) / STEP;
    for i in 0..n {
        let points: Vec<Point> = (0..count)
            .map(|k| {
                let end = last - STEP * (count - 1 - k);
                Point { start: end - STEP, end, value: 1000.0 + ((k + i as i64) % 21 - 10) as f64 * 10.0 }
            })
            .collect();
        append(&root.join(file_of(i)), Kind::Count, STEP as u64, &points)?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn du(path: &Path) -> String {
    Command::new("du")
        .args(["-sh"])
        .arg(path)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn check_bench(thresholds: u64, hours: u64, runs: u64) -> Result<()> {
    let pg = Pg::start();
    let url = pg.create_db("alarms");
    let dir = scratch();
    let data = dir.path().join("ctl");
    let root = data.join("rrd");
    let t = Instant::now();
    write_files(&root, thresholds, hours)?;
    println!(
        "check: {thresholds} files of {hours} h at {STEP} s ({} values each) written in {:.1} s ({} on disk)",
        hours * 3600 / STEP as u64,
        t.elapsed().as_secs_f64(),
        du(&root)
    );
    let text = config(thresholds, hours);
    let file = ConfigFile::parse(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let list: Vec<_> = file.thresholds().cloned().collect();

    // The library call, as the controller makes it (fresh re-arm state each run).
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let mut state = RearmState::new();
        let t = Instant::now();
        let r = wirewatch_alarm::check(&root, &list, &RrdFetch, SystemTime::now(), &mut state);
        times.push(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    let r = last.context("no run")?;
    anyhow::ensure!(r.files_checked as u64 == thresholds, "checked {} files of {thresholds}", r.files_checked);
    anyhow::ensure!(r.alarms_fired as u64 == thresholds.div_ceil(2), "{} fired", r.alarms_fired);
    let m = median(times.clone());
    println!(
        "check (wirewatch_alarm::check, RrdFetch): {} thresholds, {} files, {} fired: median {:.3} s of {runs} runs ({}) = {:.0} files/s",
        thresholds,
        r.files_checked,
        r.alarms_fired,
        m,
        times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(" "),
        r.files_checked as f64 / m
    );
    println!(
        "  ntop's reference: 28 files in 0.08 s = 350 files/s; target 1,000 files in < 1 s: {}",
        if thresholds >= 1000 && m < 1.0 {
            "met"
        } else if thresholds >= 1000 {
            "NOT met"
        } else {
            "(fewer than 1,000 files here)"
        }
    );

    // The whole controller path: a process, PostgreSQL (thresholds and re-arm state read, the
    // firings and the run saved), the report as JSON.
    let cli = |args: &[&str], input: Option<&str>| -> Result<String> {
        use std::io::Write;
        let mut child = Command::new(bin("wirewatch-controller"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env("DATABASE_URL", &url)
            .env("WIREWATCH_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()?;
        child.stdin.take().context("stdin")?.write_all(input.unwrap_or("").as_bytes())?;
        let out = child.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "wirewatch-controller {args:?} failed");
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    };
    cli(&["alarm", "import", "-"], Some(&text))?;
    let t = Instant::now();
    let out = cli(&["alarm", "check", "--format", "json"], None)?;
    let wall = t.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_str(&out)?;
    println!(
        "check (wirewatch-controller alarm check --format json): {} files, {} fired; the check {:.3} s (its duration_ms), the process {:.3} s wall ({} bytes of JSON)",
        v["files_checked"],
        v["alarms_fired"],
        v["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0,
        wall,
        out.len()
    );
    drop(pg);
    Ok(())
}

/// Every `<probe>/hosts/<host>/<file>.rrd` below `root`.
fn host_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let dirs = |d: &Path| std::fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.path()).collect::<Vec<_>>();
    for probe in dirs(root) {
        for host in dirs(&probe.join("hosts")) {
            out.extend(dirs(&host).into_iter().filter(|f| f.extension().is_some_and(|x| x == "rrd")));
        }
    }
    out.sort();
    out
}

fn archive_bench(probes: u64, hosts: u64, intervals: u64, writers: u64) -> Result<()> {
    let per_probe = u32::try_from(hosts.div_ceil(probes))?;
    let pg = Pg::start();
    let url = pg.create_db("archive");
    let dir = scratch();
    let root = dir.path().join("rrd");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let store = wirewatch_store::Store::connect(wirewatch_store::parse_url(&url)?, writers as u32 + 2).await?;
        store.migrate().await?;
        let mut ids = Vec::new();
        for p in 0..probes {
            ids.push(store.enroll(&format!("bench{p}"), "bench", &[p as u8; 32], false).await?.id);
        }
        // Each probe's batches in order (one writer per probe at a time, as its connection
        // is), `writers` probes at once.
        let ingest = |from: u64, to: u64| {
            let store = store.clone();
            let ids = ids.clone();
            async move {
                let t = Instant::now();
                let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(writers as usize));
                let mut set = tokio::task::JoinSet::new();
                for id in ids {
                    let (store, sem) = (store.clone(), sem.clone());
                    set.spawn(async move {
                        let _permit = sem.acquire_owned().await?;
                        for seq in from..to {
                            let b = bench_batch(seq, per_probe, 1_700_000_000_000_000_000 + seq * 10_000_000_000);
                            store.write_batch(id, "bench", &b).await?;
                        }
                        anyhow::Ok(())
                    });
                }
                while let Some(r) = set.join_next().await {
                    r??;
                }
                let rows = (to - from) * probes * u64::from(per_probe);
                anyhow::Ok((rows, t.elapsed().as_secs_f64()))
            }
        };
        let (rows, secs) = ingest(0, intervals).await?;
        let ingest_rate = rows as f64 / secs;
        println!(
            "archive: ingest (Store::write_batch, {writers} writers): {probes} probes × {per_probe} hosts × {intervals} intervals = {rows} host rows in {secs:.1} s = {ingest_rate:.0} host rows/s"
        );
        let cfg = wirewatch_rrd::RrdConfig {
            // Every host archived; a 60 s step keeps the files at ~90 KB (10 s: ~260 KB).
            hosts_top_n: per_probe,
            host_dirs_max: per_probe as usize + 1,
            settle_secs: 0,
            step_secs: 60,
            ..Default::default()
        };
        let archiver = wirewatch_rrd::Archiver::new(store.clone(), cfg, root.clone());
        let t = Instant::now();
        let first = archiver.sync().await?;
        let s1 = t.elapsed().as_secs_f64();
        anyhow::ensure!(first.errors == 0, "{first:?}");
        println!(
            "archive: first pass: {} files made, {} intervals written in {s1:.1} s = {:.0} RRD updates/s ({} on disk)",
            first.files_created,
            first.intervals_written,
            first.intervals_written as f64 / s1,
            du(&root)
        );
        // One more interval everywhere, then the pass every update_every_secs makes.
        let (rows2, secs2) = ingest(intervals, intervals + 1).await?;
        let t = Instant::now();
        let steady = archiver.sync().await?;
        let s2 = t.elapsed().as_secs_f64();
        anyhow::ensure!(steady.errors == 0, "{steady:?}");
        let steady_rate = steady.intervals_written as f64 / s2;
        println!(
            "archive: steady pass (one interval more, {rows2} host rows ingested in {secs2:.1} s): {} intervals written in {s2:.2} s = {steady_rate:.0} RRD updates/s",
            steady.intervals_written
        );
        // The same per-file work without the store: each host file's last update read and one
        // interval appended (librrd alone: what the pass cannot do faster).
        let files = host_files(&root);
        let t = Instant::now();
        let n = tokio::task::spawn_blocking(move || -> Result<u64> {
            let mut n = 0;
            for f in &files {
                let last = wirewatch_rrd::files::last_update(f)?.context("a file without updates")?;
                n += append(f, Kind::Count, 60, &[Point { start: last, end: last + 10, value: 1000.0 }])?.written;
            }
            Ok(n)
        })
        .await??;
        let s3 = t.elapsed().as_secs_f64();
        println!(
            "archive: librrd alone (each host file: last update read, one interval appended): {n} in {s3:.2} s = {:.0} RRD updates/s (the steady pass spent {:.0} % of its time outside librrd)",
            n as f64 / s3,
            (1.0 - (s3 / n as f64) / (s2 / steady.intervals_written as f64)).max(0.0) * 100.0
        );
        println!(
            "archive: ratio RRD updates/s ÷ ingest host rows/s = {:.2} steady, {:.2} first pass (an archived host's interval is 4 updates: the archive keeps pace with {:.0} archived host rows/s)",
            steady_rate / ingest_rate,
            first.intervals_written as f64 / s1 / ingest_rate,
            steady_rate / 4.0
        );
        store.close().await;
        anyhow::Ok(())
    })?;
    drop(pg);
    Ok(())
}

fn main() -> Result<()> {
    let thresholds = arg("--thresholds", 1000);
    let hours = arg("--hours", 3);
    let runs = arg("--runs", 5).max(1);
    let probes = arg("--probes", 4).max(1);
    let hosts = arg("--archived-hosts", 10_000);
    let intervals = arg("--intervals", 6).max(1);
    let writers = arg("--writers", 4).max(1);
    let only = std::env::args().skip_while(|a| a != "--only").nth(1).unwrap_or_default();
    let t = Instant::now();
    if only != "archive" {
        check_bench(thresholds, hours, runs)?;
    }
    if only != "check" {
        archive_bench(probes, hosts, intervals, writers)?;
    }
    println!("bench-alarms: {:.0} s in all", t.elapsed().as_secs_f64());
    Ok(())
}
