//! Clerk machine tokens (API keys, M2M tokens, OAuth access tokens) verified against a local stand-in
//! of Clerk's Backend API answering in the spec's shapes: valid, revoked, expired, unknown, Clerk
//! down (503, not 401), the 60-second cache, and which routes accept them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use auth_core::clock::ManualClock;
use common::clerk::{machine_token_body, opaque_token, ClerkStandIn, ISSUER, SECRET_KEY};
use common::{client, Response, TestApp, TestDb};
use serde_json::json;

const NOW_MS: i64 = 1_800_000_000_000;

struct Setup {
    app: TestApp,
    clerk: ClerkStandIn,
    clock: ManualClock,
}

async fn setup(db: &TestDb, with_secret: bool) -> Setup {
    let clerk = ClerkStandIn::start(&["a"]);
    let mut env = vec![("AUTH_CORE__AUTH__ISSUER", ISSUER)];
    let jwks = clerk.jwks_url();
    if with_secret {
        env.push(("CLERK_SECRET_KEY", SECRET_KEY));
        env.push(("AUTH_CORE__CLERK__API_URL", clerk.base.as_str()));
    } else {
        env.push(("CLERK_JWKS_URL", jwks.as_str()));
    }
    let (app, clock) = TestApp::spawn_at(db.settings(&env), NOW_MS).await;
    Setup { app, clerk, clock }
}

async fn get(app: &TestApp, token: &str, path: &str) -> Response {
    let req = client()
        .get(app.url(path))
        .insert_header(("Authorization", format!("Bearer {token}")));
    Response::from(req.send().await.unwrap()).await
}

fn code(res: &Response) -> String {
    res.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn each_kind_is_verified_by_clerk(db: TestDb) {
    let s = setup(&db, true).await;
    s.clerk.put_machine_token(
        &opaque_token("ak_", "live_alpha"),
        machine_token_body(
            "api_key",
            "org_alpha",
            &["org:reports:read"],
            None,
            false,
            false,
        ),
    );
    s.clerk.put_machine_token(
        &opaque_token("mt_", "machine"),
        machine_token_body(
            "m2m_token",
            "mch_2robot",
            &["jobs"],
            Some(NOW_MS + 3_600_000),
            false,
            false,
        ),
    );
    s.clerk.put_machine_token(
        &opaque_token("oat_", "user"),
        machine_token_body(
            "oauth_token",
            "user_2oauth",
            &["profile"],
            Some(NOW_MS + 3_600_000),
            false,
            false,
        ),
    );

    let res = get(
        &s.app,
        &opaque_token("ak_", "live_alpha"),
        "/api/orgs/current",
    )
    .await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["organization"]["id"], "org_alpha");
    assert_eq!(res.json()["permissions"], json!(["org:reports:read"]));
    // Machines without an organization authenticate, but org routes need one.
    assert_eq!(
        code(&get(&s.app, &opaque_token("mt_", "machine"), "/api/orgs/current").await),
        "organization-required"
    );
    assert_eq!(
        code(&get(&s.app, &opaque_token("oat_", "user"), "/api/orgs/current").await),
        "organization-required"
    );
    // Routes that accept session tokens only say so.
    assert_eq!(
        code(&get(&s.app, &opaque_token("ak_", "live_alpha"), "/api/auth/me").await),
        "token-type-mismatch"
    );
    // Guards: no role on a machine.
    assert_eq!(
        code(
            &get(
                &s.app,
                &opaque_token("ak_", "live_alpha"),
                "/api/orgs/current/audit"
            )
            .await
        ),
        "insufficient-permissions"
    );
}

async fn refusals_and_outages(db: TestDb) {
    let s = setup(&db, true).await;
    s.clerk.put_machine_token(
        &opaque_token("ak_", "revoked"),
        machine_token_body("api_key", "org_alpha", &[], None, true, false),
    );
    s.clerk.put_machine_token(
        &opaque_token("ak_", "expired_flag"),
        machine_token_body("api_key", "org_alpha", &[], None, false, true),
    );
    s.clerk.put_machine_token(
        &opaque_token("mt_", "past"),
        machine_token_body(
            "m2m_token",
            "org_alpha",
            &[],
            Some(NOW_MS - 1),
            false,
            false,
        ),
    );
    for (token, status, expected) in [
        (&opaque_token("ak_", "revoked"), 401, "token-revoked"),
        (&opaque_token("ak_", "expired_flag"), 401, "token-expired"),
        (&opaque_token("mt_", "past"), 401, "token-expired"),
        (&opaque_token("oat_", "unknown"), 401, "token-invalid"),
    ] {
        let res = get(&s.app, token, "/api/orgs/current").await;
        assert_eq!(
            (res.status, code(&res)),
            (status, expected.to_owned()),
            "{token}"
        );
    }
    s.clerk.set_machine_down(true);
    s.clerk.put_machine_token(
        &opaque_token("ak_", "fine"),
        machine_token_body("api_key", "org_alpha", &[], None, false, false),
    );
    let res = get(&s.app, &opaque_token("ak_", "fine"), "/api/orgs/current").await;
    assert_eq!(
        (res.status, code(&res)),
        (503, "machine-token-unavailable".to_owned())
    );
    s.clerk.set_machine_down(false);
    assert_eq!(
        get(&s.app, &opaque_token("ak_", "fine"), "/api/orgs/current")
            .await
            .status,
        200
    );
}

/// A positive answer is reused for at most 60 s, and never past the token's expiry.
async fn positive_answers_are_cached_briefly(db: TestDb) {
    let s = setup(&db, true).await;
    s.clerk.put_machine_token(
        &opaque_token("ak_", "cached"),
        machine_token_body("api_key", "org_alpha", &[], None, false, false),
    );
    s.clerk.put_machine_token(
        &opaque_token("mt_", "short"),
        machine_token_body(
            "m2m_token",
            "org_alpha",
            &[],
            Some(NOW_MS + 20_000),
            false,
            false,
        ),
    );
    for _ in 0..5 {
        assert_eq!(
            get(&s.app, &opaque_token("ak_", "cached"), "/api/orgs/current")
                .await
                .status,
            200
        );
    }
    assert_eq!(s.clerk.machine_verifications(), 1);
    // Revoked in Clerk: seen within a minute.
    s.clerk.put_machine_token(
        &opaque_token("ak_", "cached"),
        machine_token_body("api_key", "org_alpha", &[], None, true, false),
    );
    s.clock.advance_ms(59_000);
    assert_eq!(
        get(&s.app, &opaque_token("ak_", "cached"), "/api/orgs/current")
            .await
            .status,
        200
    );
    s.clock.advance_ms(1_000);
    assert_eq!(
        code(&get(&s.app, &opaque_token("ak_", "cached"), "/api/orgs/current").await),
        "token-revoked"
    );
    // Expiring sooner than the cache time: trusted until its expiry only.
    s.clock.set_ms(NOW_MS);
    assert_eq!(
        get(&s.app, &opaque_token("mt_", "short"), "/api/orgs/current")
            .await
            .status,
        200
    );
    let calls = s.clerk.machine_verifications();
    s.clock.set_ms(NOW_MS + 20_000);
    assert_eq!(
        code(&get(&s.app, &opaque_token("mt_", "short"), "/api/orgs/current").await),
        "token-expired"
    );
    assert_eq!(
        s.clerk.machine_verifications(),
        calls + 1,
        "asked again once the expiry passed"
    );
}

/// Without CLERK_SECRET_KEY Clerk cannot be asked: machine tokens are not accepted anywhere.
async fn without_a_secret_key_machine_tokens_are_refused(db: TestDb) {
    let s = setup(&db, false).await;
    s.clerk.put_machine_token(
        &opaque_token("ak_", "any"),
        machine_token_body("api_key", "org_alpha", &[], None, false, false),
    );
    assert_eq!(
        code(&get(&s.app, &opaque_token("ak_", "any"), "/api/orgs/current").await),
        "token-type-mismatch"
    );
    assert_eq!(s.clerk.machine_verifications(), 0);
}

db_test!(
    each_kind_is_verified_by_clerk,
    refusals_and_outages,
    positive_answers_are_cached_briefly,
    without_a_secret_key_machine_tokens_are_refused,
);
