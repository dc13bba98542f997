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

/// Per-user and per-address login limits (per controller process).
pub struct LoginLimits {
    per_user: DefaultKeyedRateLimiter<String>,
    per_addr: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimits {
    const PRUNE_AT: usize = 10_000;

    pub fn new(per_user_per_minute: u32, per_addr_per_minute: u32) -> LoginLimits {
        let q = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            per_user: RateLimiter::keyed(q(per_user_per_minute)),
            per_addr: RateLimiter::keyed(q(per_addr_per_minute)),
        }
    }

    /// Counts one attempt; 429 with Retry-After once either quota is spent.
    pub fn check(&self, user: &str, addr: IpAddr) -> Result<(), ApiError> {
        let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
        for r in [self.per_addr.check_key(&addr), self.per_user.check_key(&user.to_string())] {
            if let Err(not_until) = r {
                let wait = not_until.wait_time_from(now).as_secs().max(1);
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many sign-in attempts; retry in {wait} s"),
                );
                e.retry_after = Some(wait);
                return Err(e);
            }
        }
        // Forget idle keys only once the maps are large (a scan of every key per sign-in
        // otherwise).
        if self.per_user.len() > Self::PRUNE_AT {
            self.per_user.retain_recent();
        }
        if self.per_addr.len() > Self::PRUNE_AT {
            self.per_addr.retain_recent();
        }
        Ok(())
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
