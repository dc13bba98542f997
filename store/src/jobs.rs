//! Periodic jobs: the fold (raw samples → hourly and daily rollups, each batch exactly once;
//! many intervals of a host become one upsert; the host totals are kept by ingest) and retention
//! (drop sample and hourly partitions past their age). A job runs inside a transaction that
//! holds its `jobs` row `FOR UPDATE SKIP LOCKED` and only when its period has passed, so with
//! several controllers on one database each period's run happens on exactly one of them.
//!
//! Partitions and retention go by arrival (the store's clock when the batch was committed),
//! never by packet time, which a probe chooses. A round of the fold that fails for a reason
//! retrying cannot cure (a sum past bigint, …) is taken again probe by probe and then batch by
//! batch under savepoints: the batches that fail are quarantined (kept, counted on their probe,
//! never read) and every other batch folds.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Postgres, Transaction};

use crate::{Result, Store};

/// How long history is kept (0 days: forever).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub raw_days: u32,
    pub hourly_days: u32,
    pub daily_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { raw_days: 7, hourly_days: 90, daily_days: 0 }
    }
}

/// Host rows folded per round, and rounds per run (one transaction).
const ROLLUP_ROWS: i64 = 200_000;
const MAX_ROUNDS: u32 = 10;

impl Store {
    /// Runs job `name` if its period has passed and no other controller is running it.
    /// Returns the job's report, or `None` when it was not this controller's turn.
    pub async fn run_job(
        &self,
        name: &str,
        period: Duration,
        controller: &str,
        retention: Retention,
    ) -> Result<Option<String>> {
        let Some(mut lease) = self.lease_job(name, period).await? else { return Ok(None) };
        let detail = match name {
            "rollup" => rollup(&mut lease.tx, self.clock.now()).await?,
            "retention" => retention_run(&mut lease.tx, retention, self.clock.now()).await?,
            other => format!("unknown job {other}"),
        };
        lease.finish(controller, &detail).await?;
        Ok(Some(detail))
    }
}

/// A periodic job's lease for work done outside the store (the alarm check): its `jobs` row
/// held `FOR UPDATE` until [`JobLease::finish`] records the run (dropped: released, the run
/// not recorded, so another controller may take the period).
pub struct JobLease {
    tx: Transaction<'static, Postgres>,
    name: String,
    started: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Takes job `name`'s lease if its period has passed and no other controller holds it;
    /// `None` when it is not this controller's turn.
    pub async fn lease_job(&self, name: &str, period: Duration) -> Result<Option<JobLease>> {
        let mut tx = self.pool.begin().await?;
        let due: Option<String> = sqlx::query_scalar(
            "SELECT name FROM jobs WHERE name = $1
               AND (last_run_at IS NULL OR last_run_at <= now() - make_interval(secs => $2))
             FOR UPDATE SKIP LOCKED",
        )
        .bind(name)
        .bind(period.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?;
        if due.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(JobLease { tx, name: name.to_string(), started: chrono::Utc::now() }))
    }
}

impl Store {
    /// Takes job `name`'s lease if it has not run since `due_after` and no other controller
    /// holds it (the job's row is made on first use); `None` when it is not this controller's
    /// turn. For schedules that are not a fixed period (daily at a time).
    pub async fn lease_job_due(
        &self,
        name: &str,
        due_after: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<JobLease>> {
        sqlx::query("INSERT INTO jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&self.pool)
            .await?;
        let mut tx = self.pool.begin().await?;
        let due: Option<String> = sqlx::query_scalar(
            "SELECT name FROM jobs WHERE name = $1 AND (last_run_at IS NULL OR last_run_at < $2)
             FOR UPDATE SKIP LOCKED",
        )
        .bind(name)
        .bind(due_after)
        .fetch_optional(&mut *tx)
        .await?;
        if due.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(JobLease { tx, name: name.to_string(), started: chrono::Utc::now() }))
    }
}

impl JobLease {
    /// Records the run (by `controller`, with `detail`) and releases the lease.
    pub async fn finish(mut self, controller: &str, detail: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET last_run_at = now(), last_run_by = $2, runs = runs + 1 WHERE name = $1")
            .bind(&self.name)
            .bind(controller)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO job_runs (name, controller, started_at, finished_at, detail) VALUES ($1, $2, $3, clock_timestamp(), $4)",
        )
        .bind(&self.name)
        .bind(controller)
        .bind(self.started)
        .bind(detail)
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Probes with refused or quarantined batches: (name, refused, quarantined).
    pub async fn bad_batches(&self) -> Result<Vec<(String, i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT name, refused_batches, quarantined_batches FROM probes
             WHERE refused_batches > 0 OR quarantined_batches > 0 ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

async fn ensure_month(tx: &mut Transaction<'_, Postgres>, table: &str, month: chrono::NaiveDate) -> Result<()> {
    use chrono::Datelike;
    let next = if month.month() == 12 {
        chrono::NaiveDate::from_ymd_opt(month.year() + 1, 1, 1)
    } else {
        chrono::NaiveDate::from_ymd_opt(month.year(), month.month() + 1, 1)
    }
    .unwrap_or(month);
    crate::ensure_partition(
        tx,
        table,
        &format!("{table}_a{}", month.format("%Y%m")),
        &month.format("%Y-%m-%d").to_string(),
        &next.format("%Y-%m-%d").to_string(),
    )
    .await?;
    Ok(())
}

/// Folds batches not yet rolled up into the totals and the hourly and daily tables.
async fn rollup(tx: &mut Transaction<'_, Postgres>, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    let mut batches = 0u64;
    let mut quarantined = 0u64;
    let mut rounds = 0;
    loop {
        sqlx::query("DROP TABLE IF EXISTS rollup_round").execute(&mut **tx).await?;
        // Up to ~ROLLUP_ROWS host rows per round (at least one batch), by probe and sequence:
        // a probe's pending batches fold together, so a host seen in k of them is upserted
        // once, not k times (the order does not matter for the result: sums add, gauges go by seq).
        sqlx::query(
            "CREATE TEMP TABLE rollup_round ON COMMIT DROP AS
             SELECT probe_id, seq, ts, arrived FROM (
               SELECT probe_id, seq, to_timestamp(interval_end_ns / 1e9) AS ts,
                      date_trunc('month', received_at AT TIME ZONE 'UTC')::date AS arrived, host_rows,
                      sum(host_rows) OVER (ORDER BY probe_id, seq) AS upto
               FROM batches WHERE NOT rolled_up) x
             WHERE upto - host_rows < $1",
        )
        .bind(ROLLUP_ROWS)
        .execute(&mut **tx)
        .await?;
        let months: Vec<chrono::NaiveDate> =
            sqlx::query_scalar("SELECT DISTINCT arrived FROM rollup_round").fetch_all(&mut **tx).await?;
        if months.is_empty() {
            break;
        }
        for m in months {
            ensure_month(tx, "host_hourly", m).await?;
        }
        // The whole round at once (the common case); if it fails for a reason that retrying
        // will not cure, probe by probe, then batch by batch, so one probe's bad data stops
        // nobody else.
        sqlx::query("SAVEPOINT fold_round").execute(&mut **tx).await?;
        match fold_todo(tx, None, None).await {
            Ok(()) => {
                sqlx::query("RELEASE SAVEPOINT fold_round").execute(&mut **tx).await?;
            }
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT fold_round").execute(&mut **tx).await?;
                tracing::warn!(error = %e, "fold round failed; folding probe by probe");
                quarantined += fold_apart(tx, now).await?;
            }
        }
        let n = sqlx::query(
            "UPDATE batches b SET rolled_up = true FROM rollup_round t WHERE b.probe_id = t.probe_id AND b.seq = t.seq",
        )
        .execute(&mut **tx)
        .await?
        .rows_affected();
        batches += n;
        rounds += 1;
        // Commit now and then: the next run continues (new batches keep arriving).
        if rounds >= MAX_ROUNDS {
            break;
        }
    }
    if quarantined > 0 {
        return Ok(format!("rolled up {} batches; quarantined {quarantined}", batches - quarantined));
    }
    Ok(format!("rolled up {batches} batches"))
}

/// Folds the round's batches (all, one probe's, or one batch) into the hourly and daily rollups.
async fn fold_todo(tx: &mut Transaction<'_, Postgres>, probe: Option<i64>, seq: Option<i64>) -> Result<()> {
    sqlx::query("DROP TABLE IF EXISTS rollup_todo").execute(&mut **tx).await?;
    sqlx::query(
        "CREATE TEMP TABLE rollup_todo ON COMMIT DROP AS SELECT * FROM rollup_round
         WHERE ($1::bigint IS NULL OR probe_id = $1) AND ($2::bigint IS NULL OR seq = $2)",
    )
    .bind(probe)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    sqlx::query("ANALYZE rollup_todo").execute(&mut **tx).await?;
    // The hourly and daily rollups (the totals were added at ingest).
    let q = "INSERT INTO host_hourly AS r (probe_id, interface_id, ip, ts, arrived, tx_packets, tx_bytes, rx_packets, rx_bytes, peak_thpt_tx, peak_thpt_rx)
             SELECT s.probe_id, s.interface_id, s.ip, date_trunc('hour', s.ts, 'UTC'), t.arrived, sum(s.tx_packets), sum(s.tx_bytes),
                    sum(s.rx_packets), sum(s.rx_bytes), max(s.thpt_actual_tx), max(s.thpt_actual_rx)
             FROM host_samples s JOIN rollup_todo t ON t.probe_id = s.probe_id AND t.seq = s.seq
             GROUP BY 1, 2, 3, 4, 5
             ON CONFLICT (probe_id, interface_id, ip, ts, arrived) DO UPDATE SET
               tx_packets = r.tx_packets + excluded.tx_packets, tx_bytes = r.tx_bytes + excluded.tx_bytes,
               rx_packets = r.rx_packets + excluded.rx_packets, rx_bytes = r.rx_bytes + excluded.rx_bytes,
               peak_thpt_tx = greatest(r.peak_thpt_tx, excluded.peak_thpt_tx),
               peak_thpt_rx = greatest(r.peak_thpt_rx, excluded.peak_thpt_rx)";
    sqlx::query(q).execute(&mut **tx).await?;
    let q = "INSERT INTO host_daily AS r (probe_id, interface_id, ip, ts, arrived, tx_packets, tx_bytes, rx_packets, rx_bytes, peak_thpt_tx, peak_thpt_rx)
             SELECT s.probe_id, s.interface_id, s.ip, date_trunc('day', s.ts, 'UTC'), max(s.arrived), sum(s.tx_packets), sum(s.tx_bytes),
                    sum(s.rx_packets), sum(s.rx_bytes), max(s.thpt_actual_tx), max(s.thpt_actual_rx)
             FROM host_samples s JOIN rollup_todo t ON t.probe_id = s.probe_id AND t.seq = s.seq
             GROUP BY 1, 2, 3, 4
             ON CONFLICT (probe_id, interface_id, ip, ts) DO UPDATE SET
               arrived = greatest(r.arrived, excluded.arrived),
               tx_packets = r.tx_packets + excluded.tx_packets, tx_bytes = r.tx_bytes + excluded.tx_bytes,
               rx_packets = r.rx_packets + excluded.rx_packets, rx_bytes = r.rx_bytes + excluded.rx_bytes,
               peak_thpt_tx = greatest(r.peak_thpt_tx, excluded.peak_thpt_tx),
               peak_thpt_rx = greatest(r.peak_thpt_rx, excluded.peak_thpt_rx)";
    sqlx::query(q).execute(&mut **tx).await?;
    for (table, unit) in [("interface_hourly", "hour"), ("interface_daily", "day")] {
        let q = format!(
            "INSERT INTO {table} AS r (probe_id, interface_id, ts, arrived, packets, bytes, drops)
             SELECT s.probe_id, s.interface_id, date_trunc('{unit}', s.ts, 'UTC'), max(s.arrived), sum(s.packets), sum(s.bytes), sum(s.drops)
             FROM interface_samples s JOIN rollup_todo t ON t.probe_id = s.probe_id AND t.seq = s.seq
             GROUP BY 1, 2, 3
             ON CONFLICT (probe_id, interface_id, ts) DO UPDATE SET arrived = greatest(r.arrived, excluded.arrived),
               packets = r.packets + excluded.packets, bytes = r.bytes + excluded.bytes, drops = r.drops + excluded.drops"
        );
        sqlx::query(AssertSqlSafe(q)).execute(&mut **tx).await?;
    }
    Ok(())
}

/// The slow path of a failed round: each probe's batches under a savepoint; a probe that still
/// fails, batch by batch (in sequence order, so gauges still go by seq); a batch that fails on
/// its own is quarantined. Returns the number of batches quarantined.
async fn fold_apart(tx: &mut Transaction<'_, Postgres>, now: chrono::DateTime<chrono::Utc>) -> Result<u64> {
    let probes: Vec<i64> =
        sqlx::query_scalar("SELECT DISTINCT probe_id FROM rollup_round ORDER BY 1").fetch_all(&mut **tx).await?;
    let mut quarantined = 0;
    for probe in probes {
        if try_fold(tx, probe, None).await?.is_none() {
            continue;
        }
        let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM rollup_round WHERE probe_id = $1 ORDER BY seq")
            .bind(probe)
            .fetch_all(&mut **tx)
            .await?;
        for seq in seqs {
            let Some(reason) = try_fold(tx, probe, Some(seq)).await? else { continue };
            tracing::error!(probe_id = probe, seq, reason = %reason, "batch quarantined: the fold cannot take it");
            let reason = format!("fold: {reason}").chars().take(500).collect::<String>();
            sqlx::query("UPDATE batches SET quarantined = $3 WHERE probe_id = $1 AND seq = $2")
                .bind(probe)
                .bind(seq)
                .bind(&reason)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "UPDATE probes SET quarantined_batches = quarantined_batches + 1, last_quarantine = $2,
                        last_quarantine_at = $3 WHERE id = $1",
            )
            .bind(probe)
            .bind(format!("batch {seq}: {reason}"))
            .bind(now)
            .execute(&mut **tx)
            .await?;
            quarantined += 1;
        }
    }
    Ok(quarantined)
}

/// Folds one probe's batches of the round (or one of them) under a savepoint: `None` if they
/// folded, the reason if they could not (and nothing of them stays). A transient failure ends
/// the run.
async fn try_fold(tx: &mut Transaction<'_, Postgres>, probe: i64, seq: Option<i64>) -> Result<Option<String>> {
    sqlx::query("SAVEPOINT fold_part").execute(&mut **tx).await?;
    match fold_todo(tx, Some(probe), seq).await {
        Ok(()) => {
            sqlx::query("RELEASE SAVEPOINT fold_part").execute(&mut **tx).await?;
            Ok(None)
        }
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT fold_part").execute(&mut **tx).await?;
            Ok(Some(e.to_string()))
        }
    }
}

/// Partitions of `parent` with their upper bounds.
async fn partitions(
    tx: &mut Transaction<'_, Postgres>,
    parent: &str,
) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid)
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = $1",
    )
    .bind(parent)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::new();
    for (name, bound) in rows {
        // FOR VALUES FROM ('2026-11-29') TO ('2026-11-30'): arrival days (UTC)
        let Some(to) = bound.split("TO ('").nth(1).and_then(|s| s.split('\'').next()) else { continue };
        if let Ok(d) = chrono::NaiveDate::parse_from_str(to, "%Y-%m-%d") {
            out.push((name, d.and_time(chrono::NaiveTime::MIN).and_utc()));
        }
    }
    Ok(out)
}

async fn retention_run(
    tx: &mut Transaction<'_, Postgres>,
    r: Retention,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    let mut dropped = Vec::new();
    if r.raw_days > 0 {
        let cutoff = now - chrono::Duration::days(i64::from(r.raw_days));
        // A day's two sample partitions go together. They are locked first (in the order the
        // ingest path writes them: interface_samples, then host_samples, so no deadlock), and
        // only then checked for batches that arrived that day and are not folded yet (never
        // dropped: retention only takes what the fold is done with). A batch committed while
        // this job runs either finished before the lock (and is seen by the check) or waits
        // for it (and then makes the partition anew).
        let mut days: std::collections::BTreeMap<String, (Vec<String>, chrono::DateTime<chrono::Utc>)> =
            Default::default();
        for parent in ["interface_samples", "host_samples"] {
            for (name, upper) in partitions(tx, parent).await? {
                if upper <= cutoff {
                    let suffix = name.rsplit('_').next().unwrap_or_default().to_string();
                    days.entry(suffix).or_insert_with(|| (Vec::new(), upper)).0.push(name);
                }
            }
        }
        for (names, upper) in days.into_values() {
            sqlx::query(AssertSqlSafe(format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", names.join(", "))))
                .execute(&mut **tx)
                .await?;
            let pending: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM batches WHERE NOT rolled_up AND received_at < $1)")
                    .bind(upper)
                    .fetch_one(&mut **tx)
                    .await?;
            if pending {
                continue;
            }
            for name in names {
                sqlx::query(AssertSqlSafe(format!("DROP TABLE {name}"))).execute(&mut **tx).await?;
                dropped.push(name);
            }
        }
    }
    if r.hourly_days > 0 {
        let cutoff = now - chrono::Duration::days(i64::from(r.hourly_days));
        for (name, upper) in partitions(tx, "host_hourly").await? {
            if upper <= cutoff {
                sqlx::query(AssertSqlSafe(format!("DROP TABLE {name}"))).execute(&mut **tx).await?;
                dropped.push(name);
            }
        }
    }
    dropped.sort();
    let mut deleted = 0;
    if r.daily_days > 0 {
        let cutoff = (now - chrono::Duration::days(i64::from(r.daily_days))).date_naive();
        for t in ["host_daily", "interface_daily"] {
            deleted += sqlx::query(AssertSqlSafe(format!("DELETE FROM {t} WHERE arrived < $1")))
                .bind(cutoff)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        }
    }
    if r.hourly_days > 0 {
        let cutoff = (now - chrono::Duration::days(i64::from(r.hourly_days))).date_naive();
        deleted += sqlx::query("DELETE FROM interface_hourly WHERE arrived < $1")
            .bind(cutoff)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        // Run logs (a row a minute per periodic job and alarm check) age like the hourly data.
        let since = now - chrono::Duration::days(i64::from(r.hourly_days));
        // Alarm events and their finished action runs too (an open event stays until it is
        // acknowledged; a pending run until it has run).
        for q in [
            "DELETE FROM job_runs WHERE started_at < $1",
            "DELETE FROM alarm_runs WHERE started_at < $1",
            "DELETE FROM alarm_actions WHERE status <> 'pending' AND created_at < $1",
            "DELETE FROM alarm_events e WHERE e.raised_at < $1 AND e.acked_at IS NOT NULL \
               AND NOT EXISTS (SELECT 1 FROM alarm_actions a WHERE a.event_ids @> ARRAY[e.id])",
        ] {
            sqlx::query(q).bind(since).execute(&mut **tx).await?;
        }
    }
    Ok(format!("dropped {} partitions {:?}; deleted {deleted} rollup rows", dropped.len(), dropped))
}
