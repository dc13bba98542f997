//! The caller's identity as every layer sees it: the role (weakest first), and who is calling
//! with which site scope ([`Caller`]). How a caller proves it (tokens, cookies) is the HTTP
//! layer's; the script engine and the HTTP layer share only these words.

use serde::{Deserialize, Serialize};

/// Roles, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Who is calling: the principal's name, role and site scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user name.
    pub name: String,
    pub role: Role,
    /// Sites the caller may see (`None`: all).
    pub sites: Option<Vec<String>>,
}

impl Caller {
    /// The sites the caller may see (`None`: all).
    pub fn allowed(&self) -> Option<&[String]> {
        self.sites.as_deref()
    }

    /// Whether the caller's role is at least `role`.
    pub fn has(&self, role: Role) -> bool {
        self.role >= role
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_their_names_and_order_weakest_first() {
        for r in [Role::Viewer, Role::Operator, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        let c = Caller { name: "ann".into(), role: Role::Operator, sites: Some(vec!["s".into()]) };
        assert!(c.has(Role::Viewer) && c.has(Role::Operator) && !c.has(Role::Admin));
        assert_eq!(c.allowed(), Some(&["s".to_string()][..]));
    }
}
