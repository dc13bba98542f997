//! A batch into the database: one transaction holding the ledger row (probe, seq), the
//! interval's host samples (one `COPY` for all of them), the host, service, MAC and interface
//! totals (one upsert statement each, from the copied samples). Committed means all of it; a
//! (probe, seq) already in the ledger is recognised and nothing is counted again. The fold job
//! (see `jobs`) later rolls the samples up by hour and day, many intervals at a time.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::LazyLock;

use sqlx::PgConnection;
use wirewatch_wire::{Batch, HostDelta, Traffic};

use crate::{Result, Store, StoreError};

/// What happened to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Stored now, with this many host and MAC rows.
    New { host_rows: usize, mac_rows: usize },
    /// This (probe, seq) was stored before; nothing changed.
    Duplicate,
}

const MAC_UPSERT: &str = "INSERT INTO macs (probe_id, interface_id, mac, first_seen_ns, last_seen_ns, tx_packets, tx_bytes, rx_packets, rx_bytes)
    SELECT $1, t.i, t.m::macaddr, t.f, t.l, t.a, t.b, t.c, t.d
    FROM unnest($2::int8[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[]) AS t(i, m, f, l, a, b, c, d)
    ON CONFLICT (probe_id, interface_id, mac) DO UPDATE SET
      first_seen_ns = least(macs.first_seen_ns, excluded.first_seen_ns), last_seen_ns = greatest(macs.last_seen_ns, excluded.last_seen_ns),
      tx_packets = macs.tx_packets + excluded.tx_packets, tx_bytes = macs.tx_bytes + excluded.tx_bytes,
      rx_packets = macs.rx_packets + excluded.rx_packets, rx_bytes = macs.rx_bytes + excluded.rx_bytes";

const INTERFACE_UPSERT: &str = "INSERT INTO interfaces AS i (probe_id, name, link_type, packets, bytes, undecoded_packets, undecoded_bytes,
      pcap_drops, if_drops, flows_total, flows_expired, host_evictions, mac_evictions, flow_evictions, bytes_stats, pkts_stats,
      hosts, macs, flows_active, first_seen_ns, last_seen_ns)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
    ON CONFLICT (probe_id, name) DO UPDATE SET link_type = excluded.link_type,
      packets = i.packets + excluded.packets, bytes = i.bytes + excluded.bytes,
      undecoded_packets = i.undecoded_packets + excluded.undecoded_packets, undecoded_bytes = i.undecoded_bytes + excluded.undecoded_bytes,
      pcap_drops = i.pcap_drops + excluded.pcap_drops, if_drops = i.if_drops + excluded.if_drops,
      flows_total = i.flows_total + excluded.flows_total, flows_expired = i.flows_expired + excluded.flows_expired,
      host_evictions = i.host_evictions + excluded.host_evictions, mac_evictions = i.mac_evictions + excluded.mac_evictions,
      flow_evictions = i.flow_evictions + excluded.flow_evictions,
      bytes_stats = (SELECT array_agg(a + b ORDER BY n) FROM unnest(i.bytes_stats, excluded.bytes_stats) WITH ORDINALITY AS x(a, b, n)),
      pkts_stats = (SELECT array_agg(a + b ORDER BY n) FROM unnest(i.pkts_stats, excluded.pkts_stats) WITH ORDINALITY AS x(a, b, n)),
      hosts = excluded.hosts, macs = excluded.macs, flows_active = excluded.flows_active,
      first_seen_ns = CASE WHEN i.first_seen_ns = 0 THEN excluded.first_seen_ns
                           WHEN excluded.first_seen_ns = 0 THEN i.first_seen_ns
                           ELSE least(i.first_seen_ns, excluded.first_seen_ns) END,
      last_seen_ns = greatest(i.last_seen_ns, excluded.last_seen_ns)
    RETURNING id";

fn int(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{what} {v} out of range")))
}

pub fn mac_text(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

/// `YYYY-MM-DD HH:MM:SS.ffffff+00` for COPY (and the archive readers' `timestamptz` bounds).
pub(crate) fn pg_time(ns: u64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(i64::try_from(ns).unwrap_or(i64::MAX));
    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// Arrival-day partition `(suffix, from, to)` of day `d` (UTC).
fn day_of(d: chrono::NaiveDate) -> (String, String, String) {
    let next = d.succ_opt().unwrap_or(d);
    (d.format("%Y%m%d").to_string(), d.format("%Y-%m-%d").to_string(), next.format("%Y-%m-%d").to_string())
}

/// What one batch may claim, checked before anything is written: a probe is trusted with its
/// own data only, so no value it sends may break the sums of the fold (which serve every
/// probe) or make the store grow tables at will.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most bytes a host or an interface can move per second of interval, each way (default
    /// 1.25e10: a 100 Gbit/s link).
    pub max_bytes_per_sec: u64,
    /// Most packets per second (default 2e8: 100 Gbit/s of minimum-size frames is ~1.5e8).
    pub max_packets_per_sec: u64,
    /// Longest interval one batch may cover.
    pub max_interval: std::time::Duration,
    /// How far past the controller's clock an interval may end (probe clocks drift).
    pub max_future: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes_per_sec: 12_500_000_000,
            max_packets_per_sec: 200_000_000,
            max_interval: std::time::Duration::from_secs(86_400),
            max_future: std::time::Duration::from_secs(86_400),
        }
    }
}

/// The bounds of one batch: the most bytes and packets any single counter may carry.
struct Bounds {
    bytes: u64,
    packets: u64,
}

impl Bounds {
    fn of(limits: &Limits, b: &Batch) -> Bounds {
        // An interval shorter than a second (a replay whose packets share a timestamp) still
        // gets a second's worth.
        let secs = (b.interval_end_ns.saturating_sub(b.interval_start_ns)).div_ceil(1_000_000_000).max(1);
        Bounds {
            bytes: limits.max_bytes_per_sec.saturating_mul(secs),
            packets: limits.max_packets_per_sec.saturating_mul(secs),
        }
    }

    /// `what` names the counter's owner, formatted only when the value is refused (this runs
    /// for every counter of every host of every batch).
    fn check(&self, v: u64, bytes: bool, what: &dyn Fn() -> String) -> Result<()> {
        let bound = if bytes { self.bytes } else { self.packets };
        if v > bound {
            return Err(StoreError::Invalid(format!(
                "{}: {v} {} in one interval is past the bound of {bound} (ingest limits)",
                what(),
                if bytes { "bytes" } else { "packets" }
            )));
        }
        Ok(())
    }

    fn traffic(&self, t: &Traffic, what: &dyn Fn() -> String) -> Result<()> {
        self.check(t.tx_packets, false, what)?;
        self.check(t.tx_bytes, true, what)?;
        self.check(t.rx_packets, false, what)?;
        self.check(t.rx_bytes, true, what)
    }
}

fn validate(b: &Batch, limits: &Limits, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
    int(b.seq, "sequence number")?;
    int(b.interval_start_ns, "interval start")?;
    int(b.interval_end_ns, "interval end")?;
    if b.interval_start_ns > b.interval_end_ns {
        return Err(StoreError::Invalid(format!("batch {}: interval ends before it starts", b.seq)));
    }
    if b.interval_end_ns - b.interval_start_ns > u64::try_from(limits.max_interval.as_nanos()).unwrap_or(u64::MAX) {
        return Err(StoreError::Invalid(format!(
            "batch {}: interval of {} s is longer than {} s",
            b.seq,
            (b.interval_end_ns - b.interval_start_ns) / 1_000_000_000,
            limits.max_interval.as_secs()
        )));
    }
    let latest = (now.timestamp_nanos_opt().unwrap_or(i64::MAX).max(0) as u64)
        .saturating_add(u64::try_from(limits.max_future.as_nanos()).unwrap_or(u64::MAX));
    if b.interval_end_ns > latest {
        return Err(StoreError::Invalid(format!(
            "batch {}: interval ends at {} (ns), after the controller's clock plus {} s",
            b.seq,
            b.interval_end_ns,
            limits.max_future.as_secs()
        )));
    }
    let bounds = Bounds::of(limits, b);
    let mut names = HashSet::new();
    for i in &b.interfaces {
        if !names.insert(&i.name) {
            return Err(StoreError::Invalid(format!("interface {:?} twice in batch {}", i.name, b.seq)));
        }
        let c = &i.counters;
        let what = || format!("interface {:?}", i.name);
        for v in [c.packets, c.undecoded_packets, c.pcap_drops, c.if_drops, c.flows_total, c.flows_expired] {
            bounds.check(v, false, &what)?;
        }
        for v in [c.host_evictions, c.mac_evictions, c.flow_evictions] {
            bounds.check(v, false, &what)?;
        }
        for v in c.pkts_stats.iter() {
            bounds.check(*v, false, &what)?;
        }
        for v in [c.bytes, c.undecoded_bytes].iter().chain(c.bytes_stats.iter()) {
            bounds.check(*v, true, &what)?;
        }
        let mut ips = HashSet::new();
        for h in &i.hosts {
            if !ips.insert(h.ip) {
                return Err(StoreError::Invalid(format!("host {} twice on {:?} in batch {}", h.ip, i.name, b.seq)));
            }
            let what = || format!("host {} on {:?}", h.ip, i.name);
            for t in std::iter::once(&h.traffic).chain(h.l4.iter()) {
                bounds.traffic(t, &what)?;
            }
            for v in [h.syn_sent, h.tcp_sessions_total, h.udp_flows] {
                bounds.check(v, false, &what)?;
            }
            let mut svcs = HashSet::new();
            for (s, t) in &h.services {
                if !svcs.insert(s) {
                    return Err(StoreError::Invalid(format!("service {s:?} twice for {}", h.ip)));
                }
                bounds.traffic(t, &what)?;
            }
        }
        let mut macs = HashSet::new();
        for m in &i.macs {
            if !macs.insert(m.mac) {
                return Err(StoreError::Invalid(format!("MAC {} twice in batch {}", mac_text(&m.mac), b.seq)));
            }
            bounds.traffic(&m.traffic, &|| format!("MAC {}", mac_text(&m.mac)))?;
        }
    }
    Ok(())
}

/// Column-wise arrays for the MAC upsert: interface, MAC, first, last, four counters.
type MacArrays = (Vec<i64>, Vec<String>, Vec<i64>, Vec<i64>, [Vec<i64>; 4]);

fn push_traffic(cols: &mut [Vec<i64>], t: &Traffic) -> Result<()> {
    for (c, v) in cols.iter_mut().zip([t.tx_packets, t.tx_bytes, t.rx_packets, t.rx_bytes]) {
        c.push(int(v, "counter")?);
    }
    Ok(())
}

impl Store {
    /// Makes sure the partitions for arrival day `day` exist (serialised across controllers
    /// by an advisory lock; remembered in-process once made). The day comes from the
    /// controller's clock, never from a probe: at most one new pair of partitions a day.
    async fn ensure_partitions(&self, day: chrono::NaiveDate) -> Result<()> {
        let (suffix, from, to) = day_of(day);
        let key = format!("day{suffix}");
        if self.partitions.lock().map(|p| p.contains(&key)).unwrap_or(false) {
            return Ok(());
        }
        // One creator at a time across controllers; each partition in its own transaction.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(hashtext('wirewatch partitions'))").execute(&mut *conn).await?;
        let mut result = Ok(());
        for table in ["host_samples", "interface_samples"] {
            result = crate::ensure_partition(&mut conn, table, &format!("{table}_a{suffix}"), &from, &to).await;
            if result.is_err() {
                break;
            }
        }
        sqlx::query("SELECT pg_advisory_unlock(hashtext('wirewatch partitions'))").execute(&mut *conn).await?;
        result?;
        if let Ok(mut p) = self.partitions.lock() {
            p.insert(key);
        }
        Ok(())
    }

    /// Stores one batch of one probe, exactly once. A batch that breaks a rule (see
    /// [`Limits`]) is refused with [`StoreError::Invalid`] and counted on its probe.
    pub async fn write_batch(&self, probe_id: i64, controller: &str, b: &Batch) -> Result<Committed> {
        let r = self.write_batch_retrying(probe_id, controller, b).await;
        if let Err(StoreError::Invalid(reason)) = &r {
            self.record_refusal(probe_id, b.seq, reason).await;
        }
        r
    }

    /// Counts a refused batch on its probe (best effort: the refusal itself is the answer).
    async fn record_refusal(&self, probe_id: i64, seq: u64, reason: &str) {
        let r = sqlx::query(
            "UPDATE probes SET refused_batches = refused_batches + 1, last_refusal = $2, last_refusal_at = $3 WHERE id = $1",
        )
        .bind(probe_id)
        .bind(format!("batch {seq}: {reason}").chars().take(500).collect::<String>())
        .bind(self.clock.now())
        .execute(&self.pool)
        .await;
        if let Err(e) = r {
            tracing::warn!(probe_id, error = %e, "could not count a refused batch");
        }
    }

    async fn write_batch_retrying(&self, probe_id: i64, controller: &str, b: &Batch) -> Result<Committed> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_batch_once(probe_id, controller, b).await {
                // "no partition of relation … found for row": the retention job (of any
                // controller) dropped a partition this process remembered. Forget them all and
                // try once more (the partition is made again).
                Err(StoreError::Query(e))
                    if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("23514") =>
                {
                    if let Ok(mut p) = self.partitions.lock() {
                        p.clear();
                    }
                    if attempt >= 2 {
                        return Err(StoreError::Unavailable(e));
                    }
                }
                other => return other,
            }
        }
    }

    async fn write_batch_once(&self, probe_id: i64, controller: &str, b: &Batch) -> Result<Committed> {
        let arrival = self.clock.now();
        validate(b, &self.limits, arrival)?;
        let day = arrival.date_naive();
        self.ensure_partitions(day).await?;
        let mut tx = self.pool.begin().await?;
        let host_rows: usize = b.interfaces.iter().map(|i| i.hosts.len()).sum();
        let mac_rows: usize = b.interfaces.iter().map(|i| i.macs.len()).sum();
        let fresh = sqlx::query(
            "INSERT INTO batches (probe_id, seq, interval_start_ns, interval_end_ns, controller, host_rows, mac_rows, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (probe_id, seq) DO NOTHING",
        )
        .bind(probe_id)
        .bind(int(b.seq, "seq")?)
        .bind(int(b.interval_start_ns, "interval start")?)
        .bind(int(b.interval_end_ns, "interval end")?)
        .bind(controller)
        .bind(host_rows as i32)
        .bind(mac_rows as i32)
        .bind(arrival)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if fresh == 0 {
            tx.rollback().await?;
            return Ok(Committed::Duplicate);
        }
        let ts = pg_time(b.interval_end_ns);
        let mut macs: MacArrays = Default::default();
        let mut samples = Vec::with_capacity(19 + host_rows * 420);
        binary_header(&mut samples);
        for i in &b.interfaces {
            let c = &i.counters;
            let g = &i.gauges;
            let bytes_stats: Vec<i64> = c.bytes_stats.iter().map(|&v| int(v, "bytes stats")).collect::<Result<_>>()?;
            let pkts_stats: Vec<i64> = c.pkts_stats.iter().map(|&v| int(v, "packet stats")).collect::<Result<_>>()?;
            let iface: i64 = sqlx::query_scalar(INTERFACE_UPSERT)
                .bind(probe_id)
                .bind(&i.name)
                .bind(&i.link_type)
                .bind(int(c.packets, "packets")?)
                .bind(int(c.bytes, "bytes")?)
                .bind(int(c.undecoded_packets, "undecoded")?)
                .bind(int(c.undecoded_bytes, "undecoded")?)
                .bind(int(c.pcap_drops, "drops")?)
                .bind(int(c.if_drops, "drops")?)
                .bind(int(c.flows_total, "flows")?)
                .bind(int(c.flows_expired, "flows")?)
                .bind(int(c.host_evictions, "evictions")?)
                .bind(int(c.mac_evictions, "evictions")?)
                .bind(int(c.flow_evictions, "evictions")?)
                .bind(&bytes_stats)
                .bind(pkts_stats)
                .bind(int(g.hosts, "hosts")?)
                .bind(int(g.macs, "macs")?)
                .bind(int(g.flows_active, "flows")?)
                .bind(int(g.first_seen_ns, "first seen")?)
                .bind(int(g.last_seen_ns, "last seen")?)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO interface_samples (probe_id, interface_id, ts, seq, packets, bytes, undecoded_packets, drops, hosts, flows_active, arrived, bytes_stats)
                 VALUES ($1, $2, $3::timestamptz, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(probe_id)
            .bind(iface)
            .bind(&ts)
            .bind(int(b.seq, "seq")?)
            .bind(int(c.packets, "packets")?)
            .bind(int(c.bytes, "bytes")?)
            .bind(int(c.undecoded_packets, "undecoded")?)
            .bind(int(c.pcap_drops.saturating_add(c.if_drops), "drops")?)
            .bind(int(g.hosts, "hosts")?)
            .bind(int(g.flows_active, "flows")?)
            .bind(day)
            .bind(&bytes_stats)
            .execute(&mut *tx)
            .await?;
            for h in &i.hosts {
                sample_binary(&mut samples, probe_id, iface, b.interval_end_ns, b.seq, day, h)?;
            }
            for m in &i.macs {
                macs.0.push(iface);
                macs.1.push(mac_text(&m.mac));
                macs.2.push(int(m.first_seen_ns, "first seen")?);
                macs.3.push(int(m.last_seen_ns, "last seen")?);
                push_traffic(&mut macs.4, &m.traffic)?;
            }
        }
        if host_rows > 0 {
            samples.extend_from_slice(&(-1i16).to_be_bytes());
            let t = std::time::Instant::now();
            copy_samples(&mut tx, &samples).await?;
            tracing::debug!(rows = host_rows, ms = t.elapsed().as_millis() as u64, "host samples copied");
            // The batch's hosts and services join the totals in this transaction: every reader
            // sees them the moment the batch commits (and a duplicate never gets here).
            let t = std::time::Instant::now();
            let seq = int(b.seq, "seq")?;
            for stmt in [crate::fold::ADD_HOSTS.as_str(), crate::fold::ADD_SERVICES.as_str()] {
                sqlx::query(sqlx::AssertSqlSafe(stmt))
                    .bind(probe_id)
                    .bind(seq)
                    .bind(day)
                    .execute(&mut *tx)
                    .await
                    .map_err(totals_refusal)?;
            }
            tracing::debug!(rows = host_rows, ms = t.elapsed().as_millis() as u64, "host totals updated");
        }
        if !macs.0.is_empty() {
            let [a, bb, c, d] = macs.4;
            sqlx::query(MAC_UPSERT)
                .bind(probe_id)
                .bind(macs.0)
                .bind(macs.1)
                .bind(macs.2)
                .bind(macs.3)
                .bind(a)
                .bind(bb)
                .bind(c)
                .bind(d)
                .execute(&mut *tx)
                .await?;
        }
        let s = &b.spool;
        sqlx::query(
            "UPDATE probes SET last_seq = greatest(coalesce(last_seq, -1), $2), last_batch_at = now(),
                    last_interval_end_ns = greatest(coalesce(last_interval_end_ns, 0), $3),
                    spool_pending_batches = $4, spool_pending_bytes = $5, spool_dropped_batches = $6,
                    spool_dropped_bytes = $7, spool_last_dropped_seq = $8
             WHERE id = $1",
        )
        .bind(probe_id)
        .bind(int(b.seq, "seq")?)
        .bind(int(b.interval_end_ns, "interval end")?)
        .bind(int(s.pending_batches, "spool")?)
        .bind(int(s.pending_bytes, "spool")?)
        .bind(int(s.dropped_batches, "spool")?)
        .bind(int(s.dropped_bytes, "spool")?)
        .bind(s.last_dropped_seq.map(|v| int(v, "spool")).transpose()?)
        .execute(&mut *tx)
        .await?;
        let t = std::time::Instant::now();
        tx.commit().await?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "batch committed");
        Ok(Committed::New { host_rows, mac_rows })
    }
}

/// A batch whose counters would take a host's totals past PostgreSQL's `bigint` is refused
/// (the probe is told not to send it again); other failures keep their kind.
fn totals_refusal(e: sqlx::Error) -> StoreError {
    match e.as_database_error().and_then(|d| d.code()).as_deref() {
        Some("22003") => StoreError::Invalid(format!("the host totals cannot take this batch: {e}")),
        _ => StoreError::from(e),
    }
}

/// The `COPY … FROM STDIN` statement of the samples, and the text a batch's hosts make for it
/// (the ingest benchmark copies the very same text through psql as its floor).
pub fn samples_copy(
    probe: i64,
    iface: i64,
    ts_ns: u64,
    seq: u64,
    arrived: chrono::NaiveDate,
    hosts: &[HostDelta],
) -> Result<(String, String)> {
    let ts = pg_time(ts_ns);
    let day = arrived.format("%Y-%m-%d").to_string();
    let mut out = String::new();
    for h in hosts {
        sample_line(&mut out, probe, iface, &ts, seq, &day, h)?;
    }
    Ok((COPY_SAMPLES.clone(), out))
}

/// The same as [`samples_copy`] in PostgreSQL's binary COPY format (what the ingest path
/// sends: the server parses no numbers).
pub fn samples_copy_binary(
    probe: i64,
    iface: i64,
    ts_ns: u64,
    seq: u64,
    arrived: chrono::NaiveDate,
    hosts: &[HostDelta],
) -> Result<(String, Vec<u8>)> {
    let mut out = Vec::with_capacity(19 + hosts.len() * 420);
    binary_header(&mut out);
    for h in hosts {
        sample_binary(&mut out, probe, iface, ts_ns, seq, arrived, h)?;
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok((format!("{} WITH (FORMAT binary)", COPY_SAMPLES.as_str()), out))
}

fn binary_header(out: &mut Vec<u8>) {
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

struct Tuple<'a>(&'a mut Vec<u8>);

impl Tuple<'_> {
    fn field(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }
    fn i64(&mut self, v: i64) {
        self.field(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.field(&v.to_be_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.field(&finite(v).to_be_bytes());
    }
    fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }
    fn inet(&mut self, ip: &std::net::IpAddr) {
        match ip {
            std::net::IpAddr::V4(a) => {
                let mut b = vec![2u8, 32, 0, 4];
                b.extend_from_slice(&a.octets());
                self.field(&b);
            }
            std::net::IpAddr::V6(a) => {
                let mut b = vec![3u8, 128, 0, 16];
                b.extend_from_slice(&a.octets());
                self.field(&b);
            }
        }
    }
}

/// Days between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_DAYS: i64 = 10_957;

fn sample_binary(
    out: &mut Vec<u8>,
    probe: i64,
    iface: i64,
    ts_ns: u64,
    seq: u64,
    arrived: chrono::NaiveDate,
    h: &HostDelta,
) -> Result<()> {
    let n = |v: u64| int(v, "counter");
    let mut t = Tuple(out);
    t.0.extend_from_slice(&(COPY_COLUMNS as i16).to_be_bytes());
    t.i64(probe);
    t.i64(iface);
    t.inet(&h.ip);
    t.i64(n(ts_ns)? / 1000 - PG_EPOCH_US);
    t.i64(n(seq)?);
    match &h.mac {
        Some(m) => t.field(m),
        None => t.null(),
    }
    t.i32(i32::from(h.vlan));
    t.i64(n(h.first_seen_ns)?);
    t.i64(n(h.last_seen_ns)?);
    for x in std::iter::once(&h.traffic).chain(h.l4.iter()) {
        for v in [x.tx_packets, x.tx_bytes, x.rx_packets, x.rx_bytes] {
            t.i64(n(v)?);
        }
    }
    let g = &h.gauges;
    for v in [h.syn_sent, h.tcp_sessions_total, h.udp_flows, g.peers_sent, g.peers_rcvd, g.tcp_sessions_active] {
        t.i64(n(v)?);
    }
    for v in [g.thpt_actual_tx, g.thpt_actual_rx, g.thpt_peak_tx, g.thpt_peak_rx] {
        t.f32(v);
    }
    t.i32(g.roles as i32);
    if h.services.is_empty() {
        t.null();
    } else {
        // text[]: ndim 1, no nulls, element type text (OID 25), length, lower bound 1.
        let mut a = Vec::with_capacity(20 + h.services.len() * 48);
        for v in [1i32, 0, 25, (h.services.len() * 5) as i32, 1] {
            a.extend_from_slice(&v.to_be_bytes());
        }
        let mut elem = |s: &str| {
            a.extend_from_slice(&(s.len() as i32).to_be_bytes());
            a.extend_from_slice(s.as_bytes());
        };
        for (name, x) in &h.services {
            if !valid_service(name) {
                return Err(StoreError::Invalid(format!("service name {name:?}")));
            }
            elem(name);
            for v in [x.tx_packets, x.tx_bytes, x.rx_packets, x.rx_bytes] {
                elem(&n(v)?.to_string());
            }
        }
        t.field(&a);
    }
    let days = arrived.signed_duration_since(chrono::NaiveDate::default()).num_days() - PG_EPOCH_DAYS;
    t.i32(i32::try_from(days).map_err(|_| StoreError::Invalid(format!("arrival day {arrived}")))?);
    Ok(())
}

/// Number of columns in [`COPY_SAMPLES`].
const COPY_COLUMNS: usize = 9 + 23 + 9 + 1;

/// COPY column order of [`sample_line`].
static COPY_SAMPLES: LazyLock<String> = LazyLock::new(|| {
    let mut cols: Vec<String> =
        ["probe_id", "interface_id", "ip", "ts", "seq", "mac", "vlan", "first_seen_ns", "last_seen_ns"]
            .into_iter()
            .map(String::from)
            .collect();
    cols.extend(crate::fold::counters());
    // The gauges (vlan is already above), then roles and the flat service array.
    cols.extend(crate::fold::GAUGES.iter().filter(|g| **g != "vlan").map(|g| g.to_string()));
    cols.extend(["roles", "services", "arrived"].map(String::from));
    format!("COPY host_samples ({}) FROM STDIN", cols.join(", "))
});

fn finite(v: f32) -> f32 {
    if v.is_finite() { v } else { 0.0 }
}

fn valid_service(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

/// One host's sample as a COPY text line (every field is a number, an address or a checked
/// name: nothing needs escaping).
fn sample_line(
    out: &mut String,
    probe: i64,
    iface: i64,
    ts: &str,
    seq: u64,
    arrived: &str,
    h: &HostDelta,
) -> Result<()> {
    let n = |v: u64| int(v, "counter");
    let mac = h.mac.as_ref().map(mac_text).unwrap_or_else(|| "\\N".to_string());
    let _ = write!(
        out,
        "{probe}\t{iface}\t{}\t{ts}\t{}\t{mac}\t{}\t{}\t{}",
        h.ip,
        n(seq)?,
        h.vlan,
        n(h.first_seen_ns)?,
        n(h.last_seen_ns)?
    );
    for t in std::iter::once(&h.traffic).chain(h.l4.iter()) {
        let _ = write!(out, "\t{}\t{}\t{}\t{}", n(t.tx_packets)?, n(t.tx_bytes)?, n(t.rx_packets)?, n(t.rx_bytes)?);
    }
    let g = &h.gauges;
    let _ = write!(
        out,
        "\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        n(h.syn_sent)?,
        n(h.tcp_sessions_total)?,
        n(h.udp_flows)?,
        n(g.peers_sent)?,
        n(g.peers_rcvd)?,
        n(g.tcp_sessions_active)?,
        finite(g.thpt_actual_tx),
        finite(g.thpt_actual_rx),
        finite(g.thpt_peak_tx),
        finite(g.thpt_peak_rx),
        g.roles as i32
    );
    if h.services.is_empty() {
        out.push_str("\t\\N");
    } else {
        out.push_str("\t{");
        for (k, (name, t)) in h.services.iter().enumerate() {
            if !valid_service(name) {
                return Err(StoreError::Invalid(format!("service name {name:?}")));
            }
            let _ = write!(
                out,
                "{}{name},{},{},{},{}",
                if k == 0 { "" } else { "," },
                n(t.tx_packets)?,
                n(t.tx_bytes)?,
                n(t.rx_packets)?,
                n(t.rx_bytes)?
            );
        }
        out.push('}');
    }
    let _ = writeln!(out, "\t{arrived}");
    Ok(())
}

async fn copy_samples(conn: &mut PgConnection, data: &[u8]) -> Result<()> {
    let stmt = format!("{} WITH (FORMAT binary)", COPY_SAMPLES.as_str());
    let mut copy = conn.copy_in_raw(&stmt).await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_tuples_carry_one_field_per_copy_column() {
        let cols = COPY_SAMPLES.split('(').nth(1).and_then(|c| c.split(')').next()).unwrap_or_default();
        assert_eq!(cols.split(',').count(), COPY_COLUMNS);
    }

    #[test]
    fn day_partitions_bound_the_day() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
        assert_eq!(day_of(d), ("20261231".into(), "2026-12-31".into(), "2027-01-01".into()));
        assert_eq!(pg_time(1_500_000_000_123_456_789), "2017-07-14 02:40:00.123456+00");
    }
}
