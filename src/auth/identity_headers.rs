//! The answer of a forward-auth check (`/api/auth/verify`) about one credential: the `X-Auth-*`
//! header values and the signed assertion, made once and handed out again for as long as the
//! assertion itself may be. A warm check then copies header values already made: it clones no
//! identity, joins no permissions, writes no JSON and parses no header value.
//!
//! Invariants this module keeps:
//! - An entry belongs to one allocation: it is keyed by the address of the principal's `Arc` (the
//!   verified token, service key or machine token the verifiers cache) and holds a `Weak` to it.
//!   The `Weak` keeps that memory allocated (not its contents alive), so the address cannot name
//!   another credential while the entry lives; a hit compares the pointer as well. What such an
//!   `Arc` holds never changes (a verification makes a new one), so headers made from it stay
//!   true of it.
//! - The memo judges nothing. Authentication (expiry, revoked sessions, keys Clerk dropped), the
//!   user's standing (deleted, or removed from the organization by a webhook) and the query's
//!   requirements are judged on every request before it is asked: a credential refused there never
//!   reaches it. A different credential (an organization switch mints a new token) is a different
//!   entry.
//! - An entry is handed out only while its assertion may be, by `assertion`'s own rule
//!   ([`still_reusable`]: the same [`REUSE_SECS`](super::assertion::REUSE_SECS) on auth-core's
//!   clock, the same key epoch), so a rotation or retirement, once loaded, is signed anew on the
//!   next check.
//! - Bounded: entries weigh their bytes (at least [`ENTRY_OVERHEAD`] each, with the credential's
//!   allocation they keep) up to [`MAX_MEMO_BYTES`], so a flood of distinct credentials evicts
//!   entries rather than grows the memo; each is also dropped `REUSE_SECS` after it was made.

use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};

use super::assertion::{
    still_reusable, Assertion, AssertionKeyError, AssertionKeys, Identity, REUSE_SECS,
};
use super::machine_tokens::MachinePrincipal;
use super::service_keys::ServiceKeyPrincipal;
use super::Principal;
use crate::clerk::jwt::VerifiedToken;
use crate::clock::Clock;

pub const USER_ID: &str = "x-auth-user-id";
pub const SESSION_ID: &str = "x-auth-session-id";
pub const ORG_ID: &str = "x-auth-org-id";
pub const ORG_SLUG: &str = "x-auth-org-slug";
pub const ORG_ROLE: &str = "x-auth-org-role";
pub const ORG_PERMISSIONS: &str = "x-auth-org-permissions";
pub const PRINCIPAL: &str = "x-auth-principal";
pub const ASSERTION: &str = "x-auth-assertion";

/// The most the memo's entries weigh together.
pub const MAX_MEMO_BYTES: u64 = 32 * 1024 * 1024;
/// What an entry weighs beyond its headers and the credential's allocation its `Weak` keeps: the
/// memo's own node and the entry's allocation (an estimate on the generous side).
pub const ENTRY_OVERHEAD: usize = 512;
/// What each header weighs beyond its value's bytes: its place in the list, and the header and
/// allocator slack of the value's shared buffer (generous too).
const HEADER_OVERHEAD: usize = std::mem::size_of::<(HeaderName, HeaderValue)>() + 64;

#[derive(Debug, thiserror::Error)]
pub enum IdentityHeadersError {
    #[error(transparent)]
    Assertion(#[from] AssertionKeyError),
    /// Values come from a verified credential; one that cannot be a header (a control character)
    /// fails the check rather than reach the upstream without it.
    #[error("the {0} of this identity cannot be sent as a header")]
    NotAHeaderValue(&'static str),
}

/// The credential an entry was made for: held weakly, so that the entry keeps its address taken but
/// not its contents alive.
enum Credential {
    User(Weak<VerifiedToken>),
    ServiceKey(Weak<ServiceKeyPrincipal>),
    Machine(Weak<MachinePrincipal>),
}

impl Credential {
    fn of(principal: &Principal) -> Self {
        match principal {
            Principal::User(token) => Self::User(Arc::downgrade(token)),
            Principal::ServiceKey(key) => Self::ServiceKey(Arc::downgrade(key)),
            Principal::MachineToken(machine) => Self::Machine(Arc::downgrade(machine)),
        }
    }

    fn is(&self, principal: &Principal) -> bool {
        match (self, principal) {
            (Self::User(held), Principal::User(token)) => held.as_ptr() == Arc::as_ptr(token),
            (Self::ServiceKey(held), Principal::ServiceKey(key)) => {
                held.as_ptr() == Arc::as_ptr(key)
            }
            (Self::Machine(held), Principal::MachineToken(machine)) => {
                held.as_ptr() == Arc::as_ptr(machine)
            }
            _ => false,
        }
    }
}

/// The memo's key for `principal`: the address of its credential's allocation.
fn address(principal: &Principal) -> usize {
    match principal {
        Principal::User(token) => Arc::as_ptr(token).addr(),
        Principal::ServiceKey(key) => Arc::as_ptr(key).addr(),
        Principal::MachineToken(machine) => Arc::as_ptr(machine).addr(),
    }
}

/// The bytes of the credential's allocation that an entry's `Weak` keeps (what the value owns on the
/// heap is freed with the last `Arc`).
fn retained_bytes(principal: &Principal) -> usize {
    // The two reference counts in front of the value.
    let counts = 2 * std::mem::size_of::<usize>();
    counts
        + match principal {
            Principal::User(_) => std::mem::size_of::<VerifiedToken>(),
            Principal::ServiceKey(_) => std::mem::size_of::<ServiceKeyPrincipal>(),
            Principal::MachineToken(_) => std::mem::size_of::<MachinePrincipal>(),
        }
}

/// The identity headers of one credential, ready to copy into a response.
pub struct IdentityHeaders {
    credential: Credential,
    issued_at: i64,
    key_epoch: u64,
    /// In the order they are sent; a header without a value is absent, never empty.
    headers: Vec<(HeaderName, HeaderValue)>,
    weight: u32,
}

impl IdentityHeaders {
    fn make(
        principal: &Principal,
        identity: &Identity,
        assertion: &Assertion,
    ) -> Result<Self, IdentityHeadersError> {
        let permissions = identity
            .org_permissions
            .iter()
            // A comma would split one permission into two for the upstream: such a name is left out.
            .filter(|p| !p.contains(','))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(",");
        let values = [
            (USER_ID, principal.user_id()),
            (SESSION_ID, identity.sid.as_deref()),
            (ORG_ID, identity.org_id.as_deref()),
            (ORG_SLUG, identity.org_slug.as_deref()),
            (ORG_ROLE, identity.org_role.as_deref()),
            (ORG_PERMISSIONS, Some(permissions.as_str())),
            (PRINCIPAL, Some(identity.principal)),
            (ASSERTION, Some(&*assertion.token)),
        ];
        let mut headers = Vec::with_capacity(values.len());
        let mut bytes = ENTRY_OVERHEAD + retained_bytes(principal);
        for (name, value) in values {
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            let value = HeaderValue::from_str(value)
                .map_err(|_| IdentityHeadersError::NotAHeaderValue(name))?;
            bytes += HEADER_OVERHEAD + value.len();
            headers.push((HeaderName::from_static(name), value));
        }
        Ok(Self {
            credential: Credential::of(principal),
            issued_at: assertion.issued_at,
            key_epoch: assertion.key_epoch,
            headers,
            weight: u32::try_from(bytes).unwrap_or(u32::MAX),
        })
    }

    /// The headers, in the order they are sent.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &(HeaderName, HeaderValue)> {
        self.headers.iter()
    }
}

/// The identity an assertion states about `principal`.
fn identity_of(principal: &Principal) -> Identity {
    match principal {
        Principal::User(token) => {
            let claims = &token.claims;
            let org = claims.organization.as_ref();
            Identity {
                sub: claims.user_id.clone(),
                sid: Some(claims.session_id.clone()),
                org_id: org.map(|o| o.id.clone()),
                org_slug: org.and_then(|o| o.slug.clone()),
                org_role: org.and_then(|o| o.role.clone()),
                org_permissions: org.map(|o| o.permissions.clone()).unwrap_or_default(),
                principal: "user",
            }
        }
        Principal::ServiceKey(key) => Identity {
            sub: key.id.clone(),
            sid: None,
            org_id: key.organization_id.clone(),
            org_slug: None,
            org_role: None,
            org_permissions: key.scopes.clone(),
            principal: "service",
        },
        Principal::MachineToken(machine) => Identity {
            sub: machine.info.subject.clone(),
            sid: None,
            org_id: machine.organization_id().map(str::to_owned),
            org_slug: None,
            org_role: None,
            org_permissions: machine.info.scopes.clone(),
            principal: "machine",
        },
    }
}

/// The identity headers of recent forward-auth checks, by credential (see the module's invariants).
pub struct IdentityHeaderMemo {
    clock: Clock,
    entries: moka::sync::Cache<usize, Arc<IdentityHeaders>>,
}

impl IdentityHeaderMemo {
    pub fn new(clock: Clock) -> Self {
        Self::with_max_bytes(clock, MAX_MEMO_BYTES)
    }

    fn with_max_bytes(clock: Clock, max_bytes: u64) -> Self {
        Self {
            clock,
            entries: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, entry: &Arc<IdentityHeaders>| entry.weight)
                .time_to_live(Duration::from_secs(REUSE_SECS.unsigned_abs()))
                .build(),
        }
    }

    /// The identity headers for `principal`, already judged by the caller: from the memo, or made
    /// now with an assertion from `keys`.
    pub fn headers(
        &self,
        principal: &Principal,
        keys: &AssertionKeys,
    ) -> Result<Arc<IdentityHeaders>, IdentityHeadersError> {
        self.headers_with(principal, keys.key_epoch(), |identity| {
            keys.assert(identity)
        })
    }

    /// As [`headers`](Self::headers), with the keys at `key_epoch` and `sign` making an assertion.
    fn headers_with(
        &self,
        principal: &Principal,
        key_epoch: u64,
        sign: impl FnOnce(&Identity) -> Result<Assertion, AssertionKeyError>,
    ) -> Result<Arc<IdentityHeaders>, IdentityHeadersError> {
        let now_s = self.clock.now_ms().div_euclid(1000);
        let address = address(principal);
        if let Some(entry) = self.entries.get(&address) {
            if entry.credential.is(principal)
                && still_reusable(entry.issued_at, entry.key_epoch, now_s, key_epoch)
            {
                return Ok(entry);
            }
        }
        let identity = identity_of(principal);
        let assertion = sign(&identity)?;
        let entry = Arc::new(IdentityHeaders::make(principal, &identity, &assertion)?);
        self.entries.insert(address, entry.clone());
        Ok(entry)
    }
}

#[cfg(test)]
mod tests;
