//! Prometheus metrics, served at `/metrics` on a listener of their own (`metrics_listen`).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeverityLabel {
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeLabel {
    pub probe: String,
}

/// Every metric of the controller.
#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub probes_connected: Gauge,
    pub batches: Family<Outcome, Counter>,
    pub host_rows: Counter,
    pub connections_refused: Family<Outcome, Counter>,
    /// Open connections the controller closed, by reason (`revoked`).
    pub connections_closed: Family<Outcome, Counter>,
    pub commit_seconds: Histogram,
    /// Wall-clock time minus the end of the probe's last committed interval.
    pub probe_lag_seconds: Family<ProbeLabel, Gauge<f64, AtomicU64>>,
    pub spool_pending_batches: Family<ProbeLabel, Gauge>,
    pub spool_dropped_batches: Family<ProbeLabel, Gauge>,
    /// Batches of a probe refused at ingest (a rule broken) and quarantined by the fold.
    pub refused_batches: Family<ProbeLabel, Gauge>,
    pub quarantined_batches: Family<ProbeLabel, Gauge>,
    pub job_runs: Family<Outcome, Counter>,
    /// Alarm events not acknowledged (the whole database's), by severity.
    pub alarms_open: Family<SeverityLabel, Gauge>,
    /// Alarm action runs this controller finished, by outcome (`ok`, `failed`).
    pub alarm_actions: Family<Outcome, Counter>,
    /// Alarm checks this controller ran, and the last one's duration.
    pub alarm_checks: Counter,
    pub alarm_check_seconds: Gauge<f64, AtomicU64>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("wirewatch");
        let m = Metrics {
            probes_connected: Gauge::default(),
            batches: Family::default(),
            host_rows: Counter::default(),
            connections_refused: Family::default(),
            connections_closed: Family::default(),
            commit_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            probe_lag_seconds: Family::default(),
            spool_pending_batches: Family::default(),
            spool_dropped_batches: Family::default(),
            refused_batches: Family::default(),
            quarantined_batches: Family::default(),
            job_runs: Family::default(),
            alarms_open: Family::default(),
            alarm_actions: Family::default(),
            alarm_checks: Counter::default(),
            alarm_check_seconds: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("probes_connected", "Probes connected to this controller", m.probes_connected.clone());
        registry.register("batches", "Batches received, by outcome", m.batches.clone());
        registry.register("host_rows", "Host rows committed", m.host_rows.clone());
        registry.register("connections_refused", "Probe connections refused, by reason", m.connections_refused.clone());
        registry.register(
            "connections_closed",
            "Open probe connections closed by the controller, by reason",
            m.connections_closed.clone(),
        );
        registry.register(
            "batch_commit_seconds",
            "Time from a batch's arrival to its commit",
            m.commit_seconds.clone(),
        );
        registry.register(
            "probe_lag_seconds",
            "Wall-clock time minus the end of the probe's last committed interval",
            m.probe_lag_seconds.clone(),
        );
        registry.register(
            "probe_spool_pending_batches",
            "Batches waiting in a probe's spool",
            m.spool_pending_batches.clone(),
        );
        registry.register(
            "probe_spool_dropped_batches",
            "Batches a probe dropped past its spool bounds",
            m.spool_dropped_batches.clone(),
        );
        registry.register(
            "probe_refused_batches",
            "Batches of a probe refused at ingest (past a bound, out of range)",
            m.refused_batches.clone(),
        );
        registry.register(
            "probe_quarantined_batches",
            "Batches of a probe the fold could not take (kept aside, not in the totals)",
            m.quarantined_batches.clone(),
        );
        registry.register("job_runs", "Periodic job runs on this controller", m.job_runs.clone());
        registry.register(
            "alarms_open",
            "Alarm events not acknowledged (firing), by severity, in the whole database",
            m.alarms_open.clone(),
        );
        registry.register(
            "alarm_actions",
            "Alarm action runs this controller finished, by outcome",
            m.alarm_actions.clone(),
        );
        registry.register("alarm_checks", "rrdAlarm checks this controller ran", m.alarm_checks.clone());
        registry.register(
            "alarm_check_seconds",
            "Duration of this controller's last rrdAlarm check",
            m.alarm_check_seconds.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    pub fn encode(&self) -> String {
        let mut s = String::new();
        if prometheus_client::encoding::text::encode(&mut s, &self.registry).is_err() {
            s.clear();
        }
        s
    }
}

/// The metrics listener's router: `GET /metrics` in the OpenMetrics text format.
pub fn router(metrics: Arc<Metrics>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                    m.encode(),
                )
            }
        }),
    )
}
