//! Accounts and tokens endpoints: sign in, refresh, sign out, who am I, users, API tokens.
//! Signing in itself (limits, password check, the token pair) is `crate::sign_in`, shared
//! with the browser sign-in form. It must not use the other resource modules.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;

use super::extract::{ClientAddr, Json, Path, S};
use crate::ApiState;
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

fn user_info(u: wirewatch_store::accounts::User) -> UserInfo {
    UserInfo {
        id: u.id,
        username: u.name,
        role: u.role,
        sites: u.sites,
        disabled: u.disabled,
        created_at: u.created_at,
    }
}

/// Whether the caller administers every account: an admin of every site. An admin limited to
/// some sites manages nothing but their own tokens: an account of theirs could otherwise be
/// given every site, or a token minted for an admin of every site.
fn global_admin(p: &Principal) -> bool {
    p.role == Role::Admin && p.sites.is_none()
}

fn require_global_admin(p: &Principal) -> ApiResult<()> {
    p.require(Role::Admin)?;
    if !global_admin(p) {
        return Err(ApiError::forbidden("managing accounts needs an admin of every site"));
    }
    Ok(())
}

/// Users (admins of every site). They manage them here (`POST`, `PATCH`) or with
/// `wirewatch-controller user`.
#[utoipa::path(get, path = "/api/v1/users", tag = "auth", responses((status = 200, body = Vec<UserInfo>), Errors))]
pub(super) async fn users(State(st): S, p: Principal) -> ApiResult<Json<Vec<UserInfo>>> {
    require_global_admin(&p)?;
    Ok(Json(st.store.users().await?.into_iter().map(user_info).collect()))
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message)
}

/// The caller may change users: an admin, signed in (an API token cannot, as it cannot create
/// tokens), and still an enabled admin in the store — an access token's role may be up to
/// `access_ttl_secs` old, and a demoted admin must not go on managing accounts meanwhile.
async fn user_admin(st: &ApiState, p: &Principal) -> ApiResult<()> {
    require_global_admin(p)?;
    if p.via == Via::ApiToken {
        return Err(ApiError::forbidden(
            "an API token cannot manage users: sign in (POST /api/v1/auth/login) and use that session",
        ));
    }
    match st.store.user_by_id(p.user_id).await? {
        Some(u) if u.role == Role::Admin.as_str() && !u.disabled && u.sites.is_none() => Ok(()),
        _ => Err(ApiError::forbidden("this needs the admin role (yours was changed since you signed in)")),
    }
}

/// A user's site list: `None` (every site) or a list of existing sites, none empty or twice.
async fn check_sites(st: &ApiState, sites: Option<&[String]>) -> ApiResult<()> {
    let Some(list) = sites else { return Ok(()) };
    if list.is_empty() {
        return Err(ApiError::bad_request("sites: list at least one site, or send null for every site"));
    }
    if list.len() > 1000 {
        return Err(ApiError::bad_request("sites: at most 1000 sites (send null for every site)"));
    }
    for (i, s) in list.iter().enumerate() {
        if list[..i].contains(s) {
            return Err(ApiError::bad_request(format!("sites: site {s:?} is listed twice")));
        }
    }
    let unknown = st.store.unknown_sites(list).await?;
    match unknown.as_slice() {
        [] => Ok(()),
        [one] => Err(ApiError::bad_request(format!("sites: unknown site {one:?}"))),
        many => Err(ApiError::bad_request(format!(
            "sites: unknown sites {}",
            many.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Create a user (admins, signed in: an API token cannot). The rules of
/// `wirewatch-controller user add`: the user name's characters, the password's length (argon2id,
/// as every password). `sites`: existing sites, or `null` for every site.
#[utoipa::path(post, path = "/api/v1/users", tag = "auth", request_body = NewUser,
    responses((status = 201, body = UserInfo), Errors))]
pub(super) async fn create_user(
    State(st): S,
    p: Principal,
    Json(req): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<UserInfo>)> {
    user_admin(&st, &p).await?;
    auth::check_user_name(&req.username).map_err(|e| ApiError::bad_request(format!("username: {e}")))?;
    auth::check_password(&req.password).map_err(|e| ApiError::bad_request(format!("password: {e}")))?;
    check_sites(&st, req.sites.as_deref()).await?;
    let hash = st.hashing.hash(req.password).await?;
    let u = st.store.create_user(&req.username, &hash, req.role.as_str(), req.sites.as_deref()).await?;
    tracing::info!(by = %p.name, user = %u.name, role = %u.role, "user created");
    Ok((StatusCode::CREATED, Json(user_info(u))))
}

/// Change a user (admins, signed in): role, sites, disabled, a new password — each optional.
/// Refused with 409: disabling or demoting yourself, and any change that would leave no enabled
/// admin. Disabling ends the user's sessions and revokes their API tokens (enabling again does
/// not bring them back); a new password ends their sessions (yours but this one, when it is
/// your own) and keeps their API tokens. A new role or sites apply to the user's API tokens at
/// once, and to their signed-in sessions at their next access-token refresh (access tokens carry
/// role and sites and live `access_ttl_secs`, 15 minutes by default).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "auth", params(("id" = i64, Path)),
    request_body = UserPatch, responses((status = 200, body = UserInfo), Errors))]
pub(super) async fn update_user(
    State(st): S,
    p: Principal,
    Path(id): Path<i64>,
    Json(req): Json<UserPatch>,
) -> ApiResult<Json<UserInfo>> {
    use wirewatch_store::accounts::{UserChange, UserUpdate};
    user_admin(&st, &p).await?;
    if req.role.is_none() && req.sites.is_none() && req.disabled.is_none() && req.password.is_none() {
        return Err(ApiError::bad_request("nothing to change: send role, sites, disabled or password"));
    }
    let yourself = id == p.user_id;
    if yourself && req.disabled == Some(true) {
        return Err(conflict("you cannot disable yourself: another admin must do it"));
    }
    if yourself && req.role.is_some_and(|r| r != Role::Admin) {
        return Err(conflict("you cannot demote yourself: another admin must do it"));
    }
    if let Some(sites) = &req.sites {
        check_sites(&st, sites.as_deref()).await?;
    }
    let password_hash = match req.password {
        Some(pw) => {
            auth::check_password(&pw).map_err(|e| ApiError::bad_request(format!("password: {e}")))?;
            Some(st.hashing.hash(pw).await?)
        }
        None => None,
    };
    let keep_family = match &p.via {
        Via::Session { family } if yourself => Some(family.clone()),
        _ => None,
    };
    let change = UserChange {
        role: req.role.map(|r| r.as_str().to_string()),
        sites: req.sites,
        disabled: req.disabled,
        password_hash,
        keep_family,
    };
    match st.store.update_user(id, &change).await? {
        UserUpdate::Updated(u) => {
            if change.disabled == Some(true) || change.password_hash.is_some() {
                // This controller stops honouring their access tokens at once (others within
                // their session cache's lifetime).
                st.sessions.forget_user(id);
            }
            tracing::info!(
                by = %p.name,
                user = %u.name,
                role = ?change.role,
                sites = change.sites.is_some(),
                disabled = ?change.disabled,
                password = change.password_hash.is_some(),
                "user changed"
            );
            Ok(Json(user_info(u)))
        }
        UserUpdate::LastAdmin => Err(conflict(
            "this is the last enabled admin: make another user admin before disabling or demoting this one",
        )),
    }
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

/// API tokens: your own (admins of every site: everyone's).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", responses((status = 200, body = Vec<ApiTokenInfo>), Errors))]
pub(super) async fn list_tokens(State(st): S, p: Principal) -> ApiResult<Json<Vec<ApiTokenInfo>>> {
    let of = if global_admin(&p) { None } else { Some(p.user_id) };
    Ok(Json(st.store.api_tokens(of).await?.into_iter().map(token_info).collect()))
}

/// Create an API token for scripts (operators and admins, signed in: an API token cannot create
/// tokens; admins of every site may create one for another user, e.g. a viewer account for a dashboard).
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
            require_global_admin(&p)?;
            st.store.user_by_name(u).await?.ok_or_else(|| ApiError::not_found(format!("user {u:?}")))?.id
        }
    };
    let token = auth::new_secret("wwt_").map_err(ApiError::internal)?;
    let prefix: String = token.chars().take(10).collect();
    let t = st.store.create_api_token(user_id, name, &prefix, &auth::sha256(&token), expires_at).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiToken { token, info: token_info(t) })))
}

/// Revoke an API token (any user: your own; admins of every site: any).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    responses((status = 204, description = "revoked"), Errors))]
pub(super) async fn revoke_token(State(st): S, p: Principal, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let of = if global_admin(&p) { None } else { Some(p.user_id) };
    if st.store.revoke_api_token(id, of).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("token"))
    }
}
