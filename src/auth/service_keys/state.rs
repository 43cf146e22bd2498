//! Whether a stored service key still works: the one rule that verification, `auth-core keys list`
//! and the console's keys page all apply, so a listing never calls active a key that is refused.

use std::fmt;

use crate::db::service_keys::ServiceKeyRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    /// Past its `expires_at` (an expiry at exactly `now` counts as past).
    Expired,
    /// Revoked, whether or not it had expired first: revocation is the decision a reader acts on.
    Revoked,
}

impl KeyState {
    pub fn of(key: &ServiceKeyRow, now_ms: i64) -> Self {
        if key.revoked_at.is_some() {
            Self::Revoked
        } else if key.expires_at.is_some_and(|at| at <= now_ms) {
            Self::Expired
        } else {
            Self::Active
        }
    }

    /// The word listings show.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(expires_at: Option<i64>, revoked_at: Option<i64>) -> ServiceKeyRow {
        ServiceKeyRow {
            id: "key_0123456789ab".to_owned(),
            name: "n".to_owned(),
            prefix: "0123456789ab".to_owned(),
            secret_hash: String::new(),
            organization_id: None,
            scopes: "[]".to_owned(),
            created_by: None,
            created_at: 0,
            expires_at,
            last_used_at: None,
            revoked_at,
        }
    }

    #[test]
    fn revocation_wins_over_expiry_and_expiry_is_inclusive() {
        assert_eq!(KeyState::of(&key(None, None), 100), KeyState::Active);
        assert_eq!(KeyState::of(&key(Some(101), None), 100), KeyState::Active);
        assert_eq!(KeyState::of(&key(Some(100), None), 100), KeyState::Expired);
        assert_eq!(
            KeyState::of(&key(Some(50), Some(60)), 100),
            KeyState::Revoked
        );
        assert_eq!(KeyState::of(&key(None, Some(60)), 100).as_str(), "revoked");
    }
}
