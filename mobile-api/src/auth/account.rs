//! The words of an account: the error of the account helpers the CLI uses, the user-name rule
//! (roles are the shared vocabulary's, `wirewatch_model::identity::Role`). It must not use the
//! other files of `auth`.

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

/// A user name: 1–64 of letters, digits, `._-@`.
pub fn check_user_name(n: &str) -> Result<(), AuthError> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok { Ok(()) } else { Err(AuthError::Invalid(format!("bad user name {n:?} (1-64 of A-Z a-z 0-9 . _ - @)"))) }
}
