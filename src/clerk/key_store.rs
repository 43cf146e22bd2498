//! The keys that verify session tokens, kept by kid for one key source.
//!
//! - Keys are decoded once, when a JWKS arrives, and used until the next successful fetch replaces
//!   them. One store serves one source, so one source's keys never verify another's tokens.
//! - TTL: a key set older than `ttl` (measured from its fetch; use does not extend it) is refetched
//!   before it is used again.
//! - Unknown kid: triggers a refetch at most once per `refetch_cooldown`, however many requests carry
//!   it; concurrent refetches are merged into one (single flight).
//! - Stale on error: when a refetch fails, the keys already known keep working; the outage is
//!   logged once per `outage_log_interval`, not per request.
//! - Readiness: a key set is available within its TTL and, served stale, for `stale_grace` after
//!   it; older than that (or never fetched), the store is not ready, though known keys stay in use.
//! - A PEM key (`CLERK_JWT_KEY`) is a store of one key that never expires and needs no network;
//!   as in Clerk's SDK, it verifies tokens whatever their kid.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::jwks::KeysByKid;
use super::jwks_fetch::JwksClient;
use super::reason::Reason;
use super::rsa_key::RsaPublicKey;
use crate::clock::Clock;

#[derive(Debug, Clone, Copy)]
pub struct KeyStoreConfig {
    pub ttl: Duration,
    pub refetch_cooldown: Duration,
    pub outage_log_interval: Duration,
    /// How long after its TTL a key set still counts as available for readiness.
    pub stale_grace: Duration,
}

impl Default for KeyStoreConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            refetch_cooldown: Duration::from_secs(30),
            outage_log_interval: Duration::from_secs(60),
            stale_grace: Duration::from_secs(300),
        }
    }
}

/// What the admin console and `check` show about the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStoreStatus {
    pub source: String,
    pub kids: Vec<String>,
    pub fetched_at_ms: Option<i64>,
    pub fetches: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

/// Whether keys are at hand to verify a token, for readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAvailability {
    /// A PEM key: always at hand, no network.
    Configured,
    /// Fetched within the TTL.
    Fresh,
    /// Older than the TTL (refetches failing), still within the grace period after it.
    Stale,
    /// Older than the TTL and the grace period.
    Expired,
    /// No fetch has succeeded yet.
    NeverFetched,
}

impl KeyAvailability {
    pub fn is_available(self) -> bool {
        matches!(self, Self::Configured | Self::Fresh | Self::Stale)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Configured => "configured",
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::Expired => "expired",
            Self::NeverFetched => "never_fetched",
        }
    }
}

#[derive(Clone)]
pub struct KeyStore(Arc<Inner>);

enum Inner {
    Pem(Arc<RsaPublicKey>),
    Remote(Box<Remote>),
}

struct Remote {
    client: JwksClient,
    config: KeyStoreConfig,
    clock: Clock,
    state: RwLock<State>,
    /// Held while fetching: the single flight.
    refresh: tokio::sync::Mutex<()>,
    /// Bumped after every fetch attempt, so waiters can tell that one happened while they waited.
    attempts: AtomicU64,
}

#[derive(Default)]
struct State {
    keys: KeysByKid,
    fetched_at_ms: Option<i64>,
    last_attempt_ms: Option<i64>,
    last_unknown_kid_fetch_ms: Option<i64>,
    last_error: Option<String>,
    outage_logged_at_ms: Option<i64>,
    fetches: u64,
    failures: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    Prefetch,
    Expired,
    UnknownKid,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl KeyStore {
    pub fn pem(key: RsaPublicKey) -> Self {
        Self(Arc::new(Inner::Pem(Arc::new(key))))
    }

    pub fn remote(client: JwksClient, config: KeyStoreConfig, clock: Clock) -> Self {
        Self(Arc::new(Inner::Remote(Box::new(Remote {
            client,
            config,
            clock,
            state: RwLock::new(State::default()),
            refresh: tokio::sync::Mutex::new(()),
            attempts: AtomicU64::new(0),
        }))))
    }

    /// Loads the keys ahead of the first request. A failure is logged and otherwise ignored: start-up
    /// must not depend on Clerk being reachable.
    pub async fn prefetch(&self) {
        if let Inner::Remote(remote) = &*self.0 {
            remote.refresh(Why::Prefetch).await;
        }
    }

    /// Fetches the key set when it is past its TTL, within the limits above (a failed attempt is
    /// not repeated before `refetch_cooldown`), so that a store nobody sends tokens to (an instance
    /// taken out of rotation by its readiness) still recovers when the source answers again.
    pub async fn refresh_when_stale(&self) {
        if let Inner::Remote(remote) = &*self.0 {
            if !remote.is_fresh() {
                remote.refresh(Why::Expired).await;
            }
        }
    }

    /// Whether keys are at hand now. Never waits, never fetches.
    pub fn availability(&self) -> KeyAvailability {
        let remote = match &*self.0 {
            Inner::Pem(_) => return KeyAvailability::Configured,
            Inner::Remote(remote) => remote,
        };
        let now = remote.clock.now_ms();
        let state = remote.read();
        let Some(fetched_at) = state.fetched_at_ms else {
            return KeyAvailability::NeverFetched;
        };
        let age = now - fetched_at;
        let ttl = ms(remote.config.ttl);
        if age < ttl {
            KeyAvailability::Fresh
        } else if age < ttl.saturating_add(ms(remote.config.stale_grace)) {
            KeyAvailability::Stale
        } else {
            KeyAvailability::Expired
        }
    }

    /// The key for a token's kid, refetching when the set is stale or the kid unknown (within the
    /// limits above).
    pub async fn key(&self, kid: Option<&str>) -> Result<Arc<RsaPublicKey>, Reason> {
        let remote = match &*self.0 {
            Inner::Pem(key) => return Ok(key.clone()),
            Inner::Remote(remote) => remote,
        };
        let kid = kid.ok_or(Reason::JwkKidMismatch)?;
        let (found, fresh) = remote.lookup(kid);
        match (found, fresh) {
            (Some(key), true) => return Ok(key),
            (Some(_), false) => remote.refresh(Why::Expired).await,
            (None, _) => remote.refresh(Why::UnknownKid).await,
        }
        match remote.lookup(kid) {
            (Some(key), _) => Ok(key),
            (None, _) if remote.has_no_keys() => Err(Reason::JwkFailedToResolve),
            (None, _) => Err(Reason::JwkKidMismatch),
        }
    }

    /// Whether `kid` is still among the current keys (a cached verdict for a token whose key has been
    /// rotated out is not trusted any more). Never waits, never fetches.
    pub fn still_has(&self, kid: Option<&str>) -> bool {
        match &*self.0 {
            Inner::Pem(_) => true,
            Inner::Remote(remote) => kid.is_some_and(|kid| remote.lookup(kid).0.is_some()),
        }
    }

    pub fn status(&self) -> KeyStoreStatus {
        match &*self.0 {
            Inner::Pem(key) => KeyStoreStatus {
                source: format!("PEM public key ({} bits, CLERK_JWT_KEY)", key.modulus_bits),
                kids: Vec::new(),
                fetched_at_ms: None,
                fetches: 0,
                failures: 0,
                last_error: None,
            },
            Inner::Remote(remote) => {
                let state = remote.read();
                let mut kids: Vec<String> = state.keys.keys().cloned().collect();
                kids.sort();
                KeyStoreStatus {
                    source: remote.client.url().to_string(),
                    kids,
                    fetched_at_ms: state.fetched_at_ms,
                    fetches: state.fetches,
                    failures: state.failures,
                    last_error: state.last_error.clone(),
                }
            }
        }
    }
}

impl Remote {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent (plain assignments only).
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key for `kid` and whether the set is within its TTL.
    fn lookup(&self, kid: &str) -> (Option<Arc<RsaPublicKey>>, bool) {
        let now = self.clock.now_ms();
        let state = self.read();
        let fresh = state
            .fetched_at_ms
            .is_some_and(|at| now - at < ms(self.config.ttl));
        (state.keys.get(kid).cloned(), fresh)
    }

    fn is_fresh(&self) -> bool {
        let now = self.clock.now_ms();
        self.read()
            .fetched_at_ms
            .is_some_and(|at| now - at < ms(self.config.ttl))
    }

    fn has_no_keys(&self) -> bool {
        self.read().keys.is_empty()
    }

    /// Whether a fetch for `why` is due now.
    fn due(&self, why: Why) -> bool {
        let now = self.clock.now_ms();
        let state = self.read();
        let cooldown = ms(self.config.refetch_cooldown);
        let within = |at: Option<i64>| at.is_some_and(|at| now - at < cooldown);
        match why {
            // A request may have fetched before the start-up prefetch got to run.
            Why::Prefetch => state.last_attempt_ms.is_none(),
            // A failed attempt is not repeated by every request during an outage.
            Why::Expired => {
                let fresh = state
                    .fetched_at_ms
                    .is_some_and(|at| now - at < ms(self.config.ttl));
                !fresh && !within(state.last_attempt_ms.filter(|_| state.last_error.is_some()))
            }
            Why::UnknownKid => !within(state.last_unknown_kid_fetch_ms),
        }
    }

    async fn refresh(&self, why: Why) {
        let seen = self.attempts.load(Ordering::SeqCst);
        let _flight = self.refresh.lock().await;
        if self.attempts.load(Ordering::SeqCst) != seen && why != Why::Prefetch {
            // Another request fetched while this one waited: use its result.
            return;
        }
        if !self.due(why) {
            return;
        }
        if why == Why::UnknownKid {
            self.write().last_unknown_kid_fetch_ms = Some(self.clock.now_ms());
        }
        let result = self.client.fetch().await;
        let now = self.clock.now_ms();
        let mut state = self.write();
        state.last_attempt_ms = Some(now);
        state.fetches += 1;
        match result {
            Ok(keys) => {
                if state.last_error.take().is_some() {
                    log::info!(target: "auth_core::jwks", "JWKS at {} reachable again", self.client.url());
                }
                log::debug!(target: "auth_core::jwks", "JWKS loaded: {} keys", keys.len());
                state.keys = keys;
                state.fetched_at_ms = Some(now);
                state.outage_logged_at_ms = None;
            }
            Err(error) => {
                state.failures += 1;
                let log_due = state
                    .outage_logged_at_ms
                    .is_none_or(|at| now - at >= ms(self.config.outage_log_interval));
                if log_due {
                    log::warn!(
                        target: "auth_core::jwks",
                        "JWKS at {} could not be fetched: {error}; {} known keys stay in use",
                        self.client.url(),
                        state.keys.len()
                    );
                    state.outage_logged_at_ms = Some(now);
                }
                state.last_error = Some(error);
            }
        }
        drop(state);
        self.attempts.fetch_add(1, Ordering::SeqCst);
    }
}
