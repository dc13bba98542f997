//! The extractors every endpoint shares and the parsing of request parts several resources
//! use: our `Json`/`Query`/`Path` (rejections in the API's one error shape), the client's
//! address behind trusted proxies, a host path's address, a probe path's name within the
//! caller's sites. It must not hold endpoints, nor use the resource modules.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::ApiState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};

pub(crate) type S = State<Arc<ApiState>>;

/// `Json` whose rejections come out in the API's error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The client's address (for the login limit; scripts' REMOTE_ADDR): the peer, or, when the
/// peer is one of `trusted_proxies`, the right-most address of `X-Forwarded-For` that is not a
/// trusted proxy (entries left of it are the client's to write, so they are not believed).
/// Unspecified when not served with connect info.
pub struct ClientAddr(pub IpAddr);

/// An `X-Forwarded-For` entry: an address, optionally `[v6]:port` / `v4:port`.
fn forwarded_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>().ok().or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The client behind `peer` (see [`ClientAddr`]).
pub(crate) fn client_addr(peer: IpAddr, headers: &axum::http::HeaderMap, proxies: &[ipnet::IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| {
        let ip = ip.to_canonical();
        proxies.iter().any(|n| n.contains(&ip))
    };
    if !trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for e in entries.iter().rev() {
        match forwarded_ip(e) {
            Some(ip) if trusted(&ip) => client = ip,
            Some(ip) => return ip,
            // Garbage: the last trusted hop is all we know.
            None => return client,
        }
    }
    client
}

impl FromRequestParts<Arc<ApiState>> for ClientAddr {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &Arc<ApiState>) -> Result<Self, ApiError> {
        let peer =
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientAddr(client_addr(peer.to_canonical(), &parts.headers, &st.proxies)))
    }
}

/// A host path's address: something that is not an address names no host.
pub(crate) fn parse_ip(s: &str) -> ApiResult<IpAddr> {
    s.parse().map_err(|_| ApiError::not_found(format!("host {s:?}")))
}

/// A probe path's name → the probe's id, when it is one of the caller's sites' (else 404).
pub(crate) async fn visible_probe(st: &ApiState, p: &Principal, name: &str) -> ApiResult<i64> {
    st.store.probe_id(p.allowed(), name).await?.ok_or_else(|| ApiError::not_found(format!("probe {name:?}")))
}
