//! The words of an account: roles (weakest first), the error of the account helpers the CLI
//! uses, the user-name rule. It must not use the other files of `auth`.

use serde::{Deserialize, Serialize};

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

/// A user name: 1–64 of letters, digits, `._-@`.
pub fn check_user_name(n: &str) -> Result<(), AuthError> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok { Ok(()) } else { Err(AuthError::Invalid(format!("bad user name {n:?} (1-64 of A-Z a-z 0-9 . _ - @)"))) }
}
