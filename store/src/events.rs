//! Alarm events and their actions: what a check or a script raised, who acknowledged it, and
//! each action's run (claimed by one controller, attempts, outcome).
//!
//! Scope: an event names at most one probe (`probe_id`); a caller limited to some sites sees
//! the events of their sites' probes only, and events naming no probe need every site.
//!
//! Actions are rows before they run: a check (or a raised alarm) inserts its events and their
//! `pending` actions in one transaction, claimed by its controller for a lease; the controller
//! runs them and records the outcome. A controller that dies leaves its rows pending; once the
//! lease has run out, the next controller to claim stale actions runs them (at least once).

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{Result, Store};

/// An event to record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewEvent {
    pub raised_at: DateTime<Utc>,
    /// `threshold` or `script`.
    pub source: String,
    pub name: String,
    /// `info`, `warning`, `error` or `critical`.
    pub severity: String,
    pub subject: String,
    pub message: String,
    pub probe_id: Option<i64>,
    pub threshold_id: Option<i64>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub direction: Option<String>,
    pub value_at: Option<DateTime<Utc>>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub controller: String,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    pub id: i64,
    #[serde(flatten)]
    pub event: NewEvent,
    /// The probe's name (`None`: the event names no probe).
    pub probe: Option<String>,
    pub acked_at: Option<DateTime<Utc>>,
    pub acked_by: Option<String>,
}

/// An action to run for some events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    pub action: String,
    pub parameter: String,
    /// Indexes into the events inserted with it (the same transaction), or stored event IDs.
    pub events: Vec<i64>,
}

/// A stored action run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActionRun {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub action: String,
    pub parameter: String,
    pub event_ids: Vec<i64>,
    /// `pending`, `ok` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Which events a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventState {
    #[default]
    All,
    /// Not acknowledged.
    Open,
    Acked,
}

/// A page of events, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter<'a> {
    /// The caller's sites (`None`: every site).
    pub allowed: Option<&'a [String]>,
    pub state: EventState,
    pub severity: Option<&'a str>,
    pub source: Option<&'a str>,
    pub site: Option<&'a str>,
    pub probe: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Events with a smaller ID than this (the previous page's last).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Events the caller may see: `$1` is the caller's sites.
const VISIBLE: &str = "($1::text[] IS NULL OR e.probe_id IN \
                       (SELECT p.id FROM probes p JOIN sites s ON s.id = p.site_id WHERE s.name = ANY($1)))";

const EVENT_COLS: &str = "e.id, e.raised_at, e.source, e.name, e.severity, e.subject, e.message, e.probe_id, \
                          e.threshold_id, e.value, e.threshold, e.direction, e.value_at, e.window_start, e.window_end, e.controller, e.acked_at, e.acked_by, \
                          (SELECT p.name FROM probes p WHERE p.id = e.probe_id) AS probe";

const ACTION_COLS: &str =
    "id, created_at, action, parameter, event_ids, status, attempts, last_error, claimed_by, finished_at";

fn event(r: &sqlx::postgres::PgRow) -> Result<Event> {
    Ok(Event {
        id: r.try_get("id")?,
        event: NewEvent {
            raised_at: r.try_get("raised_at")?,
            source: r.try_get("source")?,
            name: r.try_get("name")?,
            severity: r.try_get("severity")?,
            subject: r.try_get("subject")?,
            message: r.try_get("message")?,
            probe_id: r.try_get("probe_id")?,
            threshold_id: r.try_get("threshold_id")?,
            value: r.try_get("value")?,
            threshold: r.try_get("threshold")?,
            direction: r.try_get("direction")?,
            value_at: r.try_get("value_at")?,
            window_start: r.try_get("window_start")?,
            window_end: r.try_get("window_end")?,
            controller: r.try_get("controller")?,
        },
        probe: r.try_get("probe")?,
        acked_at: r.try_get("acked_at")?,
        acked_by: r.try_get("acked_by")?,
    })
}

fn action(r: &sqlx::postgres::PgRow) -> Result<ActionRun> {
    Ok(ActionRun {
        id: r.try_get("id")?,
        created_at: r.try_get("created_at")?,
        action: r.try_get("action")?,
        parameter: r.try_get("parameter")?,
        event_ids: r.try_get("event_ids")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        claimed_by: r.try_get("claimed_by")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// Inserts events; their IDs in order.
pub(crate) async fn insert_events(conn: &mut sqlx::PgConnection, events: &[NewEvent]) -> Result<Vec<i64>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let col = |f: fn(&NewEvent) -> String| -> Vec<String> { events.iter().map(f).collect() };
    let at: Vec<DateTime<Utc>> = events.iter().map(|e| e.raised_at).collect();
    let probe: Vec<Option<i64>> = events.iter().map(|e| e.probe_id).collect();
    let tid: Vec<Option<i64>> = events.iter().map(|e| e.threshold_id).collect();
    let value: Vec<Option<f64>> = events.iter().map(|e| e.value).collect();
    let threshold: Vec<Option<f64>> = events.iter().map(|e| e.threshold).collect();
    let direction: Vec<Option<String>> = events.iter().map(|e| e.direction.clone()).collect();
    let value_at: Vec<Option<DateTime<Utc>>> = events.iter().map(|e| e.value_at).collect();
    let window_start: Vec<Option<String>> = events.iter().map(|e| e.window_start.clone()).collect();
    let window_end: Vec<Option<String>> = events.iter().map(|e| e.window_end.clone()).collect();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO alarm_events (raised_at, source, name, severity, subject, message, probe_id, threshold_id, \
           value, threshold, direction, controller, value_at, window_start, window_end) \
         SELECT a, b, c, d, e, f, g, h, i, j, k, l, m, o, q FROM unnest($1::timestamptz[], $2::text[], $3::text[], \
           $4::text[], $5::text[], $6::text[], $7::int8[], $8::int8[], $9::float8[], $10::float8[], $11::text[], \
           $12::text[], $13::timestamptz[], $14::text[], $15::text[]) WITH ORDINALITY \
           AS t(a, b, c, d, e, f, g, h, i, j, k, l, m, o, q, n) ORDER BY n \
         RETURNING id",
    )
    .bind(&at)
    .bind(col(|e| e.source.clone()))
    .bind(col(|e| e.name.clone()))
    .bind(col(|e| e.severity.clone()))
    .bind(col(|e| e.subject.clone()))
    .bind(col(|e| e.message.clone()))
    .bind(&probe)
    .bind(&tid)
    .bind(&value)
    .bind(&threshold)
    .bind(&direction)
    .bind(col(|e| e.controller.clone()))
    .bind(&value_at)
    .bind(&window_start)
    .bind(&window_end)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids)
}

/// Inserts pending actions claimed by `controller` until `claimed_until`; `events` of each are
/// stored event IDs. Their IDs in order.
pub(crate) async fn insert_actions(
    conn: &mut sqlx::PgConnection,
    actions: &[NewAction],
    at: DateTime<Utc>,
    controller: &str,
    claimed_until: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(actions.len());
    for a in actions {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alarm_actions (created_at, action, parameter, event_ids, status, claimed_by, claimed_until) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
        )
        .bind(at)
        .bind(&a.action)
        .bind(&a.parameter)
        .bind(&a.events)
        .bind(controller)
        .bind(claimed_until)
        .fetch_one(&mut *conn)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

impl Store {
    /// Records one event and its actions (pending, claimed by `controller` for `lease`) in one
    /// transaction: the event's ID and the actions' IDs.
    pub async fn raise_event(
        &self,
        event: &NewEvent,
        actions: &[(String, String)],
        controller: &str,
        lease: std::time::Duration,
    ) -> Result<(i64, Vec<i64>)> {
        let mut tx = self.pool.begin().await?;
        let id = insert_events(&mut tx, std::slice::from_ref(event))
            .await?
            .first()
            .copied()
            .ok_or_else(|| crate::StoreError::Invalid("the event was not stored".into()))?;
        let new: Vec<NewAction> = actions
            .iter()
            .map(|(a, p)| NewAction { action: a.clone(), parameter: p.clone(), events: vec![id] })
            .collect();
        let now = self.clock.now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(10));
        let ids = insert_actions(&mut tx, &new, now, controller, until).await?;
        tx.commit().await?;
        Ok((id, ids))
    }

    /// A page of events, newest first.
    pub async fn events(&self, f: &EventFilter<'_>) -> Result<Vec<Event>> {
        let q = format!(
            "SELECT {EVENT_COLS} FROM alarm_events e WHERE {VISIBLE} \
               AND ($2::text IS NULL OR ($2 = 'open') = (e.acked_at IS NULL)) \
               AND ($3::text IS NULL OR e.severity = $3) AND ($4::text IS NULL OR e.source = $4) \
               AND ($5::text IS NULL OR e.probe_id IN (SELECT p.id FROM probes p JOIN sites s ON s.id = p.site_id \
                                                      WHERE s.name = $5)) \
               AND ($6::text IS NULL OR e.probe_id IN (SELECT p.id FROM probes p WHERE p.name = $6)) \
               AND ($7::timestamptz IS NULL OR e.raised_at >= $7) AND ($8::timestamptz IS NULL OR e.raised_at < $8) \
               AND ($9::int8 IS NULL OR e.id < $9) \
             ORDER BY e.id DESC LIMIT $10"
        );
        let state = match f.state {
            EventState::All => None,
            EventState::Open => Some("open"),
            EventState::Acked => Some("acked"),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(f.allowed)
            .bind(state)
            .bind(f.severity)
            .bind(f.source)
            .bind(f.site)
            .bind(f.probe)
            .bind(f.since)
            .bind(f.until)
            .bind(f.before)
            .bind(f.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event).collect()
    }

    /// One event the caller may see.
    pub async fn event(&self, allowed: Option<&[String]>, id: i64) -> Result<Option<Event>> {
        let q = format!("SELECT {EVENT_COLS} FROM alarm_events e WHERE {VISIBLE} AND e.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(allowed).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(event).transpose()
    }

    /// Acknowledges an event the caller may see (an acknowledged one keeps its first
    /// acknowledgement); `None` when the caller cannot see it.
    pub async fn ack_event(&self, allowed: Option<&[String]>, id: i64, by: &str) -> Result<Option<Event>> {
        let q = format!(
            "UPDATE alarm_events e SET acked_at = $3, acked_by = $4 \
             WHERE {VISIBLE} AND e.id = $2 AND e.acked_at IS NULL"
        );
        sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(allowed)
            .bind(id)
            .bind(self.clock.now())
            .bind(by)
            .execute(&self.pool)
            .await?;
        self.event(allowed, id).await
    }

    /// The action runs of some events (every run that names any of them), oldest first.
    pub async fn actions_of(&self, event_ids: &[i64]) -> Result<Vec<ActionRun>> {
        let q = format!("SELECT {ACTION_COLS} FROM alarm_actions WHERE event_ids && $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(event_ids).fetch_all(&self.pool).await?;
        rows.iter().map(action).collect()
    }

    /// Action runs by ID.
    pub async fn action_runs(&self, ids: &[i64]) -> Result<Vec<ActionRun>> {
        let q = format!("SELECT {ACTION_COLS} FROM alarm_actions WHERE id = ANY($1) ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(ids).fetch_all(&self.pool).await?;
        rows.iter().map(action).collect()
    }

    /// Events by ID (no scope: for the controller's actions).
    pub async fn events_by_id(&self, ids: &[i64]) -> Result<Vec<Event>> {
        let q = format!("SELECT {EVENT_COLS} FROM alarm_events e WHERE e.id = ANY($1) ORDER BY e.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(ids).fetch_all(&self.pool).await?;
        rows.iter().map(event).collect()
    }

    /// Claims up to `limit` pending actions whose claim has run out (their controller died or
    /// never finished them) for `controller` until now + `lease`.
    pub async fn claim_stale_actions(
        &self,
        controller: &str,
        lease: std::time::Duration,
        limit: i64,
    ) -> Result<Vec<ActionRun>> {
        let now = self.clock.now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(10));
        let q = format!(
            "UPDATE alarm_actions SET claimed_by = $1, claimed_until = $2 WHERE id IN \
               (SELECT id FROM alarm_actions WHERE status = 'pending' AND claimed_until < $3 \
                ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING {ACTION_COLS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(controller)
            .bind(until)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<ActionRun> = rows.iter().map(action).collect::<Result<_>>()?;
        out.sort_by_key(|a| a.id);
        Ok(out)
    }

    /// Records an action's outcome (only while `controller` still holds its claim: a run that
    /// outlived its lease and was taken over does not overwrite the new owner's record).
    pub async fn finish_action(
        &self,
        id: i64,
        controller: &str,
        ok: bool,
        attempts: u32,
        last_error: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE alarm_actions SET status = $3, attempts = attempts + $4, last_error = $5, finished_at = $6 \
             WHERE id = $1 AND status = 'pending' AND claimed_by = $2",
        )
        .bind(id)
        .bind(controller)
        .bind(if ok { "ok" } else { "failed" })
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .bind(last_error)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Open (unacknowledged) events per severity, for `/metrics`.
    pub async fn open_events(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT severity, count(*) AS n FROM alarm_events WHERE acked_at IS NULL GROUP BY severity ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("severity")?, r.try_get("n")?))).collect()
    }

    /// Every probe's ID and name (to find the probe of an archive file's directory).
    pub async fn probe_ids(&self) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query("SELECT id, name FROM probes ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect()
    }
}
