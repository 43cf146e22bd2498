//! Parsers for single setting values. Each returns the problem in words; the caller adds the key name.
//! Messages never quote a secret's value.

use std::path::PathBuf;
use std::time::Duration;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use url::Url;

use super::{ClerkInstance, DatabaseUrl, PublishableKey};
use crate::secret::Secret;

/// Standard base64 with or without padding: Clerk's keys and Svix secrets appear both ways.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub type Problem = String;

pub fn boolean(value: &str) -> Result<bool, Problem> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(format!(
            "expected true or false (also 1/0, yes/no, on/off), got {value:?}"
        )),
    }
}

pub fn integer<T>(value: &str, min: T, max: T) -> Result<T, Problem>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let parsed: T = value
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number, got {value:?}"))?;
    if parsed < min || parsed > max {
        return Err(format!("must be between {min} and {max}, got {parsed}"));
    }
    Ok(parsed)
}

pub fn millis(value: &str, min: u64, max: u64) -> Result<Duration, Problem> {
    integer(value, min, max).map(Duration::from_millis)
}

/// `host:port`, where host is an IP address or a name and port a number (0 = any free port).
pub fn bind_address(value: &str) -> Result<String, Problem> {
    let value = value.trim();
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| format!("expected host:port, got {value:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("expected host:port, got {value:?}"));
    }
    port.parse::<u16>()
        .map_err(|_| format!("port must be a number from 0 to 65535, got {port:?}"))?;
    Ok(value.to_owned())
}

/// An env_logger filter: comma-separated `level`, `target=level` or `target` directives. A bare word
/// that is neither a level nor a module path (`a::b`) is taken for a misspelt level.
pub fn log_filter(value: &str) -> Result<String, Problem> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |s: &str| LEVELS.contains(&s.to_ascii_lowercase().as_str());
    let unknown_level = |l: &str| {
        format!(
            "unknown log level {l:?} (expected one of {})",
            LEVELS.join(", ")
        )
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(unknown_level(""));
    }
    for directive in value.split(',').map(str::trim) {
        match directive.split_once('=') {
            Some((target, level)) => {
                if !is_level(level) {
                    return Err(unknown_level(level));
                }
                if !is_module_path(target) {
                    return Err(format!("invalid log target {target:?}"));
                }
            }
            None if is_level(directive) => {}
            None if directive.contains("::") && is_module_path(directive) => {}
            None => return Err(unknown_level(directive)),
        }
    }
    Ok(value.to_owned())
}

fn is_module_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `DATABASE_URL`. Empty means the embedded SQLite file in the data directory.
pub fn database_url(value: &str, data_dir: &str) -> Result<DatabaseUrl, Problem> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(DatabaseUrl::Sqlite(
            PathBuf::from(data_dir).join("auth-core.sqlite3"),
        ));
    }
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        let url = Url::parse(value).map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
        if url.host_str().is_none_or(str::is_empty) && !value.contains("host=") {
            return Err("a PostgreSQL URL needs a host (postgres://user@host/db)".into());
        }
        return Ok(DatabaseUrl::Postgres(Secret::new(value)));
    }
    let path = if let Some(rest) = value.strip_prefix("sqlite://") {
        // dj-database-url style: sqlite:///relative.db and sqlite:////absolute.db
        match rest.strip_prefix('/') {
            Some(after) => after,
            None => rest,
        }
    } else if let Some(rest) = value.strip_prefix("sqlite:") {
        rest
    } else if value.contains("://") {
        let scheme = value.split("://").next().unwrap_or_default();
        return Err(format!(
            "unsupported database scheme {scheme:?}: use postgres://… or sqlite://…"
        ));
    } else {
        value
    };
    if path.is_empty() {
        return Err("a SQLite URL needs a file path (sqlite://data/auth-core.sqlite3)".into());
    }
    if path == ":memory:" || path.contains("mode=memory") {
        return Err("in-memory SQLite cannot back a connection pool (each connection would see its own empty database); give a file path".into());
    }
    Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
}

/// An http(s) URL. Plain http is accepted only for a loopback host (local stand-ins, tests):
/// keys and secrets must not travel in clear text.
pub fn service_url(value: &str) -> Result<Url, Problem> {
    let url = Url::parse(value.trim()).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(
                "must use https (plain http is accepted only for localhost/127.0.0.1/[::1])".into(),
            )
        }
        other => return Err(format!("must be an https URL, not {other}:")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("URL has no host".into());
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A browser origin: scheme, host and optional port, no path. Returned without a trailing slash,
/// in the form a browser sends in `Origin` and Clerk puts in `azp`.
pub fn origin(value: &str) -> Result<String, Problem> {
    let value = value.trim();
    if value == "*" {
        return Err("\"*\" is not allowed: list each origin (credentials must never be offered to any site)".into());
    }
    let url = Url::parse(value)
        .map_err(|_| format!("{value:?} is not an origin like https://app.example.com"))?;
    let path_ok = url.path().is_empty() || url.path() == "/";
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !path_ok
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(format!(
            "{value:?} is not an origin like https://app.example.com (scheme and host, no path)"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

pub fn origin_list(value: &str) -> Result<Vec<String>, Problem> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(origin)
        .collect()
}

/// Comma-separated audience values (any `StringOrURI`): trimmed, empty items skipped. Whitespace or
/// control characters inside one are refused: they are a typo (a missing comma), never an audience.
pub fn audience_list(value: &str) -> Result<Vec<String>, Problem> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                Err(format!(
                    "{s:?} contains whitespace; separate audiences with commas"
                ))
            } else if s.len() > 512 {
                Err("an audience is at most 512 characters".into())
            } else {
                Ok(s.to_owned())
            }
        })
        .collect()
}

/// `sk_test_…` / `sk_live_…`.
pub fn clerk_secret_key(value: &str) -> Result<(ClerkInstance, Secret), Problem> {
    let value = value.trim();
    let (instance, rest) = if let Some(rest) = value.strip_prefix("sk_test_") {
        (ClerkInstance::Development, rest)
    } else if let Some(rest) = value.strip_prefix("sk_live_") {
        (ClerkInstance::Production, rest)
    } else {
        return Err("must start with sk_test_ or sk_live_".into());
    };
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("malformed: expected letters and digits after sk_test_/sk_live_".into());
    }
    Ok((instance, Secret::new(value)))
}

/// `pk_test_…` / `pk_live_…` followed by base64 of `"<frontend api host>$"`, as Clerk's
/// `parsePublishableKey` reads it.
pub fn publishable_key(value: &str) -> Result<PublishableKey, Problem> {
    let value = value.trim();
    let (instance, encoded) = if let Some(rest) = value.strip_prefix("pk_test_") {
        (ClerkInstance::Development, rest)
    } else if let Some(rest) = value.strip_prefix("pk_live_") {
        (ClerkInstance::Production, rest)
    } else {
        return Err("must start with pk_test_ or pk_live_".into());
    };
    let decoded = BASE64_LENIENT
        .decode(encoded)
        .map_err(|_| "malformed: the part after pk_test_/pk_live_ is not base64".to_owned())?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| "malformed: does not decode to a host name".to_owned())?;
    let host = decoded
        .strip_suffix('$')
        .ok_or_else(|| "malformed: the decoded value does not end with '$'".to_owned())?;
    let host_ok = host.contains('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !host_ok {
        return Err("malformed: does not decode to a Frontend API host name".into());
    }
    Ok(PublishableKey {
        raw: value.to_owned(),
        instance,
        frontend_api: host.to_owned(),
    })
}

/// One or more `whsec_<base64>` secrets, separated by spaces or commas (several during rotation).
pub fn webhook_secrets(value: &str) -> Result<Vec<Secret>, Problem> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, part)| {
            let n = i + 1;
            let encoded = part
                .strip_prefix("whsec_")
                .ok_or_else(|| format!("secret #{n} must start with whsec_"))?;
            match BASE64_LENIENT.decode(encoded) {
                Ok(bytes) if !bytes.is_empty() => Ok(Secret::new(part)),
                _ => Err(format!("secret #{n}: the part after whsec_ is not base64")),
            }
        })
        .collect()
}

/// A PEM public key. Environment variables often carry PEM with literal `\n`; those are turned into
/// newlines. The key's structure is parsed where tokens are verified; here the framing and base64 body
/// are checked so that a truncated paste fails at start-up.
pub fn pem_public_key(value: &str) -> Result<String, Problem> {
    let pem = value.trim().replace("\\n", "\n");
    let (begin, end) = if pem.starts_with("-----BEGIN PUBLIC KEY-----") {
        ("-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----")
    } else if pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        (
            "-----BEGIN RSA PUBLIC KEY-----",
            "-----END RSA PUBLIC KEY-----",
        )
    } else {
        return Err("expected a PEM public key starting with -----BEGIN PUBLIC KEY-----".into());
    };
    let body = pem
        .strip_prefix(begin)
        .and_then(|rest| rest.trim_end().strip_suffix(end))
        .ok_or_else(|| format!("PEM is truncated: no {end} line"))?;
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    match base64::engine::general_purpose::STANDARD.decode(body) {
        Ok(der) if der.len() >= 64 => Ok(pem),
        _ => Err("PEM body is not a base64-encoded key".into()),
    }
}

/// `SECRET_KEY`: long enough to derive cookie keys from.
pub fn app_secret_key(value: &str) -> Result<Secret, Problem> {
    if value.chars().count() < 32 {
        return Err(format!(
            "must be at least 32 characters (got {})",
            value.chars().count()
        ));
    }
    Ok(Secret::new(value))
}
