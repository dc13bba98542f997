//! The endpoints. Each handler is registered with its OpenAPI description in one place
//! (utoipa-axum), so the document cannot drift from the router.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wirewatch_probe::interface::{BytesStats, PacketStats};
use wirewatch_probe::services::roles;
use wirewatch_store::api::{self as store_api, HostCursor, HostQuery, HostRecord};

use crate::auth::{self, Principal, Role, Via};
use crate::error::{ApiError, ApiResult, ErrorBody, Errors};
use crate::geo::Place;
use crate::model::*;
use crate::{ApiState, LiveError};

type S = State<Arc<ApiState>>;

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

/// `/python/` runs per user: the caller is authenticated here (and handed to the page handler
/// in the request's extensions) so a user holding `python_runs_per_user` runs waits, then
/// gets 429, while other users' pages run. Unauthenticated requests pass to the handler,
/// which answers them (sign-in redirect or 401).
async fn python_per_user(State(st): S, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(p) = Principal::from_request_parts(&mut parts, &st).await else {
        return next.run(axum::extract::Request::from_parts(parts, body)).await;
    };
    let permit = match st.python_slots.acquire(p.user_id).await {
        Ok(permit) => permit,
        Err(e) => return e.into_response(),
    };
    parts.extensions.insert(p);
    let r = next.run(axum::extract::Request::from_parts(parts, body)).await;
    drop(permit);
    r
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wirewatch API",
        description = "Sites, probes, interfaces and hosts of a wirewatch controller, with history. \
                       Sign in with POST /api/v1/auth/login and send `Authorization: Bearer <access_token>`; \
                       scripts use API tokens the same way.",
        version = "1"
    ),
    components(schemas(ErrorBody, HostSort, Order, Unit, Resolution)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The endpoints with their OpenAPI descriptions (the document is assembled from them).
fn api_routes() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(users))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(sites))
        .routes(routes!(site))
        .routes(routes!(probes))
        .routes(routes!(probe))
        .routes(routes!(interface))
        .routes(routes!(interface_history))
        .routes(routes!(hosts))
        .routes(routes!(host))
        .routes(routes!(host_history))
        .routes(routes!(top_talkers))
        .routes(routes!(geo_countries))
        .routes(routes!(geo_cities))
        .routes(routes!(preferences))
        .routes(routes!(get_preference, put_preference, delete_preference))
        .routes(routes!(live_top_talkers))
        .routes(routes!(healthz))
}

/// The API's router (state applied), including `/healthz` and `/api/v1/openapi.json`.
pub fn router(state: Arc<ApiState>) -> Router {
    let (r, doc) = api_routes().split_for_parts();
    let doc = Arc::new(doc);
    let limit = state.config.max_body_bytes;
    r.route(
        "/python/{*path}",
        axum::routing::any(crate::pages::python_page)
            .layer(axum::middleware::from_fn_with_state(state.clone(), python_per_user)),
    )
    .route("/login", axum::routing::get(crate::pages::login_form).post(crate::pages::login_submit))
    .route("/logout", axum::routing::get(crate::pages::logout))
    .route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let d = doc.clone();
            async move { axum::Json(d.as_ref().clone()) }
        }),
    )
    .fallback(|| async { ApiError::not_found("this path") })
    .method_not_allowed_fallback(|| async {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this path")
    })
    .layer(axum::extract::DefaultBodyLimit::max(limit))
    .with_state(state)
}

fn ns_time(ns: i64) -> Option<DateTime<Utc>> {
    (ns > 0).then(|| DateTime::from_timestamp_nanos(ns))
}

// ---------------------------------------------------------------- auth

async fn issue(
    st: &ApiState,
    user: &wirewatch_store::accounts::User,
    family: Vec<u8>,
    refresh: String,
) -> ApiResult<TokenPair> {
    let role = Role::parse(&user.role).ok_or_else(|| ApiError::internal("stored role unknown"))?;
    let now = Utc::now();
    let claims = auth::Claims {
        sub: user.id.to_string(),
        name: user.name.clone(),
        role,
        sites: user.sites.clone(),
        fam: auth::encode_family(&family),
        iss: auth::ISSUER.to_string(),
        iat: now.timestamp(),
        exp: (now + st.keys.access_ttl).timestamp(),
    };
    Ok(TokenPair {
        access_token: st.keys.sign(&claims)?,
        refresh_token: refresh,
        token_type: "Bearer".into(),
        expires_in: st.keys.access_ttl.num_seconds(),
    })
}

/// Sign in: an access token (15 minutes) and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses((status = 200, body = TokenPair), Errors))]
async fn login(
    State(st): S,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(sign_in(&st, &req.username, req.password, addr).await?))
}

/// Checks a password (rate-limited per user name and client address) and starts a session.
pub(crate) async fn sign_in(
    st: &Arc<ApiState>,
    username: &str,
    password: String,
    addr: IpAddr,
) -> ApiResult<TokenPair> {
    if username.len() > 256 || password.len() > 1024 {
        return Err(ApiError::bad_request("username or password too long"));
    }
    let attempt = st.limits.begin(username, addr)?;
    let user = st.store.user_by_name(username).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| st.dummy_hash.clone());
    // At most `password_hash_concurrency` argon2 runs (19 MiB each) at a time.
    let ok = st.hashing.verify(password, hash).await?;
    let user = match user {
        Some(u) if ok && !u.disabled => {
            attempt.succeeded();
            u
        }
        _ => {
            attempt.failed();
            return Err(ApiError::unauthorized("invalid username or password"));
        }
    };
    let family = auth::random_bytes::<16>().map_err(ApiError::internal)?.to_vec();
    let refresh = auth::new_secret("wwr_").map_err(ApiError::internal)?;
    st.store.insert_refresh(user.id, &family, &auth::sha256(&refresh), Utc::now() + st.keys.refresh_ttl).await?;
    issue(st, &user, family, refresh).await
}

/// Trade a refresh token for a new pair. Each refresh token works once: presenting a used one
/// again revokes every token of its sign-in (the family), access tokens included.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", security(()),
    request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), Errors))]
async fn refresh(State(st): S, Json(req): Json<RefreshRequest>) -> ApiResult<Json<TokenPair>> {
    let next = auth::new_secret("wwr_").map_err(ApiError::internal)?;
    let outcome = st
        .store
        .use_refresh(&auth::sha256(&req.refresh_token), &auth::sha256(&next), Utc::now() + st.keys.refresh_ttl)
        .await?;
    use wirewatch_store::accounts::Refresh;
    match outcome {
        Refresh::Rotated { user_id, family } => {
            let user = st.store.user_by_id(user_id).await?.ok_or_else(|| ApiError::unauthorized("user gone"))?;
            Ok(Json(issue(&st, &user, family, next).await?))
        }
        Refresh::Reused { user_id } => {
            st.sessions.forget_user(user_id);
            tracing::warn!(user_id, "refresh token presented twice: its family is revoked");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_reused",
                "this refresh token was already used; every token of this sign-in is revoked",
            ))
        }
        Refresh::Expired => Err(ApiError::unauthorized("refresh token expired (or its user is disabled)")),
        Refresh::Unknown => Err(ApiError::unauthorized("unknown refresh token")),
    }
}

/// Sign out: ends the session (its refresh family and the access tokens issued from it).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "optional"),
    responses((status = 204, description = "signed out"), Errors))]
async fn logout(State(st): S, p: Principal, body: axum::body::Bytes) -> ApiResult<StatusCode> {
    let req: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest { refresh_token: None }
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))?
    };
    let family = match (&req.refresh_token, &p.via) {
        (Some(t), _) => st
            .store
            .refresh_family(p.user_id, &auth::sha256(t))
            .await?
            .ok_or_else(|| ApiError::not_found("refresh token"))?,
        (None, Via::Session { family }) => family.clone(),
        (None, Via::ApiToken) => {
            return Err(ApiError::bad_request(
                "an API token has no session: revoke it with DELETE /api/v1/tokens/{id}",
            ));
        }
    };
    st.store.revoke_family(p.user_id, &family).await?;
    st.sessions.forget_user(p.user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Who am I.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = Me), Errors))]
async fn me(p: Principal) -> Json<Me> {
    Json(Me {
        id: p.user_id,
        username: p.name,
        role: p.role,
        sites: p.sites,
        auth: match p.via {
            Via::Session { .. } => "session".into(),
            Via::ApiToken => "api_token".into(),
        },
    })
}

/// Users (admins only; accounts are managed with `wirewatch-controller user`).
#[utoipa::path(get, path = "/api/v1/users", tag = "auth", responses((status = 200, body = Vec<UserInfo>), Errors))]
async fn users(State(st): S, p: Principal) -> ApiResult<Json<Vec<UserInfo>>> {
    p.require(Role::Admin)?;
    Ok(Json(
        st.store
            .users()
            .await?
            .into_iter()
            .map(|u| UserInfo {
                id: u.id,
                username: u.name,
                role: u.role,
                sites: u.sites,
                disabled: u.disabled,
                created_at: u.created_at,
            })
            .collect(),
    ))
}

fn token_info(t: wirewatch_store::accounts::ApiToken) -> ApiTokenInfo {
    ApiTokenInfo {
        id: t.id,
        username: t.user,
        name: t.name,
        prefix: t.prefix,
        created_at: t.created_at,
        expires_at: t.expires_at,
        last_used_at: t.last_used_at,
        revoked: t.revoked,
    }
}

/// API tokens: your own (admins: everyone's).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", responses((status = 200, body = Vec<ApiTokenInfo>), Errors))]
async fn list_tokens(State(st): S, p: Principal) -> ApiResult<Json<Vec<ApiTokenInfo>>> {
    let of = if p.role == Role::Admin { None } else { Some(p.user_id) };
    Ok(Json(st.store.api_tokens(of).await?.into_iter().map(token_info).collect()))
}

/// Create an API token for scripts (operators and admins, signed in: an API token cannot create
/// tokens; admins may create one for another user, e.g. a viewer account for a dashboard).
/// Without `expires_in_days` it expires after `api_token_default_days` (90). The token is in
/// the answer once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = NewApiToken,
    responses((status = 201, body = CreatedApiToken), Errors))]
async fn create_token(
    State(st): S,
    p: Principal,
    Json(req): Json<NewApiToken>,
) -> ApiResult<(StatusCode, Json<CreatedApiToken>)> {
    if p.via == Via::ApiToken {
        return Err(ApiError::forbidden(
            "an API token cannot create API tokens: sign in (POST /api/v1/auth/login) and use that session",
        ));
    }
    p.require(Role::Operator)?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::bad_request("name must have 1-64 characters"));
    }
    let max = st.config.api_token_max_days.clamp(1, 3650);
    let days = match req.expires_in_days {
        None => st.config.api_token_default_days.clamp(1, max),
        Some(d) if (1..=max).contains(&d) => d,
        Some(_) => return Err(ApiError::bad_request(format!("expires_in_days must be 1-{max}"))),
    };
    let expires_at = Some(Utc::now() + chrono::Duration::days(i64::from(days)));
    let user_id = match &req.username {
        None => p.user_id,
        Some(u) if *u == p.name => p.user_id,
        Some(u) => {
            p.require(Role::Admin)?;
            st.store.user_by_name(u).await?.ok_or_else(|| ApiError::not_found(format!("user {u:?}")))?.id
        }
    };
    let token = auth::new_secret("wwt_").map_err(ApiError::internal)?;
    let prefix: String = token.chars().take(10).collect();
    let t = st.store.create_api_token(user_id, name, &prefix, &auth::sha256(&token), expires_at).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiToken { token, info: token_info(t) })))
}

/// Revoke an API token (any user: your own; admins: any).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    responses((status = 204, description = "revoked"), Errors))]
async fn revoke_token(State(st): S, p: Principal, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let of = if p.role == Role::Admin { None } else { Some(p.user_id) };
    if st.store.revoke_api_token(id, of).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("token"))
    }
}

// ---------------------------------------------------------------- sites, probes, interfaces

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
        bytes_stats: serde_json::to_value(BytesStats::from_stored(&i.bytes_stats)).unwrap_or_default(),
        pkts_stats: serde_json::to_value(PacketStats::from_stored(&i.pkts_stats)).unwrap_or_default(),
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
async fn sites(State(st): S, p: Principal) -> ApiResult<Json<Vec<Site>>> {
    Ok(Json(site_models(&st, &p, None).await?))
}

/// One site.
#[utoipa::path(get, path = "/api/v1/sites/{site}", tag = "inventory", params(("site" = String, Path)),
    responses((status = 200, body = Site), Errors))]
async fn site(State(st): S, p: Principal, Path(name): Path<String>) -> ApiResult<Json<Site>> {
    site_models(&st, &p, Some(&name))
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("site {name:?}")))
}

/// Probes ("instances"): status, version, OS, uptime, last batch, spool, interfaces.
#[utoipa::path(get, path = "/api/v1/probes", tag = "inventory", params(ProbesParams),
    responses((status = 200, body = Vec<Probe>), Errors))]
async fn probes(State(st): S, p: Principal, Query(q): Query<ProbesParams>) -> ApiResult<Json<Vec<Probe>>> {
    let rows = st.store.probe_rows(p.allowed(), q.site.as_deref(), None).await?;
    let connected = st.live.connected().await;
    Ok(Json(rows.into_iter().map(|r| probe_model(&st, r, &connected)).collect()))
}

/// One probe.
#[utoipa::path(get, path = "/api/v1/probes/{probe}", tag = "inventory", params(("probe" = String, Path)),
    responses((status = 200, body = Probe), Errors))]
async fn probe(State(st): S, p: Principal, Path(name): Path<String>) -> ApiResult<Json<Probe>> {
    let row = st.store.probe_rows(p.allowed(), None, Some(&name)).await?.pop();
    let row = row.ok_or_else(|| ApiError::not_found(format!("probe {name:?}")))?;
    let connected = st.live.connected().await;
    Ok(Json(probe_model(&st, row, &connected)))
}

/// One interface's statistics (ntop's bytesStats, pktsStats, drops, table sizes).
#[utoipa::path(get, path = "/api/v1/interfaces/{id}", tag = "inventory", params(("id" = i64, Path)),
    responses((status = 200, body = Interface), Errors))]
async fn interface(State(st): S, p: Principal, Path(id): Path<i64>) -> ApiResult<Json<Interface>> {
    let i = st.store.interface(p.allowed(), id).await?.ok_or_else(|| ApiError::not_found("interface"))?;
    Ok(Json(interface_model(i)))
}

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
async fn interface_history(
    State(st): S,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<HistoryParams>,
) -> ApiResult<Json<InterfaceHistory>> {
    let i = st.store.interface(p.allowed(), id).await?.ok_or_else(|| ApiError::not_found("interface"))?;
    let w = window(&q, ns_time(i.counters[15]))?;
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

// ---------------------------------------------------------------- hosts

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
        vendor: h
            .mac
            .as_deref()
            .and_then(wirewatch_store::totals::parse_mac)
            .and_then(|m| wirewatch_probe::report::vendor(&m)),
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
async fn hosts(State(st): S, p: Principal, Query(q): Query<HostsParams>) -> ApiResult<Json<HostPage>> {
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

fn traffic(t: &[i64]) -> Traffic {
    Traffic { sent_packets: t[0], sent_bytes: t[1], rcvd_packets: t[2], rcvd_bytes: t[3] }
}

/// A host path's address: something that is not an address names no host.
fn parse_ip(s: &str) -> ApiResult<IpAddr> {
    s.parse().map_err(|_| ApiError::not_found(format!("host {s:?}")))
}

/// One host: counters, protocol and service split, peers, sessions, throughput, roles, GeoIP.
#[utoipa::path(get, path = "/api/v1/interfaces/{id}/hosts/{ip}", tag = "hosts",
    params(("id" = i64, Path), ("ip" = String, Path), ("unit" = Option<Unit>, Query)),
    responses((status = 200, body = HostDetail), Errors))]
async fn host(
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
struct UnitParam {
    unit: Option<Unit>,
}

/// A host's traffic over time (raw intervals, hourly or daily).
#[utoipa::path(get, path = "/api/v1/interfaces/{id}/hosts/{ip}/history", tag = "history",
    params(("id" = i64, Path), ("ip" = String, Path), HistoryParams),
    responses((status = 200, body = HostHistory), Errors))]
async fn host_history(
    State(st): S,
    p: Principal,
    Path((id, ip)): Path<(i64, String)>,
    Query(q): Query<HistoryParams>,
) -> ApiResult<Json<HostHistory>> {
    let ip = parse_ip(&ip)?;
    let (probe_id, ip, last_seen) =
        st.store.host_key(p.allowed(), id, &ip.to_string()).await?.ok_or_else(|| ApiError::not_found("host"))?;
    let w = window(&q, last_seen.and_then(ns_time))?;
    let pts = st.store.host_history(probe_id, id, &ip, w.span()).await?;
    Ok(Json(HostHistory {
        interface_id: id,
        ip,
        resolution: w.res,
        from: w.from,
        to: w.to,
        points: pts.into_iter().map(|x| HostPoint { ts: x.ts, traffic: traffic(&x.traffic) }).collect(),
    }))
}

/// Top talkers of a site or probe over a window (default: the last hour of data).
#[utoipa::path(get, path = "/api/v1/top-talkers", tag = "hosts", params(TopParams),
    responses((status = 200, body = TopTalkers), Errors))]
async fn top_talkers(State(st): S, p: Principal, Query(q): Query<TopParams>) -> ApiResult<Json<TopTalkers>> {
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

// ---------------------------------------------------------------- GeoIP

/// Hosts per country (the region map's data).
#[utoipa::path(get, path = "/api/v1/geo/countries", tag = "geo", params(GeoParams),
    responses((status = 200, body = CountryCounts), Errors))]
async fn geo_countries(State(st): S, p: Principal, Query(q): Query<GeoParams>) -> ApiResult<Json<CountryCounts>> {
    let addrs = st.store.host_addresses(p.allowed(), q.site.as_deref(), q.probe.as_deref()).await?;
    let mut counts: BTreeMap<String, (Option<String>, i64)> = BTreeMap::new();
    let mut unknown = 0;
    for a in &addrs {
        match a.parse().ok().and_then(|ip| st.geo.as_ref().and_then(|g| g.lookup(ip))) {
            Some(Place { country_code: Some(code), country, .. }) => {
                let e = counts.entry(code).or_insert((country, 0));
                e.1 += 1;
            }
            _ => unknown += 1,
        }
    }
    let mut countries: Vec<CountryCount> =
        counts.into_iter().map(|(code, (name, hosts))| CountryCount { code, name, hosts }).collect();
    countries.sort_by(|a, b| b.hosts.cmp(&a.hosts).then_with(|| a.code.cmp(&b.code)));
    Ok(Json(CountryCounts {
        geoip: st.geo.is_some(),
        hosts_considered: addrs.len() as i64,
        hosts_unknown: unknown,
        countries,
    }))
}

/// Hosts per city of one country.
#[utoipa::path(get, path = "/api/v1/geo/cities", tag = "geo", params(CityParams),
    responses((status = 200, body = CityCounts), Errors))]
async fn geo_cities(State(st): S, p: Principal, Query(q): Query<CityParams>) -> ApiResult<Json<CityCounts>> {
    let country = q.country.to_ascii_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(ApiError::bad_request("country must be an ISO 3166-1 alpha-2 code such as IT"));
    }
    let addrs = st.store.host_addresses(p.allowed(), q.site.as_deref(), q.probe.as_deref()).await?;
    let mut cities: BTreeMap<String, (Option<f64>, Option<f64>, i64)> = BTreeMap::new();
    let (mut considered, mut unknown) = (0, 0);
    for a in &addrs {
        let Some(place) = a.parse().ok().and_then(|ip| st.geo.as_ref().and_then(|g| g.lookup(ip))) else { continue };
        if place.country_code.as_deref() != Some(country.as_str()) {
            continue;
        }
        considered += 1;
        match place.city {
            Some(c) => cities.entry(c).or_insert((place.latitude, place.longitude, 0)).2 += 1,
            None => unknown += 1,
        }
    }
    let mut cities: Vec<CityCount> = cities
        .into_iter()
        .map(|(name, (latitude, longitude, hosts))| CityCount { name, latitude, longitude, hosts })
        .collect();
    cities.sort_by(|a, b| b.hosts.cmp(&a.hosts).then_with(|| a.name.cmp(&b.name)));
    Ok(Json(CityCounts {
        geoip: st.geo.is_some(),
        country,
        hosts_considered: considered,
        hosts_unknown: unknown,
        cities,
    }))
}

// ---------------------------------------------------------------- preferences

fn check_key(k: &str) -> ApiResult<()> {
    let ok =
        !k.is_empty() && k.len() <= 128 && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(ApiError::bad_request("a preference key has 1-128 of A-Z a-z 0-9 . _ -")) }
}

async fn visible_probe(st: &ApiState, p: &Principal, name: &str) -> ApiResult<i64> {
    st.store.probe_id(p.allowed(), name).await?.ok_or_else(|| ApiError::not_found(format!("probe {name:?}")))
}

fn pref_model(x: wirewatch_store::accounts::Preference) -> Preference {
    Preference { key: x.key, value: x.value, updated_at: x.updated_at, updated_by: x.updated_by }
}

/// A probe's preferences (ntop's getPreference/setPreference store).
#[utoipa::path(get, path = "/api/v1/probes/{probe}/preferences", tag = "preferences", params(("probe" = String, Path)),
    responses((status = 200, body = Preferences), Errors))]
async fn preferences(State(st): S, p: Principal, Path(probe): Path<String>) -> ApiResult<Json<Preferences>> {
    let id = visible_probe(&st, &p, &probe).await?;
    let prefs = st.store.preferences(id).await?.into_iter().map(pref_model).collect();
    Ok(Json(Preferences { probe, preferences: prefs }))
}

/// One preference.
#[utoipa::path(get, path = "/api/v1/probes/{probe}/preferences/{key}", tag = "preferences",
    params(("probe" = String, Path), ("key" = String, Path, pattern = "^[A-Za-z0-9._-]{1,128}$")),
    responses((status = 200, body = Preference), Errors))]
async fn get_preference(
    State(st): S,
    p: Principal,
    Path((probe, key)): Path<(String, String)>,
) -> ApiResult<Json<Preference>> {
    check_key(&key)?;
    let id = visible_probe(&st, &p, &probe).await?;
    st.store
        .preferences(id)
        .await?
        .into_iter()
        .find(|x| x.key == key)
        .map(|x| Json(pref_model(x)))
        .ok_or_else(|| ApiError::not_found(format!("preference {key:?}")))
}

/// Set a preference (operators and admins).
#[utoipa::path(put, path = "/api/v1/probes/{probe}/preferences/{key}", tag = "preferences",
    params(("probe" = String, Path), ("key" = String, Path, pattern = "^[A-Za-z0-9._-]{1,128}$")), request_body = PreferenceValue,
    responses((status = 200, body = Preference), Errors))]
async fn put_preference(
    State(st): S,
    p: Principal,
    Path((probe, key)): Path<(String, String)>,
    Json(v): Json<PreferenceValue>,
) -> ApiResult<Json<Preference>> {
    p.require(Role::Operator)?;
    check_key(&key)?;
    if v.value.len() > 4096 {
        return Err(ApiError::bad_request("a preference value has at most 4096 bytes"));
    }
    let id = visible_probe(&st, &p, &probe).await?;
    Ok(Json(pref_model(st.store.set_preference(id, &key, &v.value, &p.name).await?)))
}

/// Delete a preference (operators and admins).
#[utoipa::path(delete, path = "/api/v1/probes/{probe}/preferences/{key}", tag = "preferences",
    params(("probe" = String, Path), ("key" = String, Path, pattern = "^[A-Za-z0-9._-]{1,128}$")),
    responses((status = 204, description = "deleted"), Errors))]
async fn delete_preference(
    State(st): S,
    p: Principal,
    Path((probe, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    p.require(Role::Operator)?;
    check_key(&key)?;
    let id = visible_probe(&st, &p, &probe).await?;
    if st.store.delete_preference(id, &key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("preference {key:?}")))
    }
}

// ---------------------------------------------------------------- live

/// Top talkers right now, asked of the probe over its connection (not from the database).
/// Operators and admins; per user one at a time and `live_per_user_per_minute` (6) a minute.
#[utoipa::path(get, path = "/api/v1/probes/{probe}/live/top-talkers", tag = "live",
    params(("probe" = String, Path), LiveParams),
    responses((status = 200, body = LiveTopTalkers), Errors))]
async fn live_top_talkers(
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
                mac: h.mac.map(|m| wirewatch_probe::report::mac_text(&m)),
                vendor: h.mac.and_then(|m| wirewatch_probe::report::vendor(&m)),
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

/// Liveness and database reachability (no authentication: a generic status only; the
/// error itself goes to the log).
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn healthz(State(st): S) -> (StatusCode, Json<Health>) {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ok".into(), database: "up".into() })),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health { status: "degraded".into(), database: "unavailable".into() }),
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// The document `/api/v1/openapi.json` serves (the same serde_json bytes) has every
    /// endpoint. `WIREWATCH_OPENAPI_OUT=<file>` writes those bytes out, to compare two versions
    /// of the code byte for byte.
    #[test]
    fn openapi_document_has_every_endpoint() {
        let (_, doc) = super::api_routes().split_for_parts();
        let bytes = serde_json::to_vec(&doc).unwrap();
        if let Some(out) = std::env::var_os("WIREWATCH_OPENAPI_OUT") {
            std::fs::write(out, &bytes).unwrap();
        }
        let mut paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "/api/v1/auth/login",
                "/api/v1/auth/logout",
                "/api/v1/auth/refresh",
                "/api/v1/geo/cities",
                "/api/v1/geo/countries",
                "/api/v1/hosts",
                "/api/v1/interfaces/{id}",
                "/api/v1/interfaces/{id}/history",
                "/api/v1/interfaces/{id}/hosts/{ip}",
                "/api/v1/interfaces/{id}/hosts/{ip}/history",
                "/api/v1/me",
                "/api/v1/probes",
                "/api/v1/probes/{probe}",
                "/api/v1/probes/{probe}/live/top-talkers",
                "/api/v1/probes/{probe}/preferences",
                "/api/v1/probes/{probe}/preferences/{key}",
                "/api/v1/sites",
                "/api/v1/sites/{site}",
                "/api/v1/tokens",
                "/api/v1/tokens/{id}",
                "/api/v1/top-talkers",
                "/api/v1/users",
                "/healthz",
            ]
        );
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object(), "{}", doc["components"]);
    }
}
