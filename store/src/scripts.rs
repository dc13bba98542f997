//! Scheduled scripts' runs: each run's output and outcome (the newest [`KEEP_PER_SCRIPT`] per
//! script are kept), read back by the reports API.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{Result, Store};

/// Runs kept per script; older ones are deleted as new ones are recorded.
pub const KEEP_PER_SCRIPT: i64 = 100;

/// A scheduled run to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScriptRun {
    pub script: String,
    /// `alarm` or `report`.
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `ok` or `failed`.
    pub status: String,
    pub content_type: String,
    pub output: Vec<u8>,
    pub error: Option<String>,
    pub controller: String,
    pub mailed_to: Option<String>,
    pub mail_error: Option<String>,
}

/// A recorded run (its output apart: [`Store::script_run_output`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRun {
    pub id: i64,
    pub script: String,
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: String,
    pub content_type: String,
    pub output_bytes: i64,
    pub error: Option<String>,
    pub controller: String,
    pub mailed_to: Option<String>,
    pub mail_error: Option<String>,
}

const COLS: &str = "id, script, kind, started_at, finished_at, status, content_type, octet_length(output)::int8 AS \
                    output_bytes, error, controller, mailed_to, mail_error";

fn run(r: &sqlx::postgres::PgRow) -> Result<ScriptRun> {
    Ok(ScriptRun {
        id: r.try_get("id")?,
        script: r.try_get("script")?,
        kind: r.try_get("kind")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        status: r.try_get("status")?,
        content_type: r.try_get("content_type")?,
        output_bytes: r.try_get("output_bytes")?,
        error: r.try_get("error")?,
        controller: r.try_get("controller")?,
        mailed_to: r.try_get("mailed_to")?,
        mail_error: r.try_get("mail_error")?,
    })
}

impl Store {
    /// Records a run and drops the script's runs beyond the newest [`KEEP_PER_SCRIPT`].
    pub async fn record_script_run(&self, r: &NewScriptRun) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO script_runs (script, kind, started_at, finished_at, status, content_type, output, error, \
               controller, mailed_to, mail_error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&r.script)
        .bind(&r.kind)
        .bind(r.started_at)
        .bind(r.finished_at)
        .bind(&r.status)
        .bind(&r.content_type)
        .bind(&r.output)
        .bind(&r.error)
        .bind(&r.controller)
        .bind(&r.mailed_to)
        .bind(&r.mail_error)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM script_runs WHERE script = $1 AND id < \
               (SELECT min(id) FROM (SELECT id FROM script_runs WHERE script = $1 ORDER BY id DESC LIMIT $2) k)",
        )
        .bind(&r.script)
        .bind(KEEP_PER_SCRIPT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Runs, newest first: of one kind and one script if given, before ID `before` (paging).
    pub async fn script_runs(
        &self,
        kind: Option<&str>,
        script: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ScriptRun>> {
        let q = format!(
            "SELECT {COLS} FROM script_runs WHERE ($1::text IS NULL OR kind = $1) \
               AND ($2::text IS NULL OR script = $2) AND ($3::int8 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(kind)
            .bind(script)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run).collect()
    }

    /// One run with its output.
    pub async fn script_run_output(&self, id: i64) -> Result<Option<(ScriptRun, Vec<u8>)>> {
        let q = format!("SELECT {COLS}, output FROM script_runs WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(&self.pool).await?;
        match row {
            Some(r) => Ok(Some((run(&r)?, r.try_get("output")?))),
            None => Ok(None),
        }
    }
}
