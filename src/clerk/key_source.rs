//! Where the keys that verify session tokens come from, in Clerk's order of precedence:
//! a PEM key (no network), an explicit JWKS URL, the Backend API's `/v1/jwks` (with the secret key),
//! or the Frontend API's `/.well-known/jwks.json` named by the publishable key.

use std::fmt;

use url::Url;

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

/// What is configured for verification keys, as plain values (the settings fill it in, see
/// `ClerkSettings::key_source`): this module knows Clerk's precedence, not where the values come from.
#[derive(Debug, Clone, Copy)]
pub struct Configured<'a> {
    /// `CLERK_JWT_KEY` is set.
    pub jwt_key: bool,
    /// `CLERK_JWKS_URL`.
    pub jwks_url: Option<&'a Url>,
    /// `CLERK_SECRET_KEY` is set.
    pub secret_key: bool,
    /// `CLERK_API_URL`.
    pub api_url: &'a Url,
    /// The Frontend API host named by `CLERK_PUBLISHABLE_KEY`.
    pub frontend_api: Option<&'a str>,
}

impl KeySource {
    /// The source in effect, or `None` when nothing is configured (no session token can be verified).
    pub fn choose(configured: Configured<'_>) -> Option<Self> {
        if configured.jwt_key {
            return Some(Self::Pem);
        }
        if let Some(url) = configured.jwks_url {
            return Some(Self::JwksUrl(url.clone()));
        }
        if configured.secret_key {
            return backend_api_jwks_url(configured.api_url).map(Self::BackendApi);
        }
        if let Some(frontend_api) = configured.frontend_api {
            let url = format!("https://{frontend_api}/.well-known/jwks.json");
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
