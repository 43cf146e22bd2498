//! Verifies session tokens for requests: the pure checks of `clerk::jwt` with keys from the key store,
//! and a bounded cache of verified tokens, so that a token already verified costs a hash lookup, not
//! an RSA operation, until it expires. Clerk's machine tokens in JWT form are verified here too
//! (same keys, same clock; see `clerk::jwt`), with a cache of their own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::clerk::jwks_fetch::JwksClient;
use crate::clerk::jwt::{self, Policy, VerifiedToken};
use crate::clerk::key_source::KeySource;
use crate::clerk::key_store::{KeyStore, KeyStoreConfig};
use crate::clerk::reason::Reason;
use crate::clerk::rsa_key::RsaPublicKey;
use crate::clock::Clock;

use super::machine_tokens::MachinePrincipal;
use super::revocation::RevokedSessions;
use crate::settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error("no key source for session tokens: set CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_SECRET_KEY or CLERK_PUBLISHABLE_KEY")]
    NoKeySource,
    #[error("CLERK_JWT_KEY cannot be used: {0}")]
    BadPem(String),
}

pub struct SessionVerifier {
    keys: Option<KeyStore>,
    policy: Policy,
    clock: Clock,
    /// Verified tokens by their full text: a hit compares the whole token, never just a hash.
    verified: Cache<Arc<str>, Arc<VerifiedToken>>,
    /// Machine tokens in JWT form by their full text: the principal, its key id and its expiry.
    verified_machines: Cache<Arc<str>, (Arc<MachinePrincipal>, Option<String>, i64)>,
    revoked: Arc<RevokedSessions>,
}

/// Whether a cached verification still holds: unexpired, and its key still published.
fn usable(keys: &KeyStore, hit: &VerifiedToken, now_ms: i64) -> bool {
    now_ms < hit.valid_until_ms && keys.still_has(hit.kid.as_deref())
}

/// Frees cache entries when their token expires (correctness does not depend on it: every hit is
/// checked against the clock).
struct UntilTokenExpiry(Clock);

impl moka::Expiry<Arc<str>, Arc<VerifiedToken>> for UntilTokenExpiry {
    fn expire_after_create(
        &self,
        _: &Arc<str>,
        value: &Arc<VerifiedToken>,
        _: Instant,
    ) -> Option<Duration> {
        let left = value.valid_until_ms.saturating_sub(self.0.now_ms()).max(0);
        Some(Duration::from_millis(u64::try_from(left).unwrap_or(0)))
    }
}

impl SessionVerifier {
    /// Builds the verifier for the configured key source. With no source configured the service still
    /// runs (health checks, webhooks), and every session token is refused.
    pub fn from_settings(settings: &Settings, clock: Clock) -> Result<Self, VerifierError> {
        let keys = match settings.clerk.key_source() {
            None => None,
            Some(KeySource::Pem) => {
                let pem = settings
                    .clerk
                    .jwt_key
                    .as_deref()
                    .ok_or(VerifierError::NoKeySource)?;
                let key = RsaPublicKey::from_pem(pem)
                    .map_err(|e| VerifierError::BadPem(e.to_string()))?;
                Some(KeyStore::pem(key))
            }
            Some(source) => {
                let (url, bearer) = match source {
                    KeySource::BackendApi(url) => (url, settings.clerk.secret_key.clone()),
                    KeySource::JwksUrl(url) | KeySource::FrontendApi(url) => (url, None),
                    KeySource::Pem => return Err(VerifierError::NoKeySource),
                };
                let config = KeyStoreConfig {
                    ttl: settings.clerk.jwks_cache_ttl,
                    refetch_cooldown: settings.clerk.jwks_refetch_cooldown,
                    // Served stale for one more TTL, then readiness says the keys are too old.
                    stale_grace: settings.clerk.jwks_cache_ttl,
                    ..KeyStoreConfig::default()
                };
                let client = JwksClient::new(url, bearer, settings.clerk.jwks_fetch_timeout);
                Some(KeyStore::remote(client, config, clock.clone()))
            }
        };
        let auth = &settings.auth;
        let policy = Policy {
            clock_skew: auth.clock_skew,
            authorized_parties: settings.clerk.authorized_parties.clone(),
            azp: auth.azp_policy,
            audience: auth.audience.clone(),
            accept_any_audience: auth.accept_any_audience,
            issuer: auth.issuer.clone(),
            allow_pending_sessions: auth.allow_pending_sessions,
            max_token_bytes: auth.max_token_bytes,
        };
        let verified = Cache::builder()
            .max_capacity(auth.token_cache_capacity)
            .expire_after(UntilTokenExpiry(clock.clone()))
            .build();
        // Machine callers reuse a token for its lifetime; an hour bounds how long an entry can
        // outlive it in memory (each hit is checked against the clock anyway).
        let verified_machines = Cache::builder()
            .max_capacity(auth.token_cache_capacity)
            .time_to_live(Duration::from_secs(3600))
            .build();
        Ok(Self {
            keys,
            policy,
            clock,
            verified,
            verified_machines,
            revoked: Arc::new(RevokedSessions::default()),
        })
    }

    pub fn key_store(&self) -> Option<&KeyStore> {
        self.keys.as_ref()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn revoked_sessions(&self) -> &RevokedSessions {
        &self.revoked
    }

    /// Verifies `token`, from the cache when it was verified before and is still valid, and refuses
    /// it when Clerk has since revoked or ended its session.
    pub async fn verify(&self, token: &str) -> Result<Arc<VerifiedToken>, Reason> {
        let verified = self.verify_signature_and_claims(token).await?;
        self.unless_revoked(verified)
    }

    /// [`verify`](Self::verify)'s answer when the cache has it (a token verified before and still
    /// valid), without waiting; `None` when the token must be verified.
    pub fn verify_cached(&self, token: &str) -> Option<Result<Arc<VerifiedToken>, Reason>> {
        self.cached(token)
            .map(|verified| self.unless_revoked(verified))
    }

    fn unless_revoked(&self, verified: Arc<VerifiedToken>) -> Result<Arc<VerifiedToken>, Reason> {
        if self
            .revoked
            .is_revoked(&verified.claims.session_id, self.clock.now_ms())
        {
            return Err(Reason::SessionRevoked);
        }
        Ok(verified)
    }

    /// Verifies a Clerk machine token in JWT form (an M2M token or an OAuth access token), from the
    /// cache when it was verified before, is unexpired and its key is still published.
    pub async fn verify_machine_jwt(&self, token: &str) -> Result<Arc<MachinePrincipal>, Reason> {
        let keys = self.keys.as_ref().ok_or(Reason::JwkFailedToResolve)?;
        if let Some(hit) = self.cached_machine_jwt(token) {
            return Ok(hit);
        }
        let decoded = jwt::decode_machine(token, &self.policy)?;
        let key = keys.key(decoded.kid()).await?;
        let verified = decoded.verify_machine(&key, &self.policy, self.clock.now_ms())?;
        let principal = Arc::new(MachinePrincipal {
            kind: verified.kind,
            info: verified.info,
        });
        self.verified_machines.insert(
            Arc::from(token),
            (principal.clone(), verified.kid, verified.valid_until_ms),
        );
        Ok(principal)
    }

    /// A machine token in JWT form verified before, still unexpired, whose key is still published.
    pub fn cached_machine_jwt(&self, token: &str) -> Option<Arc<MachinePrincipal>> {
        let keys = self.keys.as_ref()?;
        let (principal, kid, valid_until_ms) = self.verified_machines.get(token)?;
        if self.clock.now_ms() < valid_until_ms && keys.still_has(kid.as_deref()) {
            return Some(principal);
        }
        self.verified_machines.invalidate(token);
        None
    }

    /// A token verified before, still unexpired, whose key is still published.
    fn cached(&self, token: &str) -> Option<Arc<VerifiedToken>> {
        let keys = self.keys.as_ref()?;
        let hit = self.verified.get(token)?;
        if usable(keys, &hit, self.clock.now_ms()) {
            return Some(hit);
        }
        self.verified.invalidate(token);
        None
    }

    async fn verify_signature_and_claims(&self, token: &str) -> Result<Arc<VerifiedToken>, Reason> {
        let keys = self.keys.as_ref().ok_or(Reason::JwkFailedToResolve)?;
        if let Some(hit) = self.cached(token) {
            return Ok(hit);
        }
        let decoded = jwt::decode(token, &self.policy)?;
        let key = keys.key(decoded.kid()).await?;
        let verified = Arc::new(decoded.verify(&key, &self.policy, self.clock.now_ms())?);
        self.verified.insert(Arc::from(token), verified.clone());
        Ok(verified)
    }
}
