//! A consistent read-only view for one Python script run: one REPEATABLE READ transaction, so
//! everything a run reads (interfaces, every page of a host cursor, one host) is as of one
//! moment, however long the script walks. Engine preferences are read and written outside it
//! (a script sees its own changes and those committed before it started).

use sqlx::{Postgres, Transaction};

use crate::api::{self, HostCursor, HostQuery, HostRecord, ProbeRow};
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

    /// A page of hosts (see [`Store::host_page`]).
    pub async fn host_page(&mut self, q: &HostQuery) -> Result<(Vec<HostRecord>, Option<HostCursor>)> {
        api::host_page(&mut self.tx, self.allowed.as_deref(), q).await
    }

    /// One interface's hosts in address order after `after` (ntop's cursor).
    pub async fn interface_hosts(
        &mut self,
        probe_id: i64,
        interface_id: i64,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<HostRecord>> {
        api::interface_hosts(&mut self.tx, self.allowed.as_deref(), probe_id, interface_id, after, limit).await
    }

    /// One host with its services (see [`Store::host`]).
    pub async fn host(&mut self, interface_id: i64, ip: &str) -> Result<Option<(HostRecord, Vec<(String, [i64; 4])>)>> {
        api::host(&mut self.tx, self.allowed.as_deref(), interface_id, ip).await
    }
}

/// One engine preference.
#[derive(Debug, Clone, PartialEq)]
pub struct EnginePreference {
    pub key: String,
    pub value: String,
    pub updated_by: String,
}

impl Store {
    pub async fn engine_preference(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM engine_preferences WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn set_engine_preference(&self, key: &str, value: &str, by: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO engine_preferences (key, value, updated_by) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now(), updated_by = excluded.updated_by",
        )
        .bind(key)
        .bind(value)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn engine_preferences(&self) -> Result<Vec<EnginePreference>> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT key, value, updated_by FROM engine_preferences ORDER BY key")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(key, value, updated_by)| EnginePreference { key, value, updated_by }).collect())
    }
}
