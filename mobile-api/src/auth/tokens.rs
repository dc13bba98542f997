//! Secrets and access tokens: random bytes, `wwr_`/`wwt_` secrets (stored as SHA-256),
//! HS256 access JWTs (our issuer, no leeway) and their claims, a session family's text form.
//! It must not read the store or the request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use wirewatch_model::identity::Role;

use super::account::AuthError;
use crate::error::ApiError;

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

pub fn encode_family(f: &[u8]) -> String {
    B64.encode(f)
}
