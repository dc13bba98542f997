//! Accounts and tokens endpoints: sign in, refresh, sign out, who am I, users, API tokens.
//! Signing in itself (limits, password check, the token pair) is `crate::sign_in`, shared
//! with the browser sign-in form. It must not use the other resource modules.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;

use super::extract::{ClientAddr, Json, Path, S};
use crate::auth::{self, Principal, Role, Via};
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::*;
use crate::sign_in::{issue, sign_in};

/// Sign in: an access token (15 minutes) and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses((status = 200, body = TokenPair), Errors))]
pub(super) async fn login(
    State(st): S,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(sign_in(&st, &req.username, req.password, addr).await?))
}

/// Trade a refresh token for a new pair. Each refresh token works once: presenting a used one
/// again revokes every token of its sign-in (the family), access tokens included.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", security(()),
    request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), Errors))]
pub(super) async fn refresh(State(st): S, Json(req): Json<RefreshRequest>) -> ApiResult<Json<TokenPair>> {
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
pub(super) async fn logout(State(st): S, p: Principal, body: axum::body::Bytes) -> ApiResult<StatusCode> {
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
pub(super) async fn me(p: Principal) -> Json<Me> {
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
pub(super) async fn users(State(st): S, p: Principal) -> ApiResult<Json<Vec<UserInfo>>> {
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
pub(super) async fn list_tokens(State(st): S, p: Principal) -> ApiResult<Json<Vec<ApiTokenInfo>>> {
    let of = if p.role == Role::Admin { None } else { Some(p.user_id) };
    Ok(Json(st.store.api_tokens(of).await?.into_iter().map(token_info).collect()))
}

/// Create an API token for scripts (operators and admins, signed in: an API token cannot create
/// tokens; admins may create one for another user, e.g. a viewer account for a dashboard).
/// Without `expires_in_days` it expires after `api_token_default_days` (90). The token is in
/// the answer once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = NewApiToken,
    responses((status = 201, body = CreatedApiToken), Errors))]
pub(super) async fn create_token(
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
pub(super) async fn revoke_token(State(st): S, p: Principal, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let of = if p.role == Role::Admin { None } else { Some(p.user_id) };
    if st.store.revoke_api_token(id, of).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("token"))
    }
}
