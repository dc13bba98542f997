//! What the JSON API reads: sites, probes, interfaces, hosts (lists sorted and paged by keyset,
//! one host exactly), history at three resolutions, top talkers over a window.
//!
//! Every read takes `allowed`: the sites the caller may see (`None`: all). An object of another
//! site is filtered out in SQL, so it is "not found", never "forbidden".
//!
//! Host lists are ordered by the folded totals (`hosts`, what the indexes cover) and the page's
//! rows then get the samples not folded yet added, so every figure shown is exact; a host that
//! appeared after the last fold joins the lists at the next one (the rollup job, every minute by
//! default), while its detail is there at once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::Row;
use sqlx::postgres::PgRow;

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
    /// packets, bytes, undecoded packets, undecoded bytes, pcap drops, if drops, flows total,
    /// flows expired, host/MAC/flow evictions, hosts, MACs, active flows, first/last seen (ns).
    pub counters: [i64; 16],
    pub bytes_stats: Vec<i64>,
    pub pkts_stats: Vec<i64>,
}

/// One host on one interface, folded totals plus the samples not folded yet.
#[derive(Debug, Clone)]
pub struct HostRecord {
    pub probe_id: i64,
    pub interface_id: i64,
    pub site: String,
    pub probe: String,
    pub interface: String,
    pub ip: String,
    pub mac: Option<String>,
    pub names: Vec<String>,
    pub vlan: i32,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    /// tx/rx packets/bytes, then TCP, UDP, ICMP, other the same way.
    pub traffic: [i64; 20],
    pub syn_sent: i64,
    pub tcp_sessions_total: i64,
    pub udp_flows: i64,
    pub peers_sent: i64,
    pub peers_rcvd: i64,
    pub tcp_sessions_active: i64,
    /// actual tx/rx, peak tx/rx (bytes/s)
    pub thpt: [f32; 4],
    pub roles: i32,
    gauges_seq: i64,
}

/// What host lists can be sorted by (the API's allow-list maps onto this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostSort {
    Bytes,
    Packets,
    SentBytes,
    RcvdBytes,
    SentPackets,
    RcvdPackets,
    FirstSeen,
    LastSeen,
    Ip,
    Name,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Int,
    Inet,
    Text,
}

impl std::str::FromStr for HostSort {
    type Err = String;
    /// The API's names: bytes, packets, sent_bytes, rcvd_bytes, sent_packets, rcvd_packets,
    /// first_seen, last_seen, ip, name.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "bytes" => HostSort::Bytes,
            "packets" => HostSort::Packets,
            "sent_bytes" => HostSort::SentBytes,
            "rcvd_bytes" => HostSort::RcvdBytes,
            "sent_packets" => HostSort::SentPackets,
            "rcvd_packets" => HostSort::RcvdPackets,
            "first_seen" => HostSort::FirstSeen,
            "last_seen" => HostSort::LastSeen,
            "ip" => HostSort::Ip,
            "name" => HostSort::Name,
            other => {
                return Err(format!(
                    "sort {other:?}: use bytes, packets, sent_bytes, rcvd_bytes, sent_packets, rcvd_packets, first_seen, last_seen, ip or name"
                ));
            }
        })
    }
}

impl HostSort {
    fn key(self) -> (&'static str, KeyKind) {
        match self {
            HostSort::Bytes => ("(h.tx_bytes + h.rx_bytes)", KeyKind::Int),
            HostSort::Packets => ("(h.tx_packets + h.rx_packets)", KeyKind::Int),
            HostSort::SentBytes => ("h.tx_bytes", KeyKind::Int),
            HostSort::RcvdBytes => ("h.rx_bytes", KeyKind::Int),
            HostSort::SentPackets => ("h.tx_packets", KeyKind::Int),
            HostSort::RcvdPackets => ("h.rx_packets", KeyKind::Int),
            HostSort::FirstSeen => ("h.first_seen_ns", KeyKind::Int),
            HostSort::LastSeen => ("h.last_seen_ns", KeyKind::Int),
            HostSort::Ip => ("h.ip", KeyKind::Inet),
            HostSort::Name => ("coalesce(h.names[1], '')", KeyKind::Text),
        }
    }
}

/// Where the previous page ended (opaque to clients; the API encodes it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostCursor {
    pub key: String,
    pub probe_id: i64,
    pub interface_id: i64,
    pub ip: String,
}

/// A host list request (already validated by the caller).
#[derive(Debug, Clone)]
pub struct HostQuery {
    pub site: Option<String>,
    pub probe: Option<String>,
    pub interface_id: Option<i64>,
    /// A CIDR the address must be in (validated: it is cast to `cidr` in SQL).
    pub cidr: Option<String>,
    /// Matches the start of the address, the start of the MAC, or part of a name.
    pub search: Option<String>,
    pub sort: HostSort,
    pub descending: bool,
    pub after: Option<HostCursor>,
    pub limit: i64,
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
    /// tx packets, tx bytes, rx packets, rx bytes
    pub traffic: [i64; 4],
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
    pub ip: String,
    pub mac: Option<String>,
    pub names: Vec<String>,
    /// tx packets, tx bytes, rx packets, rx bytes
    pub traffic: [i64; 4],
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub(crate) const IFACE_COLS: &str = "i.id, p.name AS probe, s.name AS site, i.name, i.link_type, i.live, i.packets, i.bytes, \
    i.undecoded_packets, i.undecoded_bytes, i.pcap_drops, i.if_drops, i.flows_total, i.flows_expired, \
    i.host_evictions, i.mac_evictions, i.flow_evictions, i.hosts, i.macs, i.flows_active, i.first_seen_ns, \
    i.last_seen_ns, i.bytes_stats, i.pkts_stats";

pub(crate) fn interface_row(r: &PgRow) -> Result<InterfaceRow> {
    let mut counters = [0i64; 16];
    for (k, c) in counters.iter_mut().enumerate() {
        *c = r.try_get(6 + k)?;
    }
    Ok(InterfaceRow {
        id: r.try_get("id")?,
        probe: r.try_get("probe")?,
        site: r.try_get("site")?,
        name: r.try_get("name")?,
        link_type: r.try_get("link_type")?,
        live: r.try_get("live")?,
        counters,
        bytes_stats: r.try_get("bytes_stats")?,
        pkts_stats: r.try_get("pkts_stats")?,
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

const HOST_COLS: &str = "h.probe_id, h.interface_id, s.name AS site, p.name AS probe, i.name AS interface, \
    host(h.ip) AS ip_text, h.mac::text AS mac_text, h.names, h.vlan, h.first_seen_ns, h.last_seen_ns, \
    h.syn_sent, h.tcp_sessions_total, h.udp_flows, h.peers_sent, h.peers_rcvd, h.tcp_sessions_active, \
    h.thpt_actual_tx, h.thpt_actual_rx, h.thpt_peak_tx, h.thpt_peak_rx, h.roles, h.gauges_seq";

/// The named (non-traffic) columns of a host row.
const HOST_NAMES: [&str; 23] = [
    "probe_id",
    "interface_id",
    "site",
    "probe",
    "interface",
    "ip_text",
    "mac_text",
    "names",
    "vlan",
    "first_seen_ns",
    "last_seen_ns",
    "syn_sent",
    "tcp_sessions_total",
    "udp_flows",
    "peers_sent",
    "peers_rcvd",
    "tcp_sessions_active",
    "thpt_actual_tx",
    "thpt_actual_rx",
    "thpt_peak_tx",
    "thpt_peak_rx",
    "roles",
    "gauges_seq",
];

/// Where a host row's columns are, resolved by name once per result set (the queries that
/// produce host rows order them differently) and then read by position: by name, each of the
/// 43 columns was a hash lookup per row (a 100k-host walk spent most of its time there).
struct HostColumns([usize; 43]);

impl HostColumns {
    fn of(r: &PgRow) -> Result<HostColumns> {
        use sqlx::Column;
        let mut at = [0usize; 43];
        let traffic = crate::fold::traffic();
        let names = HOST_NAMES.iter().copied().chain(traffic.iter().map(String::as_str));
        for (slot, name) in at.iter_mut().zip(names) {
            *slot = r.try_column(name)?.ordinal();
        }
        Ok(HostColumns(at))
    }
}

fn host_record(r: &PgRow) -> Result<HostRecord> {
    host_record_at(r, &HostColumns::of(r)?)
}

/// Every row of a result set as a host.
fn host_records(rows: &[PgRow]) -> Result<Vec<HostRecord>> {
    let Some(first) = rows.first() else { return Ok(Vec::new()) };
    let cols = HostColumns::of(first)?;
    rows.iter().map(|r| host_record_at(r, &cols)).collect()
}

fn host_record_at(r: &PgRow, c: &HostColumns) -> Result<HostRecord> {
    let c = &c.0;
    let mut traffic = [0i64; 20];
    for (k, t) in traffic.iter_mut().enumerate() {
        *t = r.try_get(c[23 + k])?;
    }
    Ok(HostRecord {
        probe_id: r.try_get(c[0])?,
        interface_id: r.try_get(c[1])?,
        site: r.try_get(c[2])?,
        probe: r.try_get(c[3])?,
        interface: r.try_get(c[4])?,
        ip: r.try_get(c[5])?,
        mac: r.try_get(c[6])?,
        names: r.try_get(c[7])?,
        vlan: r.try_get(c[8])?,
        first_seen_ns: r.try_get(c[9])?,
        last_seen_ns: r.try_get(c[10])?,
        traffic,
        syn_sent: r.try_get(c[11])?,
        tcp_sessions_total: r.try_get(c[12])?,
        udp_flows: r.try_get(c[13])?,
        peers_sent: r.try_get(c[14])?,
        peers_rcvd: r.try_get(c[15])?,
        tcp_sessions_active: r.try_get(c[16])?,
        thpt: [r.try_get(c[17])?, r.try_get(c[18])?, r.try_get(c[19])?, r.try_get(c[20])?],
        roles: r.try_get(c[21])?,
        gauges_seq: r.try_get(c[22])?,
    })
}

impl HostRecord {
    /// Adds the aggregate of not-yet-folded samples (`p`, same shape) to the folded totals:
    /// counters add up, the newer side gives the gauges and the MAC.
    fn add_pending(&mut self, p: &HostRecord) {
        for (a, b) in self.traffic.iter_mut().zip(p.traffic) {
            *a += b;
        }
        self.syn_sent += p.syn_sent;
        self.tcp_sessions_total += p.tcp_sessions_total;
        self.udp_flows += p.udp_flows;
        self.first_seen_ns = self.first_seen_ns.min(p.first_seen_ns);
        self.last_seen_ns = self.last_seen_ns.max(p.last_seen_ns);
        self.roles |= p.roles;
        if p.gauges_seq >= self.gauges_seq {
            self.gauges_seq = p.gauges_seq;
            self.vlan = p.vlan;
            self.peers_sent = p.peers_sent;
            self.peers_rcvd = p.peers_rcvd;
            self.tcp_sessions_active = p.tcp_sessions_active;
            self.thpt = p.thpt;
            if p.mac.is_some() {
                self.mac.clone_from(&p.mac);
            }
        } else if self.mac.is_none() {
            self.mac.clone_from(&p.mac);
        }
    }
}

type HostKey = (i64, i64, String);

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

    /// One page of hosts. Returns the rows and, if there may be more, the cursor of the last.
    pub async fn host_page(
        &self,
        allowed: Option<&[String]>,
        q: &HostQuery,
    ) -> Result<(Vec<HostRecord>, Option<HostCursor>)> {
        host_page(&mut *self.pool.acquire().await?, allowed, q).await
    }

    /// For a host the caller may see: its probe, the canonical text of its address and when it
    /// was last seen (ns; `None` until its first fold). `None` if there is no such host.
    pub async fn host_key(
        &self,
        allowed: Option<&[String]>,
        interface_id: i64,
        ip: &str,
    ) -> Result<Option<(i64, String, Option<i64>)>> {
        let q = format!(
            "SELECT i.probe_id, host($3::inet), h.last_seen_ns FROM interfaces i JOIN probes p ON p.id = i.probe_id \
             JOIN sites s ON s.id = p.site_id \
             LEFT JOIN hosts h ON h.probe_id = i.probe_id AND h.interface_id = i.id AND h.ip = $3::inet \
             WHERE {ALLOWED} AND i.id = $2 AND (h.ip IS NOT NULL OR EXISTS \
               (SELECT 1 FROM host_samples x WHERE x.probe_id = i.probe_id AND x.interface_id = i.id AND x.ip = $3::inet))"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(allowed)
            .bind(interface_id)
            .bind(ip)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).transpose()
    }

    /// One host on one interface (folded plus pending), with its services, if the caller may
    /// see it.
    pub async fn host(
        &self,
        allowed: Option<&[String]>,
        interface_id: i64,
        ip: &str,
    ) -> Result<Option<(HostRecord, Vec<(String, [i64; 4])>)>> {
        host(&mut *self.pool.acquire().await?, allowed, interface_id, ip).await
    }

    /// A host's history (oldest first). Raw points are the probe's intervals.
    pub async fn host_history(&self, probe_id: i64, interface_id: i64, ip: &str, span: Span) -> Result<Vec<HostPoint>> {
        let Span { res, from, to, limit } = span;
        let table = match res {
            Resolution::Raw => "host_samples",
            Resolution::Hourly => "host_hourly",
            Resolution::Daily => "host_daily",
        };
        let sql = format!(
            "SELECT ts, sum(tx_packets)::bigint, sum(tx_bytes)::bigint, sum(rx_packets)::bigint, sum(rx_bytes)::bigint \
             FROM {table} WHERE probe_id = $1 AND interface_id = $2 AND ip = $3::inet AND ts >= $4 AND ts < $5 \
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
        rows.iter()
            .map(|r| {
                Ok(HostPoint {
                    ts: r.try_get(0)?,
                    traffic: [r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?],
                })
            })
            .collect()
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
            "SELECT p.name AS probe, t.interface_id, i.name AS interface, host(t.ip) AS ip, h.mac::text AS mac,
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
                    mac: r.try_get("mac")?,
                    names: r.try_get("names")?,
                    traffic: [
                        r.try_get("tx_packets")?,
                        r.try_get("tx_bytes")?,
                        r.try_get("rx_packets")?,
                        r.try_get("rx_bytes")?,
                    ],
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

/// One interface's hosts in address order after `after` (ntop's host cursor): a range scan of
/// the primary key, so walking every host costs one index pass whatever the interface's size.
/// Folded totals plus the page's pending samples, as [`host_page`].
pub(crate) async fn interface_hosts(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    probe_id: i64,
    interface_id: i64,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<HostRecord>> {
    let sql = format!(
        // The interface's names come from a one-row subquery (not a join per host row).
        "SELECT {cols}, {traffic}, EXISTS (SELECT 1 FROM batches WHERE NOT rolled_up) AS any_pending
         FROM (SELECT s.name AS site, p.name AS probe, i.name AS interface FROM interfaces i
               JOIN probes p ON p.id = i.probe_id JOIN sites s ON s.id = p.site_id
               WHERE {ALLOWED} AND p.id = $2 AND i.id = $3) x
         CROSS JOIN hosts h
         WHERE h.probe_id = $2 AND h.interface_id = $3 AND ($4::inet IS NULL OR h.ip > $4::inet)
         ORDER BY h.ip LIMIT $5",
        cols =
            HOST_COLS.replace("s.name AS site, p.name AS probe, i.name AS interface", "x.site, x.probe, x.interface"),
        traffic = crate::fold::traffic().iter().map(|c| format!("h.{c}")).collect::<Vec<_>>().join(", "),
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(allowed)
        .bind(probe_id)
        .bind(interface_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
    let any_pending = match rows.first() {
        Some(r) => r.try_get::<bool, _>("any_pending")?,
        None => false,
    };
    let mut out = host_records(&rows)?;
    if any_pending {
        add_pending(c, &mut out).await?;
    }
    Ok(out)
}

/// [`Store::host_page`] on a given connection (a snapshot's transaction, or the pool's).
pub(crate) async fn host_page(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    q: &HostQuery,
) -> Result<(Vec<HostRecord>, Option<HostCursor>)> {
    let (key, kind) = q.sort.key();
    let cast = match kind {
        KeyKind::Int => "bigint",
        KeyKind::Inet => "inet",
        KeyKind::Text => "text",
    };
    let (cmp, dir) = if q.descending { ("<", "DESC") } else { (">", "ASC") };
    let key_text = match kind {
        KeyKind::Inet => format!("host({key})"),
        _ => format!("{key}::text"),
    };
    let sql = format!(
        "SELECT {HOST_COLS}, {traffic}, {key_text} AS sort_key,
                EXISTS (SELECT 1 FROM batches WHERE NOT rolled_up) AS any_pending
         FROM hosts h JOIN probes p ON p.id = h.probe_id JOIN sites s ON s.id = p.site_id
         JOIN interfaces i ON i.id = h.interface_id
         WHERE {SCOPE}
           AND ($4::bigint IS NULL OR h.interface_id = $4) AND ($5::cidr IS NULL OR h.ip <<= $5::cidr)
           AND ($6::text IS NULL OR host(h.ip) LIKE $6 || '%' OR h.mac::text LIKE lower($6) || '%'
                OR array_to_string(h.names, ' ') ILIKE '%' || $6 || '%')
           AND ($7::text IS NULL OR ({key}, h.probe_id, h.interface_id, h.ip) {cmp} ($7::{cast}, $8, $9, $10::inet))
         ORDER BY {key} {dir}, h.probe_id {dir}, h.interface_id {dir}, h.ip {dir}
         LIMIT $11",
        traffic = crate::fold::traffic().iter().map(|c| format!("h.{c}")).collect::<Vec<_>>().join(", "),
    );
    let after = q.after.as_ref();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(allowed)
        .bind(&q.site)
        .bind(&q.probe)
        .bind(q.interface_id)
        .bind(&q.cidr)
        .bind(q.search.as_deref().map(like_escape))
        .bind(after.map(|c| c.key.clone()))
        .bind(after.map(|c| c.probe_id))
        .bind(after.map(|c| c.interface_id))
        .bind(after.map(|c| c.ip.clone()))
        .bind(q.limit)
        .fetch_all(&mut *c)
        .await?;
    let out = host_records(&rows)?;
    let any_pending = match rows.first() {
        Some(r) => r.try_get::<bool, _>("any_pending")?,
        None => false,
    };
    let cursor = match (rows.last(), out.last()) {
        (Some(r), Some(h)) => Some(HostCursor {
            key: r.try_get("sort_key")?,
            probe_id: h.probe_id,
            interface_id: h.interface_id,
            ip: h.ip.clone(),
        }),
        _ => None,
    };
    let mut out = out;
    // Folded totals are the whole story unless some batch awaits the fold (the same
    // statement said so: no extra round trip in the common case).
    if any_pending {
        add_pending(c, &mut out).await?;
    }
    let more = i64::try_from(out.len()).unwrap_or(i64::MAX) >= q.limit;
    Ok((out, if more { cursor } else { None }))
}

/// The not-yet-folded samples of these hosts, added to them.
async fn add_pending(c: &mut PgConnection, hosts: &mut [HostRecord]) -> Result<()> {
    if hosts.is_empty() {
        return Ok(());
    }
    let pending =
        pending(c, &hosts.iter().map(|h| (h.probe_id, h.interface_id, h.ip.clone())).collect::<Vec<_>>()).await?;
    for h in hosts.iter_mut() {
        if let Some(p) = pending.get(&(h.probe_id, h.interface_id, h.ip.clone())) {
            h.add_pending(p);
        }
    }
    Ok(())
}

async fn pending(c: &mut PgConnection, keys: &[HostKey]) -> Result<HashMap<HostKey, HostRecord>> {
    let probes: Vec<i64> = keys.iter().map(|k| k.0).collect();
    // Usually the fold has caught up: one probe of the small partial index says so.
    let any: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM batches WHERE NOT rolled_up AND probe_id = ANY($1))")
            .bind(&probes)
            .fetch_one(&mut *c)
            .await?;
    if !any {
        return Ok(HashMap::new());
    }
    let ifaces: Vec<i64> = keys.iter().map(|k| k.1).collect();
    let ips: Vec<String> = keys.iter().map(|k| k.2.clone()).collect();
    let agg = crate::fold::HOSTS
        .replace("{todo}", "(SELECT probe_id, seq FROM batches WHERE NOT rolled_up AND probe_id = ANY($1))")
        .replace(
            "{where}",
            "WHERE (s.probe_id, s.interface_id, s.ip) IN \
             (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]::inet[]))",
        );
    let sql = format!(
        "SELECT x.*, host(x.ip) AS ip_text, x.\"coalesce\"::text AS mac_text, '{{}}'::text[] AS names,
                '' AS site, '' AS probe, '' AS interface
         FROM ({agg}) x"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&probes).bind(&ifaces).bind(&ips).fetch_all(&mut *c).await?;
    Ok(host_records(&rows)?.into_iter().map(|h| ((h.probe_id, h.interface_id, h.ip.clone()), h)).collect())
}

/// One host on one interface (folded plus pending), with its services, if the caller may
/// see it.
pub(crate) async fn host(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    interface_id: i64,
    ip: &str,
) -> Result<Option<(HostRecord, Vec<(String, [i64; 4])>)>> {
    let iface = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT i.probe_id, i.name, p.name AS probe, s.name AS site, host($3::inet) AS canonical \
         FROM interfaces i JOIN probes p ON p.id = i.probe_id \
         JOIN sites s ON s.id = p.site_id WHERE {ALLOWED} AND i.id = $2"
    )))
    .bind(allowed)
    .bind(interface_id)
    .bind(ip)
    .fetch_optional(&mut *c)
    .await?;
    let Some(iface) = iface else { return Ok(None) };
    let probe_id: i64 = iface.try_get("probe_id")?;
    let canonical: String = iface.try_get("canonical")?;
    let sql = format!(
        "SELECT {HOST_COLS}, {traffic} FROM hosts h JOIN probes p ON p.id = h.probe_id \
         JOIN sites s ON s.id = p.site_id JOIN interfaces i ON i.id = h.interface_id \
         WHERE h.probe_id = $1 AND h.interface_id = $2 AND h.ip = $3::inet",
        traffic = crate::fold::traffic().iter().map(|c| format!("h.{c}")).collect::<Vec<_>>().join(", "),
    );
    let folded = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(probe_id)
        .bind(interface_id)
        .bind(ip)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(host_record)
        .transpose()?;
    let key = (probe_id, interface_id, canonical.clone());
    let pending = pending(c, std::slice::from_ref(&key)).await?.remove(&key);
    let host = match (folded, pending) {
        (Some(mut f), Some(p)) => {
            f.add_pending(&p);
            f
        }
        (Some(f), None) => f,
        (None, Some(mut p)) => {
            p.site = iface.try_get("site")?;
            p.probe = iface.try_get("probe")?;
            p.interface = iface.try_get("name")?;
            p
        }
        (None, None) => return Ok(None),
    };
    let pending_services = crate::fold::SERVICES
        .replace("{todo}", "(SELECT probe_id, seq FROM batches WHERE NOT rolled_up AND probe_id = $1)")
        .replace("{where}", "WHERE s.probe_id = $1 AND s.interface_id = $2 AND s.ip = $3::inet");
    let sql = format!(
        "SELECT service, sum(a)::bigint, sum(b)::bigint, sum(c)::bigint, sum(d)::bigint FROM (
            SELECT service, tx_packets AS a, tx_bytes AS b, rx_packets AS c, rx_bytes AS d FROM host_services
            WHERE probe_id = $1 AND interface_id = $2 AND ip = $3::inet
            UNION ALL
            SELECT p.service, p.tx_packets, p.tx_bytes, p.rx_packets, p.rx_bytes
            FROM ({pending_services}) AS p (probe_id, interface_id, ip, service, tx_packets, tx_bytes, rx_packets, rx_bytes)
         ) v GROUP BY service ORDER BY sum(b) + sum(d) DESC, service"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(probe_id)
        .bind(interface_id)
        .bind(&canonical)
        .fetch_all(&mut *c)
        .await?;
    let services = rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, [r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?])))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((host, services)))
}
