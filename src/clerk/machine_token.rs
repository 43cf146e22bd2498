//! Clerk machine tokens: API keys (`ak_…`), M2M tokens (`mt_…`) and opaque OAuth access tokens
//! (`oat_…`), verified by Clerk's Backend API (`POST /v1/api_keys/verify {secret}`,
//! `POST /v1/m2m_tokens/verify {token}`, `POST /v1/oauth_applications/access_tokens/verify
//! {access_token}`).
//!
//! Every such call costs a round trip to Clerk, so a token is first checked for Clerk's shape
//! ([`MachineKind::check_shape`]): what cannot be one of Clerk's tokens is refused without a call.

use serde::Deserialize;

use super::reason::Reason;

/// Fewest characters after the prefix. Clerk's opaque tokens carry 32 (the Backend API spec's
/// `ak_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX`); fewer than 16 cannot hold a secret worth asking about.
const MIN_SECRET_CHARS: usize = 16;
/// Longest token sent to Clerk, prefix included: eight times Clerk's length, room for a longer format
/// while a flood of huge made-up tokens is refused before any call (as `auth.max_token_bytes` does
/// for JWTs).
pub const MAX_TOKEN_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineKind {
    ApiKey,
    M2mToken,
    OAuthToken,
}

impl MachineKind {
    /// The kind a token's prefix announces.
    pub fn of(token: &str) -> Option<Self> {
        [Self::ApiKey, Self::M2mToken, Self::OAuthToken]
            .into_iter()
            .find(|kind| token.starts_with(kind.prefix()))
    }

    /// The token's prefix (`ak_`, `mt_`, `oat_`), as @clerk/backend's `API_KEY_PREFIX`,
    /// `M2M_TOKEN_PREFIX` and `OAUTH_TOKEN_PREFIX`.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::ApiKey => "ak_",
            Self::M2mToken => "mt_",
            Self::OAuthToken => "oat_",
        }
    }

    /// Whether `token`, announced as this kind by its prefix, can be one of Clerk's opaque tokens:
    /// at most [`MAX_TOKEN_BYTES`] (`token-too-large`), then at least [`MIN_SECRET_CHARS`] letters,
    /// digits, `_` or `-` after the prefix (`token-invalid`). Only a token that passes is worth a call.
    pub fn check_shape(self, token: &str) -> Result<(), Reason> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Reason::TokenTooLarge);
        }
        let secret = token
            .strip_prefix(self.prefix())
            .ok_or(Reason::TokenInvalid)?;
        let well_formed = secret.len() >= MIN_SECRET_CHARS
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if well_formed {
            Ok(())
        } else {
            Err(Reason::TokenInvalid)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_announce_kinds() {
        assert_eq!(MachineKind::of("ak_x"), Some(MachineKind::ApiKey));
        assert_eq!(MachineKind::of("mt_x"), Some(MachineKind::M2mToken));
        assert_eq!(MachineKind::of("oat_x"), Some(MachineKind::OAuthToken));
        assert_eq!(MachineKind::of("eyJ.a.b"), None);
        assert_eq!(MachineKind::of("AK_x"), None);
    }

    #[test]
    fn only_tokens_of_clerks_shape_pass() {
        let body = "3beecc9c60adb5f9b850e91a8ee1e992";
        for kind in [
            MachineKind::ApiKey,
            MachineKind::M2mToken,
            MachineKind::OAuthToken,
        ] {
            let token = format!("{}{body}", kind.prefix());
            assert_eq!(kind.check_shape(&token), Ok(()), "{token}");
            let shortest = format!("{}{}", kind.prefix(), "a".repeat(MIN_SECRET_CHARS));
            assert_eq!(kind.check_shape(&shortest), Ok(()));
            let longest = format!(
                "{}{}",
                kind.prefix(),
                "A-_9"
                    .repeat(MAX_TOKEN_BYTES)
                    .get(..MAX_TOKEN_BYTES - kind.prefix().len())
                    .unwrap_or_default()
            );
            assert_eq!(longest.len(), MAX_TOKEN_BYTES);
            assert_eq!(kind.check_shape(&longest), Ok(()));
            let too_large = format!("{longest}a");
            assert_eq!(kind.check_shape(&too_large), Err(Reason::TokenTooLarge));
            let huge = format!("{}{}", kind.prefix(), "a".repeat(1 << 20));
            assert_eq!(kind.check_shape(&huge), Err(Reason::TokenTooLarge));
            let short = format!("{}{}", kind.prefix(), "a".repeat(MIN_SECRET_CHARS - 1));
            assert_eq!(kind.check_shape(&short), Err(Reason::TokenInvalid));
            for bad in ["=", ".", "/", "+", " ", "%", "\u{e9}", "\""] {
                let token = format!("{}{body}{bad}", kind.prefix());
                assert_eq!(
                    kind.check_shape(&token),
                    Err(Reason::TokenInvalid),
                    "{token:?}"
                );
            }
        }
        // A token checked against another kind's prefix is not that kind.
        assert_eq!(
            MachineKind::ApiKey.check_shape(&format!("mt_{body}")),
            Err(Reason::TokenInvalid)
        );
    }
}
