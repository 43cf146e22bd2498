//! Clerk machine tokens on requests: verified by Clerk's Backend API (see `clerk::machine_token`),
//! positive results remembered for at most 60 s and never past the token's expiry, so a revocation
//! in Clerk takes effect within a minute. Clerk unreachable is a 503 (retry), not a 401.

use std::sync::Arc;

use moka::sync::Cache;

use crate::clerk::backend_api::{BackendApi, BackendApiError};
use crate::clerk::machine_token::{MachineKind, MachineTokenInfo};
use crate::clerk::reason::Reason;
use crate::clock::Clock;

/// Longest a positive verdict is trusted without asking Clerk again.
const MAX_CACHE_MS: i64 = 60_000;

#[derive(Debug, Clone, PartialEq)]
pub struct MachinePrincipal {
    pub kind: MachineKind,
    pub info: MachineTokenInfo,
}

impl MachinePrincipal {
    /// The organization a machine acts in: its subject when that is an organization.
    pub fn organization_id(&self) -> Option<&str> {
        Some(self.info.subject.as_str()).filter(|s| s.starts_with("org_"))
    }
}

pub struct MachineTokenVerifier {
    api: BackendApi,
    clock: Clock,
    /// Token → (principal, trusted until ms).
    verified: Cache<Arc<str>, (Arc<MachinePrincipal>, i64)>,
}

impl MachineTokenVerifier {
    pub fn new(api: BackendApi, clock: Clock) -> Self {
        Self {
            api,
            clock,
            verified: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_millis(
                    MAX_CACHE_MS.unsigned_abs(),
                ))
                .build(),
        }
    }

    pub async fn verify(
        &self,
        kind: MachineKind,
        token: &str,
    ) -> Result<Arc<MachinePrincipal>, Reason> {
        let now = self.clock.now_ms();
        if let Some((principal, until)) = self.verified.get(token) {
            if now < until {
                return Ok(principal);
            }
            self.verified.invalidate(token);
        }
        let info = match self.api.verify_machine_token(kind, token).await {
            Ok(info) => info,
            Err(BackendApiError::NotFound) => return Err(Reason::TokenInvalid),
            Err(BackendApiError::Status(401 | 403)) => return Err(Reason::SecretKeyInvalid),
            Err(error) => {
                log::warn!(target: "auth_core::auth", "machine token not verified: {error}");
                return Err(Reason::MachineTokenUnavailable);
            }
        };
        if info.revoked {
            return Err(Reason::TokenRevoked);
        }
        // `expiration` is in milliseconds; a fraction is irrelevant at this scale.
        #[allow(clippy::cast_possible_truncation)]
        let expires = info.expiration.filter(|e| e.is_finite()).map(|e| e as i64);
        if info.expired || expires.is_some_and(|e| e <= now) {
            return Err(Reason::TokenExpired);
        }
        let until = expires.map_or(now + MAX_CACHE_MS, |e| e.min(now + MAX_CACHE_MS));
        let principal = Arc::new(MachinePrincipal { kind, info });
        self.verified
            .insert(Arc::from(token), (principal.clone(), until));
        Ok(principal)
    }
}
