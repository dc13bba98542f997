//! Scheduled Python scripts (`[[schedule]]` in the config): scripts under `alarms/` and
//! `reports/` of the scripts directories run every N minutes or daily at a time (UTC), on
//! exactly one controller of the database (each entry's row in `jobs`, `script:<path>`, is its
//! lease), through the same engine, workers and time limit as pages. They run as the
//! `schedule` user with the operator role over every site, so they may call
//! `wirewatch.raise_alarm`. Each run's output is stored (`script_runs`, the reports API); a
//! report's may be mailed (`mail_to`, through `[mail]`).

use std::path::{Component, Path};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use wirewatch_model::identity::{Caller, Role};
use wirewatch_model::scripts::{ScriptError, ScriptOrigin, ScriptRequest, Scripts};
use wirewatch_store::Store;
use wirewatch_store::scripts::NewScriptRun;

use crate::actions::ActionRunner;

/// The user scheduled runs run as.
pub const SCHEDULE_USER: &str = "schedule";

/// One scheduled script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The script below a scripts directory, under `alarms/` or `reports/`
    /// (e.g. `reports/daily.py`).
    pub script: String,
    /// Run every this many minutes …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_mins: Option<u64>,
    /// … or daily at this time, `HH:MM` in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_at: Option<String>,
    /// Reports only: mail each run's output to these addresses (comma-separated), through
    /// `[mail]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_to: Option<String>,
}

impl Schedule {
    /// `alarm` or `report`, from the script's directory.
    pub fn kind(&self) -> &'static str {
        if self.script.starts_with("reports/") { "report" } else { "alarm" }
    }

    /// The job (lease) name of this entry.
    pub fn job(&self) -> String {
        format!("script:{}", self.script)
    }

    fn daily(&self) -> anyhow::Result<Option<NaiveTime>> {
        self.daily_at
            .as_deref()
            .map(|t| {
                NaiveTime::parse_from_str(t, "%H:%M")
                    .with_context(|| format!("schedule {}: daily_at {t:?} is not HH:MM", self.script))
            })
            .transpose()
    }

    /// Refuses an entry that could not run as meant.
    pub fn validate(&self) -> anyhow::Result<()> {
        let p = Path::new(&self.script);
        anyhow::ensure!(
            self.script.ends_with(".py")
                && !self.script.contains('\0')
                && p.components().all(|c| matches!(c, Component::Normal(_)))
                && (self.script.starts_with("alarms/") || self.script.starts_with("reports/")),
            "schedule {:?}: a .py script under alarms/ or reports/ of the scripts directories",
            self.script
        );
        match (self.every_mins, self.daily()?) {
            (Some(n), None) => {
                anyhow::ensure!((1..=525_600).contains(&n), "schedule {}: every_mins must be 1 to 525600", self.script)
            }
            (None, Some(_)) => {}
            _ => anyhow::bail!("schedule {}: give exactly one of every_mins and daily_at", self.script),
        }
        anyhow::ensure!(
            self.mail_to.is_none() || self.kind() == "report",
            "schedule {}: mail_to is for reports (alarm scripts raise alarms, whose routes mail)",
            self.script
        );
        Ok(())
    }

    /// Runs are due when the last one is older than this.
    pub fn due_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if let Ok(Some(t)) = self.daily() {
            let today = now.date_naive().and_time(t).and_utc();
            return if today <= now { today } else { today - chrono::Duration::days(1) };
        }
        let mins = i64::try_from(self.every_mins.unwrap_or(60)).unwrap_or(i64::MAX / 120_000);
        now - chrono::Duration::minutes(mins)
    }
}

/// Runs the scheduled scripts until `shutdown` (one task per entry).
pub fn start(
    tasks: &mut tokio::task::JoinSet<()>,
    store: Store,
    scripts: Arc<dyn Scripts>,
    runner: Arc<ActionRunner>,
    schedules: &[Schedule],
    controller: &str,
    shutdown: CancellationToken,
) {
    for s in schedules {
        tasks.spawn(run_entry(
            store.clone(),
            scripts.clone(),
            runner.clone(),
            s.clone(),
            controller.to_string(),
            shutdown.clone(),
        ));
    }
}

async fn run_entry(
    store: Store,
    scripts: Arc<dyn Scripts>,
    runner: Arc<ActionRunner>,
    entry: Schedule,
    controller: String,
    shutdown: CancellationToken,
) {
    let job = entry.job();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.cancelled() => break,
        }
        let lease = match store.lease_job_due(&job, entry.due_after(Utc::now())).await {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(%job, error = %e, "taking a scheduled script's lease");
                continue;
            }
        };
        let run = run_once(&store, scripts.as_ref(), &runner, &entry, &controller).await;
        let detail = match &run {
            Ok(r) => format!("{} run {} ({})", entry.script, r.0, r.1),
            Err(e) => format!("{}: {e:#}", entry.script),
        };
        if let Err(e) = &run {
            tracing::warn!(%job, error = format!("{e:#}"), "scheduled script not recorded");
        }
        if let Err(e) = lease.finish(&controller, &detail).await {
            tracing::warn!(%job, error = %e, "recording a scheduled script's run");
        }
    }
}

/// Runs one entry now and records it: the run's ID and status.
pub async fn run_once(
    store: &Store,
    scripts: &dyn Scripts,
    runner: &ActionRunner,
    entry: &Schedule,
    controller: &str,
) -> anyhow::Result<(i64, &'static str)> {
    let started_at = Utc::now();
    let req = ScriptRequest {
        path: entry.script.clone(),
        origin: ScriptOrigin::Controller,
        method: "GET".into(),
        query: String::new(),
        content_type: None,
        body: Vec::new(),
        caller: Caller { name: SCHEDULE_USER.into(), role: Role::Operator, sites: None },
        headers: Vec::new(),
        remote_addr: "schedule".into(),
        csp_nonce: String::new(),
        argv: Vec::new(),
    };
    let (status, content_type, output, error) = match scripts.run(req).await {
        Ok(r) if r.status < 400 => ("ok", r.content_type, r.body, None),
        Ok(r) => ("failed", r.content_type, r.body, Some(format!("the script answered status {}", r.status))),
        Err(ScriptError::Failed { message, traceback, .. }) => {
            ("failed", "text/plain; charset=utf-8".to_string(), traceback.into_bytes(), Some(message))
        }
        Err(e) => ("failed", "text/plain; charset=utf-8".to_string(), Vec::new(), Some(e.to_string())),
    };
    let finished_at = Utc::now();
    let mut mail_error = None;
    if let Some(to) = entry.mail_to.as_deref().filter(|_| status == "ok") {
        let subject = format!("wirewatch report {} ({})", entry.script, started_at.format("%Y-%m-%d %H:%M UTC"));
        if let Err(e) = runner.send_report(to, &subject, &content_type, &output).await {
            tracing::warn!(script = %entry.script, error = %e, "mailing a report");
            mail_error = Some(e.to_string());
        }
    }
    if let Some(e) = &error {
        tracing::warn!(script = %entry.script, error = %e, "scheduled script failed");
    }
    let id = store
        .record_script_run(&NewScriptRun {
            script: entry.script.clone(),
            kind: entry.kind().into(),
            started_at,
            finished_at,
            status: status.into(),
            content_type,
            output,
            error,
            controller: controller.to_string(),
            mailed_to: entry.mail_to.clone().filter(|_| status == "ok"),
            mail_error,
        })
        .await?;
    Ok((id, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(script: &str, every: Option<u64>, daily: Option<&str>) -> Schedule {
        Schedule { script: script.into(), every_mins: every, daily_at: daily.map(String::from), mail_to: None }
    }

    #[test]
    fn entries_are_validated() {
        assert!(entry("reports/daily.py", Some(5), None).validate().is_ok());
        assert!(entry("alarms/disk.py", None, Some("06:30")).validate().is_ok());
        for bad in [
            entry("pages/x.py", Some(5), None),
            entry("reports/../x.py", Some(5), None),
            entry("/reports/x.py", Some(5), None),
            entry("reports/x.txt", Some(5), None),
            entry("reports/x.py", None, None),
            entry("reports/x.py", Some(5), Some("06:00")),
            entry("reports/x.py", Some(0), None),
            entry("reports/x.py", None, Some("25:00")),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let mut alarm_mail = entry("alarms/x.py", Some(5), None);
        alarm_mail.mail_to = Some("ops@example.org".into());
        assert!(alarm_mail.validate().is_err());
    }

    #[test]
    fn due_times() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:15:00Z").map(|t| t.to_utc()).ok();
        let now = now.expect("time");
        assert_eq!(entry("reports/x.py", Some(5), None).due_after(now).to_rfc3339(), "2026-12-02T10:10:00+00:00");
        // Today's 06:00 has passed: a run before it is due; today's 23:00 has not: yesterday's.
        assert_eq!(entry("reports/x.py", None, Some("06:00")).due_after(now).to_rfc3339(), "2026-12-02T06:00:00+00:00");
        assert_eq!(entry("reports/x.py", None, Some("23:00")).due_after(now).to_rfc3339(), "2026-12-01T23:00:00+00:00");
    }
}
