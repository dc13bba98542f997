//! Sites, probes and their certificates; the shared CA; what a probe says of itself (Hello).

use sqlx::Row;
use wirewatch_wire::{Hello, SpoolStatus};

use crate::{Result, Store, StoreError};

/// A probe as enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeIdentity {
    pub id: i64,
    pub name: String,
    pub site: String,
    pub revoked: bool,
}

/// One row of `probe list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeStatus {
    pub name: String,
    pub site: String,
    pub revoked: bool,
    pub software_version: Option<String>,
    pub os: Option<String>,
    pub hostname: Option<String>,
    pub controller: Option<String>,
    pub last_seq: Option<i64>,
    pub last_batch_at: Option<String>,
    pub spool_pending_batches: i64,
    pub spool_dropped_batches: i64,
    pub spool_dropped_bytes: i64,
}

/// The revocation lock of a probe: an advisory lock (two-key space, so apart from the
/// single-key locks elsewhere) that writers hold shared while a batch of the probe commits and
/// a revocation takes exclusively until it commits.
const REVOCATION_LOCK_SHARED: &str =
    "SELECT pg_advisory_lock_shared(hashtext('wirewatch revocation'), ($1::bigint % 2147483647)::int)";
const REVOCATION_UNLOCK_SHARED: &str =
    "SELECT pg_advisory_unlock_shared(hashtext('wirewatch revocation'), ($1::bigint % 2147483647)::int)";
const REVOCATION_LOCK_EXCLUSIVE: &str =
    "SELECT pg_advisory_xact_lock(hashtext('wirewatch revocation'), ($1::bigint % 2147483647)::int)";

/// Checks, per batch, that a probe and its certificate are still enrolled, and keeps that true
/// until the batch has committed: [`RevocationGuard::admit`] takes the probe's revocation lock
/// shared and then reads the revocation columns (a fresh snapshot, after the lock); the caller
/// commits the batch and calls [`RevocationGuard::release`]. A revocation takes the lock
/// exclusively, so it waits for a batch in flight, and a batch that arrives meanwhile waits
/// for the revocation and then sees it. So no batch commits after its probe's revocation.
///
/// One per writer task: it owns a connection outside the pool. After an error the connection
/// is dropped (which also releases the lock) and made again at the next use.
pub struct RevocationGuard {
    conn: Option<sqlx::PgConnection>,
    /// The probe whose lock is held.
    held: Option<i64>,
}

impl std::fmt::Debug for RevocationGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationGuard").field("held", &self.held).finish_non_exhaustive()
    }
}

impl RevocationGuard {
    /// Takes `probe_id`'s revocation lock (shared) and answers whether the probe and the
    /// certificate `cert_sha256` are both unrevoked. The lock stays held (also when the answer
    /// is false) until [`RevocationGuard::release`].
    pub async fn admit(&mut self, store: &Store, probe_id: i64, cert_sha256: &[u8]) -> Result<bool> {
        let r = self.admit_once(store, probe_id, cert_sha256).await;
        if r.is_err() {
            self.conn = None;
            self.held = None;
        }
        r
    }

    async fn admit_once(&mut self, store: &Store, probe_id: i64, cert_sha256: &[u8]) -> Result<bool> {
        if self.held.is_some() {
            self.release().await?;
        }
        if self.conn.is_none() {
            self.conn = store.revocation_guard().await?.conn;
        }
        let Some(conn) = self.conn.as_mut() else { return Err(StoreError::NotFound("guard connection".into())) };
        sqlx::query(REVOCATION_LOCK_SHARED).bind(probe_id).execute(&mut *conn).await?;
        self.held = Some(probe_id);
        let live: Option<bool> = sqlx::query_scalar(
            "SELECT p.revoked_at IS NULL AND c.revoked_at IS NULL
             FROM probe_certs c JOIN probes p ON p.id = c.probe_id WHERE c.sha256 = $1 AND p.id = $2",
        )
        .bind(cert_sha256)
        .bind(probe_id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(live.unwrap_or(false))
    }

    /// Releases the lock taken by [`RevocationGuard::admit`] (after the batch committed).
    pub async fn release(&mut self) -> Result<()> {
        let (Some(id), Some(conn)) = (self.held.take(), self.conn.as_mut()) else { return Ok(()) };
        if let Err(e) = sqlx::query(REVOCATION_UNLOCK_SHARED).bind(id).execute(&mut *conn).await {
            // The connection is in doubt: drop it (the server releases its locks).
            self.conn = None;
            return Err(e.into());
        }
        Ok(())
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Creates a probe (and its site if new) holding the certificate `cert_sha256`. With
    /// `replace`, an existing probe of that name gets the new certificate and every older one
    /// is revoked.
    pub async fn enroll(&self, name: &str, site: &str, cert_sha256: &[u8], replace: bool) -> Result<ProbeIdentity> {
        self.enroll_into(name, site, cert_sha256, replace, false).await
    }

    /// [`Store::enroll`], and with `move_site` a re-enrolment may name another site than the
    /// probe's: its history (samples, totals, rollups are the probe's) moves with it. Without
    /// it such a re-enrolment is refused, so a typo cannot hand one site's history to another.
    pub async fn enroll_into(
        &self,
        name: &str,
        site: &str,
        cert_sha256: &[u8],
        replace: bool,
        move_site: bool,
    ) -> Result<ProbeIdentity> {
        let mut tx = self.pool.begin().await?;
        let site_id: i64 = sqlx::query_scalar(
            "INSERT INTO sites (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(site)
        .fetch_one(&mut *tx)
        .await?;
        // Replacing revokes the older certificates: take the revocation lock first (as `revoke`).
        let known: Option<i64> =
            sqlx::query_scalar("SELECT id FROM probes WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        if let (Some(id), true) = (known, replace) {
            sqlx::query(REVOCATION_LOCK_EXCLUSIVE).bind(id).execute(&mut *tx).await?;
        }
        let existing: Option<(i64, i64)> = sqlx::query_as("SELECT id, site_id FROM probes WHERE name = $1 FOR UPDATE")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let id = match existing {
            Some(_) if !replace => return Err(StoreError::Exists(format!("probe {name:?}"))),
            Some((_, old_site)) if old_site != site_id && !move_site => {
                let old: String = sqlx::query_scalar("SELECT name FROM sites WHERE id = $1")
                    .bind(old_site)
                    .fetch_one(&mut *tx)
                    .await?;
                return Err(StoreError::Invalid(format!(
                    "probe {name:?} belongs to site {old:?}: re-enrolling it into site {site:?} would move all its \
                     stored history (totals, samples, rollups) to {site:?}, out of sight of {old:?}'s viewers; \
                     add --move-site to do that, or enrol it under a new name"
                )));
            }
            Some((id, _)) => {
                sqlx::query("UPDATE probe_certs SET revoked_at = now() WHERE probe_id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE probes SET revoked_at = NULL, site_id = $2 WHERE id = $1")
                    .bind(id)
                    .bind(site_id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => {
                sqlx::query_scalar("INSERT INTO probes (site_id, name) VALUES ($1, $2) RETURNING id")
                    .bind(site_id)
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        sqlx::query("INSERT INTO probe_certs (sha256, probe_id) VALUES ($1, $2)")
            .bind(cert_sha256)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ProbeIdentity { id, name: name.to_string(), site: site.to_string(), revoked: false })
    }

    /// Revokes a probe and all its certificates. Returns the certificates' fingerprints.
    ///
    /// Takes the probe's revocation lock first (see [`RevocationGuard`]): the revocation
    /// waits for batches of this probe that are being committed, and no batch of it commits
    /// after the revocation did. The lock comes before any row lock (a writer holding the
    /// shared lock updates the probe's row inside its batch).
    pub async fn revoke(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM probes WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        let id = id.ok_or_else(|| StoreError::NotFound(format!("probe {name:?}")))?;
        sqlx::query(REVOCATION_LOCK_EXCLUSIVE).bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE probes SET revoked_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
        let certs: Vec<Vec<u8>> = sqlx::query_scalar(
            "UPDATE probe_certs SET revoked_at = coalesce(revoked_at, now()) WHERE probe_id = $1 RETURNING sha256",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(certs)
    }

    /// A connection of its own (outside the pool, so a writer holding it never waits for the
    /// pool while holding a lock) for [`RevocationGuard::admit`].
    pub async fn revocation_guard(&self) -> Result<RevocationGuard> {
        use sqlx::Connection;
        let opts = self.pool.connect_options();
        let conn = sqlx::PgConnection::connect_with(&opts).await?;
        Ok(RevocationGuard { conn: Some(conn), held: None })
    }

    /// Fingerprints of every revoked certificate (the handshake refuses them).
    pub async fn revoked_certs(&self) -> Result<Vec<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT sha256 FROM probe_certs WHERE revoked_at IS NOT NULL")
            .fetch_all(&self.pool)
            .await?)
    }

    /// The probe holding a certificate, if it is enrolled.
    pub async fn probe_by_cert(&self, sha256: &[u8]) -> Result<Option<ProbeIdentity>> {
        let row = sqlx::query(
            "SELECT p.id, p.name, s.name AS site, (c.revoked_at IS NOT NULL OR p.revoked_at IS NOT NULL) AS revoked
             FROM probe_certs c JOIN probes p ON p.id = c.probe_id JOIN sites s ON s.id = p.site_id
             WHERE c.sha256 = $1",
        )
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ProbeIdentity {
            id: r.get("id"),
            name: r.get("name"),
            site: r.get("site"),
            revoked: r.get("revoked"),
        }))
    }

    /// Records what a probe said when it connected; returns its last committed sequence.
    pub async fn hello(&self, probe_id: i64, controller: &str, h: &Hello) -> Result<Option<u64>> {
        let last: Option<i64> = sqlx::query_scalar(
            "UPDATE probes SET software_version = $2, os = $3, hostname = $4, uptime_secs = $5, last_hello_at = now(),
                    controller = $6
             WHERE id = $1 RETURNING last_seq",
        )
        .bind(probe_id)
        .bind(&h.software_version)
        .bind(&h.os)
        .bind(&h.hostname)
        .bind(clamp(h.uptime_secs))
        .bind(controller)
        .fetch_one(&self.pool)
        .await?;
        self.spool_status(probe_id, &h.spool).await?;
        for i in &h.interfaces {
            sqlx::query(
                "INSERT INTO interfaces (probe_id, name, link_type, live) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (probe_id, name) DO UPDATE SET link_type = excluded.link_type, live = excluded.live",
            )
            .bind(probe_id)
            .bind(&i.name)
            .bind(&i.link_type)
            .bind(i.live)
            .execute(&self.pool)
            .await?;
        }
        Ok(last.and_then(|v| u64::try_from(v).ok()))
    }

    /// Records a probe's spool figures.
    pub async fn spool_status(&self, probe_id: i64, s: &SpoolStatus) -> Result<()> {
        sqlx::query(
            "UPDATE probes SET spool_pending_batches = $2, spool_pending_bytes = $3, spool_dropped_batches = $4,
                    spool_dropped_bytes = $5, spool_last_dropped_seq = $6
             WHERE id = $1",
        )
        .bind(probe_id)
        .bind(clamp(s.pending_batches))
        .bind(clamp(s.pending_bytes))
        .bind(clamp(s.dropped_batches))
        .bind(clamp(s.dropped_bytes))
        .bind(s.last_dropped_seq.map(clamp))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every probe, by site and name.
    pub async fn probes(&self) -> Result<Vec<ProbeStatus>> {
        let rows = sqlx::query(
            "SELECT p.name, s.name AS site, p.revoked_at IS NOT NULL AS revoked, p.software_version, p.os, p.hostname,
                    p.controller, p.last_seq, to_char(p.last_batch_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_batch_at,
                    p.spool_pending_batches, p.spool_dropped_batches, p.spool_dropped_bytes
             FROM probes p JOIN sites s ON s.id = p.site_id ORDER BY s.name, p.name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ProbeStatus {
                name: r.get("name"),
                site: r.get("site"),
                revoked: r.get("revoked"),
                software_version: r.get("software_version"),
                os: r.get("os"),
                hostname: r.get("hostname"),
                controller: r.get("controller"),
                last_seq: r.get("last_seq"),
                last_batch_at: r.get("last_batch_at"),
                spool_pending_batches: r.get("spool_pending_batches"),
                spool_dropped_batches: r.get("spool_dropped_batches"),
                spool_dropped_bytes: r.get("spool_dropped_bytes"),
            })
            .collect())
    }

    /// The CA shared by the controllers of this database, if one was stored.
    pub async fn ca(&self) -> Result<Option<(String, String)>> {
        Ok(sqlx::query_as("SELECT cert_pem, key_pem FROM ca WHERE id = 1").fetch_optional(&self.pool).await?)
    }

    /// Stores a CA unless one exists; returns the one that is stored (ours or the earlier one).
    pub async fn put_ca(&self, cert_pem: &str, key_pem: &str) -> Result<(String, String)> {
        sqlx::query("INSERT INTO ca (id, cert_pem, key_pem) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(cert_pem)
            .bind(key_pem)
            .execute(&self.pool)
            .await?;
        self.ca().await?.ok_or_else(|| StoreError::NotFound("CA".into()))
    }
}
