//! Typed settings: loaded in layers by [`sources`], each value checked by [`parse`]. An invalid value
//! stops start-up with a [`SettingsError`] naming the key, its environment name and the problem.

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
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

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
    /// `None`: kept forever.
    pub retention: Option<Duration>,
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

    fn from_raw(raw: sources::RawSettings) -> Result<Self, SettingsError> {
        let non_empty = |s: &str| !s.trim().is_empty();
        let server = ServerSettings {
            bind: parse::bind_address(&raw.server.bind).map_err(|p| invalid("server.bind", p))?,
            workers: parse::integer(&raw.server.workers, 0, 1024)
                .map_err(|p| invalid("server.workers", p))?,
            shutdown_timeout: parse::integer(&raw.server.shutdown_timeout_secs, 0, 3600)
                .map(Duration::from_secs)
                .map_err(|p| invalid("server.shutdown_timeout_secs", p))?,
            trusted_proxies: raw
                .server
                .trusted_proxies
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|ip| {
                    ip.parse()
                        .map_err(|_| format!("{ip:?} is not an IP address"))
                })
                .collect::<Result<_, _>>()
                .map_err(|p| invalid("server.trusted_proxies", p))?,
            hsts: parse::boolean(&raw.server.hsts).map_err(|p| invalid("server.hsts", p))?,
            debug: parse::boolean(&raw.server.debug).map_err(|p| invalid("server.debug", p))?,
        };
        let log = LogSettings {
            filter: parse::log_filter(&raw.log.level).map_err(|p| invalid("log.level", p))?,
            json: match raw.log.format.trim() {
                "text" => false,
                "json" => true,
                other => {
                    return Err(invalid(
                        "log.format",
                        format!("expected text or json, got {other:?}"),
                    ))
                }
            },
            buffer_lines: parse::integer(&raw.log.buffer_lines, 1, 1_000_000)
                .map_err(|p| invalid("log.buffer_lines", p))?,
        };
        let db = &raw.database;
        if !non_empty(&db.data_dir) {
            return Err(invalid("database.data_dir", "must not be empty".into()));
        }
        let database = DatabaseSettings {
            url: parse::database_url(&db.url, db.data_dir.trim())
                .map_err(|p| invalid("database.url", p))?,
            data_dir: PathBuf::from(db.data_dir.trim()),
            max_connections: parse::integer(&db.max_connections, 1, 1000)
                .map_err(|p| invalid("database.max_connections", p))?,
            acquire_timeout: parse::millis(&db.acquire_timeout_ms, 10, 600_000)
                .map_err(|p| invalid("database.acquire_timeout_ms", p))?,
            run_migrations: parse::boolean(&db.run_migrations)
                .map_err(|p| invalid("database.run_migrations", p))?,
            sqlite_busy_timeout: parse::millis(&db.sqlite_busy_timeout_ms, 0, 600_000)
                .map_err(|p| invalid("database.sqlite_busy_timeout_ms", p))?,
        };
        let clerk = Self::clerk_from_raw(&raw.clerk)?;
        let auth = Self::auth_from_raw(&raw.auth, &clerk)?;
        let audit = AuditSettings {
            enabled: parse::boolean(&raw.audit.enabled).map_err(|p| invalid("audit.enabled", p))?,
            queue_capacity: parse::integer(&raw.audit.queue_capacity, 1, 10_000_000)
                .map_err(|p| invalid("audit.queue_capacity", p))?,
            batch_size: parse::integer(&raw.audit.batch_size, 1, 100_000)
                .map_err(|p| invalid("audit.batch_size", p))?,
            linger: parse::millis(&raw.audit.linger_ms, 1, 60_000)
                .map_err(|p| invalid("audit.linger_ms", p))?,
            retention: match parse::integer::<u64>(&raw.audit.retention_days, 0, 36_500)
                .map_err(|p| invalid("audit.retention_days", p))?
            {
                0 => None,
                days => Some(Duration::from_secs(days * 86_400)),
            },
        };
        let metrics = MetricsSettings {
            token: match raw.metrics.token.as_str() {
                "" => None,
                token if token.chars().count() < 16 => {
                    return Err(invalid(
                        "metrics.token",
                        format!(
                            "must be at least 16 characters (got {})",
                            token.chars().count()
                        ),
                    ))
                }
                token => Some(Secret::new(token)),
            },
        };
        let webhooks = WebhookSettings {
            max_body_bytes: parse::integer(&raw.webhooks.max_body_bytes, 1024, 64 << 20)
                .map_err(|p| invalid("webhooks.max_body_bytes", p))?,
            tolerance_secs: parse::integer(&raw.webhooks.tolerance_secs, 1, 3600)
                .map_err(|p| invalid("webhooks.tolerance_secs", p))?,
        };
        let cors = CorsSettings {
            allowed_origins: parse::origin_list(&raw.cors.allowed_origins)
                .map_err(|p| invalid("cors.allowed_origins", p))?,
        };
        let security = SecuritySettings {
            secret_key: Some(&raw.security.secret_key)
                .filter(|s| !s.is_empty())
                .map(|s| parse::app_secret_key(s))
                .transpose()
                .map_err(|p| invalid("security.secret_key", p))?,
        };
        let admin = AdminSettings {
            enabled: parse::boolean(&raw.admin.enabled).map_err(|p| invalid("admin.enabled", p))?,
            secure_cookie: match raw.admin.secure_cookie.trim() {
                "auto" => None,
                other => {
                    Some(parse::boolean(other).map_err(|p| invalid("admin.secure_cookie", p))?)
                }
            },
            session_idle: parse::integer(&raw.admin.session_idle_secs, 60, 86_400)
                .map(Duration::from_secs)
                .map_err(|p| invalid("admin.session_idle_secs", p))?,
            session_lifetime: parse::integer(&raw.admin.session_lifetime_secs, 300, 30 * 86_400)
                .map(Duration::from_secs)
                .map_err(|p| invalid("admin.session_lifetime_secs", p))?,
            login_max_failures: parse::integer(&raw.admin.login_max_failures, 1, 1000)
                .map_err(|p| invalid("admin.login_max_failures", p))?,
            login_ip_max_failures: parse::integer(&raw.admin.login_ip_max_failures, 1, 100_000)
                .map_err(|p| invalid("admin.login_ip_max_failures", p))?,
            login_window: parse::integer(&raw.admin.login_window_secs, 60, 86_400)
                .map(Duration::from_secs)
                .map_err(|p| invalid("admin.login_window_secs", p))?,
            password_threads: parse::integer(&raw.admin.password_threads, 1, 16)
                .map_err(|p| invalid("admin.password_threads", p))?,
        };
        Ok(Self {
            server,
            log,
            database,
            clerk,
            auth,
            audit,
            metrics,
            webhooks,
            cors,
            security,
            admin,
        })
    }

    fn auth_from_raw(
        raw: &sources::RawAuth,
        clerk: &ClerkSettings,
    ) -> Result<AuthSettings, SettingsError> {
        let azp_policy = match raw.azp_policy.trim() {
            "off" => AzpPolicy::Off,
            "when-present" => AzpPolicy::WhenPresent,
            "required" => AzpPolicy::Required,
            other => {
                return Err(invalid(
                    "auth.azp_policy",
                    format!("expected off, when-present or required, got {other:?}"),
                ))
            }
        };
        if azp_policy == AzpPolicy::Required && clerk.authorized_parties.is_empty() {
            return Err(invalid(
                "auth.azp_policy",
                format!(
                    "is required but no authorized parties are listed: set {}",
                    env_name("clerk.authorized_parties")
                ),
            ));
        }
        let issuer = match raw.issuer.trim() {
            "" => clerk
                .publishable_key
                .as_ref()
                .map(|pk| format!("https://{}", pk.frontend_api)),
            explicit => Some(parse::origin(explicit).map_err(|p| invalid("auth.issuer", p))?),
        };
        let allow_pending_sessions = match raw.pending_sessions.trim() {
            "signed-out" => false,
            "allow" => true,
            other => {
                return Err(invalid(
                    "auth.pending_sessions",
                    format!("expected signed-out or allow, got {other:?}"),
                ))
            }
        };
        let audience =
            parse::audience_list(&raw.audience).map_err(|p| invalid("auth.audience", p))?;
        let accept_any_audience = parse::boolean(&raw.accept_any_audience)
            .map_err(|p| invalid("auth.accept_any_audience", p))?;
        // Both set would be read as "any audience" by one reader and "these audiences" by another.
        if accept_any_audience && !audience.is_empty() {
            return Err(invalid(
                "auth.accept_any_audience",
                "cannot be true while auth.audience lists audiences: the list already decides"
                    .into(),
            ));
        }
        Ok(AuthSettings {
            clock_skew: parse::millis(&raw.clock_skew_ms, 0, 300_000)
                .map_err(|p| invalid("auth.clock_skew_ms", p))?,
            azp_policy,
            audience,
            accept_any_audience,
            issuer,
            allow_pending_sessions,
            max_token_bytes: parse::integer(&raw.max_token_bytes, 1024, 1 << 20)
                .map_err(|p| invalid("auth.max_token_bytes", p))?,
            token_cache_capacity: parse::integer(&raw.token_cache_capacity, 0, 10_000_000)
                .map_err(|p| invalid("auth.token_cache_capacity", p))?,
            user_cache_capacity: parse::integer(&raw.user_cache_capacity, 0, 10_000_000)
                .map_err(|p| invalid("auth.user_cache_capacity", p))?,
            user_cache_ttl: parse::integer(&raw.user_cache_ttl_secs, 1, 86_400)
                .map(Duration::from_secs)
                .map_err(|p| invalid("auth.user_cache_ttl_secs", p))?,
            revoked_session_retention: parse::integer(
                &raw.revoked_session_retention_secs,
                60,
                30 * 86_400,
            )
            .map(Duration::from_secs)
            .map_err(|p| invalid("auth.revoked_session_retention_secs", p))?,
            revocation_sync: parse::integer(&raw.revocation_sync_secs, 1, 3600)
                .map(Duration::from_secs)
                .map_err(|p| invalid("auth.revocation_sync_secs", p))?,
            service_key_cache: parse::integer(&raw.service_key_cache_secs, 0, 3600)
                .map(Duration::from_secs)
                .map_err(|p| invalid("auth.service_key_cache_secs", p))?,
            failed_credential_budget: parse::integer(&raw.failed_credential_budget, 1, 100_000)
                .map_err(|p| invalid("auth.failed_credential_budget", p))?,
        })
    }

    fn clerk_from_raw(raw: &sources::RawClerk) -> Result<ClerkSettings, SettingsError> {
        fn optional<T>(
            value: &str,
            key: &'static str,
            parse: impl Fn(&str) -> Result<T, parse::Problem>,
        ) -> Result<Option<T>, SettingsError> {
            if value.trim().is_empty() {
                return Ok(None);
            }
            parse(value).map(Some).map_err(|p| invalid(key, p))
        }
        let secret = optional(&raw.secret_key, "clerk.secret_key", parse::clerk_secret_key)?;
        let publishable = optional(
            &raw.publishable_key,
            "clerk.publishable_key",
            parse::publishable_key,
        )?;
        if let (Some((secret_instance, _)), Some(pk)) = (&secret, &publishable) {
            if *secret_instance != pk.instance {
                return Err(invalid(
                    "clerk.secret_key",
                    format!(
                        "is a {} key but clerk.publishable_key ({}) is a {} key: both must come from the same Clerk instance",
                        instance_word(*secret_instance),
                        env_name("clerk.publishable_key"),
                        instance_word(pk.instance)
                    ),
                ));
            }
        }
        Ok(ClerkSettings {
            secret_key: secret.map(|(_, s)| s),
            publishable_key: publishable,
            jwks_url: optional(&raw.jwks_url, "clerk.jwks_url", parse::service_url)?,
            jwt_key: optional(&raw.jwt_key, "clerk.jwt_key", parse::pem_public_key)?,
            webhook_secrets: parse::webhook_secrets(&raw.webhook_secret)
                .map_err(|p| invalid("clerk.webhook_secret", p))?,
            authorized_parties: parse::origin_list(&raw.authorized_parties)
                .map_err(|p| invalid("clerk.authorized_parties", p))?,
            api_url: parse::service_url(&raw.api_url).map_err(|p| invalid("clerk.api_url", p))?,
            jwks_cache_ttl: parse::integer(&raw.jwks_cache_ttl_secs, 1, 86_400)
                .map(Duration::from_secs)
                .map_err(|p| invalid("clerk.jwks_cache_ttl_secs", p))?,
            jwks_refetch_cooldown: parse::integer(&raw.jwks_refetch_cooldown_secs, 0, 3600)
                .map(Duration::from_secs)
                .map_err(|p| invalid("clerk.jwks_refetch_cooldown_secs", p))?,
            jwks_fetch_timeout: parse::millis(&raw.jwks_fetch_timeout_ms, 100, 60_000)
                .map_err(|p| invalid("clerk.jwks_fetch_timeout_ms", p))?,
            api_timeout: parse::millis(&raw.api_timeout_ms, 100, 120_000)
                .map_err(|p| invalid("clerk.api_timeout_ms", p))?,
        })
    }
}

fn instance_word(instance: ClerkInstance) -> &'static str {
    match instance {
        ClerkInstance::Development => "test (development)",
        ClerkInstance::Production => "live (production)",
    }
}

#[cfg(test)]
mod tests;
