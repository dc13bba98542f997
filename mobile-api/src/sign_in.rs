//! Signing in and issuing token pairs: the sign-in limits, the password check (a dummy hash for
//! unknown users), a new session (refresh-token family) and its access + refresh tokens. Shared
//! by the API's login and refresh endpoints and the browser sign-in form, so both are held to
//! the same checks and limits. It knows no routes, pages or cookies.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Utc;

use crate::ApiState;
use crate::auth::{self, Role};
use crate::error::{ApiError, ApiResult};
use crate::model::TokenPair;

/// An access token for `user`'s session `family`, paired with its (new) refresh token.
pub(crate) async fn issue(
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
