//! Where the keys that verify session tokens come from, in Clerk's order of precedence:
//! a PEM key (no network), an explicit JWKS URL, the Backend API's `/v1/jwks` (with the secret key),
//! or the Frontend API's `/.well-known/jwks.json` named by the publishable key.

use std::fmt;

use url::Url;

use crate::settings::ClerkSettings;

/// `Retry-After` on a refused token and on readiness when no key source is configured: nothing
/// changes until an operator acts, so clients are not invited to spin.
pub const NO_KEY_SOURCE_RETRY_AFTER_SECS: u64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `CLERK_JWT_KEY`: verification needs no network at all.
    Pem,
    /// `CLERK_JWKS_URL`.
    JwksUrl(Url),
    /// `GET {api_url}/v1/jwks` with `Authorization: Bearer CLERK_SECRET_KEY`.
    BackendApi(Url),
    /// `https://<frontend api>/.well-known/jwks.json` from `CLERK_PUBLISHABLE_KEY`.
    FrontendApi(Url),
}

impl KeySource {
    /// The source in effect, or `None` when nothing is configured (no session token can be verified).
    pub fn from_settings(clerk: &ClerkSettings) -> Option<Self> {
        if clerk.jwt_key.is_some() {
            return Some(Self::Pem);
        }
        if let Some(url) = &clerk.jwks_url {
            return Some(Self::JwksUrl(url.clone()));
        }
        if clerk.secret_key.is_some() {
            return backend_api_jwks_url(&clerk.api_url).map(Self::BackendApi);
        }
        if let Some(pk) = &clerk.publishable_key {
            let url = format!("https://{}/.well-known/jwks.json", pk.frontend_api);
            return Url::parse(&url).ok().map(Self::FrontendApi);
        }
        None
    }
}

/// `{api_url}/v1/jwks`: the Backend API's key set, which answers only to a valid secret key.
pub fn backend_api_jwks_url(api_url: &Url) -> Option<Url> {
    // api_url is a validated base URL; joining a relative path keeps any path prefix it has.
    let mut base = api_url.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join("v1/jwks").ok()
}

impl KeySource {
    /// A short name for health checks and logs: `pem`, `jwks_url`, `backend_api`, `frontend_api`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Pem => "pem",
            Self::JwksUrl(_) => "jwks_url",
            Self::BackendApi(_) => "backend_api",
            Self::FrontendApi(_) => "frontend_api",
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem => f.write_str("PEM public key from CLERK_JWT_KEY (networkless)"),
            Self::JwksUrl(url) => write!(f, "JWKS at {url} (CLERK_JWKS_URL)"),
            Self::BackendApi(url) => {
                write!(
                    f,
                    "JWKS from Clerk's Backend API at {url} (CLERK_SECRET_KEY)"
                )
            }
            Self::FrontendApi(url) => write!(f, "JWKS at {url} (from CLERK_PUBLISHABLE_KEY)"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::settings::{Settings, SettingsSources};

    fn source(env: &[(&str, &str)]) -> Option<KeySource> {
        let sources = SettingsSources {
            env: env
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            config_file: None,
            working_dir: std::env::temp_dir().join("auth-core-no-such-dir"),
        };
        KeySource::from_settings(&Settings::load(&sources).unwrap().clerk)
    }

    #[test]
    fn precedence_follows_clerk() {
        let pk = ("CLERK_PUBLISHABLE_KEY", "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k");
        let sk = ("CLERK_SECRET_KEY", "sk_test_abc");
        let jwks = ("CLERK_JWKS_URL", "https://keys.example.com/jwks");
        assert_eq!(source(&[]), None);
        assert_eq!(
            source(&[pk]).unwrap().to_string(),
            "JWKS at https://clerk.example.com/.well-known/jwks.json (from CLERK_PUBLISHABLE_KEY)"
        );
        assert_eq!(
            source(&[pk, sk]),
            Some(KeySource::BackendApi(
                Url::parse("https://api.clerk.com/v1/jwks").unwrap()
            ))
        );
        assert_eq!(
            source(&[pk, sk, jwks]),
            Some(KeySource::JwksUrl(
                Url::parse("https://keys.example.com/jwks").unwrap()
            ))
        );
    }

    #[test]
    fn backend_api_path_prefix_is_kept() {
        let got = source(&[
            ("CLERK_SECRET_KEY", "sk_test_abc"),
            ("AUTH_CORE__CLERK__API_URL", "http://127.0.0.1:9/clerk"),
        ]);
        assert_eq!(
            got,
            Some(KeySource::BackendApi(
                Url::parse("http://127.0.0.1:9/clerk/v1/jwks").unwrap()
            ))
        );
    }
}
