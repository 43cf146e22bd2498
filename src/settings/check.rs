//! From the raw text of [`sources`](super::sources) to typed [`Settings`]: each section checks its
//! values with [`parse`] and the rules between them; the first invalid value stops start-up with
//! the key that holds it.

use std::path::PathBuf;
use std::time::Duration;

use super::parse;
use super::sources::{
    env_name, RawAdmin, RawAudit, RawAuth, RawClerk, RawDatabase, RawLog, RawMetrics, RawSecurity,
    RawServer, RawSettings, RawSync, RawWebhooks,
};
use super::{
    invalid, AdminSettings, AuditSettings, AuthSettings, ClerkInstance, ClerkSettings,
    CorsSettings, DatabaseSettings, LogSettings, MetricsSettings, SecuritySettings, ServerSettings,
    Settings, SettingsError, SyncSettings, WebhookSettings, WhenFull,
};
use crate::clerk::jwt::AzpPolicy;
use crate::secret::Secret;

impl Settings {
    /// Checks every section, in the order of `Settings.toml`: the first invalid value is the one
    /// reported.
    pub(super) fn from_raw(raw: RawSettings) -> Result<Self, SettingsError> {
        let server = ServerSettings::from_raw(&raw.server)?;
        let log = LogSettings::from_raw(&raw.log)?;
        let database = DatabaseSettings::from_raw(&raw.database)?;
        let clerk = ClerkSettings::from_raw(&raw.clerk)?;
        let auth = AuthSettings::from_raw(&raw.auth, &clerk)?;
        let clerk_has_secret = clerk.secret_key.is_some();
        Ok(Self {
            server,
            log,
            database,
            clerk,
            auth,
            audit: AuditSettings::from_raw(&raw.audit)?,
            metrics: MetricsSettings::from_raw(&raw.metrics)?,
            webhooks: WebhookSettings::from_raw(&raw.webhooks)?,
            cors: CorsSettings {
                allowed_origins: parse::origin_list(&raw.cors.allowed_origins)
                    .map_err(|p| invalid("cors.allowed_origins", p))?,
            },
            security: SecuritySettings::from_raw(&raw.security)?,
            admin: AdminSettings::from_raw(&raw.admin)?,
            sync: SyncSettings::from_raw(&raw.sync, clerk_has_secret)?,
        })
    }
}

impl ClerkSettings {
    fn from_raw(raw: &RawClerk) -> Result<Self, SettingsError> {
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
        Ok(Self {
            secret_key: secret.map(|(_, s)| s),
            publishable_key: publishable,
            jwks_url: optional(&raw.jwks_url, "clerk.jwks_url", parse::service_url)?,
            jwt_key: optional(&raw.jwt_key, "clerk.jwt_key", parse::pem_public_key)?,
            webhook_secrets: parse::webhook_secrets(&raw.webhook_secret)
                .map_err(|p| invalid("clerk.webhook_secret", p))?,
            authorized_parties: parse::origin_list(&raw.authorized_parties)
                .map_err(|p| invalid("clerk.authorized_parties", p))?,
            api_url: parse::service_url(&raw.api_url).map_err(|p| invalid("clerk.api_url", p))?,
            jwks_cache_ttl: seconds(
                "clerk.jwks_cache_ttl_secs",
                &raw.jwks_cache_ttl_secs,
                1,
                86_400,
            )?,
            jwks_refetch_cooldown: seconds(
                "clerk.jwks_refetch_cooldown_secs",
                &raw.jwks_refetch_cooldown_secs,
                0,
                3600,
            )?,
            jwks_fetch_timeout: millis(
                "clerk.jwks_fetch_timeout_ms",
                &raw.jwks_fetch_timeout_ms,
                100,
                60_000,
            )?,
            api_timeout: millis("clerk.api_timeout_ms", &raw.api_timeout_ms, 100, 120_000)?,
        })
    }
}

impl AuthSettings {
    fn from_raw(raw: &RawAuth, clerk: &ClerkSettings) -> Result<Self, SettingsError> {
        let azp_policy = azp_policy(&raw.azp_policy, clerk)?;
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
        let (audience, accept_any_audience) = audience(raw)?;
        Ok(Self {
            clock_skew: millis("auth.clock_skew_ms", &raw.clock_skew_ms, 0, 300_000)?,
            azp_policy,
            audience,
            accept_any_audience,
            issuer,
            allow_pending_sessions,
            max_token_bytes: integer("auth.max_token_bytes", &raw.max_token_bytes, 1024, 1 << 20)?,
            token_cache_capacity: integer(
                "auth.token_cache_capacity",
                &raw.token_cache_capacity,
                0,
                10_000_000,
            )?,
            user_cache_capacity: integer(
                "auth.user_cache_capacity",
                &raw.user_cache_capacity,
                0,
                10_000_000,
            )?,
            user_cache_ttl: seconds(
                "auth.user_cache_ttl_secs",
                &raw.user_cache_ttl_secs,
                1,
                86_400,
            )?,
            revoked_session_retention: seconds(
                "auth.revoked_session_retention_secs",
                &raw.revoked_session_retention_secs,
                60,
                30 * 86_400,
            )?,
            revocation_sync: seconds(
                "auth.revocation_sync_secs",
                &raw.revocation_sync_secs,
                1,
                3600,
            )?,
            service_key_cache: seconds(
                "auth.service_key_cache_secs",
                &raw.service_key_cache_secs,
                0,
                3600,
            )?,
            failed_credential_budget: integer(
                "auth.failed_credential_budget",
                &raw.failed_credential_budget,
                1,
                100_000,
            )?,
        })
    }
}

impl ServerSettings {
    fn from_raw(raw: &RawServer) -> Result<Self, SettingsError> {
        Ok(Self {
            bind: parse::bind_address(&raw.bind).map_err(|p| invalid("server.bind", p))?,
            workers: integer("server.workers", &raw.workers, 0, 1024)?,
            shutdown_timeout: seconds(
                "server.shutdown_timeout_secs",
                &raw.shutdown_timeout_secs,
                0,
                3600,
            )?,
            trusted_proxies: raw
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
            hsts: boolean("server.hsts", &raw.hsts)?,
            debug: boolean("server.debug", &raw.debug)?,
        })
    }
}

impl LogSettings {
    fn from_raw(raw: &RawLog) -> Result<Self, SettingsError> {
        Ok(Self {
            filter: parse::log_filter(&raw.level).map_err(|p| invalid("log.level", p))?,
            json: match raw.format.trim() {
                "text" => false,
                "json" => true,
                other => {
                    return Err(invalid(
                        "log.format",
                        format!("expected text or json, got {other:?}"),
                    ))
                }
            },
            buffer_lines: integer("log.buffer_lines", &raw.buffer_lines, 1, 1_000_000)?,
        })
    }
}

impl DatabaseSettings {
    fn from_raw(db: &RawDatabase) -> Result<Self, SettingsError> {
        if db.data_dir.trim().is_empty() {
            return Err(invalid("database.data_dir", "must not be empty".into()));
        }
        Ok(Self {
            url: parse::database_url(&db.url, db.data_dir.trim())
                .map_err(|p| invalid("database.url", p))?,
            data_dir: PathBuf::from(db.data_dir.trim()),
            max_connections: integer("database.max_connections", &db.max_connections, 1, 1000)?,
            acquire_timeout: millis(
                "database.acquire_timeout_ms",
                &db.acquire_timeout_ms,
                10,
                600_000,
            )?,
            run_migrations: boolean("database.run_migrations", &db.run_migrations)?,
            sqlite_busy_timeout: millis(
                "database.sqlite_busy_timeout_ms",
                &db.sqlite_busy_timeout_ms,
                0,
                600_000,
            )?,
        })
    }
}

/// The shortest `sync.reconcile_interval`: each run lists every user, organization and membership
/// from Clerk, which a shorter period would keep doing back to back on a large instance (and a
/// restart loop would make worse). Webhooks carry changes in between.
pub const MIN_RECONCILE_INTERVAL: Duration = Duration::from_secs(300);

/// The longest: a longer period is a mistake in its unit more likely than a wish.
const MAX_RECONCILE_INTERVAL: Duration = Duration::from_secs(30 * 86_400);

impl SyncSettings {
    fn from_raw(raw: &RawSync, clerk_has_secret: bool) -> Result<Self, SettingsError> {
        const KEY: &str = "sync.reconcile_interval";
        let text = raw.reconcile_interval.trim();
        if text.is_empty() {
            return Ok(Self::default());
        }
        let interval = interval(text).ok_or_else(|| {
            invalid(
                KEY,
                format!("must be a number and a unit, s, m, h or d, like \"6h\" (got {text:?})"),
            )
        })?;
        if !(MIN_RECONCILE_INTERVAL..=MAX_RECONCILE_INTERVAL).contains(&interval) {
            return Err(invalid(
                KEY,
                format!("must be from 5m to 30d (got {text:?}); empty turns it off"),
            ));
        }
        if !clerk_has_secret {
            return Err(invalid(
                KEY,
                format!(
                    "needs clerk.secret_key ({}): the reconcile reads Clerk's Backend API; set it, or leave {KEY} empty",
                    env_name("clerk.secret_key")
                ),
            ));
        }
        Ok(Self {
            reconcile_interval: Some(interval),
        })
    }
}

/// `<digits><unit>`, unit one of s, m, h, d; at most 9 digits (any more is out of range anyway).
fn interval(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * seconds))
}

impl AuditSettings {
    fn from_raw(raw: &RawAudit) -> Result<Self, SettingsError> {
        Ok(Self {
            enabled: boolean("audit.enabled", &raw.enabled)?,
            queue_capacity: integer("audit.queue_capacity", &raw.queue_capacity, 1, 10_000_000)?,
            batch_size: integer("audit.batch_size", &raw.batch_size, 1, 100_000)?,
            linger: millis("audit.linger_ms", &raw.linger_ms, 1, 60_000)?,
            when_full: match raw.when_full.trim() {
                "wait" => WhenFull::Wait,
                "drop" => WhenFull::Drop,
                other => {
                    return Err(invalid(
                        "audit.when_full",
                        format!("expected wait or drop, got {other:?}"),
                    ))
                }
            },
            // Bounded: a request is not held longer than a client would wait for an answer.
            full_wait: millis("audit.full_wait_ms", &raw.full_wait_ms, 1, 60_000)?,
            retention: match integer::<u64>("audit.retention_days", &raw.retention_days, 0, 36_500)?
            {
                0 => None,
                days => Some(Duration::from_secs(days * 86_400)),
            },
        })
    }
}

impl MetricsSettings {
    fn from_raw(raw: &RawMetrics) -> Result<Self, SettingsError> {
        Ok(Self {
            token: match raw.token.as_str() {
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
        })
    }
}

impl WebhookSettings {
    fn from_raw(raw: &RawWebhooks) -> Result<Self, SettingsError> {
        Ok(Self {
            max_body_bytes: integer(
                "webhooks.max_body_bytes",
                &raw.max_body_bytes,
                1024,
                64 << 20,
            )?,
            tolerance_secs: integer("webhooks.tolerance_secs", &raw.tolerance_secs, 1, 3600)?,
        })
    }
}

impl SecuritySettings {
    fn from_raw(raw: &RawSecurity) -> Result<Self, SettingsError> {
        Ok(Self {
            secret_key: Some(&raw.secret_key)
                .filter(|s| !s.is_empty())
                .map(|s| parse::app_secret_key(s))
                .transpose()
                .map_err(|p| invalid("security.secret_key", p))?,
        })
    }
}

impl AdminSettings {
    fn from_raw(raw: &RawAdmin) -> Result<Self, SettingsError> {
        Ok(Self {
            enabled: boolean("admin.enabled", &raw.enabled)?,
            secure_cookie: match raw.secure_cookie.trim() {
                "auto" => None,
                other => Some(boolean("admin.secure_cookie", other)?),
            },
            session_idle: seconds(
                "admin.session_idle_secs",
                &raw.session_idle_secs,
                60,
                86_400,
            )?,
            session_lifetime: seconds(
                "admin.session_lifetime_secs",
                &raw.session_lifetime_secs,
                300,
                30 * 86_400,
            )?,
            login_max_failures: integer(
                "admin.login_max_failures",
                &raw.login_max_failures,
                1,
                1000,
            )?,
            login_ip_max_failures: integer(
                "admin.login_ip_max_failures",
                &raw.login_ip_max_failures,
                1,
                100_000,
            )?,
            login_window: seconds(
                "admin.login_window_secs",
                &raw.login_window_secs,
                60,
                86_400,
            )?,
            password_threads: integer("admin.password_threads", &raw.password_threads, 1, 16)?,
        })
    }
}

/// `parse::integer`, the problem reported under `key`.
fn integer<T>(key: &'static str, value: &str, min: T, max: T) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    parse::integer(value, min, max).map_err(|p| invalid(key, p))
}

/// A whole number of seconds, the problem reported under `key`.
fn seconds(key: &'static str, value: &str, min: u64, max: u64) -> Result<Duration, SettingsError> {
    integer(key, value, min, max).map(Duration::from_secs)
}

/// `parse::millis`, the problem reported under `key`.
fn millis(key: &'static str, value: &str, min: u64, max: u64) -> Result<Duration, SettingsError> {
    parse::millis(value, min, max).map_err(|p| invalid(key, p))
}

/// `parse::boolean`, the problem reported under `key`.
fn boolean(key: &'static str, value: &str) -> Result<bool, SettingsError> {
    parse::boolean(value).map_err(|p| invalid(key, p))
}

/// `auth.azp_policy`; `required` needs the authorized parties it requires.
fn azp_policy(raw: &str, clerk: &ClerkSettings) -> Result<AzpPolicy, SettingsError> {
    let azp_policy = match raw.trim() {
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
    Ok(azp_policy)
}

/// `auth.audience` and `auth.accept_any_audience`, which exclude each other.
fn audience(raw: &RawAuth) -> Result<(Vec<String>, bool), SettingsError> {
    let audience = parse::audience_list(&raw.audience).map_err(|p| invalid("auth.audience", p))?;
    let accept_any_audience = boolean("auth.accept_any_audience", &raw.accept_any_audience)?;
    // Both set would be read as "any audience" by one reader and "these audiences" by another.
    if accept_any_audience && !audience.is_empty() {
        return Err(invalid(
            "auth.accept_any_audience",
            "cannot be true while auth.audience lists audiences: the list already decides".into(),
        ));
    }
    Ok((audience, accept_any_audience))
}

fn instance_word(instance: ClerkInstance) -> &'static str {
    match instance {
        ClerkInstance::Development => "test (development)",
        ClerkInstance::Production => "live (production)",
    }
}
