//! What the JSON API reads besides hosts (those are `hosts`'): sites, probes, interfaces,
//! history at three resolutions, top talkers over a window.
//!
//! Every read takes `allowed`: the sites the caller may see (`None`: all). An object of another
//! site is filtered out in SQL, so it is "not found", never "forbidden".

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::Row;
use sqlx::postgres::PgRow;

use std::net::IpAddr;

use wirewatch_model::{Mac, Traffic};
use wirewatch_wire::{InterfaceCounters, InterfaceGauges};

use crate::{Result, Store};

const ALLOWED: &str = "($1::text[] IS NULL OR s.name = ANY($1))";

/// [`ALLOWED`], then an optional site name (`$2`) and probe name (`$3`).
const SCOPE: &str = "($1::text[] IS NULL OR s.name = ANY($1)) AND ($2::text IS NULL OR s.name = $2) AND ($3::text IS NULL OR p.name = $3)";

/// A site (what it holds is the sum of its probes' rows: see [`Store::probe_rows`]).
#[derive(Debug, Clone)]
pub struct SiteRow {
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ProbeRow {
    pub id: i64,
    pub name: String,
    pub site: String,
    pub revoked: bool,
    pub enrolled_at: DateTime<Utc>,
    pub software_version: Option<String>,
    pub os: Option<String>,
    pub hostname: Option<String>,
    pub uptime_secs: Option<i64>,
    pub last_hello_at: Option<DateTime<Utc>>,
    pub last_batch_at: Option<DateTime<Utc>>,
    pub last_seq: Option<i64>,
    pub controller: Option<String>,
    /// pending batches, pending bytes, dropped batches, dropped bytes
    pub spool: [i64; 4],
    /// Batches refused at ingest (a rule broken), and the last reason and time.
    pub refused: BadBatches,
    /// Batches the fold could not take (kept aside, never read), and the last reason and time.
    pub quarantined: BadBatches,
    pub interfaces: Vec<InterfaceRow>,
}

/// A probe's batches that did not make it into the totals, and why the last one did not.
#[derive(Debug, Clone, Default)]
pub struct BadBatches {
    pub batches: i64,
    pub last_reason: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct InterfaceRow {
    pub id: i64,
    pub probe: String,
    pub site: String,
    pub name: String,
    pub link_type: String,
    pub live: bool,
    /// Totals since the probe started counting (the sum of its deltas).
    pub counters: InterfaceCounters,
    /// The latest values.
    pub gauges: InterfaceGauges,
}

/// History resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Raw,
    Hourly,
    Daily,
}

/// A history request: resolution, `[from, to)`, at most `limit` points.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub res: Resolution,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub limit: i64,
}

/// One point of a host's history.
#[derive(Debug, Clone)]
pub struct HostPoint {
    pub ts: DateTime<Utc>,
    pub traffic: Traffic,
}

/// One point of an interface's history.
#[derive(Debug, Clone)]
pub struct InterfacePoint {
    pub ts: DateTime<Utc>,
    pub packets: i64,
    pub bytes: i64,
    pub drops: i64,
}

/// A host's traffic over a window.
#[derive(Debug, Clone)]
pub struct Talker {
    pub probe: String,
    pub interface_id: i64,
    pub interface: String,
    pub ip: IpAddr,
    pub mac: Option<Mac>,
    pub names: Vec<String>,
    pub traffic: Traffic,
}

pub(crate) const IFACE_COLS: &str = "i.id, p.name AS probe, s.name AS site, i.name, i.link_type, i.live, i.packets, i.bytes, \
    i.undecoded_packets, i.undecoded_bytes, i.pcap_drops, i.if_drops, i.flows_total, i.flows_expired, \
    i.host_evictions, i.mac_evictions, i.flow_evictions, i.hosts, i.macs, i.flows_active, i.first_seen_ns, \
    i.last_seen_ns, i.bytes_stats, i.pkts_stats";

pub(crate) fn interface_row(r: &PgRow) -> Result<InterfaceRow> {
    let n = |k: usize| -> Result<u64> { Ok(u64::try_from(r.try_get::<i64, _>(k)?).unwrap_or(0)) };
    let stats = |name: &str| -> Result<Vec<i64>> { Ok(r.try_get(name)?) };
    let array = |v: Vec<i64>| -> Vec<u64> { v.into_iter().map(|x| u64::try_from(x).unwrap_or(0)).collect() };
    let mut bytes_stats = [0u64; 15];
    for (d, v) in bytes_stats.iter_mut().zip(array(stats("bytes_stats")?)) {
        *d = v;
    }
    let mut pkts_stats = [0u64; 11];
    for (d, v) in pkts_stats.iter_mut().zip(array(stats("pkts_stats")?)) {
        *d = v;
    }
    Ok(InterfaceRow {
        id: r.try_get("id")?,
        probe: r.try_get("probe")?,
        site: r.try_get("site")?,
        name: r.try_get("name")?,
        link_type: r.try_get("link_type")?,
        live: r.try_get("live")?,
        counters: InterfaceCounters {
            packets: n(6)?,
            bytes: n(7)?,
            undecoded_packets: n(8)?,
            undecoded_bytes: n(9)?,
            pcap_drops: n(10)?,
            if_drops: n(11)?,
            flows_total: n(12)?,
            flows_expired: n(13)?,
            host_evictions: n(14)?,
            mac_evictions: n(15)?,
            flow_evictions: n(16)?,
            bytes_stats,
            pkts_stats,
        },
        gauges: InterfaceGauges {
            hosts: n(17)?,
            macs: n(18)?,
            flows_active: n(19)?,
            first_seen_ns: n(20)?,
            last_seen_ns: n(21)?,
        },
    })
}

const PROBE_COLS: &str = "p.id, p.name, s.name AS site, p.revoked_at, p.enrolled_at, p.software_version, p.os, \
    p.hostname, p.uptime_secs, p.last_hello_at, p.last_batch_at, p.last_seq, p.controller, \
    p.spool_pending_batches, p.spool_pending_bytes, p.spool_dropped_batches, p.spool_dropped_bytes, \
    p.refused_batches, p.last_refusal, p.last_refusal_at, p.quarantined_batches, p.last_quarantine, p.last_quarantine_at";

fn probe_row(r: &PgRow) -> Result<ProbeRow> {
    Ok(ProbeRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        site: r.try_get("site")?,
        revoked: r.try_get::<Option<DateTime<Utc>>, _>("revoked_at")?.is_some(),
        enrolled_at: r.try_get("enrolled_at")?,
        software_version: r.try_get("software_version")?,
        os: r.try_get("os")?,
        hostname: r.try_get("hostname")?,
        uptime_secs: r.try_get("uptime_secs")?,
        last_hello_at: r.try_get("last_hello_at")?,
        last_batch_at: r.try_get("last_batch_at")?,
        last_seq: r.try_get("last_seq")?,
        controller: r.try_get("controller")?,
        spool: [
            r.try_get("spool_pending_batches")?,
            r.try_get("spool_pending_bytes")?,
            r.try_get("spool_dropped_batches")?,
            r.try_get("spool_dropped_bytes")?,
        ],
        refused: BadBatches {
            batches: r.try_get("refused_batches")?,
            last_reason: r.try_get("last_refusal")?,
            last_at: r.try_get("last_refusal_at")?,
        },
        quarantined: BadBatches {
            batches: r.try_get("quarantined_batches")?,
            last_reason: r.try_get("last_quarantine")?,
            last_at: r.try_get("last_quarantine_at")?,
        },
        interfaces: Vec::new(),
    })
}

impl Store {
    pub async fn sites(&self, allowed: Option<&[String]>, name: Option<&str>) -> Result<Vec<SiteRow>> {
        let q = format!(
            "SELECT s.name, s.created_at FROM sites s WHERE {ALLOWED} AND ($2::text IS NULL OR s.name = $2) ORDER BY s.name"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(allowed).bind(name).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(SiteRow { name: r.try_get("name")?, created_at: r.try_get("created_at")? })).collect()
    }

    /// Probes (with their interfaces) of a site, or one probe by name, or all.
    pub async fn probe_rows(
        &self,
        allowed: Option<&[String]>,
        site: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<ProbeRow>> {
        probe_rows(&mut *self.pool.acquire().await?, allowed, site, name).await
    }

    /// The id of a probe the caller may see.
    /// The names of the probes of the caller's sites (the RRD archive's top directories a
    /// caller may read are theirs).
    pub async fn probe_names(&self, allowed: Option<&[String]>) -> Result<Vec<String>> {
        let q = format!("SELECT p.name FROM probes p JOIN sites s ON s.id = p.site_id WHERE {ALLOWED} ORDER BY p.name");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(q)).bind(allowed).fetch_all(&self.pool).await?)
    }

    pub async fn probe_id(&self, allowed: Option<&[String]>, name: &str) -> Result<Option<i64>> {
        let q = format!("SELECT p.id FROM probes p JOIN sites s ON s.id = p.site_id WHERE {ALLOWED} AND p.name = $2");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(q)).bind(allowed).bind(name).fetch_optional(&self.pool).await?)
    }

    pub async fn interface(&self, allowed: Option<&[String]>, id: i64) -> Result<Option<InterfaceRow>> {
        let q = format!(
            "SELECT {IFACE_COLS} FROM interfaces i JOIN probes p ON p.id = i.probe_id JOIN sites s ON s.id = p.site_id \
             WHERE {ALLOWED} AND i.id = $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(allowed)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(interface_row)
            .transpose()
    }

    /// An interface's history between `from` and `to` (oldest first, at most `limit` points).
    pub async fn interface_history(&self, probe_id: i64, interface_id: i64, span: Span) -> Result<Vec<InterfacePoint>> {
        let Span { res, from, to, limit } = span;
        let q = match res {
            Resolution::Raw => {
                "SELECT ts, sum(packets)::bigint, sum(bytes)::bigint, sum(drops)::bigint FROM interface_samples \
                 WHERE probe_id = $1 AND interface_id = $2 AND ts >= $3 AND ts < $4 GROUP BY ts ORDER BY ts LIMIT $5"
            }
            Resolution::Hourly => {
                "SELECT ts, packets, bytes, drops FROM interface_hourly \
                 WHERE probe_id = $1 AND interface_id = $2 AND ts >= $3 AND ts < $4 ORDER BY ts LIMIT $5"
            }
            Resolution::Daily => {
                "SELECT ts, packets, bytes, drops FROM interface_daily \
                 WHERE probe_id = $1 AND interface_id = $2 AND ts >= $3 AND ts < $4 ORDER BY ts LIMIT $5"
            }
        };
        let rows = sqlx::query(q)
            .bind(probe_id)
            .bind(interface_id)
            .bind(from)
            .bind(to)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(InterfacePoint {
                    ts: r.try_get(0)?,
                    packets: r.try_get(1)?,
                    bytes: r.try_get(2)?,
                    drops: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// A host's history (oldest first). Raw points are the probe's intervals.
    pub async fn host_history(
        &self,
        probe_id: i64,
        interface_id: i64,
        ip: IpAddr,
        span: Span,
    ) -> Result<Vec<HostPoint>> {
        let Span { res, from, to, limit } = span;
        let table = match res {
            Resolution::Raw => "host_samples",
            Resolution::Hourly => "host_hourly",
            Resolution::Daily => "host_daily",
        };
        let sql = format!(
            "SELECT ts, sum(tx_packets)::bigint, sum(tx_bytes)::bigint, sum(rx_packets)::bigint, sum(rx_bytes)::bigint \
             FROM {table} WHERE probe_id = $1 AND interface_id = $2 AND ip = $3 AND ts >= $4 AND ts < $5 \
             GROUP BY ts ORDER BY ts LIMIT $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(probe_id)
            .bind(interface_id)
            .bind(ip)
            .bind(from)
            .bind(to)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(HostPoint { ts: r.try_get(0)?, traffic: crate::hosts::traffic(r, 1)? })).collect()
    }

    /// The newest sample time in a scope (the default end of a top-talkers window: for a live
    /// probe that is now, for a replayed capture the capture's end).
    pub async fn latest_sample(
        &self,
        allowed: Option<&[String]>,
        site: Option<&str>,
        probe: Option<&str>,
    ) -> Result<Option<DateTime<Utc>>> {
        let q = format!(
            "SELECT max(x.ts) FROM interfaces i JOIN probes p ON p.id = i.probe_id JOIN sites s ON s.id = p.site_id
             CROSS JOIN LATERAL (SELECT ts FROM interface_samples t WHERE t.probe_id = i.probe_id AND t.interface_id = i.id
                                 ORDER BY ts DESC LIMIT 1) x
             WHERE {SCOPE}"
        );
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(q))
            .bind(allowed)
            .bind(site)
            .bind(probe)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Hosts with the most traffic (bytes or packets, both ways) in `(from, to]`.
    #[allow(clippy::too_many_arguments)]
    pub async fn top_talkers(
        &self,
        allowed: Option<&[String]>,
        site: Option<&str>,
        probe: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        by_packets: bool,
        limit: i64,
    ) -> Result<Vec<Talker>> {
        self.check_raw_window(from, to)?;
        let order = if by_packets { "t.tx_packets + t.rx_packets" } else { "t.tx_bytes + t.rx_bytes" };
        let q = format!(
            "SELECT p.name AS probe, t.interface_id, i.name AS interface, t.ip, h.mac,
                    coalesce(h.names, '{{}}') AS names, t.tx_packets, t.tx_bytes, t.rx_packets, t.rx_bytes
             FROM (SELECT x.probe_id, x.interface_id, x.ip, sum(x.tx_packets)::bigint AS tx_packets,
                          sum(x.tx_bytes)::bigint AS tx_bytes, sum(x.rx_packets)::bigint AS rx_packets,
                          sum(x.rx_bytes)::bigint AS rx_bytes
                   FROM host_samples x JOIN probes p ON p.id = x.probe_id JOIN sites s ON s.id = p.site_id
                   WHERE {SCOPE}
                     AND x.ts > $4 AND x.ts <= $5
                   GROUP BY 1, 2, 3) t
             JOIN probes p ON p.id = t.probe_id JOIN interfaces i ON i.id = t.interface_id
             LEFT JOIN hosts h ON h.probe_id = t.probe_id AND h.interface_id = t.interface_id AND h.ip = t.ip
             ORDER BY {order} DESC, t.probe_id, t.interface_id, t.ip LIMIT $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(allowed)
            .bind(site)
            .bind(probe)
            .bind(from)
            .bind(to)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Talker {
                    probe: r.try_get("probe")?,
                    interface_id: r.try_get("interface_id")?,
                    interface: r.try_get("interface")?,
                    ip: r.try_get("ip")?,
                    mac: r.try_get::<Option<crate::hosts::PgMac>, _>("mac")?.map(|m| m.0),
                    names: r.try_get("names")?,
                    traffic: crate::hosts::traffic(r, 6)?,
                })
            })
            .collect()
    }

    /// Distinct addresses of the hosts in a scope (for GeoIP counts).
    pub async fn host_addresses(
        &self,
        allowed: Option<&[String]>,
        site: Option<&str>,
        probe: Option<&str>,
    ) -> Result<Vec<String>> {
        let q = format!(
            "SELECT DISTINCT host(h.ip) FROM hosts h JOIN probes p ON p.id = h.probe_id JOIN sites s ON s.id = p.site_id
             WHERE {SCOPE}"
        );
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(q))
            .bind(allowed)
            .bind(site)
            .bind(probe)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Records a host's reverse-DNS name on every interface that knows the address.
    pub async fn set_host_name(&self, ip: &str, name: &str) -> Result<u64> {
        Ok(sqlx::query("UPDATE hosts SET names = ARRAY[$2] WHERE ip = $1::inet AND names IS DISTINCT FROM ARRAY[$2]")
            .bind(ip)
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

// Reads shared by the pool-backed methods above and by snapshots (one connection each).

/// Probes (with their interfaces) of a site, or one probe by name, or all.
pub(crate) async fn probe_rows(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    site: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<ProbeRow>> {
    let q = format!(
        "SELECT {PROBE_COLS} FROM probes p JOIN sites s ON s.id = p.site_id \
         WHERE {SCOPE} ORDER BY p.name"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(allowed).bind(site).bind(name).fetch_all(&mut *c).await?;
    let mut probes = rows.iter().map(probe_row).collect::<Result<Vec<_>>>()?;
    let ids: Vec<i64> = probes.iter().map(|p| p.id).collect();
    let q = format!(
        "SELECT {IFACE_COLS}, i.probe_id FROM interfaces i JOIN probes p ON p.id = i.probe_id \
         JOIN sites s ON s.id = p.site_id WHERE i.probe_id = ANY($1) ORDER BY i.probe_id, i.id"
    );
    let mut by_probe: HashMap<i64, Vec<InterfaceRow>> = HashMap::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(q)).bind(&ids).fetch_all(&mut *c).await? {
        let pid: i64 = r.try_get("probe_id")?;
        by_probe.entry(pid).or_default().push(interface_row(&r)?);
    }
    for p in &mut probes {
        p.interfaces = by_probe.remove(&p.id).unwrap_or_default();
    }
    Ok(probes)
}
