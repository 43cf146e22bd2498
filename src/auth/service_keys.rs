//! Service API keys: how servers call auth-core without a user.
//!
//! A key reads `ack_<prefix>_<secret>`: `ack_` marks it as auth-core's (never confused with Clerk's
//! `sk_`/`ak_` keys), the 12-character prefix is public and finds the key, the secret is 256 random
//! bits (base64url). Only SHA-256 of the secret is stored and compared in constant time. A key is
//! bound to one organization or global, carries scopes, may expire, can be revoked, and records when
//! it was last used. Verified keys are remembered for `auth.service_key_cache_secs`, so a revocation
//! made elsewhere (the CLI, another instance) takes effect within that time; one made by this process
//! takes effect at once. A key bound to an organization deleted in Clerk is refused
//! (`organization-deleted`, see `bound_organization`).
//!
//! A key that is not of the exact shape auth-core issues is refused by [`check_shape`] before any
//! database query.

mod lifetime;
mod state;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use moka::sync::Cache;
use sha2::{Digest, Sha256};

use super::bound_organization;
use super::forgettable::Forgettable;
use crate::clerk::reason::Reason;
use crate::clock::Clock;
use crate::db::service_keys::{self, NewServiceKey, ServiceKeyRow};
use crate::db::{Db, DbConnection, DbError};

pub use lifetime::{parse_lifetime, LifetimeError};
pub use state::KeyState;

pub const KEY_PREFIX: &str = "ack_";
const PREFIX_LEN: usize = 12;
/// 32 random bytes in unpadded base64url.
const SECRET_LEN: usize = 43;

/// What a verified key grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceKeyPrincipal {
    pub id: String,
    pub name: String,
    pub organization_id: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// A newly created key: the only moment its secret exists outside the caller's hands.
pub struct CreatedKey {
    pub id: String,
    pub secret: String,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a key and returns its secret (shown once, stored only hashed).
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    organization_id: Option<&str>,
    scopes: &[String],
    expires_at: Option<i64>,
    created_by: Option<&str>,
    now_ms: i64,
) -> Result<CreatedKey, KeyError> {
    let prefix: String = random_bytes::<6>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let id = format!("key_{prefix}");
    service_keys::insert(
        conn,
        &NewServiceKey {
            id: id.clone(),
            name: name.to_owned(),
            prefix: prefix.clone(),
            secret_hash: hash(&secret),
            organization_id: organization_id.map(str::to_owned),
            scopes: serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into()),
            created_by: created_by.map(str::to_owned),
            expires_at,
        },
        now_ms,
    )?;
    Ok(CreatedKey {
        id,
        secret: format!("{KEY_PREFIX}{prefix}_{secret}"),
    })
}

/// Splits `ack_<prefix>_<secret>`: 12 hex digits, then 43 base64url characters, as [`create`]
/// makes them. `None` for anything else, which therefore never costs a query.
fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (prefix, secret) = rest.split_at_checked(PREFIX_LEN)?;
    let secret = secret.strip_prefix('_')?;
    let well_formed = prefix.bytes().all(|b| b.is_ascii_hexdigit())
        && secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then_some((prefix, secret))
}

/// `service-key-invalid` for a key that cannot be one auth-core issued.
pub fn check_shape(key: &str) -> Result<(), Reason> {
    parse(key).map(|_| ()).ok_or(Reason::ServiceKeyInvalid)
}

/// Judges a stored key against the presented secret at `now_ms`.
fn judge(row: &ServiceKeyRow, secret: &str, now_ms: i64) -> Result<ServiceKeyPrincipal, Reason> {
    if !crate::constant_time::eq(row.secret_hash.as_bytes(), hash(secret).as_bytes()) {
        return Err(Reason::ServiceKeyInvalid);
    }
    match KeyState::of(row, now_ms) {
        KeyState::Revoked => return Err(Reason::ServiceKeyRevoked),
        KeyState::Expired => return Err(Reason::ServiceKeyExpired),
        KeyState::Active => {}
    }
    Ok(ServiceKeyPrincipal {
        id: row.id.clone(),
        name: row.name.clone(),
        organization_id: row.organization_id.clone(),
        scopes: serde_json::from_str(&row.scopes).unwrap_or_default(),
    })
}

pub struct ServiceKeyVerifier {
    db: Db,
    clock: Clock,
    cache_for_ms: i64,
    /// Key text → (principal, verified at ms, expires at ms).
    verified: Forgettable<Arc<str>, (Arc<ServiceKeyPrincipal>, i64, Option<i64>)>,
}

impl ServiceKeyVerifier {
    pub fn new(db: Db, clock: Clock, cache_for: Duration) -> Self {
        Self {
            db,
            clock,
            cache_for_ms: i64::try_from(cache_for.as_millis()).unwrap_or(i64::MAX),
            verified: Forgettable::new(
                Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(cache_for.max(Duration::from_millis(1)))
                    .build(),
            ),
        }
    }

    /// The key's principal when it was verified within `auth.service_key_cache_secs` and has not
    /// expired since: no query.
    pub fn cached(&self, key: &str) -> Option<Arc<ServiceKeyPrincipal>> {
        let now = self.clock.now_ms();
        let (principal, at, expires) = self.verified.get(key)?;
        if now - at < self.cache_for_ms && expires.is_none_or(|e| now < e) {
            return Some(principal);
        }
        self.verified.invalidate(key);
        None
    }

    /// Verifies the key against the database (one query, two for a key bound to an organization)
    /// and remembers it when valid.
    pub async fn look_up(&self, key: &str) -> Result<Arc<ServiceKeyPrincipal>, Reason> {
        let now = self.clock.now_ms();
        let (prefix, secret) = parse(key).ok_or(Reason::ServiceKeyInvalid)?;
        let (prefix, secret) = (prefix.to_owned(), secret.to_owned());
        let ticket = self.verified.ticket(key);
        let row = self
            .db
            .run(move |conn| {
                let Some(row) = service_keys::find_by_prefix(conn, &prefix)? else {
                    return Ok(None);
                };
                let mut verdict = judge(&row, &secret, now);
                if let Ok(principal) = &verdict {
                    let organization = principal.organization_id.as_deref();
                    if let Some(reason) = bound_organization::refusal(conn, organization)? {
                        verdict = Err(reason);
                    }
                }
                // Recorded on verification from the database: at most once per cache period per key.
                if verdict.is_ok() {
                    service_keys::touch(conn, &row.id, now)?;
                }
                Ok(Some((verdict, row.expires_at)))
            })
            .await
            .map_err(|_| Reason::ServiceKeyUnavailable)?;
        let (verdict, expires) = row.ok_or(Reason::ServiceKeyInvalid)?;
        let principal = Arc::new(verdict?);
        self.verified
            .insert(Arc::from(key), (principal.clone(), now, expires), ticket);
        Ok(principal)
    }

    /// Forgets every remembered key (a key was revoked by this process, or an organization deleted),
    /// including what lookups under way would remember.
    pub fn forget_all(&self) {
        self.verified.forget_all();
    }
}
