//! The one host reader: lists (sorted, filtered, paged by keyset), an interface's hosts in
//! address order (ntop's cursor), one host with its services, and every host of a scope. The
//! API, the Python modules, the CLI (and next the RRD archives and alarms) read hosts here and
//! nowhere else.
//!
//! Hosts are totals kept at ingest: each batch adds its hosts and services to `hosts` and
//! `host_services` in the transaction that commits it (see `ingest`), so a host committed a
//! millisecond ago is in every list, page, cursor and count, and no reader merges anything.
//! Lists read only the columns a list shows ([`HostSummary`]); addresses and MACs are decoded
//! from PostgreSQL's binary forms (no text formatting in SQL).

use std::net::IpAddr;

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgRow, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{PgConnection, Postgres, Row};
use wirewatch_model::{Host, HostGauges, HostKey, HostSummary, L4, Mac, Thpt, Traffic};

pub use wirewatch_model::HostSort;

use crate::{Result, Store};

/// Where a page of hosts ended (opaque to clients; the API encodes it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostCursor {
    pub key: String,
    pub probe_id: i64,
    pub interface_id: i64,
    pub ip: IpAddr,
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

/// Which probes to read.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub site: Option<String>,
    pub probe: Option<String>,
}

/// A host's traffic per service (the probe's port-based names), largest first.
pub type Services = Vec<(String, Traffic)>;

/// `macaddr` as sent by PostgreSQL (6 bytes in binary form).
pub(crate) struct PgMac(pub(crate) Mac);

impl sqlx::Type<Postgres> for PgMac {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_name("macaddr")
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for PgMac {
    fn decode(v: PgValueRef<'r>) -> std::result::Result<PgMac, BoxDynError> {
        match v.format() {
            PgValueFormat::Binary => {
                let b: [u8; 6] = v.as_bytes()?.try_into().map_err(|_| "macaddr: not 6 bytes")?;
                Ok(PgMac(Mac(b)))
            }
            PgValueFormat::Text => Ok(PgMac(v.as_str()?.parse()?)),
        }
    }
}

const ALLOWED: &str = "($1::text[] IS NULL OR s.name = ANY($1))";

/// [`ALLOWED`], then an optional site name (`$2`) and probe name (`$3`).
const SCOPE: &str = "($1::text[] IS NULL OR s.name = ANY($1)) AND ($2::text IS NULL OR s.name = $2) AND ($3::text IS NULL OR p.name = $3)";

/// A summary's columns after the three names (site, probe, interface); decoded by [`summary`].
const SUMMARY: &str = "h.probe_id, h.interface_id, h.ip, h.mac, h.names, h.vlan, h.first_seen_ns, h.last_seen_ns, \
    h.tx_packets, h.tx_bytes, h.rx_packets, h.rx_bytes";
/// Three names and [`SUMMARY`].
const SUMMARY_LEN: usize = 15;
/// The rest of a host, after [`SUMMARY`]; decoded by [`host`].
const DETAIL: &str = "h.tcp_tx_packets, h.tcp_tx_bytes, h.tcp_rx_packets, h.tcp_rx_bytes, \
    h.udp_tx_packets, h.udp_tx_bytes, h.udp_rx_packets, h.udp_rx_bytes, \
    h.icmp_tx_packets, h.icmp_tx_bytes, h.icmp_rx_packets, h.icmp_rx_bytes, \
    h.other_tx_packets, h.other_tx_bytes, h.other_rx_packets, h.other_rx_bytes, \
    h.syn_sent, h.tcp_sessions_total, h.udp_flows, h.peers_sent, h.peers_rcvd, h.tcp_sessions_active, \
    h.thpt_actual_tx, h.thpt_actual_rx, h.thpt_peak_tx, h.thpt_peak_rx, h.roles";

/// How much of a host a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    Summary,
    Full,
}

impl Detail {
    fn columns(self) -> String {
        match self {
            Detail::Summary => SUMMARY.to_string(),
            Detail::Full => format!("{SUMMARY}, {DETAIL}"),
        }
    }
}

/// A stored counter (never negative: ingest refuses what does not fit) as the model's.
fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Four columns from `at`: tx packets, tx bytes, rx packets, rx bytes.
pub(crate) fn traffic(r: &PgRow, at: usize) -> Result<Traffic> {
    Ok(Traffic {
        tx_packets: u(r.try_get(at)?),
        tx_bytes: u(r.try_get(at + 1)?),
        rx_packets: u(r.try_get(at + 2)?),
        rx_bytes: u(r.try_get(at + 3)?),
    })
}

/// The three names and [`SUMMARY`] at the start of a row.
fn summary(r: &PgRow) -> Result<HostSummary> {
    let mac: Option<PgMac> = r.try_get(6)?;
    Ok(HostSummary {
        site: r.try_get(0)?,
        probe: r.try_get(1)?,
        interface: r.try_get(2)?,
        key: HostKey { probe_id: r.try_get(3)?, interface_id: r.try_get(4)?, ip: r.try_get(5)? },
        mac: mac.map(|m| m.0),
        names: r.try_get::<Option<Vec<String>>, _>(7)?.unwrap_or_default(),
        vlan: u16::try_from(r.try_get::<i32, _>(8)?).unwrap_or(0),
        first_seen_ns: u(r.try_get(9)?),
        last_seen_ns: u(r.try_get(10)?),
        traffic: traffic(r, 11)?,
    })
}

/// A row of the three names, [`SUMMARY`] and [`DETAIL`].
fn host(r: &PgRow) -> Result<Host> {
    let d = SUMMARY_LEN;
    let u32_of = |v: i64| u32::try_from(v).unwrap_or(0);
    Ok(Host {
        summary: summary(r)?,
        l4: L4 { tcp: traffic(r, d)?, udp: traffic(r, d + 4)?, icmp: traffic(r, d + 8)?, other: traffic(r, d + 12)? },
        syn_sent: u(r.try_get(d + 16)?),
        tcp_sessions_total: u(r.try_get(d + 17)?),
        udp_flows: u(r.try_get(d + 18)?),
        gauges: HostGauges {
            peers_sent: u(r.try_get(d + 19)?),
            peers_rcvd: u(r.try_get(d + 20)?),
            tcp_sessions_active: u(r.try_get(d + 21)?),
            thpt: Thpt {
                actual_tx: r.try_get(d + 22)?,
                actual_rx: r.try_get(d + 23)?,
                peak_tx: r.try_get(d + 24)?,
                peak_rx: r.try_get(d + 25)?,
            },
        },
        role_bits: u32_of(i64::from(r.try_get::<i32, _>(d + 26)?)),
    })
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Int,
    Inet,
    Text,
}

fn sort_key(s: HostSort) -> (&'static str, KeyKind) {
    match s {
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

/// One page of a host list: the rows (decoded by `decode`) and, if there may be more, where
/// the last one ended.
async fn page<T>(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    q: &HostQuery,
    detail: Detail,
    decode: fn(&PgRow) -> Result<T>,
) -> Result<(Vec<T>, Option<HostCursor>)> {
    let (key, kind) = sort_key(q.sort);
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
        "SELECT s.name, p.name, i.name, {cols}, {key_text}
         FROM hosts h JOIN probes p ON p.id = h.probe_id JOIN sites s ON s.id = p.site_id
         JOIN interfaces i ON i.id = h.interface_id
         WHERE {SCOPE}
           AND ($4::bigint IS NULL OR h.interface_id = $4) AND ($5::cidr IS NULL OR h.ip <<= $5::cidr)
           AND ($6::text IS NULL OR host(h.ip) LIKE $6 || '%' OR h.mac::text LIKE lower($6) || '%'
                OR array_to_string(h.names, ' ') ILIKE '%' || $6 || '%')
           AND ($7::text IS NULL OR ({key}, h.probe_id, h.interface_id, h.ip) {cmp} ($7::{cast}, $8, $9, $10::inet))
         ORDER BY {key} {dir}, h.probe_id {dir}, h.interface_id {dir}, h.ip {dir}
         LIMIT $11",
        cols = detail.columns(),
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
        .bind(after.map(|c| c.ip))
        .bind(q.limit)
        .fetch_all(&mut *c)
        .await?;
    let key_at = SUMMARY_LEN + if detail == Detail::Full { 27 } else { 0 };
    let cursor = match rows.last() {
        Some(r) if i64::try_from(rows.len()).unwrap_or(i64::MAX) >= q.limit => Some(HostCursor {
            key: r.try_get(key_at)?,
            probe_id: r.try_get(3)?,
            interface_id: r.try_get(4)?,
            ip: r.try_get(5)?,
        }),
        _ => None,
    };
    Ok((rows.iter().map(decode).collect::<Result<_>>()?, cursor))
}

/// One page of a host list, as a list shows it.
pub(crate) async fn summaries(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    q: &HostQuery,
) -> Result<(Vec<HostSummary>, Option<HostCursor>)> {
    page(c, allowed, q, Detail::Summary, summary).await
}

/// One page of a host list with every counter.
pub(crate) async fn hosts(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    q: &HostQuery,
) -> Result<(Vec<Host>, Option<HostCursor>)> {
    page(c, allowed, q, Detail::Full, host).await
}

/// One interface's hosts in address order after `after` (ntop's host cursor): a range scan of
/// the primary key, so walking every host costs one index pass whatever the interface's size.
pub(crate) async fn interface_hosts(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    probe_id: i64,
    interface_id: i64,
    after: Option<IpAddr>,
    limit: i64,
) -> Result<Vec<Host>> {
    let sql = format!(
        // The interface's names come from a one-row subquery (not a join per host row).
        "SELECT x.site, x.probe, x.interface, {cols}
         FROM (SELECT s.name AS site, p.name AS probe, i.name AS interface FROM interfaces i
               JOIN probes p ON p.id = i.probe_id JOIN sites s ON s.id = p.site_id
               WHERE {ALLOWED} AND p.id = $2 AND i.id = $3) x
         CROSS JOIN hosts h
         WHERE h.probe_id = $2 AND h.interface_id = $3 AND ($4::inet IS NULL OR h.ip > $4::inet)
         ORDER BY h.ip LIMIT $5",
        cols = Detail::Full.columns(),
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(allowed)
        .bind(probe_id)
        .bind(interface_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(host).collect()
}

/// One host on one interface with its services, if the caller may see it.
pub(crate) async fn one(
    c: &mut PgConnection,
    allowed: Option<&[String]>,
    interface_id: i64,
    ip: IpAddr,
) -> Result<Option<(Host, Services)>> {
    let sql = format!(
        "SELECT s.name, p.name, i.name, {cols}
         FROM hosts h JOIN interfaces i ON i.id = h.interface_id AND i.probe_id = h.probe_id
         JOIN probes p ON p.id = h.probe_id JOIN sites s ON s.id = p.site_id
         WHERE {ALLOWED} AND h.interface_id = $2 AND h.ip = $3",
        cols = Detail::Full.columns(),
    );
    let row =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(allowed).bind(interface_id).bind(ip).fetch_optional(&mut *c).await?;
    let Some(row) = row else { return Ok(None) };
    let h = host(&row)?;
    let rows = sqlx::query(
        "SELECT service, tx_packets, tx_bytes, rx_packets, rx_bytes FROM host_services
         WHERE probe_id = $1 AND interface_id = $2 AND ip = $3 ORDER BY tx_bytes + rx_bytes DESC, service",
    )
    .bind(h.key.probe_id)
    .bind(interface_id)
    .bind(ip)
    .fetch_all(&mut *c)
    .await?;
    let services = rows.iter().map(|r| Ok((r.try_get(0)?, traffic(r, 1)?))).collect::<Result<Services>>()?;
    Ok(Some((h, services)))
}

/// Every host of the probes in `scope` with its services (the CLI's `hosts`), by probe,
/// interface and address.
pub(crate) async fn all(c: &mut PgConnection, scope: &Scope) -> Result<Vec<(Host, Services)>> {
    const IN_SCOPE: &str = "($1::text IS NULL OR s.name = $1) AND ($2::text IS NULL OR p.name = $2)";
    let sql = format!(
        "SELECT s.name, p.name, i.name, {cols}
         FROM hosts h JOIN interfaces i ON i.id = h.interface_id JOIN probes p ON p.id = h.probe_id
         JOIN sites s ON s.id = p.site_id WHERE {IN_SCOPE}
         ORDER BY h.probe_id, h.interface_id, h.ip",
        cols = Detail::Full.columns(),
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&scope.site).bind(&scope.probe).fetch_all(&mut *c).await?;
    let mut out: Vec<(Host, Services)> = rows.iter().map(|r| Ok((host(r)?, Vec::new()))).collect::<Result<_>>()?;
    let sql = format!(
        "SELECT v.probe_id, v.interface_id, v.ip, v.service, v.tx_packets, v.tx_bytes, v.rx_packets, v.rx_bytes
         FROM host_services v JOIN probes p ON p.id = v.probe_id JOIN sites s ON s.id = p.site_id
         WHERE {IN_SCOPE} ORDER BY v.probe_id, v.interface_id, v.ip, v.tx_bytes + v.rx_bytes DESC, v.service"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&scope.site).bind(&scope.probe).fetch_all(&mut *c).await?;
    let mut at = 0;
    for r in &rows {
        let key = HostKey { probe_id: r.try_get(0)?, interface_id: r.try_get(1)?, ip: r.try_get(2)? };
        // Both are in key order: advance to the service's host.
        while out.get(at).is_some_and(|(h, _)| h.key < key) {
            at += 1;
        }
        if let Some((h, svc)) = out.get_mut(at)
            && h.key == key
        {
            svc.push((r.try_get(3)?, traffic(r, 4)?));
        }
    }
    Ok(out)
}

impl Store {
    /// One page of a host list, as a list shows it.
    pub async fn host_page(
        &self,
        allowed: Option<&[String]>,
        q: &HostQuery,
    ) -> Result<(Vec<HostSummary>, Option<HostCursor>)> {
        summaries(&mut *self.pool.acquire().await?, allowed, q).await
    }

    /// One host on one interface with its services, if the caller may see it.
    pub async fn host(
        &self,
        allowed: Option<&[String]>,
        interface_id: i64,
        ip: IpAddr,
    ) -> Result<Option<(Host, Services)>> {
        one(&mut *self.pool.acquire().await?, allowed, interface_id, ip).await
    }

    /// For a host the caller may see: its probe and when it was last seen (ns).
    pub async fn host_seen(
        &self,
        allowed: Option<&[String]>,
        interface_id: i64,
        ip: IpAddr,
    ) -> Result<Option<(i64, u64)>> {
        let q = format!(
            "SELECT h.probe_id, h.last_seen_ns FROM hosts h JOIN probes p ON p.id = h.probe_id
             JOIN sites s ON s.id = p.site_id WHERE {ALLOWED} AND h.interface_id = $2 AND h.ip = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(allowed)
            .bind(interface_id)
            .bind(ip)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, u(r.try_get(1)?)))).transpose()
    }
}
