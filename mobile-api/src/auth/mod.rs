//! Who is calling: passwords (argon2id), access tokens (HS256 JWT, 15 minutes), refresh tokens
//! (random, stored hashed, rotated, families revoked on reuse), API tokens (random, stored
//! hashed), and the login rate limits.
//!
//! One file per reason to change, in dependency order: `account` (the helpers' error, the
//! user-name rule) ← `tokens` (secrets, JWTs), `passwords` (argon2id, bounded checks),
//! `limits` (sign-in limits, per-user slots; uses none of them) ← `principal` (the extractor
//! and the session cache). This file only re-exports them, so callers keep writing
//! `auth::Role`, `auth::hash_password`, ….

mod account;
mod limits;
mod passwords;
mod principal;
mod tokens;

pub use account::{AuthError, check_user_name};
pub use limits::{Attempt, LoginLimits, UserSlots, address_bucket};
pub use passwords::{Hashing, check_password, hash_password, verify_password};
pub use principal::{Principal, SESSION_COOKIE, SessionCache, Via, session_cookie};
pub use tokens::{Claims, ISSUER, Keys, encode_family, new_secret, random_bytes, sha256};
pub use wirewatch_model::identity::{Caller, Role};
