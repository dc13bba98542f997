//! Periodic jobs: the fold (raw samples → host totals, hourly and daily rollups, each batch
//! exactly once; many intervals of a host become one upsert) and retention
//! (drop sample and hourly partitions past their age). A job runs inside a transaction that
//! holds its `jobs` row `FOR UPDATE SKIP LOCKED` and only when its period has passed, so with
//! several controllers on one database each period's run happens on exactly one of them.

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
        let started = chrono::Utc::now();
        let detail = match name {
            "rollup" => rollup(&mut tx).await?,
            "retention" => retention_run(&mut tx, retention).await?,
            other => format!("unknown job {other}"),
        };
        sqlx::query("UPDATE jobs SET last_run_at = now(), last_run_by = $2, runs = runs + 1 WHERE name = $1")
            .bind(name)
            .bind(controller)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO job_runs (name, controller, started_at, finished_at, detail) VALUES ($1, $2, $3, clock_timestamp(), $4)",
        )
        .bind(name)
        .bind(controller)
        .bind(started)
        .bind(&detail)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(detail))
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
        &format!("{table}_p{}", month.format("%Y%m")),
        &format!("{} 00:00:00+00", month.format("%Y-%m-%d")),
        &format!("{} 00:00:00+00", next.format("%Y-%m-%d")),
    )
    .await?;
    Ok(())
}

/// Folds batches not yet rolled up into the hourly and daily tables.
async fn rollup(tx: &mut Transaction<'_, Postgres>) -> Result<String> {
    let mut batches = 0u64;
    let mut rounds = 0;
    loop {
        sqlx::query("DROP TABLE IF EXISTS rollup_todo").execute(&mut **tx).await?;
        // Up to ~ROLLUP_ROWS host rows per round (at least one batch), by probe and sequence:
        // a probe's pending batches fold together, so a host seen in k of them is upserted
        // once, not k times (the order does not matter for the result: sums add, gauges go by seq).
        sqlx::query(
            "CREATE TEMP TABLE rollup_todo ON COMMIT DROP AS
             SELECT probe_id, seq, ts FROM (
               SELECT probe_id, seq, to_timestamp(interval_end_ns / 1e9) AS ts, host_rows,
                      sum(host_rows) OVER (ORDER BY probe_id, seq) AS upto
               FROM batches WHERE NOT rolled_up) x
             WHERE upto - host_rows < $1",
        )
        .bind(ROLLUP_ROWS)
        .execute(&mut **tx)
        .await?;
        sqlx::query("ANALYZE rollup_todo").execute(&mut **tx).await?;
        let months: Vec<chrono::NaiveDate> =
            sqlx::query_scalar("SELECT DISTINCT (date_trunc('month', ts AT TIME ZONE 'UTC'))::date FROM rollup_todo")
                .fetch_all(&mut **tx)
                .await?;
        if months.is_empty() {
            break;
        }
        for m in months {
            ensure_month(tx, "host_hourly", m).await?;
        }
        // Totals first (hosts, services), then the rollups, all from the same samples.
        sqlx::query(AssertSqlSafe(crate::fold::FOLD_HOSTS.as_str())).execute(&mut **tx).await?;
        sqlx::query(AssertSqlSafe(crate::fold::FOLD_SERVICES.as_str())).execute(&mut **tx).await?;
        for (table, unit) in [("host_hourly", "hour"), ("host_daily", "day")] {
            let q = format!(
                "INSERT INTO {table} AS r (probe_id, interface_id, ip, ts, tx_packets, tx_bytes, rx_packets, rx_bytes, peak_thpt_tx, peak_thpt_rx)
                 SELECT s.probe_id, s.interface_id, s.ip, date_trunc('{unit}', s.ts, 'UTC'), sum(s.tx_packets), sum(s.tx_bytes),
                        sum(s.rx_packets), sum(s.rx_bytes), max(s.thpt_actual_tx), max(s.thpt_actual_rx)
                 FROM host_samples s JOIN rollup_todo t ON t.probe_id = s.probe_id AND t.seq = s.seq
                 GROUP BY 1, 2, 3, 4
                 ON CONFLICT (probe_id, interface_id, ip, ts) DO UPDATE SET
                   tx_packets = r.tx_packets + excluded.tx_packets, tx_bytes = r.tx_bytes + excluded.tx_bytes,
                   rx_packets = r.rx_packets + excluded.rx_packets, rx_bytes = r.rx_bytes + excluded.rx_bytes,
                   peak_thpt_tx = greatest(r.peak_thpt_tx, excluded.peak_thpt_tx),
                   peak_thpt_rx = greatest(r.peak_thpt_rx, excluded.peak_thpt_rx)"
            );
            sqlx::query(AssertSqlSafe(q)).execute(&mut **tx).await?;
        }
        for (table, unit) in [("interface_hourly", "hour"), ("interface_daily", "day")] {
            let q = format!(
                "INSERT INTO {table} AS r (probe_id, interface_id, ts, packets, bytes, drops)
                 SELECT s.probe_id, s.interface_id, date_trunc('{unit}', s.ts, 'UTC'), sum(s.packets), sum(s.bytes), sum(s.drops)
                 FROM interface_samples s JOIN rollup_todo t ON t.probe_id = s.probe_id AND t.seq = s.seq
                 GROUP BY 1, 2, 3
                 ON CONFLICT (probe_id, interface_id, ts) DO UPDATE SET
                   packets = r.packets + excluded.packets, bytes = r.bytes + excluded.bytes, drops = r.drops + excluded.drops"
            );
            sqlx::query(AssertSqlSafe(q)).execute(&mut **tx).await?;
        }
        let n = sqlx::query(
            "UPDATE batches b SET rolled_up = true FROM rollup_todo t WHERE b.probe_id = t.probe_id AND b.seq = t.seq",
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
    Ok(format!("rolled up {batches} batches"))
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
        // FOR VALUES FROM ('2026-11-29 00:00:00+00') TO ('2026-11-30 00:00:00+00')
        let Some(to) = bound.split("TO ('").nth(1).and_then(|s| s.split('\'').next()) else { continue };
        if let Ok(t) = chrono::DateTime::parse_from_str(&format!("{to}00"), "%Y-%m-%d %H:%M:%S%z") {
            out.push((name, t.with_timezone(&chrono::Utc)));
        }
    }
    Ok(out)
}

async fn retention_run(tx: &mut Transaction<'_, Postgres>, r: Retention) -> Result<String> {
    let now = chrono::Utc::now();
    let mut dropped = Vec::new();
    if r.raw_days > 0 {
        let cutoff = now - chrono::Duration::days(i64::from(r.raw_days));
        // A day's two sample partitions go together. They are locked first (in the order the
        // ingest path writes them: interface_samples, then host_samples, so no deadlock), and
        // only then checked for batches not folded yet: a batch committed while this job runs
        // either finished before the lock (and is seen by the check) or waits for it (and then
        // makes the partition anew).
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
            let pending: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM batches WHERE NOT rolled_up AND interval_end_ns < $1)",
            )
            .bind(upper.timestamp_nanos_opt().unwrap_or(i64::MAX))
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
    let mut deleted = 0;
    if r.daily_days > 0 {
        let cutoff = now - chrono::Duration::days(i64::from(r.daily_days));
        for t in ["host_daily", "interface_daily"] {
            deleted += sqlx::query(AssertSqlSafe(format!("DELETE FROM {t} WHERE ts < $1")))
                .bind(cutoff)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        }
    }
    if r.hourly_days > 0 {
        let cutoff = now - chrono::Duration::days(i64::from(r.hourly_days));
        deleted += sqlx::query("DELETE FROM interface_hourly WHERE ts < $1")
            .bind(cutoff)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    Ok(format!("dropped {} partitions {:?}; deleted {deleted} rollup rows", dropped.len(), dropped))
}
