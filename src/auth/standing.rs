//! Whether a signed-in user still stands where their token puts them. A session token lives about a
//! minute, and webhooks can overtake it: Clerk may have deleted the user, or removed them from the
//! token's active organization (or deleted the organization). Judged from the user cache
//! ([`UserDirectory`]), so a warm request makes no database round trip; `request::standing` keeps
//! the judgement for the rest of the request, so that a guard and `OrgScope` on one route, or
//! `/me`, share one lookup. (Keys and machine tokens bound to a deleted organization are refused
//! when they are looked up: `bound_organization`.)

use std::sync::Arc;

use super::user_directory::{UserDirectory, UserProfile};
use crate::clerk::claims::SessionClaims;
use crate::clerk::reason::Reason;
use crate::db::DbError;
use crate::http::error::ApiError;

/// The verdict on a signed-in user, in the order the checks refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Active,
    /// Deleted in Clerk: refused everywhere (`user-deleted`).
    UserDeleted,
    /// No longer a member of the token's active organization, or it was deleted: refused where an
    /// organization is acted in (`membership-revoked`).
    MembershipRevoked,
}

impl Verdict {
    /// The verdict on `profile` for a token whose active organization is `active_organization`.
    pub fn of(profile: &UserProfile, active_organization: Option<&str>) -> Self {
        if profile.user.is_deleted() {
            Self::UserDeleted
        } else if active_organization
            .is_some_and(|org| profile.revoked_organizations.iter().any(|r| r == org))
        {
            Self::MembershipRevoked
        } else {
            Self::Active
        }
    }
}

/// A signed-in user's profile and the verdict on their token's active organization.
#[derive(Debug, Clone)]
pub struct Standing {
    pub profile: Arc<UserProfile>,
    pub verdict: Verdict,
}

impl Standing {
    /// Looks the user up and judges them for the token's active organization.
    pub async fn of(users: &Arc<UserDirectory>, claims: &SessionClaims) -> Result<Self, DbError> {
        let profile = users.profile(&claims.user_id).await?;
        let active_organization = claims.organization.as_ref().map(|o| o.id.as_str());
        let verdict = Verdict::of(&profile, active_organization);
        Ok(Self { profile, verdict })
    }

    /// Refuses a deleted user (what a route about the user, whatever the organization, needs).
    pub fn require_user(&self) -> Result<&UserProfile, ApiError> {
        match self.verdict {
            Verdict::UserDeleted => Err(ApiError::unauthenticated(Reason::UserDeleted)),
            Verdict::Active | Verdict::MembershipRevoked => Ok(&self.profile),
        }
    }

    /// Refuses a deleted user, or one no longer in the token's active organization (what acting in
    /// that organization needs: `OrgScope` and the guards).
    pub fn require_member(&self) -> Result<(), ApiError> {
        self.require_user()?;
        match self.verdict {
            Verdict::MembershipRevoked => Err(ApiError::membership_revoked()),
            Verdict::Active | Verdict::UserDeleted => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::users::UserRow;

    fn profile(deleted: bool, revoked: &[&str]) -> UserProfile {
        UserProfile {
            user: UserRow {
                id: "user_1".into(),
                email: None,
                email_addresses: "[]".into(),
                first_name: None,
                last_name: None,
                username: None,
                image_url: None,
                public_metadata: "{}".into(),
                banned: false,
                clerk_created_at: 0,
                clerk_updated_at: 0,
                deleted_at: deleted.then_some(1),
            },
            memberships: Vec::new(),
            revoked_organizations: revoked.iter().map(|&o| o.to_owned()).collect(),
        }
    }

    fn standing(deleted: bool, revoked: &[&str], active: Option<&str>) -> Standing {
        let profile = profile(deleted, revoked);
        let verdict = Verdict::of(&profile, active);
        Standing {
            profile: Arc::new(profile),
            verdict,
        }
    }

    fn code(result: Result<(), ApiError>) -> Option<&'static str> {
        result.err().map(|e| e.code.as_str())
    }

    #[test]
    fn a_deleted_user_is_refused_before_a_revoked_membership() {
        let gone = standing(true, &["org_a"], Some("org_a"));
        assert_eq!(gone.verdict, Verdict::UserDeleted);
        assert_eq!(code(gone.require_member()), Some("user-deleted"));
        assert_eq!(code(gone.require_user().map(|_| ())), Some("user-deleted"));
    }

    #[test]
    fn a_revoked_membership_counts_only_for_the_active_organization() {
        let removed = standing(false, &["org_a"], Some("org_a"));
        assert_eq!(removed.verdict, Verdict::MembershipRevoked);
        assert_eq!(code(removed.require_member()), Some("membership-revoked"));
        assert!(removed.require_user().is_ok());
        for active in [Some("org_b"), None] {
            let elsewhere = standing(false, &["org_a"], active);
            assert_eq!(elsewhere.verdict, Verdict::Active, "{active:?}");
            assert!(elsewhere.require_member().is_ok());
        }
    }
}
