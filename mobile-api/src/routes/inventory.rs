//! Sites, probes ("instances") and interfaces: what they are and their counters now (the
//! online rule of a probe included). It must not use the other resource modules.

use axum::extract::State;
use chrono::Utc;
use wirewatch_model::{BytesStats, PacketStats};
use wirewatch_store::api as store_api;

use super::convert::{n, ns_time};
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

fn interface_model(st: &ApiState, i: store_api::InterfaceRow) -> Interface {
    let c = i.counters;
    let g = i.gauges;
    Interface {
        archive: st.archives.as_ref().map(|_| wirewatch_model::archive::interface_dir(&i.probe, &i.name)),
        id: i.id,
        probe: i.probe,
        site: i.site,
        name: i.name,
        link_type: i.link_type,
        live: i.live,
        packets: n(c.packets),
        bytes: n(c.bytes),
        undecoded_packets: n(c.undecoded_packets),
        undecoded_bytes: n(c.undecoded_bytes),
        pcap_drops: n(c.pcap_drops),
        if_drops: n(c.if_drops),
        flows_total: n(c.flows_total),
        flows_expired: n(c.flows_expired),
        host_evictions: n(c.host_evictions),
        mac_evictions: n(c.mac_evictions),
        flow_evictions: n(c.flow_evictions),
        hosts: n(g.hosts),
        macs: n(g.macs),
        flows_active: n(g.flows_active),
        first_seen: ns_time(g.first_seen_ns),
        last_seen: ns_time(g.last_seen_ns),
        bytes_stats: serde_json::to_value(BytesStats::from_array(c.bytes_stats)).unwrap_or_default(),
        pkts_stats: serde_json::to_value(PacketStats::from_array(c.pkts_stats)).unwrap_or_default(),
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
        interfaces: p.interfaces.into_iter().map(|i| interface_model(st, i)).collect(),
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
                    site.packets += n(i.counters.packets);
                    site.bytes += n(i.counters.bytes);
                    site.hosts += n(i.gauges.hosts);
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
    Ok(Json(interface_model(&st, i)))
}
