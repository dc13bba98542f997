//! `scripts/bench-ingest`: simulated probes push batches of host rows through real QUIC (mutual
//! TLS) into a controller process and its PostgreSQL; host rows per second end to end (send →
//! commit → ack), and in the same run the floor: a plain `COPY` of the same number of rows of
//! the same width into a table shaped like `hosts`, through psql.
//!
//! Two phases: *saturated* (every probe sends its batches back to back: the ingest ceiling)
//! and *paced* (one batch per probe per interval, as real probes do: the lag from an
//! interval's end to its acknowledgement must stay under one interval).
//!
//! `--viewers N` (off by default) runs only a third measurement: the commit latency of paced
//! batches (send → commit → ack, p50/p99/max) without viewers, then with N viewer threads
//! asking heavy reads over and over (top talkers over a day of raw samples, 1,000-host pages).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wirewatch_e2e::{bench_batch as batch, *};
use wirewatch_probe::uplink::{Identity, client_config};
use wirewatch_wire::*;

async fn exchange(conn: &quinn::Connection, frame: &[u8]) -> Result<ControllerMessage> {
    let (mut s, mut r) = conn.open_bi().await?;
    s.write_all(frame).await?;
    s.finish()?;
    let b = r.read_to_end(64 << 20).await?;
    Ok(wirewatch_wire::decode(&b, 64 << 20)?)
}

/// One simulated probe: Hello, then its batches (back to back, or one per `interval`).
/// Returns per-batch (ack time − due time) and the rows sent.
async fn probe(
    cfg: quinn::ClientConfig,
    addr: SocketAddr,
    batches: u64,
    hosts: u32,
    first_seq: u64,
    paced: Option<(Instant, Duration)>,
) -> Result<Vec<Duration>> {
    let ep = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let conn = ep.connect_with(cfg, addr, "127.0.0.1")?.await?;
    let hello = ProbeMessage::Hello(Hello {
        software_version: "bench".into(),
        os: "bench".into(),
        hostname: "bench".into(),
        uptime_secs: 0,
        interfaces: vec![],
        spool: SpoolStatus::default(),
    });
    anyhow::ensure!(matches!(exchange(&conn, &encode(&hello)?).await?, ControllerMessage::Welcome(_)), "no welcome");
    let mut lags = Vec::new();
    for k in 0..batches {
        let seq = first_seq + k;
        let due = match paced {
            Some((start, every)) => {
                let due = start + every * (k as u32 + 1);
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        let frame = encode(&ProbeMessage::Batch(batch(seq, hosts, 1_700_000_000_000_000_000 + seq * 10_000_000_000)))?;
        loop {
            match exchange(&conn, &frame).await? {
                ControllerMessage::Ack(a) if a.seq == seq => break,
                ControllerMessage::Reject(r) if r.retry => tokio::time::sleep(Duration::from_millis(200)).await,
                other => anyhow::bail!("batch {seq}: {other:?}"),
            }
        }
        lags.push(due.elapsed());
    }
    conn.close(0u32.into(), b"done");
    ep.wait_idle().await;
    Ok(lags)
}

/// psql COPY of the same rows (text or binary, as given) into a fresh plain table shaped like
/// host_samples (same columns and indexes); rows/s.
fn psql_copy(pg: &Pg, table: &str, stmt: &str, data: &[u8], rows: u64) -> Result<f64> {
    pg.psql("ww", &format!("CREATE TABLE {table} (LIKE host_samples INCLUDING DEFAULTS INCLUDING INDEXES)"))?;
    let t = Instant::now();
    let mut child = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "ww",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(["-c", &stmt.replace("COPY host_samples", &format!("COPY {table}"))])
        .stdin(Stdio::piped())
        .spawn()?;
    use std::io::Write;
    child.stdin.take().context("stdin")?.write_all(data)?;
    anyhow::ensure!(child.wait()?.success(), "psql COPY failed");
    let secs = t.elapsed().as_secs_f64();
    let copied = pg.scalar("ww", &format!("SELECT count(*) FROM {table}"));
    anyhow::ensure!(copied as u64 == rows, "copied {copied} of {rows}");
    Ok(rows as f64 / secs)
}

/// The floors: the rows one round of batches carries, COPYed through psql as text and in the
/// binary format the ingest path sends.
fn copy_floor(pg: &Pg, probes: usize, hosts: u32) -> Result<(f64, f64)> {
    let b = batch(0, hosts, 1_700_000_000_000_000_000);
    let h = &b.interfaces[0].hosts;
    let (mut text, mut bin) = (Vec::new(), Vec::new());
    let (mut text_stmt, mut bin_stmt) = (String::new(), String::new());
    for p in 0..probes {
        let (s, t) = wirewatch_store::ingest::samples_copy(
            p as i64 + 1,
            1,
            b.interval_end_ns,
            0,
            chrono::Utc::now().date_naive(),
            h,
        )?;
        text_stmt = s;
        text.extend_from_slice(t.as_bytes());
        let (s, d) = wirewatch_store::ingest::samples_copy_binary(
            p as i64 + 1,
            1,
            b.interval_end_ns,
            0,
            chrono::Utc::now().date_naive(),
            h,
        )?;
        bin_stmt = s;
        // One header (19 bytes) and one trailer (2 bytes) for the whole stream.
        let start = if p == 0 { 0 } else { 19 };
        let end = if p + 1 == probes { d.len() } else { d.len() - 2 };
        bin.extend_from_slice(&d[start..end]);
    }
    let rows = probes as u64 * u64::from(hosts);
    Ok((psql_copy(pg, "floor_text", &text_stmt, &text, rows)?, psql_copy(pg, "floor_binary", &bin_stmt, &bin, rows)?))
}

fn percentiles(lags: &[Duration]) -> (f64, f64, f64) {
    let mut l: Vec<f64> = lags.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    l.sort_by(f64::total_cmp);
    let pct = |q: f64| l.get(((l.len().max(1) - 1) as f64 * q) as usize).copied().unwrap_or(0.0);
    (pct(0.5), pct(0.99), pct(1.0))
}

/// `--viewers N`: ingest commit latency without and with N viewers running heavy queries.
fn viewer_bench(viewers: usize) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let probes = arg("--probes", 4) as usize;
    let hosts = arg("--hosts", 2_000) as u32;
    let batches = arg("--paced-batches", 30);
    let interval = Duration::from_millis(arg("--interval-ms", 500));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let c = Controller::start(
        &dir.path().join("c"),
        &url,
        "bench",
        free_udp_port(),
        &[
            ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WIREWATCH_ROLLUP_EVERY_SECS", "3600"),
            ("WIREWATCH_DATABASE_READ_CONNECTIONS", &arg("--read-connections", 8).to_string()),
            ("WIREWATCH_LOG", &std::env::var("BENCH_CONTROLLER_LOG").unwrap_or_else(|_| "warn".into())),
        ],
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let ids = rt.block_on(enroll_simulated(&url, dir.path(), probes))?;
    let phase = |first_seq: u64| -> Result<Vec<Duration>> {
        let start = Instant::now();
        rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for id in &ids {
                set.spawn(probe(id.clone(), c.quic, batches, hosts, first_seq, Some((start, interval))));
            }
            let mut all = Vec::new();
            while let Some(r) = set.join_next().await {
                all.extend(r??);
            }
            anyhow::Ok(all)
        })
    };
    println!(
        "bench-ingest --viewers {viewers}: {probes} probes, one batch of {hosts} hosts each every {} ms, {batches} batches per phase",
        interval.as_millis()
    );
    // A first phase fills the raw samples the viewers will read.
    let (p50, p99, max) = percentiles(&phase(0)?);
    println!("no viewer:   commit latency (send → commit → ack) p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms");
    let token = login(c.http, "admin", ADMIN_PASSWORD);
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut threads = Vec::new();
    for v in 0..viewers {
        let (stop, done, failed, token, addr) = (stop.clone(), done.clone(), failed.clone(), token.clone(), c.http);
        threads.push(std::thread::spawn(move || {
            let paths =
                ["/api/v1/top-talkers?window=86400&limit=100", "/api/v1/hosts?limit=1000&sort=bytes&order=desc"];
            let mut k = v;
            while !stop.load(Ordering::Relaxed) {
                let r = http(addr, "GET", paths[k % paths.len()], Some(&token), None);
                k += 1;
                if r.status == 200 { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let t = Instant::now();
    let lags = phase(batches)?;
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let (p50, p99, max) = percentiles(&lags);
    println!(
        "{viewers} viewers: commit latency p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; viewers meanwhile: {} reads answered, {} refused or cancelled ({:.1} reads/s)",
        done.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        (done.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed)) as f64 / secs
    );
    let rows = 2 * probes as u64 * batches * u64::from(hosts);
    let stored = pg.scalar("ww", "SELECT count(*) FROM host_samples") as u64;
    anyhow::ensure!(stored == rows, "stored {stored} sample rows of {rows}");
    drop(c);
    Ok(())
}

fn main() -> Result<()> {
    let viewers = arg("--viewers", 0) as usize;
    if viewers > 0 {
        return viewer_bench(viewers);
    }
    let probes = arg("--probes", 100) as usize;
    let hosts = arg("--hosts", 10_000) as u32;
    let batches = arg("--batches", 2);
    let paced_batches = arg("--paced-batches", 3);
    let interval = Duration::from_secs(arg("--interval-secs", 10));
    let writers = arg("--writers", 4);
    let fold_every = arg("--fold-every-secs", 30);
    let _ = rustls::crypto::ring::default_provider().install_default();

    let pg = Pg::start();
    let url = pg.create_db("ww");
    let dir = scratch();
    let c = Controller::start(
        &dir.path().join("c"),
        &url,
        "bench",
        free_udp_port(),
        &[
            ("WIREWATCH_WRITERS", &writers.to_string()),
            ("WIREWATCH_ROLLUP_EVERY_SECS", &fold_every.to_string()),
            // Every simulated probe connects from 127.0.0.1.
            ("WIREWATCH_MAX_CONNECTIONS_PER_ADDRESS", &(probes + 8).to_string()),
            ("WIREWATCH_LOG", &std::env::var("BENCH_CONTROLLER_LOG").unwrap_or_else(|_| "info".into())),
        ],
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let ids = rt.block_on(enroll_simulated(&url, dir.path(), probes))?;
    let ids = Arc::new(ids);
    println!("bench-ingest: {probes} probes × {hosts} hosts per batch; controller writers={writers}");

    // Saturated: every probe sends its batches back to back.
    let t = Instant::now();
    let lags = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..probes {
            set.spawn(probe(ids[i].clone(), c.quic, batches, hosts, 0, None));
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.extend(r??);
        }
        anyhow::Ok(all)
    })?;
    let secs = t.elapsed().as_secs_f64();
    let rows = probes as u64 * batches * u64::from(hosts);
    let stored = pg.scalar("ww", "SELECT count(*) FROM host_samples") as u64;
    anyhow::ensure!(stored == rows, "stored {stored} sample rows of {rows}");
    let e2e = rows as f64 / secs;
    println!("saturated: {rows} host rows in {secs:.1} s = {e2e:.0} rows/s end to end (QUIC → commit → ack)");
    let _ = lags;

    // Paced: one batch per probe per interval, starting together (the worst case).
    let start = Instant::now();
    let lags = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..probes {
            set.spawn(probe(ids[i].clone(), c.quic, paced_batches, hosts, batches, Some((start, interval))));
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.extend(r??);
        }
        anyhow::Ok(all)
    })?;
    let mut l: Vec<f64> = lags.iter().map(|d| d.as_secs_f64()).collect();
    l.sort_by(f64::total_cmp);
    let pct = |q: f64| l[((l.len() - 1) as f64 * q) as usize];
    println!(
        "paced: {paced_batches} intervals of {:.0} s; lag from interval end to ack: median {:.2} s, p95 {:.2} s, max {:.2} s ({} one interval)",
        interval.as_secs_f64(),
        pct(0.5),
        pct(0.95),
        pct(1.0),
        if pct(1.0) < interval.as_secs_f64() { "under" } else { "OVER" }
    );

    let (text, binary) = copy_floor(&pg, probes, hosts)?;
    let n = probes as u64 * u64::from(hosts);
    println!(
        "floor: psql COPY of the same {n} rows into a plain table shaped like host_samples: text {text:.0} rows/s, binary {binary:.0} rows/s"
    );
    println!(
        "ratio: end to end / COPY floor = {:.2} against text, {:.2} against binary (target ≥ 0.50)",
        e2e / text,
        e2e / binary
    );
    // The fold (samples → totals and rollups) runs on its own schedule; time it to the end.
    let t = Instant::now();
    let cap = Duration::from_secs(arg("--fold-wait-secs", 300));
    while pg.scalar("ww", "SELECT count(*) FROM batches WHERE NOT rolled_up") > 0 && t.elapsed() < cap {
        std::thread::sleep(Duration::from_millis(500));
    }
    let all_rows = pg.scalar("ww", "SELECT coalesce(sum(host_rows), 0)::bigint FROM batches WHERE rolled_up");
    let left = pg.scalar("ww", "SELECT coalesce(sum(host_rows), 0)::bigint FROM batches WHERE NOT rolled_up");
    let fold_ms = pg.scalar(
        "ww",
        "SELECT (1000 * sum(extract(epoch FROM finished_at - started_at)))::bigint FROM job_runs WHERE name = 'rollup'",
    );
    println!(
        "fold: {all_rows} sample rows rolled up (hourly and daily; the totals are kept at ingest) in {:.1} s of job time = {:.0} rows/s ({left} rows still unfolded {:.1} s after the last ack; runs every {fold_every} s)",
        fold_ms as f64 / 1000.0,
        all_rows as f64 / (fold_ms as f64 / 1000.0),
        t.elapsed().as_secs_f64()
    );
    drop(c);
    Ok(())
}

/// Enrols `probes` simulated probes directly in the database (as `probe enroll` does, without a
/// process each) and returns their QUIC client configurations.
async fn enroll_simulated(url: &str, dir: &std::path::Path, probes: usize) -> Result<Vec<quinn::ClientConfig>> {
    let store = wirewatch_store::Store::connect(wirewatch_store::parse_url(url)?, 2).await?;
    let ca = wirewatch_controller::ca::Ca::load_or_create(&dir.join("c"), &store).await?;
    let mut v = Vec::new();
    for i in 0..probes {
        let leaf = ca.sign_probe(&format!("bench{i}"), "bench")?;
        store.enroll(&format!("bench{i}"), "bench", &leaf.sha256, false).await?;
        let d = dir.join(format!("id{i}"));
        wirewatch_controller::ca::write_identity(&d, &leaf, &ca)?;
        v.push(client_config(&Identity::load(&d)?)?);
    }
    Ok(v)
}
