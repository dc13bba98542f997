//! Hosts: the paged, sorted, filtered list (cursor), one host's detail, and top talkers over
//! a window. It must not use the other resource modules.

use std::net::IpAddr;

use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use wirewatch_model::roles;
use wirewatch_store::api::{self as store_api, HostCursor, HostQuery, HostRecord};

use super::convert::{ns_time, traffic};
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

fn summary(st: &ApiState, h: &HostRecord, unit: Unit) -> HostSummary {
    let t = &h.traffic;
    let (sent, rcvd) = match unit {
        Unit::Bytes => (t[1], t[3]),
        Unit::Packets => (t[0], t[2]),
    };
    let ip: Option<IpAddr> = h.ip.parse().ok();
    let place = ip.and_then(|ip| st.geo.as_ref().and_then(|g| g.lookup(ip)));
    let name = h.names.first().cloned().or_else(|| ip.and_then(|ip| st.names.as_ref().and_then(|n| n.request(ip))));
    HostSummary {
        href: format!("/api/v1/interfaces/{}/hosts/{}", h.interface_id, h.ip),
        site: h.site.clone(),
        probe: h.probe.clone(),
        interface_id: h.interface_id,
        interface: h.interface.clone(),
        ip: h.ip.clone(),
        mac: h.mac.clone(),
        vendor: h.mac.as_deref().and_then(|m| m.parse::<wirewatch_model::Mac>().ok()).and_then(|m| m.vendor()),
        name,
        vlan: h.vlan,
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
        bytes: Counter { sent: t[1], rcvd: t[3] },
        packets: Counter { sent: t[0], rcvd: t[2] },
    }
}

fn store_sort(s: HostSort) -> store_api::HostSort {
    use store_api::HostSort as H;
    match s {
        HostSort::Bytes => H::Bytes,
        HostSort::Packets => H::Packets,
        HostSort::SentBytes => H::SentBytes,
        HostSort::RcvdBytes => H::RcvdBytes,
        HostSort::SentPackets => H::SentPackets,
        HostSort::RcvdPackets => H::RcvdPackets,
        HostSort::FirstSeen => H::FirstSeen,
        HostSort::LastSeen => H::LastSeen,
        HostSort::Ip => H::Ip,
        HostSort::Name => H::Name,
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
        sort: store_sort(sort),
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
    let (h, services) =
        st.store.host(p.allowed(), id, &ip.to_string()).await?.ok_or_else(|| ApiError::not_found("host"))?;
    let t = h.traffic;
    let life = ((h.last_seen_ns - h.first_seen_ns) as f64 / 1e9).max(1.0);
    let mut role_names: Vec<String> =
        roles::NAMES.iter().filter(|(bit, _)| h.roles as u32 & bit != 0).map(|(_, n)| n.to_string()).collect();
    role_names.sort();
    Ok(Json(HostDetail {
        names: h.names.clone(),
        geo: st.geo.as_ref().and_then(|g| g.lookup(ip)),
        protocols: Protocols {
            tcp: traffic(&t[4..8]),
            udp: traffic(&t[8..12]),
            icmp: traffic(&t[12..16]),
            other: traffic(&t[16..20]),
        },
        services: services.into_iter().map(|(s, v)| ServiceTraffic { service: s, traffic: traffic(&v) }).collect(),
        peers_sent: h.peers_sent,
        peers_rcvd: h.peers_rcvd,
        tcp_sessions_active: h.tcp_sessions_active,
        tcp_sessions_total: h.tcp_sessions_total,
        syn_sent: h.syn_sent,
        udp_flows: h.udp_flows,
        throughput_sent: Throughput {
            actual: f64::from(h.thpt[0]),
            average: t[1] as f64 / life,
            peak: f64::from(h.thpt[2]),
        },
        throughput_rcvd: Throughput {
            actual: f64::from(h.thpt[1]),
            average: t[3] as f64 / life,
            peak: f64::from(h.thpt[3]),
        },
        roles: role_names,
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
                ip: r.ip,
                mac: r.mac,
                traffic: traffic(&r.traffic),
            })
            .collect(),
    }))
}
