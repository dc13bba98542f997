//! Who is calling: passwords (argon2id), access tokens (HS256 JWT, 15 minutes), refresh tokens
//! (random, stored hashed, rotated, families revoked on reuse), API tokens (random, stored
//! hashed), and the login rate limits.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ApiState;
use crate::error::ApiError;

/// Roles, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// Errors of the account helpers used by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("no randomness available: {0}")]
    Random(String),
    #[error("unknown role {0:?} (admin, operator or viewer)")]
    Role(String),
    #[error("{0}")]
    Invalid(String),
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(b)
}

/// A fresh secret with a recognisable prefix (`wwr_` refresh, `wwt_` API token).
pub fn new_secret(prefix: &str) -> Result<String, AuthError> {
    Ok(format!("{prefix}{}", B64.encode(random_bytes::<32>()?)))
}

pub fn sha256(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

/// argon2id PHC string (blocking: run it off the async threads).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Checks a password against a PHC string (blocking).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Password rules: long enough to matter, short enough not to be a denial of service.
pub fn check_password(p: &str) -> Result<(), AuthError> {
    if p.chars().count() < 10 {
        return Err(AuthError::Invalid("a password needs at least 10 characters".into()));
    }
    if p.len() > 1024 {
        return Err(AuthError::Invalid("a password has at most 1024 bytes".into()));
    }
    Ok(())
}

/// A user name: 1–64 of letters, digits, `._-@`.
pub fn check_user_name(n: &str) -> Result<(), AuthError> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok { Ok(()) } else { Err(AuthError::Invalid(format!("bad user name {n:?} (1-64 of A-Z a-z 0-9 . _ - @)"))) }
}

/// Access-token claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    pub role: Role,
    pub sites: Option<Vec<String>>,
    /// The refresh family this session belongs to (base64url).
    pub fam: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

pub const ISSUER: &str = "wirewatch";

/// Signs and checks access tokens.
pub struct Keys {
    enc: EncodingKey,
    dec: DecodingKey,
    pub access_ttl: chrono::Duration,
    pub refresh_ttl: chrono::Duration,
}

impl Keys {
    pub fn new(secret: &[u8], access_ttl: chrono::Duration, refresh_ttl: chrono::Duration) -> Result<Keys, AuthError> {
        let key_err = |e: jsonwebtoken::errors::Error| AuthError::Invalid(format!("signing key: {e}"));
        Ok(Keys {
            enc: EncodingKey::from_secret(secret).map_err(key_err)?,
            dec: DecodingKey::from_secret(secret).map_err(key_err)?,
            access_ttl,
            refresh_ttl,
        })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.enc).map_err(ApiError::internal)
    }

    /// Only HS256 with our key, our issuer, not expired (no leeway).
    pub fn check(&self, token: &str) -> Result<Claims, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.dec, &v)
            .map(|d| d.claims)
            .map_err(|e| ApiError::unauthorized(format!("invalid access token: {e}")))
    }
}

/// The key of an address for rate limits: an IPv4 address itself (also when written as
/// IPv4-mapped IPv6), an IPv6 address its /64 (one subscriber or host usually holds a whole
/// /64, so keying the full address would give it 2^64 buckets).
pub fn address_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut o = v6.octets();
                o[8..].fill(0);
                IpAddr::from(o)
            }
        },
    }
}

/// A leaky bucket: `level` failures that drain at the limit's rate.
#[derive(Debug, Clone, Copy)]
struct Level {
    level: f64,
    at: std::time::Instant,
}

impl Level {
    fn new(now: std::time::Instant) -> Level {
        Level { level: 0.0, at: now }
    }
    /// The level at `now` (drained since the last update).
    fn drain(&mut self, now: std::time::Instant, per_sec: f64) -> f64 {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level - dt * per_sec).max(0.0);
        self.at = now;
        self.level
    }
}

/// One user name as tried from one address bucket.
#[derive(Debug, Clone, Copy)]
struct Pair {
    level: Level,
    last_failure: Option<std::time::Instant>,
    in_flight: u32,
}

#[derive(Default)]
struct Failures {
    pairs: std::collections::HashMap<(String, IpAddr), Pair>,
    users: std::collections::HashMap<String, Level>,
    full_warned: bool,
}

/// Sign-in limits (per controller process):
/// - attempts per address bucket (IPv4 address, IPv6 /64): `per_address_per_minute`, for any
///   user name (this bounds the hashing one address can cause);
/// - failures per (user name, address bucket): `per_user_per_minute`;
/// - per user name: once a name fails more than `per_user_per_minute` from anywhere, an address
///   bucket that failed for it within `backoff` (or has an attempt for it in flight) waits until
///   the name's failure rate drops; an address that has not been failing still gets in. So a
///   guesser cannot lock the owner out, and a spread-out guesser gets about one try per address
///   per `backoff` while the attack lasts.
///
/// Attempts are charged before the password is checked (so concurrent tries cannot overtake the
/// count); a success or an attempt that never checked a password is refunded.
pub struct LoginLimits {
    per_addr: DefaultKeyedRateLimiter<IpAddr>,
    failures: std::sync::Mutex<Failures>,
    /// Failures a minute (per pair, and per user name before the back-off starts).
    per_user: f64,
    backoff: std::time::Duration,
}

/// One sign-in attempt admitted by [`LoginLimits::begin`]: report its outcome with
/// [`Attempt::succeeded`] or [`Attempt::failed`]; dropped without one (the password was not
/// checked: busy, database error, client gone) it is refunded.
pub struct Attempt<'a> {
    limits: &'a LoginLimits,
    user: String,
    bucket: IpAddr,
    done: bool,
}

enum Outcome {
    Failed,
    Succeeded,
    NotChecked,
}

impl Attempt<'_> {
    pub fn succeeded(mut self) {
        self.finish(Outcome::Succeeded);
    }
    pub fn failed(mut self) {
        self.finish(Outcome::Failed);
    }
    fn finish(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.limits.finish(&self.user, self.bucket, outcome);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.finish(Outcome::NotChecked);
    }
}

impl LoginLimits {
    const PRUNE_AT: usize = 10_000;
    /// Entries kept at most per map; past it new (user, address) pairs are not tracked (the
    /// per-address attempt limit still holds) and a warning is logged once.
    const MAX: usize = 200_000;

    pub fn new(per_user_per_minute: u32, per_addr_per_minute: u32, backoff: std::time::Duration) -> LoginLimits {
        let q = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            per_addr: RateLimiter::keyed(q(per_addr_per_minute)),
            failures: Default::default(),
            per_user: f64::from(per_user_per_minute.max(1)),
            backoff,
        }
    }

    fn per_sec(&self) -> f64 {
        self.per_user / 60.0
    }

    fn limited(wait_secs: f64) -> ApiError {
        let wait = (wait_secs.ceil() as u64).max(1);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many sign-in attempts; retry in {wait} s"),
        );
        e.retry_after = Some(wait);
        e
    }

    /// Admits one attempt of `user` from `addr` (its bucket), or 429 with Retry-After.
    pub fn begin(&self, user: &str, addr: IpAddr) -> Result<Attempt<'_>, ApiError> {
        let bucket = address_bucket(addr);
        let clock = governor::clock::DefaultClock::default();
        if let Err(not_until) = self.per_addr.check_key(&bucket) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&clock));
            return Err(Self::limited(wait.as_secs_f64()));
        }
        if self.per_addr.len() > Self::PRUNE_AT {
            self.per_addr.retain_recent();
        }
        let now = std::time::Instant::now();
        let (cap, rate) = (self.per_user, self.per_sec());
        let mut f = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let user_level = f.users.get_mut(user).map_or(0.0, |l| l.drain(now, rate));
        let key = (user.to_string(), bucket);
        let pair = f.pairs.get_mut(&key).map(|p| {
            p.level.drain(now, rate);
            *p
        });
        // This address's own failures for this name.
        if let Some(p) = pair
            && p.level.level + 1.0 > cap
        {
            return Err(Self::limited((p.level.level + 1.0 - cap) / rate));
        }
        // The name is under attack: addresses that have been failing for it wait.
        if user_level + 1.0 > cap
            && let Some(p) = pair
        {
            let failing = p.last_failure.and_then(|t| self.backoff.checked_sub(now.saturating_duration_since(t)));
            if p.in_flight > 0 || failing.is_some() {
                let drop_below = (user_level + 1.0 - cap) / rate;
                let wait = failing.map_or(drop_below, |b| drop_below.min(b.as_secs_f64()));
                return Err(Self::limited(wait));
            }
        }
        // Charge the attempt now (refunded on success).
        if f.pairs.len() >= Self::PRUNE_AT && !f.pairs.contains_key(&key) {
            let backoff = self.backoff;
            f.pairs.retain(|_, p| {
                p.in_flight > 0
                    || p.level.drain(now, rate) > 0.0
                    || p.last_failure.is_some_and(|t| now.saturating_duration_since(t) < backoff)
            });
            f.users.retain(|_, l| l.drain(now, rate) > 0.0);
        }
        let tracked = f.pairs.len() < Self::MAX || f.pairs.contains_key(&key);
        if tracked {
            let p = f.pairs.entry(key).or_insert(Pair { level: Level::new(now), last_failure: None, in_flight: 0 });
            p.level.level += 1.0;
            p.in_flight += 1;
            if f.users.len() < Self::MAX || f.users.contains_key(user) {
                f.users.entry(user.to_string()).or_insert_with(|| Level::new(now)).level += 1.0;
            }
        } else if !std::mem::replace(&mut f.full_warned, true) {
            tracing::warn!(
                entries = Self::MAX,
                "sign-in failure table full: new addresses are limited per address only"
            );
        }
        Ok(Attempt { limits: self, user: user.to_string(), bucket, done: false })
    }

    fn finish(&self, user: &str, bucket: IpAddr, outcome: Outcome) {
        let now = std::time::Instant::now();
        let rate = self.per_sec();
        let mut f = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (user.to_string(), bucket);
        let Some(p) = f.pairs.get_mut(&key) else { return };
        p.in_flight = p.in_flight.saturating_sub(1);
        let refund = match outcome {
            Outcome::Failed => {
                p.last_failure = Some(now);
                false
            }
            Outcome::Succeeded => {
                p.last_failure = None;
                true
            }
            Outcome::NotChecked => true,
        };
        if refund {
            let l = p.level.drain(now, rate);
            p.level.level = (l - 1.0).max(0.0);
            if let Some(u) = f.users.get_mut(user) {
                let l = u.drain(now, rate);
                u.level = (l - 1.0).max(0.0);
            }
        }
    }
}

/// Checks a password against a PHC string in `memory` (argon2 blocks, grown to the hash's
/// memory cost and kept by the caller for the next check, so repeated checks do not go through
/// the allocator: freed 19 MiB blocks stay resident in glibc's per-thread arenas, and blocking
/// threads are many).
fn verify_password_in(password: &str, phc: &str, memory: &mut Vec<argon2::Block>) -> bool {
    let Ok(h) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else { return false };
    let Ok(algorithm) = argon2::Algorithm::try_from(h.algorithm.as_str()) else { return false };
    let Ok(version) = h.version.map(argon2::Version::try_from).transpose() else { return false };
    let Ok(params) = argon2::Params::try_from(&h) else { return false };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::new());
    }
    let mut buf = [0u8; 64];
    let (Some(out), Some(mem)) = (buf.get_mut(..expected.len()), memory.get_mut(..blocks)) else { return false };
    if Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut *out, mem)
        .is_err()
    {
        return false;
    }
    // Constant time.
    out.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Password checks (argon2id, 19 MiB each) with a bounded number at a time: the rest wait up
/// to `wait`, then 503 with Retry-After. Each running check owns one of at most `concurrency`
/// memory areas, reused from check to check, so the memory of sign-ins is bounded by
/// `concurrency` × the hash's memory cost whatever the load. The permit and the memory travel
/// with the blocking job, so a request that goes away does not free its slot before its hash is
/// done.
pub struct Hashing {
    permits: Arc<tokio::sync::Semaphore>,
    memory: Arc<std::sync::Mutex<Vec<Vec<argon2::Block>>>>,
    wait: std::time::Duration,
}

impl Hashing {
    pub fn new(concurrency: usize, wait: std::time::Duration) -> Hashing {
        Hashing { permits: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))), memory: Default::default(), wait }
    }

    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(ApiError::internal(e)),
            Err(_) => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "too many sign-ins at once; retry in a moment",
                );
                e.retry_after = Some(1);
                Err(e)
            }
        }
    }

    /// Checks `password` against the PHC string `phc` under the limit.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, ApiError> {
        let permit = self.permit().await?;
        let pool = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let mut memory = pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop().unwrap_or_default();
            let ok = verify_password_in(&password, &phc, &mut memory);
            pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(memory);
            drop(permit);
            ok
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// Per-user limits of an expensive kind of request: at most `per_user` in flight per user
/// (the rest wait up to `wait`, then 429), and optionally a rate per minute.
pub struct UserSlots {
    per_user: usize,
    wait: std::time::Duration,
    rate: Option<DefaultKeyedRateLimiter<i64>>,
    what: &'static str,
    slots: std::sync::Mutex<std::collections::HashMap<i64, Arc<tokio::sync::Semaphore>>>,
}

impl UserSlots {
    const PRUNE_AT: usize = 10_000;

    pub fn new(what: &'static str, per_user: usize, wait: std::time::Duration, per_minute: Option<u32>) -> UserSlots {
        UserSlots {
            per_user: per_user.max(1),
            wait,
            rate: per_minute
                .map(|n| RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)))),
            what,
            slots: Default::default(),
        }
    }

    fn too_many(&self, wait: u64, why: &str) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("{}: {why}", self.what));
        e.retry_after = Some(wait.max(1));
        e
    }

    /// A slot for `user` (hold it for the request's duration), or 429 with Retry-After.
    pub async fn acquire(&self, user: i64) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        if let Some(r) = &self.rate {
            if let Err(not_until) = r.check_key(&user) {
                let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
                let wait = not_until.wait_time_from(now).as_secs_f64().ceil() as u64;
                return Err(self.too_many(wait, &format!("too many requests; retry in {} s", wait.max(1))));
            }
            if r.len() > Self::PRUNE_AT {
                r.retain_recent();
            }
        }
        let sem = {
            let mut m = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if m.len() > Self::PRUNE_AT {
                // Only semaphores nobody holds or waits on.
                m.retain(|_, s| Arc::strong_count(s) > 1);
            }
            m.entry(user).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_user))).clone()
        };
        let permit = if self.wait.is_zero() {
            sem.try_acquire_owned().ok()
        } else {
            tokio::time::timeout(self.wait, sem.acquire_owned()).await.ok().and_then(Result::ok)
        };
        permit.ok_or_else(|| self.too_many(1, &format!("at most {} at a time per user", self.per_user)))
    }
}

/// Sessions recently checked valid (user enabled, family not revoked), so a client's burst of
/// requests costs one check per `ttl`. Revocations made by this process clear the user's
/// entries at once; those made elsewhere (another controller, `user disable`) take effect here
/// within `ttl`.
pub struct SessionCache {
    ttl: std::time::Duration,
    map: std::sync::Mutex<std::collections::HashMap<(i64, Vec<u8>), std::time::Instant>>,
}

impl SessionCache {
    const MAX: usize = 100_000;

    pub fn new(ttl: std::time::Duration) -> SessionCache {
        SessionCache { ttl, map: Default::default() }
    }

    fn fresh(&self, user: i64, family: &[u8]) -> bool {
        let now = std::time::Instant::now();
        self.map.lock().is_ok_and(|m| m.get(&(user, family.to_vec())).is_some_and(|until| *until > now))
    }

    fn remember(&self, user: i64, family: &[u8]) {
        if self.ttl.is_zero() {
            return;
        }
        let now = std::time::Instant::now();
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= Self::MAX {
                m.retain(|_, until| *until > now);
            }
            if m.len() < Self::MAX {
                m.insert((user, family.to_vec()), now + self.ttl);
            }
        }
    }

    /// Forgets every session of a user (after a revocation made here).
    pub fn forget_user(&self, user: i64) {
        if let Ok(mut m) = self.map.lock() {
            m.retain(|(u, _), _| *u != user);
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session { family: Vec<u8> },
    ApiToken,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
    /// `None`: every site.
    pub sites: Option<Vec<String>>,
    pub via: Via,
}

impl Principal {
    pub fn allowed(&self) -> Option<&[String]> {
        self.sites.as_deref()
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this needs the {} role (you are {})", role.as_str(), self.role.as_str())))
        }
    }
}

/// The browser session cookie: an access token, HttpOnly, SameSite=Strict; read only for
/// /python/ pages (the JSON API takes Bearer tokens only, so it is not open to CSRF).
pub const SESSION_COOKIE: &str = "wirewatch_session";

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<Arc<ApiState>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, Self::Rejection> {
        // Already authenticated by a layer of this router (extensions are set only by the
        // server, never by the client).
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let bearer;
        let token = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(header) => {
                let value = header.to_str().map_err(|_| ApiError::unauthorized("unreadable Authorization header"))?;
                bearer = value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
                    .ok_or_else(|| ApiError::unauthorized("Authorization must be a Bearer token"))?
                    .trim()
                    .to_string();
                bearer.as_str()
            }
            // Pages opened in a browser: the session cookie `/login` set (never for /api).
            None if parts.uri.path().starts_with("/python/") => {
                bearer = session_cookie(&parts.headers).ok_or_else(|| {
                    ApiError::unauthorized("sign in at /login (or send Authorization: Bearer <token>)")
                })?;
                bearer.as_str()
            }
            None => return Err(ApiError::unauthorized("missing Authorization: Bearer <token>")),
        };
        if token.starts_with("wwt_") {
            let user = state
                .store
                .api_token_user(&sha256(token))
                .await?
                .ok_or_else(|| ApiError::unauthorized("unknown, revoked or expired API token"))?;
            let role = Role::parse(&user.role).ok_or_else(|| ApiError::internal("stored role unknown"))?;
            return Ok(Principal { user_id: user.id, name: user.name, role, sites: user.sites, via: Via::ApiToken });
        }
        let claims = state.keys.check(token)?;
        let user_id: i64 = claims.sub.parse().map_err(|_| ApiError::unauthorized("invalid access token subject"))?;
        let family = B64.decode(&claims.fam).map_err(|_| ApiError::unauthorized("invalid access token family"))?;
        if !state.sessions.fresh(user_id, &family) {
            if !state.store.session_valid(user_id, &family).await? {
                return Err(ApiError::unauthorized(
                    "session ended (signed out, token reuse detected, or user disabled)",
                ));
            }
            state.sessions.remember(user_id, &family);
        }
        Ok(Principal {
            user_id,
            name: claims.name,
            role: claims.role,
            sites: claims.sites,
            via: Via::Session { family },
        })
    }
}

pub fn encode_family(f: &[u8]) -> String {
    B64.encode(f)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_a_bucket_per_64() {
        let b = |s: &str| address_bucket(s.parse().unwrap());
        assert_eq!(b("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), b("2001:db8:1:2::1"));
        assert_eq!(b("2001:db8:1:2::1").to_string(), "2001:db8:1:2::");
        assert_ne!(b("2001:db8:1:2::1"), b("2001:db8:1:3::1"));
        assert_eq!(b("192.0.2.7").to_string(), "192.0.2.7");
        assert_ne!(b("192.0.2.7"), b("192.0.2.8"));
        assert_eq!(b("::ffff:192.0.2.7").to_string(), "192.0.2.7", "IPv4-mapped is the IPv4 address");
    }

    #[test]
    fn checking_in_reused_memory_agrees_with_argon2() {
        let phc = hash_password("correct horse battery").unwrap();
        let mut memory = Vec::new();
        for _ in 0..2 {
            assert!(verify_password_in("correct horse battery", &phc, &mut memory));
            assert!(!verify_password_in("correct horse battery!", &phc, &mut memory));
        }
        assert_eq!(memory.len(), Argon2::default().params().block_count());
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password_in("x", "not a PHC string", &mut memory));
        // Another algorithm variant and cost is read from the string.
        let other = argon2::Argon2::new(
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x10,
            argon2::Params::new(1024, 3, 1, Some(24)).unwrap(),
        )
        .hash_password("pw-1234567890".as_bytes())
        .unwrap()
        .to_string();
        assert!(verify_password_in("pw-1234567890", &other, &mut memory));
        assert!(!verify_password_in("pw-1234567891", &other, &mut memory));
    }

    #[test]
    fn a_failing_address_backs_off_but_others_get_in() {
        let limits = LoginLimits::new(3, 1000, std::time::Duration::from_secs(900));
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            limits.begin("admin", a).unwrap().failed();
        }
        assert_eq!(limits.begin("admin", a).err().map(|e| e.status), Some(StatusCode::TOO_MANY_REQUESTS));
        // Under attack now; a fresh address gets one attempt at a time, and after a failure
        // it backs off too.
        let first = limits.begin("admin", b).unwrap();
        assert!(limits.begin("admin", b).is_err(), "an attempt of b is in flight");
        first.failed();
        assert!(limits.begin("admin", b).is_err(), "b has been failing");
        let c: IpAddr = "2001:db8::1".parse().unwrap();
        limits.begin("admin", c).unwrap().succeeded();
        limits.begin("admin", c).unwrap().succeeded();
        // Attempts that never checked a password are refunded.
        let d: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..10 {
            drop(limits.begin("other", d).unwrap());
        }
        limits.begin("other", d).unwrap().succeeded();
    }

    #[test]
    fn user_slots_limit_in_flight_and_rate_per_user() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let live = UserSlots::new("live queries", 1, std::time::Duration::ZERO, Some(3));
            let held = live.acquire(1).await.unwrap();
            let e = live.acquire(1).await.err().unwrap();
            assert_eq!((e.status, e.retry_after), (StatusCode::TOO_MANY_REQUESTS, Some(1)));
            drop(live.acquire(2).await.unwrap());
            drop(held);
            drop(live.acquire(1).await.unwrap());
            // Three a minute for user 1: the fourth (the refused one counted) waits ~20 s.
            let e = live.acquire(1).await.err().unwrap();
            assert!(e.retry_after.is_some_and(|s| s >= 1), "{e:?}");

            let pages = UserSlots::new("script pages", 2, std::time::Duration::from_millis(50), None);
            let (a, _b) = (pages.acquire(7).await.unwrap(), pages.acquire(7).await.unwrap());
            assert!(pages.acquire(7).await.is_err(), "a third waits 50 ms, then 429");
            drop(a);
            drop(pages.acquire(7).await.unwrap());
        });
    }
}
