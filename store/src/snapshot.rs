//! A consistent read-only view for one Python script run: one REPEATABLE READ transaction, so
//! everything a run reads (interfaces, every page of a host cursor, one host) is as of one
//! moment, however long the script walks. Engine preferences are read and written outside it
//! (a script sees its own changes and those committed before it started).

use sqlx::{Postgres, Transaction};

use std::net::IpAddr;

use wirewatch_model::Host;

use crate::api::{self, ProbeRow};
use crate::hosts::{self, HostCursor, HostQuery, Services};
use crate::{Result, Store};

/// A read-only transaction scoped to the sites `allowed` (`None`: all).
pub struct Snapshot {
    tx: Transaction<'static, Postgres>,
    allowed: Option<Vec<String>>,
}

impl Store {
    /// Opens a snapshot (holds one pool connection until dropped).
    pub async fn snapshot(&self, allowed: Option<Vec<String>>) -> Result<Snapshot> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        Ok(Snapshot { tx, allowed })
    }
}

impl Snapshot {
    /// Every probe the caller may see with its interfaces, ordered by site, probe, interface.
    pub async fn probes(&mut self) -> Result<Vec<ProbeRow>> {
        let mut probes = api::probe_rows(&mut self.tx, self.allowed.as_deref(), None, None).await?;
        probes.sort_by(|a, b| (&a.site, &a.name).cmp(&(&b.site, &b.name)));
        Ok(probes)
    }

    /// A page of hosts with every counter (`wirewatch.hosts()`).
    pub async fn host_page(&mut self, q: &HostQuery) -> Result<(Vec<Host>, Option<HostCursor>)> {
        hosts::hosts(&mut self.tx, self.allowed.as_deref(), q).await
    }

    /// One interface's hosts in address order after `after` (ntop's cursor).
    pub async fn interface_hosts(
        &mut self,
        probe_id: i64,
        interface_id: i64,
        after: Option<IpAddr>,
        limit: i64,
    ) -> Result<Vec<Host>> {
        hosts::interface_hosts(&mut self.tx, self.allowed.as_deref(), probe_id, interface_id, after, limit).await
    }

    /// One host with its services (see [`Store::host`]).
    pub async fn host(&mut self, interface_id: i64, ip: IpAddr) -> Result<Option<(Host, Services)>> {
        hosts::one(&mut self.tx, self.allowed.as_deref(), interface_id, ip).await
    }
}

/// One engine preference.
#[derive(Debug, Clone, PartialEq)]
pub struct EnginePreference {
    /// The namespace: "" global (users who see every site), else a site's name.
    pub site: String,
    pub key: String,
    pub value: String,
    pub updated_by: String,
}

impl Store {
    /// The value of `key` in the first of `scopes` (in that order) that has it; the caller
    /// passes only the namespaces its user may read (`""` is the global one).
    pub async fn engine_preference(&self, scopes: &[String], key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT p.value FROM engine_preferences p JOIN unnest($1::text[]) WITH ORDINALITY AS s(site, n) \
             ON p.site = s.site WHERE p.key = $2 ORDER BY s.n LIMIT 1",
        )
        .bind(scopes)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Sets `key` in namespace `site` ("" global); the caller checked the user may write it.
    pub async fn set_engine_preference(&self, site: &str, key: &str, value: &str, by: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO engine_preferences (site, key, value, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (site, key) DO UPDATE SET value = excluded.value, updated_at = now(), updated_by = excluded.updated_by",
        )
        .bind(site)
        .bind(key)
        .bind(value)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every preference of the namespaces `scopes`.
    pub async fn engine_preferences(&self, scopes: &[String]) -> Result<Vec<EnginePreference>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT site, key, value, updated_by FROM engine_preferences WHERE site = ANY($1) ORDER BY site, key",
        )
        .bind(scopes)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(site, key, value, updated_by)| EnginePreference { site, key, value, updated_by })
            .collect())
    }
}
