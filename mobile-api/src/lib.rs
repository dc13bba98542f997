//! wirewatch JSON API: the authenticated, multi-site view the phone client and the admin
//! console use (axum; JWT access tokens, rotating refresh tokens, API tokens; OpenAPI document
//! generated from the handlers at `/api/v1/openapi.json`).
//!
//! The controller builds an [`ApiState`] and mounts [`router`] on its HTTP listener; live
//! queries reach probes through the [`Live`] trait the controller implements over its QUIC
//! connections (this crate knows nothing of QUIC), and `/python/…` pages through the
//! [`Scripts`] engine the controller sets in [`ApiState::scripts`] (this crate does not link
//! libpython). Roles, the caller's identity, the script engine's interface and GeoIP are the
//! shared vocabulary's (`wirewatch_model`).
//!
//! Dependency order of the modules (each uses only those before it; `ApiState` and the `Live`
//! trait of this file are used by all):
//! - `error`, `names`, `auth` (itself `account` ← `tokens`, `passwords`, `limits` ←
//!   `principal`), `model`;
//! - `sign_in` (the sign-in flow and token pairs, shared by the API and the sign-in form);
//! - `routes::extract` (extractors, request parsing) and `routes::convert` (store values →
//!   response pieces);
//! - the resource modules `routes::{auth, inventory, hosts, history, geo, preferences, live,
//!   health, pages, rrd, alarms, reports, console}`, which never use each other (`console`
//!   serves the built web app, the router's fallback);
//! - `routes` (`routes/mod.rs`: the router and the OpenAPI document).

pub mod auth;
pub mod error;
pub mod model;
pub mod names;
mod routes;
mod sign_in;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wirewatch_model::geo;
pub use wirewatch_model::scripts::BoxFuture;
use wirewatch_model::scripts::Scripts;
use wirewatch_store::Store;

/// The API and pages router, every response carrying the security headers
/// (`routes::pages::security_headers`: CSP, nosniff, referrer policy, no framing).
pub fn router(state: Arc<ApiState>) -> axum::Router {
    routes::router(state).layer(axum::middleware::from_fn(routes::pages::security_headers))
}

/// Why a live query failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("probe {0} is not connected to this controller")]
    NotConnected(String),
    #[error("probe did not answer within {0:?}")]
    Timeout(Duration),
    #[error("live query failed: {0}")]
    Failed(String),
}

/// Live queries to connected probes (implemented by the controller over QUIC).
pub trait Live: Send + Sync {
    /// Names of the probes connected to this controller now.
    fn connected(&self) -> BoxFuture<'_, Vec<String>>;
    /// The probe's current top talkers: (interface name, host counters) rows.
    fn top_talkers<'a>(
        &'a self,
        probe: &'a str,
        limit: u32,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Vec<(String, wirewatch_wire::HostDelta)>, LiveError>>;
}

/// API settings (the controller's config file has them under the same names).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Access-token lifetime.
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime (each refresh starts it again).
    pub refresh_ttl_days: u32,
    /// Failed sign-ins a minute per (user name, address); also the rate of failures of a user
    /// name (from anywhere) past which addresses that have been failing for it back off.
    pub login_per_user_per_minute: u32,
    /// Sign-in attempts a minute per address (an IPv6 address counts as its /64).
    pub login_per_address_per_minute: u32,
    /// While a user name is failing past its rate, an address that failed for it within this
    /// many seconds waits (addresses that have not been failing still sign in).
    pub login_backoff_secs: u64,
    /// Password checks (argon2id, 19 MiB each) running at once; more wait.
    pub password_hash_concurrency: usize,
    /// How long a sign-in waits for a password check slot before 503 + Retry-After.
    pub password_hash_wait_ms: u64,
    /// Proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed for the
    /// client's address (rate limits, scripts' REMOTE_ADDR); empty: none, the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Lifetime of an API token created without `expires_in_days`.
    pub api_token_default_days: u32,
    /// Longest `expires_in_days` accepted (at most 3650).
    pub api_token_max_days: u32,
    /// Live queries (asked of a probe) a minute per user.
    pub live_per_user_per_minute: u32,
    /// Live queries in flight per user (more: 429).
    pub live_in_flight_per_user: usize,
    /// /python/ page runs in flight per user; more wait up to `python_wait_ms`, then 429.
    pub python_runs_per_user: usize,
    pub python_wait_ms: u64,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// MaxMind-format city database (GeoIP2/GeoLite2 City, DB-IP City Lite); empty: none.
    pub geoip_db: Option<PathBuf>,
    /// Resolve host names by reverse DNS.
    pub reverse_dns: bool,
    /// DNS servers for reverse lookups; empty: the system's (/etc/resolv.conf).
    pub dns_servers: Vec<SocketAddr>,
    pub dns_timeout_ms: u64,
    /// A probe whose last message is older than this is offline even if another controller
    /// recorded it as connected.
    pub probe_offline_after_secs: u64,
    /// How long a session checked valid is trusted without asking the database again (a
    /// revocation made on another controller or by `user disable` takes up to this long).
    pub session_cache_ms: u64,
    /// The URL browsers use to reach this controller (e.g. `https://monitor.example.com` behind
    /// a TLS proxy); empty: not known. Its origin is accepted on sign-in and page POSTs, and an
    /// `https` URL makes the session cookie `Secure`.
    pub public_url: String,
    /// The session cookie's `Secure` attribute: `auto` (on when `public_url` is https),
    /// `always` or `never`.
    pub cookie_secure: CookieSecure,
    /// The built web console (`npm run build` in `web/`); empty: `web/dist` of the source tree
    /// this binary was built from. Without its `index.html` the console's paths answer 503.
    pub web_dir: Option<PathBuf>,
}

/// When the session cookie is marked `Secure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecure {
    /// `Secure` when `public_url` starts with `https://`.
    #[default]
    Auto,
    Always,
    Never,
}

impl ApiConfig {
    /// Whether the session cookie carries `Secure`.
    pub fn cookie_is_secure(&self) -> bool {
        match self.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => self.public_url.trim().to_ascii_lowercase().starts_with("https://"),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            access_ttl_secs: 900,
            refresh_ttl_days: 30,
            login_per_user_per_minute: 10,
            login_per_address_per_minute: 30,
            login_backoff_secs: 900,
            password_hash_concurrency: 4,
            password_hash_wait_ms: 2000,
            trusted_proxies: Vec::new(),
            api_token_default_days: 90,
            api_token_max_days: 365,
            live_per_user_per_minute: 6,
            live_in_flight_per_user: 1,
            python_runs_per_user: 2,
            python_wait_ms: 2000,
            max_body_bytes: 64 * 1024,
            geoip_db: None,
            reverse_dns: true,
            dns_servers: Vec::new(),
            dns_timeout_ms: 2000,
            probe_offline_after_secs: 90,
            session_cache_ms: 1000,
            public_url: String::new(),
            cookie_secure: CookieSecure::Auto,
            web_dir: None,
        }
    }
}

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiInitError {
    #[error(transparent)]
    Store(#[from] wirewatch_store::StoreError),
    #[error(transparent)]
    Geo(#[from] geo::GeoError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error("reverse DNS resolver: {0}")]
    Resolver(String),
    #[error("api.trusted_proxies: {0:?} is not an address or network")]
    Proxy(String),
}

/// Everything a request handler needs.
pub struct ApiState {
    pub store: Store,
    pub keys: auth::Keys,
    pub limits: auth::LoginLimits,
    /// Password checks at a time.
    pub hashing: auth::Hashing,
    /// Live queries per user.
    pub live_slots: auth::UserSlots,
    /// /python/ runs per user.
    pub python_slots: auth::UserSlots,
    /// `trusted_proxies`, parsed.
    pub proxies: Vec<ipnet::IpNet>,
    pub sessions: auth::SessionCache,
    pub geo: Option<Arc<geo::Geo>>,
    pub names: Option<names::Names>,
    pub live: Arc<dyn Live>,
    /// The Python engine serving `/python/…` pages (`None`: disabled).
    pub scripts: Option<Arc<dyn Scripts>>,
    /// The RRD archive's graphs and listing (`None`: archives disabled).
    pub archives: Option<Arc<dyn wirewatch_model::archive::Archives>>,
    /// rrdAlarm's validation and check (`None`: thresholds can be read, not replaced or checked).
    pub alarms: Option<Arc<dyn wirewatch_model::alarms::Alarms>>,
    pub controller: String,
    pub config: ApiConfig,
    /// A valid argon2 hash to verify against when the user does not exist (so a wrong user
    /// name costs the same time as a wrong password).
    dummy_hash: String,
}

impl ApiState {
    /// Loads (or makes) the signing key, opens the GeoIP database, starts the resolver.
    pub async fn new(
        store: Store,
        config: ApiConfig,
        live: Arc<dyn Live>,
        controller: String,
    ) -> Result<ApiState, ApiInitError> {
        let secret = store.api_secret(&auth::random_bytes::<32>()?).await?;
        let keys = auth::Keys::new(
            &secret,
            chrono::Duration::seconds(i64::try_from(config.access_ttl_secs).unwrap_or(900)),
            chrono::Duration::days(i64::from(config.refresh_ttl_days)),
        )?;
        let geo = match &config.geoip_db {
            Some(p) if !p.as_os_str().is_empty() => Some(Arc::new(geo::Geo::open(p)?)),
            _ => None,
        };
        let names = if config.reverse_dns {
            Some(
                names::Names::start(store.clone(), &config.dns_servers, Duration::from_millis(config.dns_timeout_ms))
                    .map_err(ApiInitError::Resolver)?,
            )
        } else {
            None
        };
        let proxies = config
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ApiInitError::Proxy(p.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let web = routes::console::web_dir(config.web_dir.as_deref());
        if !web.join("index.html").is_file() {
            tracing::warn!(dir = %web.display(), "the web console is not built (scripts/setup builds it): its pages answer 503");
        }
        let dummy_hash = tokio::task::spawn_blocking(|| auth::hash_password("no such user, no such password"))
            .await
            .map_err(|e| auth::AuthError::Hash(e.to_string()))??;
        Ok(ApiState {
            store,
            keys,
            limits: auth::LoginLimits::new(
                config.login_per_user_per_minute,
                config.login_per_address_per_minute,
                Duration::from_secs(config.login_backoff_secs),
            ),
            hashing: auth::Hashing::new(
                config.password_hash_concurrency,
                Duration::from_millis(config.password_hash_wait_ms),
            ),
            live_slots: auth::UserSlots::new(
                "live queries",
                config.live_in_flight_per_user,
                Duration::ZERO,
                Some(config.live_per_user_per_minute),
            ),
            python_slots: auth::UserSlots::new(
                "script pages",
                config.python_runs_per_user,
                Duration::from_millis(config.python_wait_ms),
                None,
            ),
            proxies,
            sessions: auth::SessionCache::new(Duration::from_millis(config.session_cache_ms)),
            geo,
            names,
            live,
            scripts: None,
            archives: None,
            alarms: None,
            controller,
            config,
            dummy_hash,
        })
    }
}

/// Creates the first admin if the database has no user: the password from `password` (the
/// environment) or a random one. Returns the password when this call created the account and
/// made the password up (print it once).
pub async fn ensure_first_admin(store: &Store, password: Option<String>) -> Result<Option<String>, ApiInitError> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let made_up = password.is_none();
    let password = match password {
        Some(p) => {
            auth::check_password(&p)?;
            p
        }
        None => auth::new_secret("")?.chars().filter(|c| c.is_ascii_alphanumeric()).take(20).collect(),
    };
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&p))
        .await
        .map_err(|e| auth::AuthError::Hash(e.to_string()))??;
    let created = store.create_first_admin("admin", &hash).await?;
    Ok(if created && made_up { Some(password) } else { None })
}
