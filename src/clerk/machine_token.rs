//! Clerk machine tokens: API keys (`ak_…`), M2M tokens (`mt_…`) and opaque OAuth access tokens
//! (`oat_…`), verified by Clerk's Backend API (`POST /v1/api_keys/verify {secret}`,
//! `POST /v1/m2m_tokens/verify {token}`, `POST /v1/oauth_applications/access_tokens/verify
//! {access_token}`).

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineKind {
    ApiKey,
    M2mToken,
    OAuthToken,
}

impl MachineKind {
    /// The kind a token's prefix announces.
    pub fn of(token: &str) -> Option<Self> {
        if token.starts_with("ak_") {
            Some(Self::ApiKey)
        } else if token.starts_with("mt_") {
            Some(Self::M2mToken)
        } else if token.starts_with("oat_") {
            Some(Self::OAuthToken)
        } else {
            None
        }
    }

    /// Clerk's `TokenType` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::M2mToken => "m2m_token",
            Self::OAuthToken => "oauth_token",
        }
    }

    /// The Backend API path (under `/v1/`) and the body field carrying the token.
    pub fn endpoint(self) -> (&'static str, &'static str) {
        match self {
            Self::ApiKey => ("api_keys/verify", "secret"),
            Self::M2mToken => ("m2m_tokens/verify", "token"),
            Self::OAuthToken => ("oauth_applications/access_tokens/verify", "access_token"),
        }
    }
}

/// The Backend API's answer for a token it knows (fields common to the three kinds).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MachineTokenInfo {
    pub id: String,
    /// `user_…`, `org_…` or `mch_…`: whom the token acts for.
    pub subject: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub expired: bool,
    /// Milliseconds since the epoch; none for tokens that do not expire.
    pub expiration: Option<f64>,
}
