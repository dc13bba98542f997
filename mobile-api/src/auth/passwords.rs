//! Passwords: argon2id hashing, the password rule, and checks with a bounded number (and
//! bounded memory) at a time. It must not know sessions, tokens or rate limits.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::http::StatusCode;

use super::account::AuthError;
use crate::error::ApiError;

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

    /// Hashes a new password ([`hash_password`]) under the same limit as the checks, so
    /// setting passwords through the API cannot run more argon2 jobs at once either.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let hash = hash_password(&password);
            drop(permit);
            hash
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
}
