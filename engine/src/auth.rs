//! Who is asking: bearer tokens with a role, stored only as hashes.
//!
//! A token is 32 random bytes in hexadecimal, prefixed `mos_` so it is recognisable
//! in a leaked log. The store keeps its SHA-256; a stolen database yields no usable token.

use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ids::{OffererId, UserId};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A young person, acting on their own account.
    User,
    /// A cultural partner, acting for one offerer and its venues.
    Partner,
    /// The editorial team.
    Curator,
    /// Analysts reading diversity summaries.
    Analyst,
    /// Operators: everything.
    Admin,
}

impl Role {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Partner => "partner",
            Role::Curator => "curator",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "user" => Ok(Role::User),
            "partner" => Ok(Role::Partner),
            "curator" => Ok(Role::Curator),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: expected user, partner, curator, analyst or admin"
            )),
        }
    }
}

/// The authenticated caller. A user token always names its user, a partner token its offerer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    User(UserId),
    Partner(OffererId),
    Curator,
    Analyst,
    Admin,
}

impl Principal {
    /// The principal's role.
    pub fn role(self) -> Role {
        match self {
            Principal::User(_) => Role::User,
            Principal::Partner(_) => Role::Partner,
            Principal::Curator => Role::Curator,
            Principal::Analyst => Role::Analyst,
            Principal::Admin => Role::Admin,
        }
    }
}

/// A new random token, to show once and never store.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("mos_{hex}")
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("mos_") && a.len() == 68);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(token_hash("").len(), 64);
    }
}
