//! Clerk machine tokens on requests: verified by Clerk's Backend API (see `clerk::machine_token`),
//! positive results remembered for at most 60 s and never past the token's expiry, so a revocation
//! in Clerk takes effect within a minute. Clerk unreachable is a 503 (retry), not a 401. A token
//! acting for an organization deleted in Clerk is refused (`organization-deleted`, see
//! `bound_organization`), checked against the mirror whenever Clerk is asked.

use std::sync::Arc;

use moka::sync::Cache;

use super::bound_organization;
use super::forgettable::Forgettable;
use crate::clerk::backend_api::{BackendApi, BackendApiError};
use crate::clerk::machine_token::{MachineKind, MachineTokenInfo};
use crate::clerk::reason::Reason;
use crate::clock::Clock;
use crate::db::Db;

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
    db: Db,
    clock: Clock,
    /// Token → (principal, trusted until ms).
    verified: Forgettable<Arc<str>, (Arc<MachinePrincipal>, i64)>,
}

impl MachineTokenVerifier {
    pub fn new(api: BackendApi, db: Db, clock: Clock) -> Self {
        Self {
            api,
            db,
            clock,
            verified: Forgettable::new(
                Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(std::time::Duration::from_millis(
                        MAX_CACHE_MS.unsigned_abs(),
                    ))
                    .build(),
            ),
        }
    }

    /// The token's principal when Clerk vouched for it less than a minute ago and it has not expired
    /// since: no call.
    pub fn cached(&self, token: &str) -> Option<Arc<MachinePrincipal>> {
        let (principal, until) = self.verified.get(token)?;
        if self.clock.now_ms() < until {
            return Some(principal);
        }
        self.verified.invalidate(token);
        None
    }

    /// Asks Clerk about the token (and the mirror about its organization) and remembers it when
    /// valid.
    pub async fn look_up(
        &self,
        kind: MachineKind,
        token: &str,
    ) -> Result<Arc<MachinePrincipal>, Reason> {
        let ticket = self.verified.ticket(token);
        let info = match self.api.verify_machine_token(kind, token).await {
            Ok(info) => info,
            Err(BackendApiError::NotFound) => return Err(Reason::TokenInvalid),
            Err(BackendApiError::Status(401 | 403)) => return Err(Reason::SecretKeyInvalid),
            Err(error) => {
                log::warn!(target: "auth_core::auth", "machine token not verified: {error}");
                return Err(Reason::MachineTokenUnavailable);
            }
        };
        let now = self.clock.now_ms();
        if info.revoked {
            return Err(Reason::TokenRevoked);
        }
        // `expiration` is in milliseconds; a fraction is irrelevant at this scale.
        #[allow(clippy::cast_possible_truncation)]
        let expires = info.expiration.filter(|e| e.is_finite()).map(|e| e as i64);
        if info.expired || expires.is_some_and(|e| e <= now) {
            return Err(Reason::TokenExpired);
        }
        let principal = Arc::new(MachinePrincipal { kind, info });
        if let Some(organization) = principal.organization_id().map(str::to_owned) {
            let refusal = self
                .db
                .run(move |conn| bound_organization::refusal(conn, Some(&organization)))
                .await
                .map_err(|error| {
                    log::warn!(target: "auth_core::auth", "machine token's organization not checked: {error}");
                    Reason::MachineTokenUnavailable
                })?;
            if let Some(reason) = refusal {
                return Err(reason);
            }
        }
        let until = expires.map_or(now + MAX_CACHE_MS, |e| e.min(now + MAX_CACHE_MS));
        self.verified
            .insert(Arc::from(token), (principal.clone(), until), ticket);
        Ok(principal)
    }

    /// Forgets every remembered token (an organization was deleted), including what lookups under
    /// way would remember.
    pub fn forget_all(&self) {
        self.verified.forget_all();
    }
}
