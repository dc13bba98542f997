//! Live queries: asked of a connected probe over its connection (through the `Live` trait),
//! not read from the database. It must not use the other resource modules.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;

use super::convert::ns_time;
use super::extract::{Json, Path, Query, S, visible_probe};
use crate::LiveError;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::*;

/// Top talkers right now, asked of the probe over its connection (not from the database).
/// Operators and admins; per user one at a time and `live_per_user_per_minute` (6) a minute.
#[utoipa::path(get, path = "/api/v1/probes/{probe}/live/top-talkers", tag = "live",
    params(("probe" = String, Path), LiveParams),
    responses((status = 200, body = LiveTopTalkers), Errors))]
pub(super) async fn live_top_talkers(
    State(st): S,
    p: Principal,
    Path(probe): Path<String>,
    Query(q): Query<LiveParams>,
) -> ApiResult<Json<LiveTopTalkers>> {
    let limit = q.limit.unwrap_or(10);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-1000"));
    }
    let timeout = q.timeout_ms.unwrap_or(5000);
    if !(100..=30_000).contains(&timeout) {
        return Err(ApiError::bad_request("timeout_ms must be 100-30000"));
    }
    // Another site's probe is 404 whatever the role; then the role, then the user's limits.
    visible_probe(&st, &p, &probe).await?;
    p.require(Role::Operator)?;
    let _slot = st.live_slots.acquire(p.user_id).await?;
    let rows = st.live.top_talkers(&probe, limit, Duration::from_millis(timeout)).await.map_err(|e| match e {
        LiveError::NotConnected(_) => ApiError::new(
            StatusCode::CONFLICT,
            "probe_offline",
            format!("probe {probe:?} is not connected to this controller"),
        ),
        LiveError::Timeout(d) => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", format!("probe did not answer within {d:?}"))
        }
        LiveError::Failed(m) => ApiError::new(StatusCode::BAD_GATEWAY, "probe_error", m),
    })?;
    let hosts = rows
        .into_iter()
        .map(|(iface, h)| {
            let c = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            LiveHost {
                interface: iface,
                ip: h.ip.to_string(),
                mac: h.mac.map(|m| wirewatch_model::Mac(m).to_string()),
                vendor: h.mac.and_then(|m| wirewatch_model::Mac(m).vendor()),
                first_seen: ns_time(c(h.first_seen_ns)),
                last_seen: ns_time(c(h.last_seen_ns)),
                traffic: Traffic {
                    sent_packets: c(h.traffic.tx_packets),
                    sent_bytes: c(h.traffic.tx_bytes),
                    rcvd_packets: c(h.traffic.rx_packets),
                    rcvd_bytes: c(h.traffic.rx_bytes),
                },
                throughput_sent: f64::from(h.gauges.thpt_actual_tx),
                throughput_rcvd: f64::from(h.gauges.thpt_actual_rx),
            }
        })
        .collect();
    Ok(Json(LiveTopTalkers { probe, controller: st.controller.clone(), hosts }))
}
