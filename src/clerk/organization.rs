//! Clerk's Organization and OrganizationMembership objects, as the Backend API returns them and as
//! webhooks carry them.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClerkOrganization {
    pub id: String,
    pub name: String,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    #[serde(default)]
    pub public_metadata: Value,
    #[serde(default)]
    pub private_metadata: Value,
    pub max_allowed_memberships: Option<i32>,
    pub created_by: Option<String>,
    /// Milliseconds.
    pub created_at: i64,
    /// Milliseconds; orders updates of one organization.
    pub updated_at: i64,
}

/// The user side of a membership, as embedded in membership payloads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PublicUserData {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    /// The user's email address or another identifier.
    pub identifier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClerkMembership {
    pub id: String,
    pub role: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub public_metadata: Value,
    #[serde(default)]
    pub private_metadata: Value,
    pub organization: ClerkOrganization,
    pub public_user_data: PublicUserData,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The id prefix Clerk gives organizations.
const ID_PREFIX: &str = "org_";
/// Clerk's ids are far shorter; the bound keeps a typo or a paste of something else out of the
/// database and its listings.
const MAX_ID_BYTES: usize = 64;

/// Whether `id` has the shape of a Clerk organization id: `org_` and base62 (ASCII letters and
/// digits), at most 64 bytes in all. Typed ids (a key's `--org`, the console's organization field)
/// are checked with this before anything is stored.
pub fn is_valid_id(id: &str) -> bool {
    id.len() <= MAX_ID_BYTES
        && id
            .strip_prefix(ID_PREFIX)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_ids_are_org_and_base62_up_to_64_bytes() {
        assert!(is_valid_id("org_2abcDEF123"));
        assert!(is_valid_id("org_beta"));
        assert!(is_valid_id(&format!("org_{}", "a".repeat(60))));
        assert!(!is_valid_id(&format!("org_{}", "a".repeat(61))));
        assert!(!is_valid_id("org_"));
        assert!(!is_valid_id("acme"));
        assert!(!is_valid_id("user_2abc"));
        assert!(!is_valid_id("org_2abc def"));
        assert!(!is_valid_id("org_2abc-1"));
        assert!(!is_valid_id("org_ä"));
        assert!(!is_valid_id("ORG_2abc"));
    }
}
