//! A batch into the database: one transaction holding the ledger row (probe, seq), the host,
//! service, MAC and interface totals, and the interval's samples. Committed means all of it;
//! a (probe, seq) already in the ledger is recognised and nothing is counted again.
//!
//! Host rows go in with one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE` per
//! table (no round trip per host) and samples with `COPY`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::LazyLock;

use sqlx::{AssertSqlSafe, PgConnection};
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

const L4: [&str; 4] = ["tcp", "udp", "icmp", "other"];
const DIRS: [&str; 4] = ["tx_packets", "tx_bytes", "rx_packets", "rx_bytes"];

/// Additive host columns, in the order their arrays are bound.
fn host_counter_columns() -> Vec<String> {
    let mut c: Vec<String> = DIRS.iter().map(|d| d.to_string()).collect();
    for p in L4 {
        for d in DIRS {
            c.push(format!("{p}_{d}"));
        }
    }
    c.extend(["syn_sent", "tcp_sessions_total", "udp_flows"].map(String::from));
    c
}

const HOST_GAUGES_I64: [&str; 3] = ["peers_sent", "peers_rcvd", "tcp_sessions_active"];
const HOST_GAUGES_F32: [&str; 4] = ["thpt_actual_tx", "thpt_actual_rx", "thpt_peak_tx", "thpt_peak_rx"];

static HOST_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let counters = host_counter_columns();
    let mut cols = vec!["interface_id", "ip", "mac", "vendor", "vlan", "first_seen_ns", "last_seen_ns", "roles"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let mut types = vec!["int8", "text", "text", "text", "int4", "int8", "int8", "int4"];
    cols.extend(counters.iter().cloned());
    types.extend(counters.iter().map(|_| "int8"));
    cols.extend(HOST_GAUGES_I64.iter().map(|s| s.to_string()));
    types.extend(HOST_GAUGES_I64.iter().map(|_| "int8"));
    cols.extend(HOST_GAUGES_F32.iter().map(|s| s.to_string()));
    types.extend(HOST_GAUGES_F32.iter().map(|_| "float4"));
    let mut q = String::from("INSERT INTO hosts (probe_id, gauges_seq, ");
    q.push_str(&cols.join(", "));
    q.push_str(") SELECT $1, $2, ");
    let select: Vec<String> = cols
        .iter()
        .map(|c| match c.as_str() {
            "ip" => "t.ip::inet".to_string(),
            "mac" => "t.mac::macaddr".to_string(),
            _ => format!("t.{c}"),
        })
        .collect();
    q.push_str(&select.join(", "));
    q.push_str(" FROM unnest(");
    let params: Vec<String> = types.iter().enumerate().map(|(i, t)| format!("${}::{t}[]", i + 3)).collect();
    q.push_str(&params.join(", "));
    q.push_str(") AS t(");
    q.push_str(&cols.join(", "));
    q.push_str(") ON CONFLICT (probe_id, interface_id, ip) DO UPDATE SET ");
    let newer = "excluded.gauges_seq >= hosts.gauges_seq";
    let mut sets = vec![
        "first_seen_ns = least(hosts.first_seen_ns, excluded.first_seen_ns)".to_string(),
        "last_seen_ns = greatest(hosts.last_seen_ns, excluded.last_seen_ns)".to_string(),
        format!("mac = CASE WHEN {newer} THEN coalesce(excluded.mac, hosts.mac) ELSE hosts.mac END"),
        format!("vendor = CASE WHEN {newer} AND excluded.mac IS NOT NULL THEN excluded.vendor ELSE hosts.vendor END"),
        format!("vlan = CASE WHEN {newer} THEN excluded.vlan ELSE hosts.vlan END"),
        "roles = hosts.roles | excluded.roles".to_string(),
        "gauges_seq = greatest(hosts.gauges_seq, excluded.gauges_seq)".to_string(),
    ];
    for c in &counters {
        sets.push(format!("{c} = hosts.{c} + excluded.{c}"));
    }
    for c in HOST_GAUGES_I64.iter().chain(HOST_GAUGES_F32.iter()) {
        sets.push(format!("{c} = CASE WHEN {newer} THEN excluded.{c} ELSE hosts.{c} END"));
    }
    q.push_str(&sets.join(", "));
    q
});

const SERVICE_UPSERT: &str = "INSERT INTO host_services (probe_id, interface_id, ip, service, tx_packets, tx_bytes, rx_packets, rx_bytes)
    SELECT $1, t.i, t.ip::inet, t.s, t.a, t.b, t.c, t.d
    FROM unnest($2::int8[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::int8[]) AS t(i, ip, s, a, b, c, d)
    ON CONFLICT (probe_id, interface_id, ip, service) DO UPDATE SET
      tx_packets = host_services.tx_packets + excluded.tx_packets, tx_bytes = host_services.tx_bytes + excluded.tx_bytes,
      rx_packets = host_services.rx_packets + excluded.rx_packets, rx_bytes = host_services.rx_bytes + excluded.rx_bytes";

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

/// `YYYY-MM-DD HH:MM:SS.ffffff+00` for COPY.
fn pg_time(ns: u64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(i64::try_from(ns).unwrap_or(i64::MAX));
    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// Day partition `(suffix, from, to)` holding packet time `ns`.
fn day_of(ns: u64) -> (String, String, String) {
    let t = chrono::DateTime::from_timestamp_nanos(i64::try_from(ns).unwrap_or(i64::MAX));
    let d = t.date_naive();
    let next = d.succ_opt().unwrap_or(d);
    (d.format("%Y%m%d").to_string(), d.format("%Y-%m-%d").to_string(), next.format("%Y-%m-%d").to_string())
}

fn validate(b: &Batch) -> Result<()> {
    let mut names = HashSet::new();
    for i in &b.interfaces {
        if !names.insert(&i.name) {
            return Err(StoreError::Invalid(format!("interface {:?} twice in batch {}", i.name, b.seq)));
        }
        let mut ips = HashSet::new();
        for h in &i.hosts {
            if !ips.insert(h.ip) {
                return Err(StoreError::Invalid(format!("host {} twice on {:?} in batch {}", h.ip, i.name, b.seq)));
            }
            let mut svcs = HashSet::new();
            for (s, _) in &h.services {
                if !svcs.insert(s) {
                    return Err(StoreError::Invalid(format!("service {s:?} twice for {}", h.ip)));
                }
            }
        }
        let mut macs = HashSet::new();
        for m in &i.macs {
            if !macs.insert(m.mac) {
                return Err(StoreError::Invalid(format!("MAC {} twice in batch {}", mac_text(&m.mac), b.seq)));
            }
        }
    }
    int(b.seq, "sequence number")?;
    int(b.interval_end_ns, "interval end")?;
    Ok(())
}

/// Column-wise arrays for the MAC upsert: interface, MAC, first, last, four counters.
type MacArrays = (Vec<i64>, Vec<String>, Vec<i64>, Vec<i64>, [Vec<i64>; 4]);

/// Column-wise arrays for the host upsert.
#[derive(Default)]
struct HostArrays {
    iface: Vec<i64>,
    ip: Vec<String>,
    mac: Vec<Option<String>>,
    vendor: Vec<Option<String>>,
    vlan: Vec<i32>,
    first: Vec<i64>,
    last: Vec<i64>,
    roles: Vec<i32>,
    counters: Vec<Vec<i64>>,
    gauges: Vec<Vec<i64>>,
    floats: Vec<Vec<f32>>,
}

fn push_traffic(cols: &mut [Vec<i64>], t: &Traffic) -> Result<()> {
    for (c, v) in cols.iter_mut().zip([t.tx_packets, t.tx_bytes, t.rx_packets, t.rx_bytes]) {
        c.push(int(v, "counter")?);
    }
    Ok(())
}

impl HostArrays {
    fn new() -> HostArrays {
        HostArrays {
            counters: vec![Vec::new(); host_counter_columns().len()],
            gauges: vec![Vec::new(); HOST_GAUGES_I64.len()],
            floats: vec![Vec::new(); HOST_GAUGES_F32.len()],
            ..Default::default()
        }
    }

    fn push(&mut self, iface: i64, h: &HostDelta, vendor: &(dyn Fn(&[u8; 6]) -> Option<String> + Sync)) -> Result<()> {
        self.iface.push(iface);
        self.ip.push(h.ip.to_string());
        self.mac.push(h.mac.as_ref().map(mac_text));
        self.vendor.push(h.mac.as_ref().and_then(vendor));
        self.vlan.push(i32::from(h.vlan));
        self.first.push(int(h.first_seen_ns, "first seen")?);
        self.last.push(int(h.last_seen_ns, "last seen")?);
        self.roles.push(h.gauges.roles as i32);
        push_traffic(&mut self.counters[0..4], &h.traffic)?;
        for (k, t) in h.l4.iter().enumerate() {
            push_traffic(&mut self.counters[4 + 4 * k..8 + 4 * k], t)?;
        }
        for (c, v) in self.counters[20..].iter_mut().zip([h.syn_sent, h.tcp_sessions_total, h.udp_flows]) {
            c.push(int(v, "counter")?);
        }
        let g = &h.gauges;
        for (c, v) in self.gauges.iter_mut().zip([g.peers_sent, g.peers_rcvd, g.tcp_sessions_active]) {
            c.push(int(v, "gauge")?);
        }
        for (c, v) in self.floats.iter_mut().zip([g.thpt_actual_tx, g.thpt_actual_rx, g.thpt_peak_tx, g.thpt_peak_rx]) {
            c.push(if v.is_finite() { v } else { 0.0 });
        }
        Ok(())
    }
}

impl Store {
    /// Makes sure the day partitions for packet time `ns` exist (serialised across controllers
    /// by an advisory lock; remembered in-process once made).
    async fn ensure_partitions(&self, ns: u64) -> Result<()> {
        let (suffix, from, to) = day_of(ns);
        let key = format!("day{suffix}");
        if self.partitions.lock().map(|p| p.contains(&key)).unwrap_or(false) {
            return Ok(());
        }
        // One creator at a time across controllers; each partition in its own transaction.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(hashtext('wirewatch partitions'))").execute(&mut *conn).await?;
        let mut result = Ok(());
        for table in ["host_samples", "interface_samples"] {
            result = crate::ensure_partition(
                &mut conn,
                table,
                &format!("{table}_p{suffix}"),
                &format!("{from} 00:00:00+00"),
                &format!("{to} 00:00:00+00"),
            )
            .await;
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

    /// Stores one batch of one probe, exactly once. `vendor` names a MAC's maker.
    pub async fn write_batch(
        &self,
        probe_id: i64,
        controller: &str,
        b: &Batch,
        vendor: &(dyn Fn(&[u8; 6]) -> Option<String> + Sync),
    ) -> Result<Committed> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_batch_once(probe_id, controller, b, vendor).await {
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

    async fn write_batch_once(
        &self,
        probe_id: i64,
        controller: &str,
        b: &Batch,
        vendor: &(dyn Fn(&[u8; 6]) -> Option<String> + Sync),
    ) -> Result<Committed> {
        validate(b)?;
        self.ensure_partitions(b.interval_end_ns).await?;
        let mut tx = self.pool.begin().await?;
        let host_rows: usize = b.interfaces.iter().map(|i| i.hosts.len()).sum();
        let mac_rows: usize = b.interfaces.iter().map(|i| i.macs.len()).sum();
        let fresh = sqlx::query(
            "INSERT INTO batches (probe_id, seq, interval_start_ns, interval_end_ns, controller, host_rows, mac_rows)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (probe_id, seq) DO NOTHING",
        )
        .bind(probe_id)
        .bind(int(b.seq, "seq")?)
        .bind(int(b.interval_start_ns, "interval start")?)
        .bind(int(b.interval_end_ns, "interval end")?)
        .bind(controller)
        .bind(host_rows as i32)
        .bind(mac_rows as i32)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if fresh == 0 {
            tx.rollback().await?;
            return Ok(Committed::Duplicate);
        }
        let ts = pg_time(b.interval_end_ns);
        let mut hosts = HostArrays::new();
        let mut svc: (Vec<i64>, Vec<String>, Vec<String>, [Vec<i64>; 4]) = Default::default();
        let mut macs: MacArrays = Default::default();
        let mut samples = String::new();
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
                .bind(bytes_stats)
                .bind(pkts_stats)
                .bind(int(g.hosts, "hosts")?)
                .bind(int(g.macs, "macs")?)
                .bind(int(g.flows_active, "flows")?)
                .bind(int(g.first_seen_ns, "first seen")?)
                .bind(int(g.last_seen_ns, "last seen")?)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO interface_samples (probe_id, interface_id, ts, seq, packets, bytes, undecoded_packets, drops, hosts, flows_active)
                 VALUES ($1, $2, $3::timestamptz, $4, $5, $6, $7, $8, $9, $10)",
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
            .execute(&mut *tx)
            .await?;
            for h in &i.hosts {
                hosts.push(iface, h, vendor)?;
                for (name, t) in &h.services {
                    svc.0.push(iface);
                    svc.1.push(h.ip.to_string());
                    svc.2.push(name.clone());
                    push_traffic(&mut svc.3, t)?;
                }
                let t = &h.traffic;
                let _ = writeln!(
                    samples,
                    "{probe_id}\t{iface}\t{}\t{ts}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    h.ip,
                    b.seq,
                    t.tx_packets,
                    t.tx_bytes,
                    t.rx_packets,
                    t.rx_bytes,
                    if h.gauges.thpt_actual_tx.is_finite() { h.gauges.thpt_actual_tx } else { 0.0 },
                    if h.gauges.thpt_actual_rx.is_finite() { h.gauges.thpt_actual_rx } else { 0.0 },
                );
            }
            for m in &i.macs {
                macs.0.push(iface);
                macs.1.push(mac_text(&m.mac));
                macs.2.push(int(m.first_seen_ns, "first seen")?);
                macs.3.push(int(m.last_seen_ns, "last seen")?);
                push_traffic(&mut macs.4, &m.traffic)?;
            }
        }
        if !hosts.ip.is_empty() {
            let mut q = sqlx::query(AssertSqlSafe(HOST_UPSERT.as_str()))
                .bind(probe_id)
                .bind(int(b.seq, "seq")?)
                .bind(hosts.iface)
                .bind(hosts.ip)
                .bind(hosts.mac)
                .bind(hosts.vendor)
                .bind(hosts.vlan)
                .bind(hosts.first)
                .bind(hosts.last)
                .bind(hosts.roles);
            for c in hosts.counters {
                q = q.bind(c);
            }
            for c in hosts.gauges {
                q = q.bind(c);
            }
            for c in hosts.floats {
                q = q.bind(c);
            }
            let t = std::time::Instant::now();
            q.execute(&mut *tx).await?;
            let upsert = t.elapsed();
            copy_samples(&mut tx, samples.as_bytes()).await?;
            tracing::debug!(rows = host_rows, upsert_ms = upsert.as_millis() as u64,
                copy_ms = (t.elapsed() - upsert).as_millis() as u64, "host rows written");
        }
        if !svc.0.is_empty() {
            let t = std::time::Instant::now();
            let n = svc.0.len();
            let [a, bb, c, d] = svc.3;
            sqlx::query(SERVICE_UPSERT)
                .bind(probe_id)
                .bind(svc.0)
                .bind(svc.1)
                .bind(svc.2)
                .bind(a)
                .bind(bb)
                .bind(c)
                .bind(d)
                .execute(&mut *tx)
                .await?;
            tracing::debug!(rows = n, ms = t.elapsed().as_millis() as u64, "service rows written");
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

async fn copy_samples(conn: &mut PgConnection, data: &[u8]) -> Result<()> {
    let mut copy = conn
        .copy_in_raw(
            "COPY host_samples (probe_id, interface_id, ip, ts, seq, tx_packets, tx_bytes, rx_packets, rx_bytes, thpt_actual_tx, thpt_actual_rx) FROM STDIN",
        )
        .await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_binds_every_column_once() {
        let q = HOST_UPSERT.as_str();
        let n = 8 + host_counter_columns().len() + HOST_GAUGES_I64.len() + HOST_GAUGES_F32.len();
        assert!(q.contains(&format!("${}::", n + 2)), "{q}");
        assert!(!q.contains(&format!("${}::", n + 3)), "{q}");
    }

    #[test]
    fn day_partitions_bound_the_day() {
        assert_eq!(day_of(0), ("19700101".into(), "1970-01-01".into(), "1970-01-02".into()));
        assert_eq!(pg_time(1_500_000_000_123_456_789), "2017-07-14 02:40:00.123456+00");
    }
}
