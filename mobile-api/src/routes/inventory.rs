//! Sites, probes ("instances") and interfaces: what they are and their counters now (the
//! online rule of a probe included). It must not use the other resource modules.

use axum::extract::State;
use chrono::Utc;
use wirewatch_model::stats::{BytesStats, PacketStats};
use wirewatch_store::api as store_api;

use super::convert::ns_time;
use super::extract::{Json, Path, Query, S};
use crate::ApiState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::*;

fn online(st: &ApiState, p: &store_api::ProbeRow, connected: &[String]) -> bool {
    if p.revoked {
        return false;
    }
    if connected.contains(&p.name) {
        return true;
    }
    // Connected to another controller of this database: believe it while it keeps talking.
    let recent = [p.last_hello_at, p.last_batch_at].into_iter().flatten().max().is_some_and(|t| {
        Utc::now() - t < chrono::Duration::seconds(i64::try_from(st.config.probe_offline_after_secs).unwrap_or(90))
    });
    recent && p.controller.as_deref().is_some_and(|c| c != st.controller)
}

fn interface_model(i: store_api::InterfaceRow) -> Interface {
    let c = i.counters;
    Interface {
        id: i.id,
        probe: i.probe,
        site: i.site,
        name: i.name,
        link_type: i.link_type,
        live: i.live,
        packets: c[0],
        bytes: c[1],
        undecoded_packets: c[2],
        undecoded_bytes: c[3],
        pcap_drops: c[4],
        if_drops: c[5],
        flows_total: c[6],
        flows_expired: c[7],
        host_evictions: c[8],
        mac_evictions: c[9],
        flow_evictions: c[10],
        hosts: c[11],
        macs: c[12],
        flows_active: c[13],
        first_seen: ns_time(c[14]),
        last_seen: ns_time(c[15]),
        bytes_stats: serde_json::to_value(BytesStats::from_values(&i.bytes_stats)).unwrap_or_default(),
        pkts_stats: serde_json::to_value(PacketStats::from_values(&i.pkts_stats)).unwrap_or_default(),
    }
}

fn probe_model(st: &ApiState, p: store_api::ProbeRow, connected: &[String]) -> Probe {
    let on = online(st, &p, connected);
    Probe {
        status: if p.revoked {
            "revoked".into()
        } else if on {
            "online".into()
        } else {
            "offline".into()
        },
        connected_to: if on { p.controller.clone() } else { None },
        software_version: p.software_version,
        os: p.os,
        hostname: p.hostname,
        uptime_secs: p.uptime_secs,
        enrolled_at: p.enrolled_at,
        last_hello_at: p.last_hello_at,
        last_batch_at: p.last_batch_at,
        last_seq: p.last_seq,
        spool: Spool {
            pending_batches: p.spool[0],
            pending_bytes: p.spool[1],
            dropped_batches: p.spool[2],
            dropped_bytes: p.spool[3],
        },
        refused: BadBatches {
            batches: p.refused.batches,
            last_reason: p.refused.last_reason,
            last_at: p.refused.last_at,
        },
        quarantined: BadBatches {
            batches: p.quarantined.batches,
            last_reason: p.quarantined.last_reason,
            last_at: p.quarantined.last_at,
        },
        interfaces: p.interfaces.into_iter().map(interface_model).collect(),
        name: p.name,
        site: p.site,
    }
}

async fn site_models(st: &ApiState, p: &Principal, name: Option<&str>) -> ApiResult<Vec<Site>> {
    let rows = st.store.sites(p.allowed(), name).await?;
    let probes = st.store.probe_rows(p.allowed(), name, None).await?;
    let connected = st.live.connected().await;
    Ok(rows
        .into_iter()
        .map(|s| {
            let mut site = Site {
                name: s.name,
                created_at: s.created_at,
                probes: 0,
                probes_online: 0,
                interfaces: 0,
                hosts: 0,
                packets: 0,
                bytes: 0,
                last_batch_at: None,
            };
            for pr in probes.iter().filter(|pr| pr.site == site.name) {
                site.probes += 1;
                site.probes_online += i64::from(online(st, pr, &connected));
                site.last_batch_at = site.last_batch_at.max(pr.last_batch_at);
                for i in &pr.interfaces {
                    site.interfaces += 1;
                    site.packets += i.counters[0];
                    site.bytes += i.counters[1];
                    site.hosts += i.counters[11];
                }
            }
            site
        })
        .collect())
}

/// Sites you can see.
#[utoipa::path(get, path = "/api/v1/sites", tag = "inventory", responses((status = 200, body = Vec<Site>), Errors))]
pub(super) async fn sites(State(st): S, p: Principal) -> ApiResult<Json<Vec<Site>>> {
    Ok(Json(site_models(&st, &p, None).await?))
}

/// One site.
#[utoipa::path(get, path = "/api/v1/sites/{site}", tag = "inventory", params(("site" = String, Path)),
    responses((status = 200, body = Site), Errors))]
pub(super) async fn site(State(st): S, p: Principal, Path(name): Path<String>) -> ApiResult<Json<Site>> {
    site_models(&st, &p, Some(&name))
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("site {name:?}")))
}

/// Probes ("instances"): status, version, OS, uptime, last batch, spool, interfaces.
#[utoipa::path(get, path = "/api/v1/probes", tag = "inventory", params(ProbesParams),
    responses((status = 200, body = Vec<Probe>), Errors))]
pub(super) async fn probes(State(st): S, p: Principal, Query(q): Query<ProbesParams>) -> ApiResult<Json<Vec<Probe>>> {
    let rows = st.store.probe_rows(p.allowed(), q.site.as_deref(), None).await?;
    let connected = st.live.connected().await;
    Ok(Json(rows.into_iter().map(|r| probe_model(&st, r, &connected)).collect()))
}

/// One probe.
#[utoipa::path(get, path = "/api/v1/probes/{probe}", tag = "inventory", params(("probe" = String, Path)),
    responses((status = 200, body = Probe), Errors))]
pub(super) async fn probe(State(st): S, p: Principal, Path(name): Path<String>) -> ApiResult<Json<Probe>> {
    let row = st.store.probe_rows(p.allowed(), None, Some(&name)).await?.pop();
    let row = row.ok_or_else(|| ApiError::not_found(format!("probe {name:?}")))?;
    let connected = st.live.connected().await;
    Ok(Json(probe_model(&st, row, &connected)))
}

/// One interface's statistics (ntop's bytesStats, pktsStats, drops, table sizes).
#[utoipa::path(get, path = "/api/v1/interfaces/{id}", tag = "inventory", params(("id" = i64, Path)),
    responses((status = 200, body = Interface), Errors))]
pub(super) async fn interface(State(st): S, p: Principal, Path(id): Path<i64>) -> ApiResult<Json<Interface>> {
    let i = st.store.interface(p.allowed(), id).await?.ok_or_else(|| ApiError::not_found("interface"))?;
    Ok(Json(interface_model(i)))
}
