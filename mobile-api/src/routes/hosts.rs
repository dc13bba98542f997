//! Hosts: the paged, sorted, filtered list (cursor), one host's detail, and top talkers over
//! a window. It must not use the other resource modules.

use std::net::IpAddr;

use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use wirewatch_store::hosts::{HostCursor, HostQuery};

use super::convert::{n, ns_time, traffic};
use super::extract::{Json, Path, Query, S, parse_ip};
use crate::ApiState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::*;

#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    s: HostSort,
    o: Order,
    c: HostCursor,
}

fn share(part: i64, total: i64) -> f64 {
    if total > 0 { (part as f64 * 1000.0 / total as f64).round() / 10.0 } else { 0.0 }
}

fn summary(st: &ApiState, h: &wirewatch_model::HostSummary, unit: Unit) -> HostSummary {
    let t = &h.traffic;
    let (sent, rcvd) = match unit {
        Unit::Bytes => (n(t.tx_bytes), n(t.rx_bytes)),
        Unit::Packets => (n(t.tx_packets), n(t.rx_packets)),
    };
    let ip = h.key.ip;
    let place = st.geo.as_ref().and_then(|g| g.lookup(ip));
    let name = h.names.first().cloned().or_else(|| st.names.as_ref().and_then(|n| n.request(ip)));
    HostSummary {
        href: format!("/api/v1/interfaces/{}/hosts/{}", h.key.interface_id, ip),
        site: h.site.clone(),
        probe: h.probe.clone(),
        interface_id: h.key.interface_id,
        interface: h.interface.clone(),
        ip: ip.to_string(),
        mac: h.mac.map(|m| m.to_string()),
        vendor: h.vendor(),
        name,
        vlan: i32::from(h.vlan),
        country_code: place.as_ref().and_then(|p| p.country_code.clone()),
        city: place.and_then(|p| p.city),
        first_seen: ns_time(h.first_seen_ns),
        last_seen: ns_time(h.last_seen_ns),
        unit,
        sent,
        rcvd,
        total: sent + rcvd,
        outbound_share: share(sent, sent + rcvd),
        inbound_share: share(rcvd, sent + rcvd),
        bytes: Counter { sent: n(t.tx_bytes), rcvd: n(t.rx_bytes) },
        packets: Counter { sent: n(t.tx_packets), rcvd: n(t.rx_packets) },
    }
}

/// Hosts (the seed's Host Information table): sorted, filtered by site, probe, interface,
/// network and search text, paged by cursor.
#[utoipa::path(get, path = "/api/v1/hosts", tag = "hosts", params(HostsParams),
    responses((status = 200, body = HostPage), Errors))]
pub(super) async fn hosts(State(st): S, p: Principal, Query(q): Query<HostsParams>) -> ApiResult<Json<HostPage>> {
    let sort = q.sort.unwrap_or_default();
    let order = q.order.unwrap_or_default();
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-1000"));
    }
    let cidr = match &q.cidr {
        None => None,
        Some(c) => {
            let net = c
                .parse::<ipnet::IpNet>()
                .or_else(|_| c.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ApiError::bad_request(format!("cidr {c:?} is not a network such as 192.0.2.0/24")))?;
            Some(net.trunc().to_string())
        }
    };
    if let Some(s) = &q.q
        && (s.is_empty() || s.len() > 128)
    {
        return Err(ApiError::bad_request("q must have 1-128 characters"));
    }
    let after = match &q.cursor {
        None => None,
        Some(c) => {
            let raw = B64.decode(c).map_err(|_| ApiError::bad_request("malformed cursor"))?;
            let cur: Cursor = serde_json::from_slice(&raw).map_err(|_| ApiError::bad_request("malformed cursor"))?;
            if cur.s != sort || cur.o != order {
                return Err(ApiError::bad_request("the cursor belongs to another sort or order"));
            }
            Some(cur.c)
        }
    };
    let query = HostQuery {
        site: q.site,
        probe: q.probe,
        interface_id: q.interface,
        cidr,
        search: q.q,
        sort,
        descending: order == Order::Desc,
        after,
        limit,
    };
    let (rows, next) = st.store.host_page(p.allowed(), &query).await?;
    let unit = q.unit.unwrap_or_default();
    let next_cursor = match next {
        Some(c) => Some(B64.encode(serde_json::to_vec(&Cursor { s: sort, o: order, c }).map_err(ApiError::internal)?)),
        None => None,
    };
    Ok(Json(HostPage { items: rows.iter().map(|h| summary(&st, h, unit)).collect(), next_cursor }))
}

/// One host: counters, protocol and service split, peers, sessions, throughput, roles, GeoIP.
#[utoipa::path(get, path = "/api/v1/interfaces/{id}/hosts/{ip}", tag = "hosts",
    params(("id" = i64, Path), ("ip" = String, Path), ("unit" = Option<Unit>, Query)),
    responses((status = 200, body = HostDetail), Errors))]
pub(super) async fn host(
    State(st): S,
    p: Principal,
    Path((id, ip)): Path<(i64, String)>,
    Query(q): Query<UnitParam>,
) -> ApiResult<Json<HostDetail>> {
    let ip = parse_ip(&ip)?;
    let (h, services) = st.store.host(p.allowed(), id, ip).await?.ok_or_else(|| ApiError::not_found("host"))?;
    let g = &h.gauges;
    let mut role_names: Vec<String> = h.role_names().into_iter().map(String::from).collect();
    role_names.sort();
    Ok(Json(HostDetail {
        names: h.names.clone(),
        geo: st.geo.as_ref().and_then(|geo| geo.lookup(ip)),
        protocols: Protocols {
            tcp: traffic(&h.l4.tcp),
            udp: traffic(&h.l4.udp),
            icmp: traffic(&h.l4.icmp),
            other: traffic(&h.l4.other),
        },
        services: services.into_iter().map(|(s, v)| ServiceTraffic { service: s, traffic: traffic(&v) }).collect(),
        peers_sent: n(g.peers_sent),
        peers_rcvd: n(g.peers_rcvd),
        tcp_sessions_active: n(g.tcp_sessions_active),
        tcp_sessions_total: n(h.tcp_sessions_total),
        syn_sent: n(h.syn_sent),
        udp_flows: n(h.udp_flows),
        throughput_sent: Throughput {
            actual: f64::from(g.thpt.actual_tx),
            average: h.average_thpt_tx(),
            peak: f64::from(g.thpt.peak_tx),
        },
        throughput_rcvd: Throughput {
            actual: f64::from(g.thpt.actual_rx),
            average: h.average_thpt_rx(),
            peak: f64::from(g.thpt.peak_rx),
        },
        roles: role_names,
        archive: st.archives.as_ref().map(|_| wirewatch_model::archive::host_dir(&h.probe, ip)),
        summary: summary(&st, &h, q.unit.unwrap_or_default()),
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UnitParam {
    unit: Option<Unit>,
}

/// Top talkers of a site or probe over a window (default: the last hour of data).
#[utoipa::path(get, path = "/api/v1/top-talkers", tag = "hosts", params(TopParams),
    responses((status = 200, body = TopTalkers), Errors))]
pub(super) async fn top_talkers(State(st): S, p: Principal, Query(q): Query<TopParams>) -> ApiResult<Json<TopTalkers>> {
    let window = q.window.unwrap_or(3600);
    if !(60..=31 * 86_400).contains(&window) {
        return Err(ApiError::bad_request("window must be 60-2678400 seconds"));
    }
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-100"));
    }
    let unit = q.unit.unwrap_or_default();
    let to = match q.to {
        Some(t) => Some(t),
        None => st.store.latest_sample(p.allowed(), q.site.as_deref(), q.probe.as_deref()).await?,
    };
    let Some(to) = to else { return Ok(Json(TopTalkers { from: None, to: None, unit, hosts: Vec::new() })) };
    let from = to - chrono::Duration::seconds(window);
    let rows = st
        .store
        .top_talkers(p.allowed(), q.site.as_deref(), q.probe.as_deref(), from, to, unit == Unit::Packets, limit)
        .await?;
    Ok(Json(TopTalkers {
        from: Some(from),
        to: Some(to),
        unit,
        hosts: rows
            .into_iter()
            .map(|r| Talker {
                href: format!("/api/v1/interfaces/{}/hosts/{}", r.interface_id, r.ip),
                name: r.names.first().cloned(),
                probe: r.probe,
                interface_id: r.interface_id,
                interface: r.interface,
                ip: r.ip.to_string(),
                mac: r.mac.map(|m| m.to_string()),
                traffic: traffic(&r.traffic),
            })
            .collect(),
    }))
}
