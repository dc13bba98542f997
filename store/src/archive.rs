//! What the RRD archives (`wirewatch-rrd`) read of committed data: every probe's interfaces,
//! how far a probe's committed intervals are complete, an interface's intervals and the chosen
//! hosts' intervals after a point (each file asks from the last interval it holds), and which
//! hosts are archived. Internal reads of the controller (no caller, no site scope): the archive
//! is a cache of everything; the API filters what a caller may see of it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use sqlx::Row;

use crate::{Result, Store, StoreError};

/// An interface of a probe, by name (the archive's directories are named after them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInterface {
    pub probe_id: i64,
    pub probe: String,
    pub interface_id: i64,
    pub interface: String,
}

/// One committed interval of an interface (the parts of a split interval summed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceInterval {
    /// `[start, end)` in packet time, ns since the epoch.
    pub start_ns: i64,
    pub end_ns: i64,
    pub bytes: i64,
    pub packets: i64,
    /// Hosts in the interface's table at the interval's end.
    pub hosts: i64,
    /// ntop's bytesStats of the interval, in `BytesStats::KEYS` order (zeros for samples
    /// written before migration 0007).
    pub bytes_stats: [i64; 15],
}

/// One committed interval of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInterval {
    pub ip: IpAddr,
    pub start_ns: i64,
    pub end_ns: i64,
    pub tx_bytes: i64,
    pub rx_bytes: i64,
    pub tx_packets: i64,
    pub rx_packets: i64,
}

/// ns → the `timestamptz` bounds' text (the sample tables are indexed by `ts` = interval end).
fn ts_text(ns: i64) -> String {
    crate::ingest::pg_time(u64::try_from(ns).unwrap_or(0))
}

/// How many of a probe's newest batches the archive's horizon looks at.
const HORIZON_WINDOW: i64 = 2000;

impl Store {
    /// Every interface of every probe (the archive keeps them all).
    pub async fn archive_interfaces(&self) -> Result<Vec<ArchiveInterface>> {
        let rows = sqlx::query(
            "SELECT p.id AS probe_id, p.name AS probe, i.id AS interface_id, i.name AS interface
             FROM interfaces i JOIN probes p ON p.id = i.probe_id ORDER BY p.id, i.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ArchiveInterface {
                    probe_id: r.try_get("probe_id")?,
                    probe: r.try_get("probe")?,
                    interface_id: r.try_get("interface_id")?,
                    interface: r.try_get("interface")?,
                })
            })
            .collect()
    }

    /// The end (ns) of the newest interval of a probe that is complete: every batch of it
    /// committed. A probe delivers its batches in sequence order and an interval over the batch
    /// bound is several consecutive batches, so an interval is complete once a batch of a later
    /// interval committed with no batch before it missing, or once its newest batch arrived
    /// `settle` ago (by the store's clock).
    /// `None`: nothing committed.
    pub async fn archive_horizon(&self, probe_id: i64, settle: std::time::Duration) -> Result<Option<i64>> {
        Ok(self.archive_horizon_settled(probe_id, settle).await?.map(|h| h.0))
    }

    /// [`archive_horizon`](Self::archive_horizon), and whether the probe's newest batch has
    /// settled (nothing newer arrived for `settle`: the stream may have ended).
    pub async fn archive_horizon_settled(
        &self,
        probe_id: i64,
        settle: std::time::Duration,
    ) -> Result<Option<(i64, bool)>> {
        // A probe's batches commit on several writers (a later one may commit before an earlier
        // one), and a controller that dies may have committed a later batch whose predecessor
        // the probe then re-sends to another controller seconds later. So only the batches
        // before the first recent hole in the sequence count: a hole whose next batch arrived
        // `settle` ago or more is taken as permanent (a probe restarted with new numbers).
        let rows = sqlx::query(
            "SELECT seq, interval_end_ns, received_at FROM batches WHERE probe_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(probe_id)
        .bind(HORIZON_WINDOW)
        .fetch_all(&self.pool)
        .await?;
        let mut recent: Vec<(i64, i64, chrono::DateTime<chrono::Utc>)> = rows
            .iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("interval_end_ns")?, r.try_get("received_at")?)))
            .collect::<Result<_>>()?;
        recent.reverse();
        let settle = chrono::Duration::from_std(settle).unwrap_or(chrono::Duration::MAX);
        let now = self.clock().now();
        let mut upto = recent.len();
        for i in 1..recent.len() {
            if recent[i].0 != recent[i - 1].0 + 1 && now - recent[i].2 < settle {
                upto = i;
                break;
            }
        }
        let prefix = &recent[..upto];
        let Some(&(_, end, at)) = prefix.last() else { return Ok(None) };
        if upto == recent.len() && now - at >= settle {
            return Ok(Some((end, true)));
        }
        // The newest interval may still be arriving (a split interval's parts): the one before.
        Ok(prefix.iter().map(|r| r.1).filter(|&e| e < end).max().map(|b| (b, false)))
    }

    /// An interface's committed intervals ending in `(after_ns, upto_ns]`, oldest first.
    pub async fn interface_intervals(
        &self,
        probe_id: i64,
        interface_id: i64,
        after_ns: i64,
        upto_ns: i64,
    ) -> Result<Vec<InterfaceInterval>> {
        let rows = sqlx::query(
            "SELECT b.interval_start_ns, b.interval_end_ns, s.bytes, s.packets, s.hosts, s.bytes_stats
             FROM interface_samples s JOIN batches b ON b.probe_id = s.probe_id AND b.seq = s.seq
             WHERE s.probe_id = $1 AND s.interface_id = $2
               AND s.ts > $3::timestamptz - interval '1 second' AND s.ts <= $4::timestamptz + interval '1 second'
               AND b.interval_end_ns > $5 AND b.interval_end_ns <= $6",
        )
        .bind(probe_id)
        .bind(interface_id)
        .bind(ts_text(after_ns.max(0)))
        .bind(ts_text(upto_ns))
        .bind(after_ns)
        .bind(upto_ns)
        .fetch_all(&self.pool)
        .await?;
        let mut by_end: BTreeMap<i64, InterfaceInterval> = BTreeMap::new();
        for r in &rows {
            let start: i64 = r.try_get("interval_start_ns")?;
            let end: i64 = r.try_get("interval_end_ns")?;
            let stats: Option<Vec<i64>> = r.try_get("bytes_stats")?;
            let e = by_end.entry(end).or_insert_with(|| InterfaceInterval {
                start_ns: start,
                end_ns: end,
                ..Default::default()
            });
            e.start_ns = e.start_ns.min(start);
            e.bytes = e.bytes.saturating_add(r.try_get("bytes")?);
            e.packets = e.packets.saturating_add(r.try_get("packets")?);
            e.hosts = e.hosts.max(r.try_get("hosts")?);
            for (a, b) in e.bytes_stats.iter_mut().zip(stats.unwrap_or_default()) {
                *a = a.saturating_add(b);
            }
        }
        Ok(by_end.into_values().collect())
    }

    /// The hosts of a probe the archive keeps (an address over all its interfaces): the
    /// `top_n` by traffic, and those inside `networks` (CIDR text), at most `max_networked` of
    /// them (by traffic), so disk stays bounded whatever a probe sees.
    pub async fn archive_hosts(
        &self,
        probe_id: i64,
        top_n: u32,
        networks: &[String],
        max_networked: u32,
    ) -> Result<Vec<IpAddr>> {
        let mut ips: Vec<IpAddr> = Vec::new();
        let parse =
            |s: String| s.parse::<IpAddr>().map_err(|_| StoreError::Invalid(format!("stored host address {s:?}")));
        if top_n > 0 {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT host(ip) FROM hosts WHERE probe_id = $1
                 GROUP BY ip ORDER BY sum(tx_bytes + rx_bytes) DESC, ip LIMIT $2",
            )
            .bind(probe_id)
            .bind(i64::from(top_n))
            .fetch_all(&self.pool)
            .await?;
            for s in rows {
                ips.push(parse(s)?);
            }
        }
        if !networks.is_empty() && max_networked > 0 {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT host(ip) FROM hosts WHERE probe_id = $1 AND ip <<= ANY($2::text[]::inet[])
                 GROUP BY ip ORDER BY sum(tx_bytes + rx_bytes) DESC, ip LIMIT $3",
            )
            .bind(probe_id)
            .bind(networks)
            .bind(i64::from(max_networked))
            .fetch_all(&self.pool)
            .await?;
            for s in rows {
                let ip = parse(s)?;
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        Ok(ips)
    }

    /// The committed intervals of the given hosts of a probe (summed over `interfaces`, the
    /// probe's interface ids), each host's ending in `(after_ns, upto_ns]` (`after_ns` per host:
    /// the last interval its files hold), ordered by host and time.
    pub async fn host_intervals(
        &self,
        probe_id: i64,
        interfaces: &[i64],
        hosts: &[(IpAddr, i64)],
        upto_ns: i64,
    ) -> Result<Vec<HostInterval>> {
        if hosts.is_empty() {
            return Ok(Vec::new());
        }
        let ips: Vec<String> = hosts.iter().map(|h| h.0.to_string()).collect();
        let after: Vec<i64> = hosts.iter().map(|h| h.1).collect();
        let after_ts: Vec<String> = hosts.iter().map(|h| ts_text(h.1.max(0))).collect();
        let rows = sqlx::query(
            "SELECT host(s.ip) AS ip, b.interval_start_ns, b.interval_end_ns,
                    sum(s.tx_bytes)::bigint AS tx_bytes, sum(s.rx_bytes)::bigint AS rx_bytes,
                    sum(s.tx_packets)::bigint AS tx_packets, sum(s.rx_packets)::bigint AS rx_packets
             FROM unnest($3::text[], $4::bigint[], $5::text[]) AS h(ip, after_ns, after_ts)
             JOIN host_samples s ON s.probe_id = $1 AND s.interface_id = ANY($2) AND s.ip = h.ip::inet
               AND s.ts > h.after_ts::timestamptz - interval '1 second'
               AND s.ts <= $6::timestamptz + interval '1 second'
             JOIN batches b ON b.probe_id = s.probe_id AND b.seq = s.seq
             WHERE b.interval_end_ns > h.after_ns AND b.interval_end_ns <= $7
             GROUP BY s.ip, b.interval_start_ns, b.interval_end_ns
             ORDER BY s.ip, b.interval_end_ns",
        )
        .bind(probe_id)
        .bind(interfaces)
        .bind(&ips)
        .bind(&after)
        .bind(&after_ts)
        .bind(ts_text(upto_ns))
        .bind(upto_ns)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let ip: String = r.try_get("ip")?;
                Ok(HostInterval {
                    ip: ip.parse().map_err(|_| StoreError::Invalid(format!("stored host address {ip:?}")))?,
                    start_ns: r.try_get("interval_start_ns")?,
                    end_ns: r.try_get("interval_end_ns")?,
                    tx_bytes: r.try_get("tx_bytes")?,
                    rx_bytes: r.try_get("rx_bytes")?,
                    tx_packets: r.try_get("tx_packets")?,
                    rx_packets: r.try_get("rx_packets")?,
                })
            })
            .collect()
    }
}
