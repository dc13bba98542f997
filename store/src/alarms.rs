//! rrdAlarm's storage: the thresholds (ntop's ten fields as the validated texts they were
//! given, in file order), the checker's re-arm state (when each threshold last fired for each
//! file) and the run history. Validation and the check belong to `wirewatch-alarm`; this
//! module stores what it is given.
//!
//! An import and a check serialise on one transaction-scoped advisory lock, so a check never
//! saves re-arm state for thresholds an import just replaced, and two checks never fire the
//! same threshold for the same file twice within its re-arm time.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row};

use crate::events::{NewAction, NewEvent};
use crate::{Result, Store};

/// The lock an import and a check hold for their whole transaction.
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('wirewatch alarms'))";

/// A threshold to store: its ID's number and ntop's ten fields in file order (the ID's text
/// first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewThreshold {
    pub id: i64,
    pub fields: [String; 10],
}

/// A stored threshold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredThreshold {
    pub id: i64,
    pub fields: [String; 10],
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// What replacing the thresholds did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replaced {
    pub thresholds: usize,
    /// Thresholds whose ten fields are the same as before (their re-arm state is kept).
    pub unchanged: usize,
    /// Re-arm rows dropped (their threshold was removed or edited).
    pub rearm_dropped: u64,
}

/// When a threshold last fired for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rearm {
    pub threshold_id: i64,
    pub file: String,
    pub fired_at: DateTime<Utc>,
}

/// One check, for the run history.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRun {
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub thresholds: i32,
    pub files_checked: i32,
    pub alarms_fired: i32,
    /// The controller that ran it.
    pub controller: String,
}

const THRESHOLD_COLS: &str = "id, id_text, rrd_path, kind, value, repetitions, start_time, end_time, action, \
                              action_parameter, rearm_secs, updated_by, updated_at";

fn stored(r: &sqlx::postgres::PgRow) -> Result<StoredThreshold> {
    let f = |c: &str| -> Result<String> { Ok(r.try_get(c)?) };
    Ok(StoredThreshold {
        id: r.try_get("id")?,
        fields: [
            f("id_text")?,
            f("rrd_path")?,
            f("kind")?,
            f("value")?,
            f("repetitions")?,
            f("start_time")?,
            f("end_time")?,
            f("action")?,
            f("action_parameter")?,
            f("rearm_secs")?,
        ],
        updated_by: r.try_get("updated_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn list(conn: &mut sqlx::PgConnection) -> Result<Vec<StoredThreshold>> {
    let q = format!("SELECT {THRESHOLD_COLS} FROM alarm_thresholds ORDER BY position");
    let rows = sqlx::query(sqlx::AssertSqlSafe(q)).fetch_all(&mut *conn).await?;
    rows.iter().map(stored).collect()
}

impl Store {
    /// Replaces every threshold by `thresholds` (in this order) in one transaction. A
    /// threshold whose ten fields are unchanged keeps its re-arm state and its `updated_by`
    /// and `updated_at`; the re-arm state of every other ID is dropped.
    pub async fn replace_alarm_thresholds(&self, thresholds: &[NewThreshold], by: &str) -> Result<Replaced> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK).execute(&mut *tx).await?;
        let old = list(&mut tx).await?;
        let now = self.clock.now();
        let mut unchanged_ids = Vec::new();
        let mut updated_by = Vec::with_capacity(thresholds.len());
        let mut updated_at = Vec::with_capacity(thresholds.len());
        for t in thresholds {
            match old.iter().find(|o| o.id == t.id && o.fields == t.fields) {
                Some(o) => {
                    unchanged_ids.push(t.id);
                    updated_by.push(o.updated_by.clone());
                    updated_at.push(o.updated_at);
                }
                None => {
                    updated_by.push(by.to_string());
                    updated_at.push(now);
                }
            }
        }
        sqlx::query("DELETE FROM alarm_thresholds").execute(&mut *tx).await?;
        let ids: Vec<i64> = thresholds.iter().map(|t| t.id).collect();
        let positions: Vec<i32> = (0..thresholds.len()).map(|i| i32::try_from(i).unwrap_or(i32::MAX)).collect();
        let col = |i: usize| -> Vec<String> { thresholds.iter().map(|t| t.fields[i].clone()).collect() };
        sqlx::query(
            "INSERT INTO alarm_thresholds (id, position, id_text, rrd_path, kind, value, repetitions, start_time, \
               end_time, action, action_parameter, rearm_secs, updated_by, updated_at) \
             SELECT * FROM unnest($1::int8[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], \
               $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
               $14::timestamptz[])",
        )
        .bind(&ids)
        .bind(&positions)
        .bind(col(0))
        .bind(col(1))
        .bind(col(2))
        .bind(col(3))
        .bind(col(4))
        .bind(col(5))
        .bind(col(6))
        .bind(col(7))
        .bind(col(8))
        .bind(col(9))
        .bind(&updated_by)
        .bind(&updated_at)
        .execute(&mut *tx)
        .await?;
        let dropped = sqlx::query("DELETE FROM alarm_rearm WHERE NOT (threshold_id = ANY($1::int8[]))")
            .bind(&unchanged_ids)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Replaced { thresholds: thresholds.len(), unchanged: unchanged_ids.len(), rearm_dropped: dropped })
    }

    /// Every threshold, in file order.
    pub async fn alarm_thresholds(&self) -> Result<Vec<StoredThreshold>> {
        let mut conn = self.pool.acquire().await?;
        list(&mut conn).await
    }

    /// The last `limit` checks, newest first.
    pub async fn alarm_runs(&self, limit: i64) -> Result<Vec<AlarmRun>> {
        let rows = sqlx::query(
            "SELECT started_at, duration_ms, thresholds, files_checked, alarms_fired, controller \
             FROM alarm_runs ORDER BY started_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AlarmRun {
                    started_at: r.try_get("started_at")?,
                    duration_ms: r.try_get("duration_ms")?,
                    thresholds: r.try_get("thresholds")?,
                    files_checked: r.try_get("files_checked")?,
                    alarms_fired: r.try_get("alarms_fired")?,
                    controller: r.try_get("controller")?,
                })
            })
            .collect()
    }

    /// Starts a check: a transaction holding the alarms' lock (released when the check is
    /// committed or dropped).
    pub async fn begin_alarm_check(&self) -> Result<AlarmCheck> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK).execute(&mut *tx).await?;
        Ok(AlarmCheck { tx })
    }
}

/// A check in progress: it reads the thresholds and the re-arm state, then saves the new
/// re-arm state and its run in the same transaction.
pub struct AlarmCheck {
    tx: sqlx::Transaction<'static, Postgres>,
}

impl AlarmCheck {
    /// Every threshold, in file order.
    pub async fn thresholds(&mut self) -> Result<Vec<StoredThreshold>> {
        list(&mut self.tx).await
    }

    /// The whole re-arm state.
    pub async fn rearm(&mut self) -> Result<Vec<Rearm>> {
        let rows = sqlx::query("SELECT threshold_id, file, fired_at FROM alarm_rearm ORDER BY threshold_id, file")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Rearm {
                    threshold_id: r.try_get("threshold_id")?,
                    file: r.try_get("file")?,
                    fired_at: r.try_get("fired_at")?,
                })
            })
            .collect()
    }

    /// Records firings (inserted, or replacing the older firing of the same threshold and file).
    pub async fn save_rearm(&mut self, fired: &[Rearm]) -> Result<()> {
        if fired.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = fired.iter().map(|r| r.threshold_id).collect();
        let files: Vec<String> = fired.iter().map(|r| r.file.clone()).collect();
        let at: Vec<DateTime<Utc>> = fired.iter().map(|r| r.fired_at).collect();
        sqlx::query(
            "INSERT INTO alarm_rearm (threshold_id, file, fired_at) \
             SELECT * FROM unnest($1::int8[], $2::text[], $3::timestamptz[]) \
             ON CONFLICT (threshold_id, file) DO UPDATE SET fired_at = excluded.fired_at",
        )
        .bind(&ids)
        .bind(&files)
        .bind(&at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records a check's events and their actions: each action's `events` are indexes into
    /// `events`. The actions are pending, claimed by `controller` until `claimed_until`. The
    /// events' IDs and the actions' IDs, in order.
    pub async fn record_events(
        &mut self,
        events: &[NewEvent],
        actions: &[NewAction],
        controller: &str,
        claimed_until: DateTime<Utc>,
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        let ids = crate::events::insert_events(&mut self.tx, events).await?;
        let actions: Vec<NewAction> = actions
            .iter()
            .map(|a| NewAction {
                action: a.action.clone(),
                parameter: a.parameter.clone(),
                events: a
                    .events
                    .iter()
                    .filter_map(|&i| usize::try_from(i).ok().and_then(|i| ids.get(i)).copied())
                    .collect(),
            })
            .collect();
        let at = events.first().map(|e| e.raised_at).unwrap_or_else(Utc::now);
        let action_ids = crate::events::insert_actions(&mut self.tx, &actions, at, controller, claimed_until).await?;
        Ok((ids, action_ids))
    }

    /// Records the run and commits (the re-arm state saved with it).
    pub async fn finish(mut self, run: &AlarmRun) -> Result<()> {
        sqlx::query(
            "INSERT INTO alarm_runs (started_at, duration_ms, thresholds, files_checked, alarms_fired, controller) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(run.started_at)
        .bind(run.duration_ms)
        .bind(run.thresholds)
        .bind(run.files_checked)
        .bind(run.alarms_fired)
        .bind(&run.controller)
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
