//! API accounts: users, the token signing key, refresh-token families, long-lived API tokens,
//! and ntop's per-probe preferences. Hashing and token formats belong to the API crate; this
//! module only stores what it is given.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// A user of the API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: String,
    /// `None`: every site.
    pub sites: Option<Vec<String>>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

fn user(r: &sqlx::postgres::PgRow) -> Result<User> {
    Ok(User {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        password_hash: r.try_get("password_hash")?,
        role: r.try_get("role")?,
        sites: r.try_get("sites")?,
        disabled: r.try_get::<Option<DateTime<Utc>>, _>("disabled_at")?.is_some(),
        created_at: r.try_get("created_at")?,
    })
}

const USER_COLS: &str = "id, name, password_hash, role, sites, disabled_at, created_at";

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// It was current: it is now used and `new_hash` is the family's current token.
    Rotated {
        user_id: i64,
        family: Vec<u8>,
    },
    /// It had been used (or its family revoked) before: the family is revoked now.
    Reused {
        user_id: i64,
    },
    Expired,
    Unknown,
}

/// A long-lived API token (never its clear value).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user: String,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

const TOKEN_COLS: &str =
    "t.id, u.name AS user_name, t.name, t.prefix, t.created_at, t.expires_at, t.last_used_at, t.revoked_at";

fn api_token(r: &sqlx::postgres::PgRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: r.try_get("id")?,
        user: r.try_get("user_name")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked: r.try_get::<Option<DateTime<Utc>>, _>("revoked_at")?.is_some(),
    })
}

/// What [`Store::update_user`] changes of a user (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<String>,
    /// `Some(None)`: every site.
    pub sites: Option<Option<Vec<String>>>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
    /// With a new password: the session (refresh family) that stays signed in — the caller's
    /// own, when they change their own password. Every other session of the user ends.
    pub keep_family: Option<Vec<u8>>,
}

/// What [`Store::update_user`] did.
#[derive(Debug, Clone)]
pub enum UserUpdate {
    Updated(User),
    /// Nothing: the change would have left no enabled admin.
    LastAdmin,
}

/// Revokes every refresh family and API token of a user (a disabled user holds nothing that
/// works, even after being enabled again).
async fn revoke_everything(tx: &mut sqlx::PgConnection, user_id: i64) -> Result<()> {
    sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A stored preference.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preference {
    pub key: String,
    pub value: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl Store {
    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&self.pool).await?)
    }

    /// Creates a user; [`StoreError::Exists`] if the name is taken.
    pub async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        role: &str,
        sites: Option<&[String]>,
    ) -> Result<User> {
        let q = format!(
            "INSERT INTO users (name, password_hash, role, sites) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING RETURNING {USER_COLS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(name)
            .bind(password_hash)
            .bind(role)
            .bind(sites)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => user(&r),
            None => Err(StoreError::Exists(format!("user {name:?}"))),
        }
    }

    /// Creates `name` as the first admin if there is no user at all (several controllers may
    /// start at once: exactly one of them creates it). True if this call created it.
    pub async fn create_first_admin(&self, name: &str, password_hash: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&mut *tx).await?;
        if n > 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO users (name, password_hash, role) VALUES ($1, $2, 'admin')")
            .bind(name)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let q = format!("SELECT {USER_COLS} FROM users WHERE name = $1");
        sqlx::query(sqlx::AssertSqlSafe(q)).bind(name).fetch_optional(&self.pool).await?.as_ref().map(user).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let q = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(&self.pool).await?.as_ref().map(user).transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let q = format!("SELECT {USER_COLS} FROM users ORDER BY name");
        sqlx::query(sqlx::AssertSqlSafe(q)).fetch_all(&self.pool).await?.iter().map(user).collect()
    }

    /// Disables (or re-enables) a user. Disabling also revokes every refresh family and API
    /// token of theirs, so nothing they hold works again after a re-enable either.
    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END \
             WHERE name = $1 RETURNING id",
        )
        .bind(name)
        .bind(disabled)
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))?;
        if disabled {
            revoke_everything(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Changes a user (the console's user administration), in one transaction with changes of
    /// users serialised: refused ([`UserUpdate::LastAdmin`]) when it would leave no enabled
    /// admin. Disabling revokes every session and API token of the user, as
    /// [`Store::set_user_disabled`] does; a new password ends their sessions (refresh
    /// families) but `keep_family`, and leaves their API tokens alone.
    pub async fn update_user(&self, id: i64, change: &UserChange) -> Result<UserUpdate> {
        let mut tx = self.pool.begin().await?;
        // Only writers of `users` wait on this lock (reads and sign-ins do not): two admins
        // demoting each other at once cannot both pass the check below.
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        let q = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        let before = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(user)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        let role = change.role.as_deref().unwrap_or(&before.role);
        let disabled = change.disabled.unwrap_or(before.disabled);
        if before.role == "admin" && !before.disabled && (role != "admin" || disabled) {
            let others: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if others == 0 {
                return Ok(UserUpdate::LastAdmin);
            }
        }
        let q = format!(
            "UPDATE users SET role = $2, sites = CASE WHEN $3 THEN $4::text[] ELSE sites END, \
             disabled_at = CASE WHEN $5 THEN coalesce(disabled_at, now()) END, \
             password_hash = coalesce($6, password_hash) WHERE id = $1 RETURNING {USER_COLS}"
        );
        let after = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(id)
            .bind(role)
            .bind(change.sites.is_some())
            .bind(change.sites.clone().flatten())
            .bind(disabled)
            .bind(change.password_hash.as_deref())
            .fetch_one(&mut *tx)
            .await?;
        let after = user(&after)?;
        if disabled && !before.disabled {
            revoke_everything(&mut tx, id).await?;
        }
        if change.password_hash.is_some() {
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = now() \
                 WHERE user_id = $1 AND revoked_at IS NULL AND ($2::bytea IS NULL OR family <> $2)",
            )
            .bind(id)
            .bind(change.keep_family.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(UserUpdate::Updated(after))
    }

    /// The names in `names` that are no site's, in their order.
    pub async fn unknown_sites(&self, names: &[String]) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT x.n FROM unnest($1::text[]) WITH ORDINALITY AS x(n, i) \
             WHERE NOT EXISTS (SELECT 1 FROM sites s WHERE s.name = x.n) ORDER BY x.i",
        )
        .bind(names)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces a user's password.
    pub async fn set_password(&self, name: &str, password_hash: &str) -> Result<()> {
        let n = sqlx::query("UPDATE users SET password_hash = $2 WHERE name = $1")
            .bind(name)
            .bind(password_hash)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 { Err(StoreError::NotFound(format!("user {name:?}"))) } else { Ok(()) }
    }

    /// The access-token signing key, made from `fresh` on first use (every controller of the
    /// database then signs and checks with the same key).
    pub async fn api_secret(&self, fresh: &[u8]) -> Result<Vec<u8>> {
        sqlx::query("INSERT INTO api_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(fresh)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar("SELECT secret FROM api_secret WHERE id = 1").fetch_one(&self.pool).await?)
    }

    /// Stores the first token of a new family (a login).
    pub async fn insert_refresh(
        &self,
        user_id: i64,
        family: &[u8],
        token_hash: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO refresh_tokens (user_id, family, token_hash, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(family)
            .bind(token_hash)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Presents a refresh token: rotates it to `new_hash` if it is current; revokes its family
    /// if it was used before. One transaction, the token row locked, so two concurrent
    /// presentations of the same token cannot both rotate.
    pub async fn use_refresh(&self, token_hash: &[u8], new_hash: &[u8], expires_at: DateTime<Utc>) -> Result<Refresh> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT t.id, t.user_id, t.family, t.expires_at, t.used_at, t.revoked_at, u.disabled_at \
             FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 FOR UPDATE OF t",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = row else { return Ok(Refresh::Unknown) };
        let (id, user_id, family): (i64, i64, Vec<u8>) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let expires: DateTime<Utc> = r.try_get(3)?;
        let used: Option<DateTime<Utc>> = r.try_get(4)?;
        let revoked: Option<DateTime<Utc>> = r.try_get(5)?;
        let disabled: Option<DateTime<Utc>> = r.try_get(6)?;
        if used.is_some() || revoked.is_some() {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family = $1")
                .bind(&family)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Refresh::Reused { user_id });
        }
        if expires <= Utc::now() || disabled.is_some() {
            return Ok(Refresh::Expired);
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO refresh_tokens (user_id, family, token_hash, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(&family)
            .bind(new_hash)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Refresh::Rotated { user_id, family })
    }

    /// Revokes a family (logout). Only the user's own: false if it is not theirs.
    pub async fn revoke_family(&self, user_id: i64, family: &[u8]) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family = $1 AND user_id = $2",
        )
        .bind(family)
        .bind(user_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// The family a refresh token belongs to, if it is the user's.
    pub async fn refresh_family(&self, user_id: i64, token_hash: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT family FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2")
            .bind(token_hash)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Whether an access token issued to `user_id` from `family` may still be used: the user
    /// is enabled, the family exists and is theirs (a sign-in made it), and it is not revoked.
    pub async fn session_valid(&self, user_id: i64, family: &[u8]) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NULL) \
             AND EXISTS (SELECT 1 FROM refresh_tokens WHERE family = $2 AND user_id = $1) \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family = $2 AND revoked_at IS NOT NULL)",
        )
        .bind(user_id)
        .bind(family)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        prefix: &str,
        token_hash: &[u8],
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken> {
        let q = format!(
            "WITH t AS (INSERT INTO api_tokens (user_id, name, prefix, token_hash, expires_at) \
                        VALUES ($1, $2, $3, $4, $5) RETURNING *) \
             SELECT {TOKEN_COLS} FROM t JOIN users u ON u.id = t.user_id"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(user_id)
            .bind(name)
            .bind(prefix)
            .bind(token_hash)
            .bind(expires_at)
            .fetch_one(&self.pool)
            .await?;
        api_token(&r)
    }

    /// API tokens of one user, or of everyone (`None`).
    pub async fn api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>> {
        let q = format!(
            "SELECT {TOKEN_COLS} FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE $1::bigint IS NULL OR t.user_id = $1 ORDER BY t.id"
        );
        sqlx::query(sqlx::AssertSqlSafe(q)).bind(user_id).fetch_all(&self.pool).await?.iter().map(api_token).collect()
    }

    /// Revokes a token (of `user_id` only, unless `None`). False if there is no such token.
    pub async fn revoke_api_token(&self, id: i64, user_id: Option<i64>) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) \
             WHERE id = $1 AND ($2::bigint IS NULL OR user_id = $2)",
        )
        .bind(id)
        .bind(user_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// The enabled user a current API token acts for. Its use is recorded at most once a
    /// minute (`last_used_at`), so a script's burst of requests does not write a row each.
    pub async fn api_token_user(&self, token_hash: &[u8]) -> Result<Option<User>> {
        let q = format!(
            "WITH t AS (SELECT id, user_id, last_used_at FROM api_tokens \
                        WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())), \
                  used AS (UPDATE api_tokens SET last_used_at = now() WHERE id = (SELECT id FROM t) \
                           AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')) \
             SELECT {USER_COLS} FROM users WHERE id = (SELECT user_id FROM t) AND disabled_at IS NULL"
        );
        sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user)
            .transpose()
    }

    pub async fn preferences(&self, probe_id: i64) -> Result<Vec<Preference>> {
        let rows =
            sqlx::query("SELECT key, value, updated_at, updated_by FROM preferences WHERE probe_id = $1 ORDER BY key")
                .bind(probe_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Preference {
                    key: r.try_get(0)?,
                    value: r.try_get(1)?,
                    updated_at: r.try_get(2)?,
                    updated_by: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn set_preference(&self, probe_id: i64, key: &str, value: &str, by: &str) -> Result<Preference> {
        let r = sqlx::query(
            "INSERT INTO preferences (probe_id, key, value, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (probe_id, key) DO UPDATE SET value = excluded.value, updated_at = now(), \
             updated_by = excluded.updated_by RETURNING key, value, updated_at, updated_by",
        )
        .bind(probe_id)
        .bind(key)
        .bind(value)
        .bind(by)
        .fetch_one(&self.pool)
        .await?;
        Ok(Preference {
            key: r.try_get(0)?,
            value: r.try_get(1)?,
            updated_at: r.try_get(2)?,
            updated_by: r.try_get(3)?,
        })
    }

    /// False if there was no such preference.
    pub async fn delete_preference(&self, probe_id: i64, key: &str) -> Result<bool> {
        let n = sqlx::query("DELETE FROM preferences WHERE probe_id = $1 AND key = $2")
            .bind(probe_id)
            .bind(key)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
