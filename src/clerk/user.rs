//! Clerk's User object, as the Backend API returns it and as webhooks carry it (`data` of
//! `user.created`/`user.updated`). Only the fields auth-core mirrors are read; the rest are ignored.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClerkUser {
    pub id: String,
    #[serde(default)]
    pub email_addresses: Vec<EmailAddress>,
    pub primary_email_address_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    #[serde(default)]
    pub public_metadata: Value,
    #[serde(default)]
    pub private_metadata: Value,
    #[serde(default)]
    pub unsafe_metadata: Value,
    #[serde(default)]
    pub banned: bool,
    pub last_sign_in_at: Option<i64>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch; orders updates of one user.
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct EmailAddress {
    pub id: Option<String>,
    pub email_address: String,
}

impl ClerkUser {
    /// The primary address, lower-cased; the first address when no primary is named.
    pub fn primary_email(&self) -> Option<String> {
        let primary = self.primary_email_address_id.as_deref();
        self.email_addresses
            .iter()
            .find(|e| primary.is_some() && e.id.as_deref() == primary)
            .or_else(|| self.email_addresses.first())
            .map(|e| e.email_address.to_lowercase())
    }
}

/// `{}` for JSON null, so stored metadata is always an object.
pub fn metadata_json(value: &Value) -> String {
    if value.is_null() {
        "{}".to_owned()
    } else {
        value.to_string()
    }
}
