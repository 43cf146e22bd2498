#![allow(clippy::unwrap_used)]

use std::cell::Cell;

use serde_json::{json, Value};

use super::*;
use crate::clerk::claims::normalise;
use crate::clock::ManualClock;

const NOW_MS: i64 = 1_800_000_000_500;

fn user(claims: Value) -> Principal {
    let mut all = json!({"sub": "user_1", "sid": "sess_1", "exp": 1_900_000_000});
    for (k, v) in claims.as_object().unwrap() {
        all[k] = v.clone();
    }
    let claims = normalise(
        all.as_object().unwrap(),
        "user_1".into(),
        "sess_1".into(),
        1_900_000_000,
        None,
    )
    .unwrap();
    Principal::User(Arc::new(VerifiedToken {
        claims,
        kid: None,
        valid_until_ms: 1_900_000_000_000,
    }))
}

fn in_org(org: &str) -> Principal {
    user(json!({
        "org_id": org, "org_slug": "acme", "org_role": "admin",
        "org_permissions": ["org:notes:read", "org:notes:write"],
    }))
}

fn memo() -> (IdentityHeaderMemo, ManualClock) {
    let (clock, time) = Clock::manual(NOW_MS);
    (IdentityHeaderMemo::new(clock), time)
}

/// A stand-in for the assertion keys: counts signatures; the token names the subject and the count.
struct Signer {
    epoch: u64,
    now_s: Cell<i64>,
    signed: Cell<usize>,
}

impl Signer {
    fn new() -> Self {
        Self {
            epoch: 0,
            now_s: Cell::new(NOW_MS / 1000),
            signed: Cell::new(0),
        }
    }

    fn headers(
        &self,
        memo: &IdentityHeaderMemo,
        principal: &Principal,
    ) -> Result<Arc<IdentityHeaders>, IdentityHeadersError> {
        memo.headers_with(principal, self.epoch, |identity| {
            self.signed.set(self.signed.get() + 1);
            Ok(Assertion {
                token: format!("signed.{}.{}", identity.sub, self.signed.get()).into(),
                issued_at: self.now_s.get(),
                key_epoch: self.epoch,
            })
        })
    }
}

fn value<'a>(headers: &'a IdentityHeaders, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.to_str().unwrap())
}

#[test]
fn a_second_check_with_the_same_credential_reuses_the_headers() {
    let (memo, _time) = memo();
    let signer = Signer::new();
    let principal = in_org("org_a");
    let first = signer.headers(&memo, &principal).unwrap();
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            USER_ID,
            SESSION_ID,
            ORG_ID,
            ORG_SLUG,
            ORG_ROLE,
            ORG_PERMISSIONS,
            PRINCIPAL,
            ASSERTION
        ]
    );
    assert_eq!(
        value(&first, ORG_PERMISSIONS),
        Some("org:notes:read,org:notes:write")
    );
    assert_eq!(value(&first, ORG_ROLE), Some("org:admin"));
    assert_eq!(value(&first, ASSERTION), Some("signed.user_1.1"));
    // The same request again, as the verifier's cache hands it out: the same Arc.
    let again = signer.headers(&memo, &principal.clone()).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(signer.signed.get(), 1);
}

#[test]
fn another_credential_gets_headers_of_its_own() {
    let (memo, _time) = memo();
    let signer = Signer::new();
    let first = signer.headers(&memo, &in_org("org_a")).unwrap();
    // An organization switch: Clerk mints a new token, verified into a new Arc.
    let switched = signer.headers(&memo, &in_org("org_b")).unwrap();
    assert_eq!(signer.signed.get(), 2);
    assert_eq!(value(&first, ORG_ID), Some("org_a"));
    assert_eq!(value(&switched, ORG_ID), Some("org_b"));
    // The same identity in another token: made for that token, not taken from the first's entry.
    let same = in_org("org_a");
    let other = signer.headers(&memo, &same).unwrap();
    assert!(!Arc::ptr_eq(&first, &other));
    assert_eq!(signer.signed.get(), 3);
    // No organization: no organization headers, never empty ones.
    let personal = signer.headers(&memo, &user(json!({}))).unwrap();
    let names: Vec<&str> = personal.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [USER_ID, SESSION_ID, PRINCIPAL, ASSERTION]);
}

#[test]
fn the_headers_last_as_long_as_their_assertion_may_be_reused() {
    let (memo, time) = memo();
    let mut signer = Signer::new();
    let principal = in_org("org_a");
    let first = signer.headers(&memo, &principal).unwrap();
    time.advance_ms(REUSE_SECS * 1000 - 600);
    assert!(Arc::ptr_eq(
        &first,
        &signer.headers(&memo, &principal).unwrap()
    ));
    // Into the second REUSE_SECS after the assertion's `iat`: signed anew.
    time.advance_ms(100);
    signer.now_s.set((NOW_MS + REUSE_SECS * 1000) / 1000);
    let later = signer.headers(&memo, &principal).unwrap();
    assert_eq!(signer.signed.get(), 2);
    assert_eq!(value(&later, ASSERTION), Some("signed.user_1.2"));
    // A reload found the keys changed: nothing made under the old epoch is handed out.
    signer.epoch += 1;
    let rotated = signer.headers(&memo, &principal).unwrap();
    assert_eq!(signer.signed.get(), 3);
    assert!(!Arc::ptr_eq(&later, &rotated));
}

#[test]
fn a_value_that_cannot_be_a_header_fails_the_check() {
    let (memo, _time) = memo();
    let signer = Signer::new();
    let principal = user(json!({"org_id": "org_a", "org_slug": "ac\nme"}));
    assert!(matches!(
        signer.headers(&memo, &principal),
        Err(IdentityHeadersError::NotAHeaderValue(ORG_SLUG))
    ));
}

#[test]
fn a_flood_of_credentials_does_not_grow_the_memo() {
    let (clock, _time) = Clock::manual(NOW_MS);
    let max_bytes = 50 * ENTRY_OVERHEAD as u64;
    let memo = IdentityHeaderMemo::with_max_bytes(clock, max_bytes);
    let signer = Signer::new();
    // Kept alive, so that every one has an address of its own.
    let principals: Vec<Principal> = (0..2000).map(|i| in_org(&format!("org_{i}"))).collect();
    for principal in &principals {
        signer.headers(&memo, principal).unwrap();
    }
    memo.entries.run_pending_tasks();
    assert!(memo.entries.weighted_size() <= max_bytes);
    assert!(memo.entries.entry_count() <= max_bytes / ENTRY_OVERHEAD as u64);
    assert!(memo.entries.entry_count() > 0);
}
