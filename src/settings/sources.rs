//! Where settings come from and how the layers stack: built-in defaults (the embedded Settings.toml),
//! an optional override file, then the environment under two naming schemes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use super::SettingsError;

/// The repository's Settings.toml, compiled in: the documented defaults are the defaults.
pub const DEFAULTS_TOML: &str = include_str!("../../Settings.toml");

/// Override file looked for in the working directory when none is named.
pub const LOCAL_OVERRIDE_FILE: &str = "Settings.local.toml";

/// Environment variable naming an override file.
pub const CONFIG_FILE_ENV: &str = "AUTH_CORE_CONFIG";

/// Keys that keep the environment name of the Django app auth-core replaces.
pub const LEGACY_ENV_NAMES: &[(&str, &str)] = &[
    ("database.url", "DATABASE_URL"),
    ("clerk.secret_key", "CLERK_SECRET_KEY"),
    ("clerk.publishable_key", "CLERK_PUBLISHABLE_KEY"),
    ("clerk.jwks_url", "CLERK_JWKS_URL"),
    ("clerk.jwt_key", "CLERK_JWT_KEY"),
    ("clerk.webhook_secret", "CLERK_WEBHOOK_SECRET"),
    ("clerk.authorized_parties", "CLERK_AUTHORIZED_PARTIES"),
    ("cors.allowed_origins", "CORS_ALLOWED_ORIGINS"),
    ("security.secret_key", "SECRET_KEY"),
    ("server.debug", "DEBUG"),
];

/// The environment name of a key: its Django-era name where it has one, else `AUTH_CORE__SECTION__KEY`.
pub fn env_name(key: &str) -> String {
    LEGACY_ENV_NAMES
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| prefixed_env_name(key))
}

fn prefixed_env_name(key: &str) -> String {
    format!("AUTH_CORE__{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Everything settings are read from. Passed in rather than read from the process so that tests can
/// load settings in parallel, each from its own environment.
#[derive(Debug, Clone, Default)]
pub struct SettingsSources {
    /// Environment variables (after `.env` was merged in by the caller).
    pub env: HashMap<String, String>,
    /// Override file named on the command line; must exist.
    pub config_file: Option<PathBuf>,
    /// Directory in which `Settings.local.toml` is looked for.
    pub working_dir: PathBuf,
}

impl SettingsSources {
    /// The process environment (variables that are not valid UTF-8 are skipped: no key of ours is one).
    pub fn from_process(config_file: Option<PathBuf>) -> Self {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self {
            env,
            config_file,
            working_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    /// The override file in effect, if any, and whether it must exist.
    fn override_file(&self) -> Option<(PathBuf, bool)> {
        if let Some(path) = &self.config_file {
            return Some((path.clone(), true));
        }
        if let Some(path) = self.env.get(CONFIG_FILE_ENV).filter(|p| !p.is_empty()) {
            return Some((PathBuf::from(path), true));
        }
        let local = self.working_dir.join(LOCAL_OVERRIDE_FILE);
        local.is_file().then_some((local, false))
    }
}

/// Settings exactly as written, every value still a string: the typed [`super::Settings`] are parsed
/// from this so that every error message names its key in our own words.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub server: RawServer,
    pub log: RawLog,
    pub database: RawDatabase,
    pub clerk: RawClerk,
    pub auth: RawAuth,
    pub audit: RawAudit,
    pub metrics: RawMetrics,
    pub webhooks: RawWebhooks,
    pub cors: RawCors,
    pub security: RawSecurity,
    pub admin: RawAdmin,
    pub sync: RawSync,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub bind: String,
    pub workers: String,
    pub shutdown_timeout_secs: String,
    pub trusted_proxies: String,
    pub hsts: String,
    pub debug: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: String,
    pub format: String,
    pub buffer_lines: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: String,
    pub data_dir: String,
    pub max_connections: String,
    pub acquire_timeout_ms: String,
    pub run_migrations: String,
    pub sqlite_busy_timeout_ms: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClerk {
    pub secret_key: String,
    pub publishable_key: String,
    pub jwks_url: String,
    pub jwt_key: String,
    pub webhook_secret: String,
    pub authorized_parties: String,
    pub api_url: String,
    pub jwks_cache_ttl_secs: String,
    pub jwks_refetch_cooldown_secs: String,
    pub jwks_fetch_timeout_ms: String,
    pub api_timeout_ms: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub clock_skew_ms: String,
    pub azp_policy: String,
    pub audience: String,
    pub accept_any_audience: String,
    pub issuer: String,
    pub pending_sessions: String,
    pub max_token_bytes: String,
    pub token_cache_capacity: String,
    pub user_cache_capacity: String,
    pub user_cache_ttl_secs: String,
    pub revoked_session_retention_secs: String,
    pub revocation_sync_secs: String,
    pub service_key_cache_secs: String,
    pub failed_credential_budget: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    pub enabled: String,
    pub queue_capacity: String,
    pub batch_size: String,
    pub linger_ms: String,
    pub when_full: String,
    pub full_wait_ms: String,
    pub retention_days: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhooks {
    pub max_body_bytes: String,
    pub tolerance_secs: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCors {
    pub allowed_origins: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecurity {
    pub secret_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub enabled: String,
    pub secure_cookie: String,
    pub session_idle_secs: String,
    pub session_lifetime_secs: String,
    pub login_max_failures: String,
    pub login_ip_max_failures: String,
    pub login_window_secs: String,
    pub password_threads: String,
}

// The raw sections holding secrets print nothing of their values.
macro_rules! redacted_debug {
    ($($ty:ty),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), " { [redacted] }"))
            }
        }
    )*};
}
redacted_debug!(RawDatabase, RawClerk, RawSecurity, RawMetrics);

/// Stacks the layers and deserializes them.
pub fn load_raw(sources: &SettingsSources) -> Result<RawSettings, SettingsError> {
    let mut builder = Config::builder().add_source(File::from_str(DEFAULTS_TOML, FileFormat::Toml));
    if let Some((path, required)) = sources.override_file() {
        if required && !path.is_file() {
            return Err(SettingsError::Load(format!(
                "override file {} does not exist",
                path.display()
            )));
        }
        builder = builder.add_source(File::from(path.as_path()).format(FileFormat::Toml));
    }
    builder = builder.add_source(
        Environment::with_prefix("AUTH_CORE")
            .prefix_separator("__")
            .separator("__")
            .source(Some(sources.env.clone())),
    );
    for (key, legacy) in LEGACY_ENV_NAMES {
        let Some(value) = sources.env.get(*legacy) else {
            continue;
        };
        let prefixed = prefixed_env_name(key);
        if sources
            .env
            .get(&prefixed)
            .is_some_and(|other| other != value)
        {
            return Err(SettingsError::Conflict {
                first: (*legacy).to_owned(),
                second: prefixed,
            });
        }
        builder = builder
            .set_override(*key, value.as_str())
            .map_err(|e| SettingsError::Load(e.to_string()))?;
    }
    let config = builder
        .build()
        .map_err(|e| SettingsError::Load(describe_config_error(&e, sources)))?;
    config
        .try_deserialize()
        .map_err(|e| SettingsError::Load(describe_config_error(&e, sources)))
}

/// config's messages name the key but not which file or variable set it; add the override file's path
/// so an operator knows where to look. Values are never part of these messages (all fields are strings,
/// so the only failures are malformed files and unknown keys).
fn describe_config_error(error: &config::ConfigError, sources: &SettingsSources) -> String {
    match sources.override_file() {
        Some((path, _)) => format!(
            "{error} (layers: defaults, {}, environment)",
            display(&path)
        ),
        None => format!("{error} (layers: defaults, environment)"),
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    pub reconcile_interval: String,
}
