//! Who is calling: the [`Principal`] extractor (a Bearer access token checked against a live
//! session, or an API token; for `/python/` pages also the session cookie), the cache of
//! sessions recently checked valid, the caller's role and sites. It must not sign anyone in.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use wirewatch_model::identity::{Caller, Role};

use super::tokens::sha256;
use crate::ApiState;
use crate::error::ApiError;

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
    /// Who is calling, without how they proved it (what the script engine is given).
    pub fn caller(&self) -> Caller {
        Caller { name: self.name.clone(), role: self.role, sites: self.sites.clone() }
    }

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
