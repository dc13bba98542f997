//! Reading totals back: every stored host, MAC and interface of a probe or site, as plain rows
//! (the controller turns them into the probe's report shape).

use std::collections::HashMap;

use sqlx::Row;

use crate::{Result, Store};

/// Which probes to read.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub site: Option<String>,
    pub probe: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StoredHost {
    pub probe: String,
    pub interface: String,
    pub ip: std::net::IpAddr,
    pub mac: Option<[u8; 6]>,
    pub vlan: u16,
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
    /// actual tx/rx, peak tx/rx (bytes/s).
    pub thpt: [f32; 4],
    pub roles: i32,
    pub services: Vec<(String, [i64; 4])>,
}

#[derive(Debug, Clone)]
pub struct StoredMac {
    pub probe: String,
    pub interface: String,
    pub mac: [u8; 6],
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub traffic: [i64; 4],
}

/// Everything stored for a scope.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub interfaces: Vec<crate::api::InterfaceRow>,
    pub hosts: Vec<StoredHost>,
    pub macs: Vec<StoredMac>,
}

/// `aa:bb:cc:dd:ee:ff` (PostgreSQL's `macaddr` text) as bytes.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut n = 0;
    for (i, part) in s.split(':').enumerate() {
        *m.get_mut(i)? = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(m)
}

/// (probe, interface, address)
type HostKey = (String, String, String);

const SCOPE: &str = "($1::text IS NULL OR s.name = $1) AND ($2::text IS NULL OR p.name = $2)";

impl Store {
    /// Interfaces, hosts (with services) and MACs of the probes in `scope`.
    /// Folded totals plus the samples not folded yet, read in one snapshot (so the fold job
    /// moving batches from one to the other meanwhile cannot make a sample count twice or not
    /// at all).
    pub async fn totals(&self, scope: &Scope) -> Result<Totals> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let mut out = Totals::default();
        let q = format!(
            "SELECT {} FROM interfaces i JOIN probes p ON p.id = i.probe_id JOIN sites s ON s.id = p.site_id
             WHERE {SCOPE} ORDER BY p.name, i.id",
            crate::api::IFACE_COLS
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(q)).bind(&scope.site).bind(&scope.probe).fetch_all(&mut *tx).await? {
            out.interfaces.push(crate::api::interface_row(&r)?);
        }
        let mut services: HashMap<HostKey, Vec<(String, [i64; 4])>> = HashMap::new();
        let pending_services = crate::fold::SERVICES
            .replace("{todo}", "(SELECT probe_id, seq FROM batches WHERE NOT rolled_up)")
            .replace("{where}", "");
        let q = format!(
            "SELECT p.name AS probe, i.name AS interface, host(v.ip) AS ip, v.service, sum(v.a)::bigint AS tx_packets,
                    sum(v.b)::bigint AS tx_bytes, sum(v.c)::bigint AS rx_packets, sum(v.d)::bigint AS rx_bytes
             FROM (SELECT probe_id, interface_id, ip, service, tx_packets AS a, tx_bytes AS b, rx_packets AS c, rx_bytes AS d
                   FROM host_services
                   UNION ALL
                   SELECT * FROM ({pending_services}) AS pend) v
             JOIN interfaces i ON i.id = v.interface_id JOIN probes p ON p.id = v.probe_id
             JOIN sites s ON s.id = p.site_id WHERE {SCOPE}
             GROUP BY 1, 2, 3, 4"
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(q)).bind(&scope.site).bind(&scope.probe).fetch_all(&mut *tx).await? {
            services.entry((r.get("probe"), r.get("interface"), r.get("ip"))).or_default().push((
                r.get("service"),
                [r.get("tx_packets"), r.get("tx_bytes"), r.get("rx_packets"), r.get("rx_bytes")],
            ));
        }
        let traffic_cols: Vec<String> = crate::fold::traffic().iter().map(|c| format!("h.{c}")).collect();
        // Folded rows and the aggregate of unfolded samples, merged per host: counters add up,
        // the side with the later sequence number gives the gauges.
        let cols = crate::fold::columns();
        let pending = crate::fold::HOSTS
            .replace("{todo}", "(SELECT probe_id, seq FROM batches WHERE NOT rolled_up)")
            .replace("{where}", "");
        let mut merge_sel = vec![
            "probe_id".to_string(),
            "interface_id".into(),
            "ip".into(),
            "(array_agg(mac ORDER BY gauges_seq DESC) FILTER (WHERE mac IS NOT NULL))[1] AS mac".into(),
            "min(first_seen_ns) AS first_seen_ns".into(),
            "max(last_seen_ns) AS last_seen_ns".into(),
            "bit_or(roles) AS roles".into(),
            "max(gauges_seq) AS gauges_seq".into(),
        ];
        merge_sel.extend(crate::fold::counters().iter().map(|c| format!("sum({c})::bigint AS {c}")));
        merge_sel
            .extend(crate::fold::GAUGES.iter().map(|g| format!("(array_agg({g} ORDER BY gauges_seq DESC))[1] AS {g}")));
        let q = format!(
            "SELECT p.name AS probe, i.name AS interface, host(h.ip) AS ip, h.mac::text AS mac, h.vlan, h.first_seen_ns, h.last_seen_ns,
                    h.syn_sent, h.tcp_sessions_total, h.udp_flows, h.peers_sent, h.peers_rcvd, h.tcp_sessions_active,
                    h.thpt_actual_tx, h.thpt_actual_rx, h.thpt_peak_tx, h.thpt_peak_rx, h.roles, {}
             FROM (SELECT {} FROM (SELECT {} FROM hosts UNION ALL SELECT * FROM ({pending}) AS pend) AS u
                   GROUP BY probe_id, interface_id, ip) h
             JOIN interfaces i ON i.id = h.interface_id JOIN probes p ON p.id = h.probe_id
             JOIN sites s ON s.id = p.site_id WHERE {SCOPE}",
            traffic_cols.join(", "),
            merge_sel.join(", "),
            cols.join(", ")
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(q)).bind(&scope.site).bind(&scope.probe).fetch_all(&mut *tx).await? {
            let mut traffic = [0i64; 20];
            for (k, t) in traffic.iter_mut().enumerate() {
                *t = r.try_get(18 + k)?;
            }
            let probe: String = r.get("probe");
            let interface: String = r.get("interface");
            let ip_text: String = r.get("ip");
            let Ok(ip) = ip_text.parse() else { continue };
            let svc = services.remove(&(probe.clone(), interface.clone(), ip_text)).unwrap_or_default();
            let mac: Option<String> = r.get("mac");
            out.hosts.push(StoredHost {
                probe,
                interface,
                ip,
                mac: mac.as_deref().and_then(parse_mac),
                vlan: u16::try_from(r.get::<i32, _>("vlan")).unwrap_or(0),
                first_seen_ns: r.get("first_seen_ns"),
                last_seen_ns: r.get("last_seen_ns"),
                traffic,
                syn_sent: r.get("syn_sent"),
                tcp_sessions_total: r.get("tcp_sessions_total"),
                udp_flows: r.get("udp_flows"),
                peers_sent: r.get("peers_sent"),
                peers_rcvd: r.get("peers_rcvd"),
                tcp_sessions_active: r.get("tcp_sessions_active"),
                thpt: [r.get("thpt_actual_tx"), r.get("thpt_actual_rx"), r.get("thpt_peak_tx"), r.get("thpt_peak_rx")],
                roles: r.get("roles"),
                services: svc,
            });
        }
        let q = format!(
            "SELECT p.name AS probe, i.name AS interface, m.mac::text AS mac, m.first_seen_ns, m.last_seen_ns,
                    m.tx_packets, m.tx_bytes, m.rx_packets, m.rx_bytes
             FROM macs m JOIN interfaces i ON i.id = m.interface_id JOIN probes p ON p.id = m.probe_id
             JOIN sites s ON s.id = p.site_id WHERE {SCOPE}"
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(q)).bind(&scope.site).bind(&scope.probe).fetch_all(&mut *tx).await? {
            let mac: String = r.get("mac");
            let Some(mac) = parse_mac(&mac) else { continue };
            out.macs.push(StoredMac {
                probe: r.get("probe"),
                interface: r.get("interface"),
                mac,
                first_seen_ns: r.get("first_seen_ns"),
                last_seen_ns: r.get("last_seen_ns"),
                traffic: [r.get("tx_packets"), r.get("tx_bytes"), r.get("rx_packets"), r.get("rx_bytes")],
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}
