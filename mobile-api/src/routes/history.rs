//! Traffic over time: an interface's and a host's history (raw intervals, hourly or daily),
//! and the window rule of both. It must not use the other resource modules.

use axum::extract::State;
use chrono::{DateTime, Utc};
use wirewatch_store::api as store_api;

use super::convert::{ns_time, traffic};
use super::extract::{Json, Path, Query, S, parse_ip};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::*;

struct Window {
    res: Resolution,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
}

impl Window {
    fn span(&self) -> store_api::Span {
        store_api::Span { res: store_res(self.res), from: self.from, to: self.to, limit: self.limit }
    }
}

fn window(q: &HistoryParams, newest: Option<DateTime<Utc>>) -> ApiResult<Window> {
    let res = q.resolution.unwrap_or(Resolution::Hourly);
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-10000"));
    }
    // Past the newest data by a day, so the last hour and day buckets are inside.
    let to = q.to.unwrap_or_else(|| newest.unwrap_or_else(Utc::now) + chrono::Duration::days(1));
    let span = match res {
        Resolution::Raw => chrono::Duration::days(2),
        Resolution::Hourly => chrono::Duration::days(8),
        Resolution::Daily => chrono::Duration::days(366),
    };
    // An empty or inverted window is simply empty.
    let from = q.from.unwrap_or(to - span).min(to);
    Ok(Window { res, from, to, limit })
}

fn store_res(r: Resolution) -> store_api::Resolution {
    match r {
        Resolution::Raw => store_api::Resolution::Raw,
        Resolution::Hourly => store_api::Resolution::Hourly,
        Resolution::Daily => store_api::Resolution::Daily,
    }
}

/// An interface's traffic over time.
#[utoipa::path(get, path = "/api/v1/interfaces/{id}/history", tag = "history", params(("id" = i64, Path), HistoryParams),
    responses((status = 200, body = InterfaceHistory), Errors))]
pub(super) async fn interface_history(
    State(st): S,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<HistoryParams>,
) -> ApiResult<Json<InterfaceHistory>> {
    let i = st.store.interface(p.allowed(), id).await?.ok_or_else(|| ApiError::not_found("interface"))?;
    let w = window(&q, ns_time(i.gauges.last_seen_ns))?;
    let probe_id = st.store.probe_id(p.allowed(), &i.probe).await?.ok_or_else(|| ApiError::not_found("interface"))?;
    let pts = st.store.interface_history(probe_id, id, w.span()).await?;
    Ok(Json(InterfaceHistory {
        interface_id: id,
        resolution: w.res,
        from: w.from,
        to: w.to,
        points: pts
            .into_iter()
            .map(|x| InterfacePoint { ts: x.ts, packets: x.packets, bytes: x.bytes, drops: x.drops })
            .collect(),
    }))
}

/// A host's traffic over time (raw intervals, hourly or daily).
#[utoipa::path(get, path = "/api/v1/interfaces/{id}/hosts/{ip}/history", tag = "history",
    params(("id" = i64, Path), ("ip" = String, Path), HistoryParams),
    responses((status = 200, body = HostHistory), Errors))]
pub(super) async fn host_history(
    State(st): S,
    p: Principal,
    Path((id, ip)): Path<(i64, String)>,
    Query(q): Query<HistoryParams>,
) -> ApiResult<Json<HostHistory>> {
    let ip = parse_ip(&ip)?;
    let (probe_id, last_seen) =
        st.store.host_seen(p.allowed(), id, ip).await?.ok_or_else(|| ApiError::not_found("host"))?;
    let w = window(&q, ns_time(last_seen))?;
    let pts = st.store.host_history(probe_id, id, ip, w.span()).await?;
    Ok(Json(HostHistory {
        interface_id: id,
        ip: ip.to_string(),
        resolution: w.res,
        from: w.from,
        to: w.to,
        points: pts.into_iter().map(|x| HostPoint { ts: x.ts, traffic: traffic(&x.traffic) }).collect(),
    }))
}
