//! The identity assertion of `/api/auth/verify` (`X-Auth-Assertion`): a JWT signed with auth-core's
//! own Ed25519 key (`alg: EdDSA`), so an upstream behind a proxy can check that the identity came from
//! auth-core and not from a client that reached it directly. Public keys are served at
//! `/.well-known/auth-core/jwks.json`.
//!
//! Invariants this module keeps:
//! - The warm path makes no database round trip: the keys are loaded at start-up (the first one
//!   created there, insert-if-absent, so instances on one database agree) and reloaded in the
//!   background at most every [`RELOAD_INTERVAL_MS`], triggered by the requests themselves
//!   ([`AssertionKeys::reload_if_due`]); signing uses key pairs parsed once, at load.
//! - A rotated key is published [`ROTATION_LEAD_MS`] before any instance signs with it (longer than
//!   a reload plus the JWKS document's `max-age`), so an upstream never sees a `kid` its fresh JWKS
//!   lacks; the keys before it stay published until every assertion they signed has expired.
//! - An assertion lives [`LIFETIME_SECS`]; the same identity gets the same signed assertion for at
//!   most [`REUSE_SECS`] (a signature per request is the one cost a cached credential still has),
//!   so every assertion handed out has at least `LIFETIME_SECS - REUSE_SECS` left.
//! - A reload that finds the published keys changed (a rotation, a retirement, an immediate
//!   rotation's unpublishing) moves [`AssertionKeys::key_epoch`] on, and no assertion signed under an
//!   earlier epoch is handed out again: the next request for each identity signs with the keys just
//!   loaded. The epoch moves after the new keys are in place, so an assertion recorded with the new
//!   epoch was signed with them (`identity_headers` relies on the same rule).
//! - Claims: `iss` is always [`ISSUER`] (a fixed name, not a URL: auth-core has no public-URL setting
//!   and upstreams pin it); no `aud` (the assertion is for whatever upstream the proxy forwards to;
//!   an upstream that must not accept another's assertions is a deployment with its own database).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::db::assertion_keys::{self as stored, NewKey, StoredKey};
use crate::db::{Db, DbError};

/// The `iss` of every assertion.
pub const ISSUER: &str = "auth-core";
/// How long an assertion is valid (`exp - iat`).
pub const LIFETIME_SECS: i64 = 30;
/// How long one signed assertion is handed out again for the same identity.
pub const REUSE_SECS: i64 = 5;
/// How often a running instance reads the keys again (a rotation reaches it within this).
pub const RELOAD_INTERVAL_MS: i64 = 60_000;
/// `Cache-Control: max-age` of the JWKS document, in seconds.
pub const JWKS_MAX_AGE_SECS: i64 = 300;
/// How long after `rotate` the new key starts signing: every instance has reloaded, and every
/// upstream's cached JWKS has expired, by then.
pub const ROTATION_LEAD_MS: i64 = RELOAD_INTERVAL_MS + JWKS_MAX_AGE_SECS * 1000;
/// How long a replaced key stays published after its successor starts signing: its last
/// assertions' lifetime, plus a reload interval for instances whose clocks lag.
pub const RETIREMENT_DELAY_MS: i64 = LIFETIME_SECS * 1000 + RELOAD_INTERVAL_MS;

#[derive(Debug, thiserror::Error)]
pub enum AssertionKeyError {
    #[error("assertion keys: {0}")]
    Database(#[from] DbError),
    #[error("the operating system's random source failed while generating an assertion key")]
    Random,
    #[error("stored assertion key {kid} cannot be read ({why}); rotate with `auth-core assertion-keys rotate --immediately`")]
    Unreadable { kid: String, why: &'static str },
    #[error("no assertion key is active yet")]
    NoActiveKey,
    #[error("an assertion or key set could not be encoded as JSON")]
    Encoding,
}

/// Who an assertion is about: the identity `/api/auth/verify` answers with, as claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Identity {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_role: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub org_permissions: Vec<String>,
    /// `user`, `service` or `machine`.
    pub principal: &'static str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'static str,
    iat: i64,
    exp: i64,
    #[serde(flatten)]
    identity: &'a Identity,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// A freshly generated key pair, in the stored form.
pub struct GeneratedKey {
    pub kid: String,
    pub private_key: String,
    pub public_key: String,
}

/// Generates an Ed25519 key pair; its `kid` is its RFC 7638 JWK thumbprint.
pub fn generate() -> Result<GeneratedKey, AssertionKeyError> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| AssertionKeyError::Random)?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| AssertionKeyError::Random)?;
    let public_key = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    Ok(GeneratedKey {
        kid: thumbprint(&public_key),
        private_key: URL_SAFE_NO_PAD.encode(pkcs8.as_ref()),
        public_key,
    })
}

/// RFC 7638: SHA-256 of the required members in lexicographic order, without whitespace.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

struct LoadedKey {
    kid: String,
    pair: Ed25519KeyPair,
    activates_at: i64,
}

/// A signed assertion as handed out: the token, its `iat`, and the key epoch it was signed under.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub token: Arc<str>,
    pub issued_at: i64,
    pub key_epoch: u64,
}

/// The keys as last loaded, and the JWKS document made from them.
struct KeySet {
    /// Oldest generation first.
    keys: Vec<LoadedKey>,
    jwks: actix_web::web::Bytes,
}

impl KeySet {
    fn empty() -> Self {
        Self {
            keys: Vec::new(),
            jwks: actix_web::web::Bytes::from_static(br#"{"keys":[]}"#),
        }
    }

    fn from_stored(rows: Vec<StoredKey>) -> Result<Self, AssertionKeyError> {
        let mut keys = Vec::with_capacity(rows.len());
        let mut jwks = Vec::with_capacity(rows.len());
        for row in rows {
            let unreadable = |why| AssertionKeyError::Unreadable {
                kid: row.kid.clone(),
                why,
            };
            let der = URL_SAFE_NO_PAD
                .decode(&row.private_key)
                .map_err(|_| unreadable("not base64url"))?;
            let pair = Ed25519KeyPair::from_pkcs8(&der)
                .map_err(|_| unreadable("not an Ed25519 PKCS#8 key"))?;
            if URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()) != row.public_key {
                return Err(unreadable("the public key does not match the private key"));
            }
            jwks.push(serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                "kid": row.kid, "x": row.public_key,
            }));
            keys.push(LoadedKey {
                kid: row.kid,
                pair,
                activates_at: row.activates_at,
            });
        }
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": jwks }))
            .map_err(|_| AssertionKeyError::Encoding)?;
        Ok(Self {
            keys,
            jwks: jwks.into(),
        })
    }

    /// Whether `other` publishes the same keys, activating at the same moments.
    fn same_keys(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && self
                .keys
                .iter()
                .zip(&other.keys)
                .all(|(a, b)| a.kid == b.kid && a.activates_at == b.activates_at)
    }

    /// The newest key whose activation has come.
    fn signing_key(&self, now_ms: i64) -> Option<&LoadedKey> {
        self.keys.iter().rev().find(|k| k.activates_at <= now_ms)
    }
}

/// auth-core's assertion keys, in memory, with the signed assertions recently handed out.
pub struct AssertionKeys {
    db: Db,
    clock: Clock,
    current: RwLock<Arc<KeySet>>,
    next_reload_ms: AtomicI64,
    /// Moves on when a reload finds the published keys changed (see the module's invariants).
    key_epoch: AtomicU64,
    /// Identity → its last assertion: the same identity within [`REUSE_SECS`], under the same key
    /// epoch, gets the same one.
    recent: moka::sync::Cache<Identity, Assertion>,
}

impl AssertionKeys {
    /// At start-up (blocking): creates the first key if the database has none, then loads the keys.
    /// A database that cannot be read now does not stop the start (readiness reports it): the keys
    /// are then loaded by the first requests, and until they are, a check answers 503. A stored key
    /// that cannot be read does stop it.
    pub fn load_or_create(db: Db, clock: Clock) -> Result<Self, AssertionKeyError> {
        let now = clock.now_ms();
        let (set, next_reload_ms) = match load(&db, now) {
            Ok(set) => (set, now + RELOAD_INTERVAL_MS),
            Err(AssertionKeyError::Database(error)) => {
                log::warn!(
                    "assertion keys not loaded yet ({error}); retrying on the next requests"
                );
                (KeySet::empty(), now)
            }
            Err(error) => return Err(error),
        };
        Ok(Self {
            db,
            clock,
            current: RwLock::new(Arc::new(set)),
            next_reload_ms: AtomicI64::new(next_reload_ms),
            key_epoch: AtomicU64::new(0),
            recent: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(REUSE_SECS.unsigned_abs()))
                .build(),
        })
    }

    fn set(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(set) => set.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether no key is loaded (the database was unreadable since start-up).
    pub fn is_empty(&self) -> bool {
        self.set().keys.is_empty()
    }

    /// Reads the keys again (blocking), creating the first one if there is none. Keeps the loaded
    /// ones if the database fails.
    pub fn reload(&self) -> Result<(), AssertionKeyError> {
        let set = Arc::new(load(&self.db, self.clock.now_ms())?);
        let changed = {
            let mut current = match self.current.write() {
                Ok(current) => current,
                Err(poisoned) => poisoned.into_inner(),
            };
            let changed = !current.same_keys(&set);
            *current = set;
            changed
        };
        if changed {
            // After the swap (Release, read with Acquire in `assert`): whoever sees the new epoch
            // signs with the new keys.
            self.key_epoch.fetch_add(1, Ordering::Release);
        }
        Ok(())
    }

    /// Moves on each time a reload finds the published keys changed; an assertion (and anything
    /// made from one) is handed out again only under the epoch it was signed in.
    pub fn key_epoch(&self) -> u64 {
        self.key_epoch.load(Ordering::Acquire)
    }

    /// Starts a background reload when the last one is older than [`RELOAD_INTERVAL_MS`]; at most
    /// one runs at a time. Must be called on the Actix runtime (from a handler).
    pub fn reload_if_due(self: &Arc<Self>) {
        let now = self.clock.now_ms();
        let due = self.next_reload_ms.load(Ordering::Relaxed);
        if now < due
            || self
                .next_reload_ms
                .compare_exchange(
                    due,
                    now + RELOAD_INTERVAL_MS,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let keys = self.clone();
        let loading = self.clone();
        actix_web::rt::spawn(async move {
            let reloaded = actix_web::rt::task::spawn_blocking(move || loading.reload()).await;
            let failed = match reloaded {
                Ok(Ok(())) => false,
                Ok(Err(error)) => {
                    log::warn!("assertion keys not reloaded: {error}");
                    true
                }
                Err(_) => {
                    log::warn!("assertion keys not reloaded: the reload task failed");
                    true
                }
            };
            if failed && keys.is_empty() {
                // Nothing to sign with yet: try again a second from now, not a minute.
                let retry = keys.clock.now_ms() + 1000;
                keys.next_reload_ms.store(retry, Ordering::Relaxed);
            }
        });
    }

    /// The JWKS document: every published public key.
    pub fn jwks(&self) -> actix_web::web::Bytes {
        self.set().jwks.clone()
    }

    /// A signed assertion about `identity`, reused for [`REUSE_SECS`] within one key epoch.
    pub fn assert(&self, identity: &Identity) -> Result<Assertion, AssertionKeyError> {
        // Read before the keys are: an assertion is never recorded under a newer epoch than the
        // keys that signed it.
        let key_epoch = self.key_epoch();
        let now_ms = self.clock.now_ms();
        let now_s = now_ms.div_euclid(1000);
        if let Some(recent) = self.recent.get(identity) {
            if still_reusable(recent.issued_at, recent.key_epoch, now_s, key_epoch) {
                return Ok(recent);
            }
        }
        let assertion = Assertion {
            token: self.sign(identity, now_ms)?.into(),
            issued_at: now_s,
            key_epoch,
        };
        self.recent.insert(identity.clone(), assertion.clone());
        Ok(assertion)
    }

    fn sign(&self, identity: &Identity, now_ms: i64) -> Result<String, AssertionKeyError> {
        let set = self.set();
        // Milliseconds, as the activation is stored: a key created this second signs at once.
        let key = set
            .signing_key(now_ms)
            .ok_or(AssertionKeyError::NoActiveKey)?;
        let now_s = now_ms.div_euclid(1000);
        let header = Header {
            alg: "EdDSA",
            typ: "JWT",
            kid: &key.kid,
        };
        let claims = Claims {
            iss: ISSUER,
            iat: now_s,
            exp: now_s + LIFETIME_SECS,
            identity,
        };
        let mut jwt = String::with_capacity(512);
        for part in [serde_json::to_vec(&header), serde_json::to_vec(&claims)] {
            let part = part.map_err(|_| AssertionKeyError::Encoding)?;
            if !jwt.is_empty() {
                jwt.push('.');
            }
            URL_SAFE_NO_PAD.encode_string(part, &mut jwt);
        }
        let signature = key.pair.sign(jwt.as_bytes());
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jwt);
        Ok(jwt)
    }
}

/// Whether an assertion issued at `issued_at` (seconds) under `key_epoch` may be handed out again at
/// `now_s` when the keys are at `current_epoch`. On auth-core's clock: a cache's own expiry runs on
/// the system clock.
pub fn still_reusable(issued_at: i64, key_epoch: u64, now_s: i64, current_epoch: u64) -> bool {
    key_epoch == current_epoch && (0..REUSE_SECS).contains(&(now_s - issued_at))
}

/// The published keys, the first one created if there is none (insert-if-absent, then read).
fn load(db: &Db, now: i64) -> Result<KeySet, AssertionKeyError> {
    let mut conn = db.get()?;
    if stored::published(&mut conn, now)?.is_empty() {
        let key = generate()?;
        if stored::insert_first_if_absent(&mut conn, &new_key(&key), now)? {
            log::info!("generated the first assertion key {} (Ed25519)", key.kid);
        }
    }
    let set = KeySet::from_stored(stored::published(&mut conn, now)?)?;
    if set.signing_key(now).is_none() {
        // Keys exist but none signs yet (generation 1 deleted by hand after a rotation): keep what
        // is loaded rather than sign with nothing.
        return Err(AssertionKeyError::NoActiveKey);
    }
    Ok(set)
}

fn new_key(key: &GeneratedKey) -> NewKey<'_> {
    NewKey {
        kid: &key.kid,
        private_key: &key.private_key,
        public_key: &key.public_key,
    }
}

/// What `auth-core assertion-keys rotate` did.
pub struct Rotated {
    pub kid: String,
    pub activates_at: i64,
    pub previous_retire_at: i64,
}

/// Generates and stores the next key (blocking, for the command line). Normally it signs from
/// [`ROTATION_LEAD_MS`] from now and the keys before it are published until
/// [`RETIREMENT_DELAY_MS`] after that; `immediately` (a key believed compromised) makes it sign at
/// once and unpublishes the others now: running instances pick the new key up within
/// [`RELOAD_INTERVAL_MS`], and assertions the old key signs until then fail verification (closed).
pub fn rotate(db: &Db, now_ms: i64, immediately: bool) -> Result<Rotated, AssertionKeyError> {
    let key = generate()?;
    // With no key yet (rotated before any start), there is nothing to publish ahead of.
    let first = stored::published(&mut *db.get()?, now_ms)?.is_empty();
    let (activates_at, previous_retire_at) = if first {
        // As the first start's key: active since ever, whatever the clocks of the instances.
        (0, now_ms)
    } else if immediately {
        (now_ms, now_ms)
    } else {
        let activates_at = now_ms + ROTATION_LEAD_MS;
        (activates_at, activates_at + RETIREMENT_DELAY_MS)
    };
    stored::rotate(
        &mut *db.get()?,
        &new_key(&key),
        now_ms,
        activates_at,
        previous_retire_at,
    )?;
    Ok(Rotated {
        kid: key.kid,
        activates_at,
        previous_retire_at,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn thumbprint_is_rfc_7638() {
        // RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn the_signing_key_is_the_newest_active_one() {
        let rows = (1..=3)
            .map(|generation| {
                let key = generate().unwrap();
                StoredKey {
                    generation,
                    kid: key.kid,
                    private_key: key.private_key,
                    public_key: key.public_key,
                    created_at: 0,
                    activates_at: i64::from(generation) * 100,
                    retires_at: None,
                }
            })
            .collect::<Vec<_>>();
        let kids: Vec<String> = rows.iter().map(|r| r.kid.clone()).collect();
        let set = KeySet::from_stored(rows).unwrap();
        assert!(set.signing_key(99).is_none());
        assert_eq!(set.signing_key(100).unwrap().kid, kids[0]);
        assert_eq!(set.signing_key(299).unwrap().kid, kids[1]);
        assert_eq!(set.signing_key(300).unwrap().kid, kids[2]);
    }

    #[test]
    fn an_assertion_is_reused_within_its_second_window_and_key_epoch_only() {
        let iat = 1_800_000_000;
        for (now, epoch, reusable) in [
            (iat, 3, true),
            (iat + REUSE_SECS - 1, 3, true),
            (iat + REUSE_SECS, 3, false),
            // A clock set back: not reused either.
            (iat - 1, 3, false),
            // A reload found the keys changed.
            (iat, 4, false),
        ] {
            assert_eq!(
                still_reusable(iat, 3, now, epoch),
                reusable,
                "{now} {epoch}"
            );
        }
    }

    #[test]
    fn a_key_set_is_the_same_only_with_the_same_keys_and_activations() {
        let rows = |activations: &[i64], keys: &[&GeneratedKey]| {
            let rows = keys
                .iter()
                .zip(activations)
                .enumerate()
                .map(|(i, (key, &activates_at))| StoredKey {
                    generation: i32::try_from(i).unwrap() + 1,
                    kid: key.kid.clone(),
                    private_key: key.private_key.clone(),
                    public_key: key.public_key.clone(),
                    created_at: 0,
                    activates_at,
                    retires_at: None,
                })
                .collect();
            KeySet::from_stored(rows).unwrap()
        };
        let (a, b) = (generate().unwrap(), generate().unwrap());
        let one = rows(&[0], &[&a]);
        assert!(one.same_keys(&rows(&[0], &[&a])));
        // A rotation published, then an immediate one, then the old key retired.
        assert!(!one.same_keys(&rows(&[0, 100], &[&a, &b])));
        assert!(!rows(&[0, 100], &[&a, &b]).same_keys(&rows(&[0, 50], &[&a, &b])));
        assert!(!one.same_keys(&rows(&[100], &[&b])));
    }

    #[test]
    fn a_mismatched_public_key_is_refused() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        let row = StoredKey {
            generation: 1,
            kid: a.kid,
            private_key: a.private_key,
            public_key: b.public_key,
            created_at: 0,
            activates_at: 0,
            retires_at: None,
        };
        assert!(matches!(
            KeySet::from_stored(vec![row]),
            Err(AssertionKeyError::Unreadable { .. })
        ));
    }
}
