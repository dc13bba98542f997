//! Everything stored for a scope — interfaces, hosts with their services, MACs — for the CLI's
//! `hosts` (which prints it in the shape of `wirewatch-probe read`). Hosts come from the one
//! host reader (`hosts`), all in one snapshot.

use sqlx::Row;
use wirewatch_model::{Host, Mac, Traffic};

pub use crate::hosts::Scope;
use crate::hosts::{PgMac, Services};
use crate::{Result, Store};

#[derive(Debug, Clone)]
pub struct StoredMac {
    pub probe: String,
    pub interface: String,
    pub mac: Mac,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub traffic: Traffic,
}

/// Everything stored for a scope.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub interfaces: Vec<crate::api::InterfaceRow>,
    pub hosts: Vec<(Host, Services)>,
    pub macs: Vec<StoredMac>,
}

const SCOPE: &str = "($1::text IS NULL OR s.name = $1) AND ($2::text IS NULL OR p.name = $2)";

impl Store {
    /// Interfaces, hosts (with services) and MACs of the probes in `scope`, read in one
    /// snapshot (so a batch committed meanwhile counts in all of them or in none).
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
        out.hosts = crate::hosts::all(&mut tx, scope).await?;
        let q = format!(
            "SELECT p.name, i.name, m.mac, m.first_seen_ns, m.last_seen_ns, m.tx_packets, m.tx_bytes, m.rx_packets, m.rx_bytes
             FROM macs m JOIN interfaces i ON i.id = m.interface_id JOIN probes p ON p.id = m.probe_id
             JOIN sites s ON s.id = p.site_id WHERE {SCOPE}"
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(q)).bind(&scope.site).bind(&scope.probe).fetch_all(&mut *tx).await? {
            let mac: PgMac = r.try_get(2)?;
            out.macs.push(StoredMac {
                probe: r.try_get(0)?,
                interface: r.try_get(1)?,
                mac: mac.0,
                first_seen_ns: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                last_seen_ns: u64::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
                traffic: crate::hosts::traffic(&r, 5)?,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}
