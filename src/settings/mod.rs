//! Typed settings: loaded in layers by [`sources`], each section checked by [`check`] with the value
//! parsers of [`parse`]. An invalid value stops start-up with a [`SettingsError`] naming the key,
//! its environment name and the problem.

mod check;
mod parse;
mod sources;

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::clerk::jwt::AzpPolicy;
use crate::clerk::key_source::{Configured, KeySource};
use crate::secret::Secret;
pub use sources::{env_name, SettingsSources, CONFIG_FILE_ENV, DEFAULTS_TOML, LOCAL_OVERRIDE_FILE};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid setting {key} ({env}): {problem}")]
    Invalid {
        key: &'static str,
        env: String,
        problem: String,
    },
    #[error("{first} and {second} are both set, to different values: set only one")]
    Conflict { first: String, second: String },
    #[error("settings could not be read: {0}")]
    Load(String),
}

fn invalid(key: &'static str, problem: String) -> SettingsError {
    SettingsError::Invalid {
        key,
        env: env_name(key),
        problem,
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub log: LogSettings,
    pub database: DatabaseSettings,
    pub clerk: ClerkSettings,
    pub auth: AuthSettings,
    pub audit: AuditSettings,
    pub metrics: MetricsSettings,
    pub webhooks: WebhookSettings,
    pub cors: CorsSettings,
    pub security: SecuritySettings,
    pub admin: AdminSettings,
    pub sync: SyncSettings,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub bind: String,
    /// 0 = one per CPU core.
    pub workers: usize,
    pub shutdown_timeout: Duration,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub hsts: bool,
    pub debug: bool,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// An env_logger filter, already checked.
    pub filter: String,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Lines waiting for the log writer thread; past it, lines are dropped and counted.
    pub buffer_lines: usize,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub data_dir: PathBuf,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub run_migrations: bool,
    pub sqlite_busy_timeout: Duration,
}

/// Which database, and where. A PostgreSQL URL may carry a password, so it is a [`Secret`];
/// [`DatabaseUrl::redacted`] is the form for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(Secret),
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// The URL with any password replaced by `***`, safe to log.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => match Url::parse(url.expose()) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        // set_password only fails for URLs that cannot have one.
                        let _ = parsed.set_password(Some("***"));
                    }
                    // Query parameters may carry a password too (?password=…, ?sslpassword=…).
                    let pairs: Vec<(String, String)> = parsed
                        .query_pairs()
                        .map(|(k, v)| {
                            let masked = k.contains("pass");
                            (
                                k.into_owned(),
                                if masked { "***".into() } else { v.into_owned() },
                            )
                        })
                        .collect();
                    if !pairs.is_empty() {
                        parsed.query_pairs_mut().clear().extend_pairs(pairs);
                    }
                    parsed.to_string()
                }
                Err(_) => "postgres://[unparseable]".to_owned(),
            },
        }
    }
}

/// Clerk's two kinds of instance, told apart by the key prefixes (`_test_` / `_live_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClerkInstance {
    Development,
    Production,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishableKey {
    /// The key as configured (public: it is shipped to browsers).
    pub raw: String,
    pub instance: ClerkInstance,
    /// The Frontend API host encoded in the key, e.g. `clerk.example.com`.
    pub frontend_api: String,
}

#[derive(Debug, Clone)]
pub struct ClerkSettings {
    pub secret_key: Option<Secret>,
    pub publishable_key: Option<PublishableKey>,
    pub jwks_url: Option<Url>,
    /// PEM, framing checked; structure parsed where tokens are verified.
    pub jwt_key: Option<String>,
    /// All secrets currently accepted (more than one while rotating).
    pub webhook_secrets: Vec<Secret>,
    pub authorized_parties: Vec<String>,
    pub api_url: Url,
    pub jwks_cache_ttl: Duration,
    pub jwks_refetch_cooldown: Duration,
    pub jwks_fetch_timeout: Duration,
    pub api_timeout: Duration,
}

impl ClerkSettings {
    /// Where verification keys come from with these settings, in Clerk's order of precedence.
    pub fn key_source(&self) -> Option<KeySource> {
        KeySource::choose(Configured {
            jwt_key: self.jwt_key.is_some(),
            jwks_url: self.jwks_url.as_ref(),
            secret_key: self.secret_key.is_some(),
            api_url: &self.api_url,
            frontend_api: self
                .publishable_key
                .as_ref()
                .map(|pk| pk.frontend_api.as_str()),
        })
    }
}

/// How session tokens are judged beyond their signature.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub clock_skew: Duration,
    pub azp_policy: AzpPolicy,
    /// Audiences a token's `aud` must name when it has one; empty: a token with `aud` is refused
    /// unless `accept_any_audience`.
    pub audience: Vec<String>,
    /// With `audience` empty, accept tokens whatever their `aud` (customised session tokens).
    pub accept_any_audience: bool,
    /// Explicit, or derived from the publishable key; `None`: not checked.
    pub issuer: Option<String>,
    pub allow_pending_sessions: bool,
    pub max_token_bytes: usize,
    pub token_cache_capacity: u64,
    pub user_cache_capacity: u64,
    pub user_cache_ttl: Duration,
    pub revoked_session_retention: Duration,
    pub revocation_sync: Duration,
    pub service_key_cache: Duration,
    /// Failed service-key and machine-token lookups one client may cause per minute.
    pub failed_credential_budget: u32,
}

#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub enabled: bool,
    pub queue_capacity: usize,
    pub batch_size: usize,
    pub linger: Duration,
    pub when_full: WhenFull,
    /// How long a request waits for room in the audit queue with [`WhenFull::Wait`].
    pub full_wait: Duration,
    /// `None`: kept forever.
    pub retention: Option<Duration>,
}

/// What a request does when the audit queue is full (`audit.when_full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait (up to `audit.full_wait_ms`) for room before being handled; past it, refused with 503.
    Wait,
    /// Be handled at once; its event is dropped and counted.
    Drop,
}

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub max_body_bytes: usize,
    pub tolerance_secs: i64,
}

#[derive(Debug, Clone)]
pub struct CorsSettings {
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub secret_key: Option<Secret>,
}

/// The admin console's sign-in policy.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub enabled: bool,
    /// `Secure` on the session cookie: `None` = auto (set unless `server.debug`).
    pub secure_cookie: Option<bool>,
    pub session_idle: Duration,
    pub session_lifetime: Duration,
    /// Failed sign-ins per account within the window before it is locked for the window.
    pub login_max_failures: u32,
    /// Failed sign-ins per client IP within the window before that IP is locked for the window.
    pub login_ip_max_failures: u32,
    pub login_window: Duration,
    /// Threads that run argon2 for the console (sign-in, password changes, new accounts): at most
    /// this many hashes, 19 MiB each, run at once.
    pub password_threads: usize,
}

/// What `serve` does with Clerk's Backend API listings (`auth-core sync` takes its own flags).
#[derive(Debug, Clone, Default)]
pub struct SyncSettings {
    /// How often `serve` reconciles (`None`: never).
    pub reconcile_interval: Option<Duration>,
}

impl AdminSettings {
    pub fn cookie_secure(&self, debug: bool) -> bool {
        self.secure_cookie.unwrap_or(!debug)
    }
}

impl Settings {
    /// Reads every layer from `sources` and checks every value.
    pub fn load(sources: &SettingsSources) -> Result<Self, SettingsError> {
        let raw = sources::load_raw(sources)?;
        Self::from_raw(raw)
    }
}

#[cfg(test)]
mod tests;
