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
