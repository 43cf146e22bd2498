//! Session-token authentication over real HTTP, against a local JWKS / Backend API stand-in, with
//! tokens minted here: every reason code, header vs cookie, key rotation, refetch limits, outages,
//! just-in-time users and the warm path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use auth_core::clock::{Clock, ManualClock};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::clerk::{
    example_user, session_claims, ClerkStandIn, Minter, APP_ORIGIN, ISSUER, KID_A, SECRET_KEY,
};
use common::{client, Response, TestApp, TestDb};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Value};

/// The tests' wall clock: fixed, moved only by the tests.
const NOW_S: i64 = 1_800_000_000;

struct Setup {
    app: TestApp,
    clerk: ClerkStandIn,
    clock: ManualClock,
    _db: TestDb,
}

/// The app on `db`, verifying with the stand-in's JWKS; with `backend_api`, also fetching profiles
/// from the stand-in's Backend API.
async fn setup_with(db: TestDb, backend_api: bool) -> Setup {
    let clerk = ClerkStandIn::start(&["a"]);
    let jwks = clerk.jwks_url();
    let mut env = vec![
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("CLERK_AUTHORIZED_PARTIES", APP_ORIGIN),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ];
    if backend_api {
        env.push(("CLERK_SECRET_KEY", SECRET_KEY));
        env.push(("AUTH_CORE__CLERK__API_URL", clerk.base.as_str()));
    }
    let (clock, handle) = Clock::manual(NOW_S * 1000);
    let app = TestApp::spawn_with_clock(db.settings(&env), clock).await;
    Setup {
        app,
        clerk,
        clock: handle,
        _db: db,
    }
}

/// An app on SQLite verifying with a fresh JWKS stand-in, with `extra` settings; the stand-in and
/// the database live as long as the returned values.
async fn verifying_with(extra: &[(&str, &str)]) -> (TestApp, ClerkStandIn, TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let jwks = clerk.jwks_url();
    let db = TestDb::sqlite();
    let mut env = vec![
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("CLERK_AUTHORIZED_PARTIES", APP_ORIGIN),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ];
    env.extend_from_slice(extra);
    let (clock, _handle) = Clock::manual(NOW_S * 1000);
    let app = TestApp::spawn_with_clock(db.settings(&env), clock).await;
    (app, clerk, db)
}

async fn setup() -> Setup {
    setup_with(TestDb::sqlite(), false).await
}

async fn get_me(app: &TestApp, authorization: Option<&str>, cookie: Option<&str>) -> Response {
    let mut req = client().get(app.url("/api/auth/me"));
    if let Some(value) = authorization {
        req = req.insert_header(("Authorization", value));
    }
    if let Some(value) = cookie {
        req = req.insert_header(("Cookie", value));
    }
    Response::from(req.send().await.unwrap()).await
}

async fn me_with(app: &TestApp, token: &str) -> Response {
    get_me(app, Some(&format!("Bearer {token}")), None).await
}

fn assert_refused(res: &Response, status: u16, code: &str) {
    assert_eq!(
        res.status,
        status,
        "{code}: {}",
        String::from_utf8_lossy(&res.body)
    );
    let body = res.json();
    assert_eq!(body["error"]["code"], code);
    assert_eq!(
        body["error"]["request_id"].as_str(),
        res.header("x-request-id")
    );
    if status == 401 && code != "session-token-missing" {
        assert_eq!(
            res.header("www-authenticate"),
            Some(format!("Bearer error=\"invalid_token\", error_description=\"{code}\"").as_str())
        );
    }
}

fn claims(extra: Value) -> Value {
    session_claims(NOW_S, extra)
}

#[actix_web::test]
async fn a_valid_token_reaches_the_handler() {
    let s = setup().await;
    let res = me_with(&s.app, &Minter::a().mint(&claims(json!({})))).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let body = res.json();
    assert_eq!(body["user"]["id"], "user_2test");
    assert_eq!(body["session_id"], "sess_2test");
    assert_eq!(body["organization"]["id"], "org_2test");
    assert_eq!(body["organization"]["role"], "org:admin");
    assert_eq!(
        body["organization"]["permissions"],
        json!(["org:billing:read", "org:billing:manage"])
    );
}

/// `auth.audience` as @clerk/backend's `audience` option: a present `aud` must name a configured
/// audience (`token-verification-failed` otherwise), a token without one passes (session tokens
/// carry none); stricter than Clerk, an `aud` of another type is refused rather than ignored.
#[actix_web::test]
async fn a_configured_audience_is_checked_as_clerk_checks_it() {
    let (app, _clerk, _db) = verifying_with(&[(
        "AUTH_CORE__AUTH__AUDIENCE",
        " https://api.example.com ,billing,",
    )])
    .await;
    let a = Minter::a();
    let accepted = [
        json!("https://api.example.com"),
        json!(["other", "billing"]),
        json!(null),
        json!(""),
        json!([]),
        json!(["", ""]),
    ];
    for aud in accepted {
        let res = me_with(&app, &a.mint(&claims(json!({ "aud": aud.clone() })))).await;
        assert_eq!(
            res.status,
            200,
            "aud {aud}: {}",
            String::from_utf8_lossy(&res.body)
        );
    }
    let without_aud = me_with(&app, &a.mint(&claims(json!({})))).await;
    assert_eq!(without_aud.status, 200);
    let refused = [
        json!("https://evil.example"),
        json!("https://api.example.com/"),
        json!("BILLING"),
        json!(["other"]),
        json!(["billing", 5]),
        json!(5),
        json!(true),
        json!({ "aud": "billing" }),
    ];
    for aud in refused {
        let res = me_with(&app, &a.mint(&claims(json!({ "aud": aud.clone() })))).await;
        assert_eq!(res.status, 401, "aud {aud} was accepted");
        assert_refused(&res, 401, "token-verification-failed");
    }
}

/// The JWT rules issue 13 made exact, over HTTP: a key published for RS256 verifies no RS384 token
/// even when the same RSA key signed it (`token-verification-failed`, as WebCrypto's import refuses
/// it for Clerk); an unsigned `alg: none` token in any spelling is `token-invalid-algorithm`; an empty
/// signature is `token-invalid-signature`; with no audience configured a token carrying `aud` is
/// refused, and accepted again with `auth.accept_any_audience`.
#[actix_web::test]
async fn key_algorithms_unsigned_tokens_and_unexpected_audiences_are_refused() {
    let s = setup().await;
    let a = Minter::a();
    let rs384 = a.mint_with_header(Header::new(Algorithm::RS384), &claims(json!({})));
    assert_refused(
        &me_with(&s.app, &rs384).await,
        401,
        "token-verification-failed",
    );

    let payload = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    for alg in ["none", "None", "NONE"] {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": KID_A}).to_string());
        let unsigned = format!("{header}.{payload}.");
        assert_refused(
            &me_with(&s.app, &unsigned).await,
            401,
            "token-invalid-algorithm",
        );
    }
    let good = a.mint(&claims(json!({})));
    let (signing_input, _) = good.rsplit_once('.').unwrap();
    let unsigned = format!("{signing_input}.");
    assert_refused(
        &me_with(&s.app, &unsigned).await,
        401,
        "token-invalid-signature",
    );

    let with_aud = a.mint(&claims(json!({"aud": "https://api.example.com"})));
    assert_refused(
        &me_with(&s.app, &with_aud).await,
        401,
        "token-verification-failed",
    );
    let empty_aud = a.mint(&claims(json!({"aud": ""})));
    assert_eq!(me_with(&s.app, &empty_aud).await.status, 200);
    assert_eq!(me_with(&s.app, &good).await.status, 200);

    let (accepting, _clerk, _db) =
        verifying_with(&[("AUTH_CORE__AUTH__ACCEPT_ANY_AUDIENCE", "true")]).await;
    let res = me_with(&accepting, &with_aud).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
}

/// Every reason code, each produced by a real HTTP request.
#[actix_web::test]
async fn every_reason_code_over_http() {
    let s = setup().await;
    let a = Minter::a();
    let header_only = |h: Value| {
        let h: Header = serde_json::from_value(h).unwrap();
        a.mint_with_header(h, &claims(json!({})))
    };
    let cases: Vec<(&str, String)> = vec![
        ("token-invalid", "not-a-jwt".into()),
        ("token-invalid", "e30.e30".into()),
        // Decodes, but the header names no algorithm.
        ("token-invalid-algorithm", "e30.e30.e30".into()),
        (
            "token-invalid",
            header_only(json!({"alg": "RS256", "typ": "JOSE", "kid": KID_A})),
        ),
        ("token-invalid-algorithm", {
            let key = jsonwebtoken::EncodingKey::from_secret(b"guessable");
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(json!({})), &key).unwrap()
        }),
        (
            "jwk-kid-mismatch",
            Minter::new("a", Some("ins_unknown")).mint(&claims(json!({}))),
        ),
        (
            "token-invalid-signature",
            Minter::new("b", Some(KID_A)).mint(&claims(json!({}))),
        ),
        (
            "token-verification-failed",
            a.mint(&claims(json!({"sub": null}))),
        ),
        (
            "token-invalid-authorized-parties",
            a.mint(&claims(json!({"azp": "https://evil.example"}))),
        ),
        ("token-expired", a.mint(&claims(json!({"exp": NOW_S - 5})))),
        (
            "token-not-active-yet",
            a.mint(&claims(json!({"nbf": NOW_S + 6}))),
        ),
        (
            "token-iat-in-the-future",
            a.mint(&claims(json!({"iat": NOW_S + 6, "nbf": null}))),
        ),
        (
            "token-invalid-issuer",
            a.mint(&claims(json!({"iss": "https://clerk.attacker.dev"}))),
        ),
        (
            "token-type-mismatch",
            header_only(json!({"alg": "RS256", "kid": KID_A, "cat": "cl_B7d4PD222AAA"})),
        ),
        (
            "token-type-mismatch",
            header_only(json!({"alg": "RS256", "kid": KID_A, "cat": "cl_B7d4PD333AAA"})),
        ),
        (
            "token-type-mismatch",
            header_only(json!({"alg": "RS256", "kid": KID_A, "typ": "at+jwt"})),
        ),
        (
            "token-type-mismatch",
            a.mint(&claims(json!({"sub": "mch_2machine"}))),
        ),
        (
            "session-pending",
            a.mint(&claims(json!({"sts": "pending"}))),
        ),
        (
            "token-too-large",
            a.mint(&claims(json!({"pad": "x".repeat(17 * 1024)}))),
        ),
    ];
    for (code, token) in &cases {
        assert_refused(&me_with(&s.app, token).await, 401, code);
    }
    assert_refused(
        &get_me(&s.app, None, None).await,
        401,
        "session-token-missing",
    );
    assert_eq!(
        get_me(&s.app, None, None).await.header("www-authenticate"),
        Some("Bearer")
    );
    // A header that is not visible ASCII.
    let raw = actix_web::http::header::HeaderValue::from_bytes(b"Bearer \xe2\x98\x83").unwrap();
    let res = Response::from(
        client()
            .get(s.app.url("/api/auth/me"))
            .insert_header(("Authorization", raw))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(&res, 401, "token-invalid");
    // Sanity: the same minter's valid token passes, so the refusals above are about the claims.
    let valid = a.mint(&claims(json!({})));
    assert_eq!(me_with(&s.app, &valid).await.status, 200);
    // As in Clerk, the header may carry the raw token without a scheme.
    assert_eq!(get_me(&s.app, Some(&valid), None).await.status, 200);
}

#[actix_web::test]
async fn header_wins_over_cookies_and_cookies_work_alone() {
    let s = setup().await;
    let good = Minter::a().mint(&claims(json!({})));
    let expired = Minter::a().mint(&claims(json!({"exp": NOW_S - 60})));
    let cookie = |t: &str| format!("__session={t}");
    // Header present: the cookie is not looked at, whatever it holds.
    assert_refused(
        &get_me(
            &s.app,
            Some(&format!("Bearer {expired}")),
            Some(&cookie(&good)),
        )
        .await,
        401,
        "token-expired",
    );
    assert_eq!(
        get_me(
            &s.app,
            Some(&format!("bearer {good}")),
            Some(&cookie(&expired))
        )
        .await
        .status,
        200
    );
    assert_refused(
        &get_me(&s.app, Some("Basic dXNlcjpwdw=="), Some(&cookie(&good))).await,
        401,
        "session-token-missing",
    );
    // No header: the cookie, plain or (alone) suffixed.
    assert_eq!(get_me(&s.app, None, Some(&cookie(&good))).await.status, 200);
    assert_eq!(
        get_me(
            &s.app,
            None,
            Some(&format!("other=1; __session_Ab3dEf9x={good}"))
        )
        .await
        .status,
        200
    );
    assert_refused(
        &get_me(&s.app, None, Some(&cookie(&expired))).await,
        401,
        "token-expired",
    );
}

/// A token verified once is served from the cache: no further JWKS fetch, and the cached verdict
/// still ends exactly at expiry (+ skew).
#[actix_web::test]
async fn verified_tokens_are_cached_until_they_expire() {
    let s = setup().await;
    let token = Minter::a().mint(&claims(json!({"exp": NOW_S + 30})));
    for _ in 0..5 {
        assert_eq!(me_with(&s.app, &token).await.status, 200);
    }
    assert_eq!(
        s.clerk.jwks_fetches(),
        1,
        "one fetch, at start-up or first use"
    );
    s.clock.set_ms((NOW_S + 30) * 1000 + 4_999);
    assert_eq!(me_with(&s.app, &token).await.status, 200);
    s.clock.set_ms((NOW_S + 30) * 1000 + 5_000);
    assert_refused(&me_with(&s.app, &token).await, 401, "token-expired");
}

#[actix_web::test]
async fn a_new_kid_is_accepted_after_one_refetch() {
    let s = setup().await;
    assert_eq!(
        me_with(&s.app, &Minter::a().mint(&claims(json!({}))))
            .await
            .status,
        200
    );
    let before = s.clerk.jwks_fetches();
    s.clerk.set_keys(&["a", "b"]);
    let by_b = Minter::b().mint(&claims(json!({})));
    assert_eq!(me_with(&s.app, &by_b).await.status, 200);
    assert_eq!(s.clerk.jwks_fetches(), before + 1);
}

#[actix_web::test]
async fn a_removed_kid_is_refused_once_the_ttl_has_passed() {
    let s = setup().await;
    let verified_before = Minter::a().mint(&claims(json!({"exp": NOW_S + 3600})));
    assert_eq!(me_with(&s.app, &verified_before).await.status, 200);
    s.clerk.set_keys(&["b"]);
    // Within the TTL the cached key set still holds key a.
    s.clock.advance_ms(299_000);
    let fresh_a = Minter::a().mint(&session_claims(NOW_S + 299, json!({})));
    assert_eq!(me_with(&s.app, &fresh_a).await.status, 200);
    // Past the TTL the set is refetched: key a is gone, for new tokens and cached verdicts alike.
    s.clock.advance_ms(2_000);
    let now = NOW_S + 301;
    assert_refused(
        &me_with(&s.app, &Minter::a().mint(&session_claims(now, json!({})))).await,
        401,
        "jwk-kid-mismatch",
    );
    assert_refused(
        &me_with(&s.app, &verified_before).await,
        401,
        "jwk-kid-mismatch",
    );
    assert_eq!(
        me_with(&s.app, &Minter::b().mint(&session_claims(now, json!({}))))
            .await
            .status,
        200
    );
}

/// 1,000 concurrent requests carrying unknown kids cause one refetch per cooldown.
#[actix_web::test]
async fn unknown_kid_storms_refetch_once_per_cooldown() {
    let s = setup().await;
    assert_eq!(
        me_with(&s.app, &Minter::a().mint(&claims(json!({}))))
            .await
            .status,
        200
    );
    let before = s.clerk.jwks_fetches();
    let tokens: Vec<String> = (0..1000)
        .map(|i| Minter::new("a", Some(&format!("ins_unknown_{i}"))).mint(&claims(json!({}))))
        .collect();
    let requests = tokens.iter().map(|t| me_with(&s.app, t));
    let responses = futures_util::future::join_all(requests).await;
    assert!(responses
        .iter()
        .all(|r| r.status == 401 && r.json()["error"]["code"] == "jwk-kid-mismatch"));
    assert_eq!(s.clerk.jwks_fetches(), before + 1);
    // After the cooldown, one more.
    s.clock.advance_ms(30_000);
    let late =
        Minter::new("a", Some("ins_unknown_late")).mint(&session_claims(NOW_S + 30, json!({})));
    assert_refused(&me_with(&s.app, &late).await, 401, "jwk-kid-mismatch");
    assert_eq!(s.clerk.jwks_fetches(), before + 2);
}

/// The JWKS server goes away: keys already known keep verifying, even past the TTL.
#[actix_web::test]
async fn known_keys_keep_working_while_the_source_is_down() {
    let s = setup().await;
    assert_eq!(
        me_with(&s.app, &Minter::a().mint(&claims(json!({}))))
            .await
            .status,
        200
    );
    s.clerk.stop().await;
    s.clock.advance_ms(600_000);
    let now = NOW_S + 600;
    assert_eq!(
        me_with(&s.app, &Minter::a().mint(&session_claims(now, json!({}))))
            .await
            .status,
        200
    );
    let status = s.app.state.verifier.key_store().unwrap().status();
    assert_eq!(status.kids, [KID_A]);
    assert!(
        status.failures >= 1 && status.last_error.is_some(),
        "{status:?}"
    );
    // Within the cooldown after the failure, further requests do not retry the dead source.
    let failures = status.failures;
    assert_eq!(
        me_with(
            &s.app,
            &Minter::a().mint(&session_claims(now, json!({"sid": "sess_other"})))
        )
        .await
        .status,
        200
    );
    assert_eq!(
        s.app.state.verifier.key_store().unwrap().status().failures,
        failures
    );
}

/// The Backend API as key source (`CLERK_SECRET_KEY`, `/v1/jwks` with the bearer secret).
#[actix_web::test]
async fn backend_api_key_source_uses_the_secret_key() {
    let clerk = ClerkStandIn::start(&["a"]);
    let db = TestDb::sqlite();
    let (clock, _handle) = Clock::manual(NOW_S * 1000);
    let settings = db.settings(&[
        ("CLERK_SECRET_KEY", SECRET_KEY),
        ("AUTH_CORE__CLERK__API_URL", &clerk.base),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ]);
    let app = TestApp::spawn_with_clock(settings, clock).await;
    assert_eq!(
        me_with(&app, &Minter::a().mint(&claims(json!({}))))
            .await
            .status,
        200
    );
    assert!(clerk.jwks_fetches() >= 1);
}

/// A PEM key verifies with no network at all, whatever the token's kid.
#[actix_web::test]
async fn pem_key_verifies_without_network() {
    let db = TestDb::sqlite();
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let (clock, _handle) = Clock::manual(NOW_S * 1000);
    let settings = db.settings(&[
        ("CLERK_JWT_KEY", pem.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ]);
    let app = TestApp::spawn_with_clock(settings, clock).await;
    let token = Minter::new("a", Some("any-kid")).mint(&claims(json!({})));
    assert_eq!(me_with(&app, &token).await.status, 200);
    assert_refused(
        &me_with(&app, &Minter::b().mint(&claims(json!({})))).await,
        401,
        "token-invalid-signature",
    );
}

/// The first request of an unknown user creates the user row; the profile arrives from the Backend
/// API in the background and the next request shows it.
async fn users_are_created_just_in_time_and_completed_from_clerk(db: TestDb) {
    let s = setup_with(db, true).await;
    s.clerk.put_user(example_user(
        "user_2test",
        "Ada@Example.com",
        1_716_883_200_000,
    ));
    let mut updates = s.app.state.users.subscribe();
    let token = Minter::a().mint(&claims(json!({})));

    let first = me_with(&s.app, &token).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["user"]["id"], "user_2test");
    assert_eq!(first.json()["user"]["profile_synced"], false);
    let row = s
        .app
        .state
        .db
        .run(|conn| auth_core::db::users::find_user(conn, "user_2test"))
        .await
        .unwrap();
    // Created on first sight (the background fetch may already have completed it).
    assert!(row.is_some(), "the user row was created on first sight");

    let updated = tokio::time::timeout(Duration::from_secs(10), updates.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated, "user_2test");
    let second = me_with(&s.app, &token).await.json();
    assert_eq!(second["user"]["profile_synced"], true);
    assert_eq!(second["user"]["email"], "ada@example.com");
    assert_eq!(second["user"]["first_name"], "John");
    assert_eq!(s.clerk.user_fetches(), 1);
}

/// A failing Backend API never fails the request.
async fn a_failed_profile_fetch_does_not_fail_the_request(db: TestDb) {
    let s = setup_with(db, true).await;
    s.clerk.fail_user_fetches_with(500);
    let res = me_with(&s.app, &Minter::a().mint(&claims(json!({})))).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["user"]["profile_synced"], false);
}

/// A warm request is served from memory: with every database connection taken, it still answers
/// at once (a database round trip would wait for the acquire timeout and answer 503).
async fn a_warm_request_makes_no_database_round_trip(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let jwks = clerk.jwks_url();
    let (clock, _handle) = Clock::manual(NOW_S * 1000);
    let settings = db.settings(&[
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
        ("AUTH_CORE__DATABASE__MAX_CONNECTIONS", "1"),
        ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "30000"),
    ]);
    let app = TestApp::spawn_with_clock(settings, clock).await;
    let token = Minter::a().mint(&claims(json!({})));
    assert_eq!(
        me_with(&app, &token).await.status,
        200,
        "cold: creates the user"
    );
    let pool = app.state.db.clone();
    let held = actix_web::rt::task::spawn_blocking(move || pool.get().unwrap())
        .await
        .unwrap();
    let warm = tokio::time::timeout(Duration::from_secs(5), me_with(&app, &token)).await;
    assert_eq!(
        warm.expect("answered without waiting for the database")
            .status,
        200
    );
    drop(held);
}

db_test!(
    users_are_created_just_in_time_and_completed_from_clerk,
    a_failed_profile_fetch_does_not_fail_the_request,
    a_warm_request_makes_no_database_round_trip,
);

/// `token-invalid-issuer` says which issuer was expected and which the token names (quoted, escaped
/// and cut at 128 characters: it is the sender's text), so the setting to change is plain.
#[actix_web::test]
async fn an_invalid_issuer_names_the_expected_and_the_received_one() {
    let s = setup().await;
    let message = |res: &Response| res.json()["error"]["message"].as_str().unwrap().to_owned();
    let prefix =
        "the token's issuer is not this Clerk instance: expected https://clerk.example.com \
                  (auth.issuer, or from CLERK_PUBLISHABLE_KEY), received ";
    let cases = [
        (
            json!({"iss": "https://other.clerk.accounts.dev"}),
            r#""https://other.clerk.accounts.dev""#.to_owned(),
        ),
        (json!({"iss": null}), "no iss claim".to_owned()),
        (json!({"iss": 42}), "no iss claim".to_owned()),
        (
            json!({"iss": "https://x\n2026-12-01 INFO forged line"}),
            r#""https://x\n2026-12-01 INFO forged line""#.to_owned(),
        ),
        (
            json!({"iss": format!("https://{}", "a".repeat(10_000))}),
            format!("{:?}", format!("https://{}", "a".repeat(120))),
        ),
    ];
    for (extra, received) in cases {
        let res = me_with(&s.app, &Minter::a().mint(&claims(extra))).await;
        assert_refused(&res, 401, "token-invalid-issuer");
        assert_eq!(message(&res), format!("{prefix}{received}"));
    }
}

/// No key source at all: every token is refused 503 with a Retry-After long enough (30 s) that
/// frontends do not spin on something only an operator can fix.
#[actix_web::test]
async fn without_a_key_source_tokens_are_refused_with_a_long_retry_after() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings(&[])).await;
    let token = Minter::a().mint(&claims(json!({})));
    let refused = me_with(&app, &token).await;
    assert_refused(&refused, 503, "jwk-failed-to-resolve");
    assert_eq!(refused.header("retry-after"), Some("30"));
}

/// The key source is down when the service starts: start-up succeeds, requests get 503 (retry, not a
/// bad-token 401), and once the source answers again tokens verify (after the refetch cooldown).
#[actix_web::test]
async fn start_up_does_not_depend_on_the_key_source() {
    let clerk = ClerkStandIn::start(&["a"]);
    clerk.set_jwks_down(true);
    let db = TestDb::sqlite();
    let (clock, handle) = Clock::manual(NOW_S * 1000);
    let jwks = clerk.jwks_url();
    let settings = db.settings(&[
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ]);
    let app = TestApp::spawn_with_clock(settings, clock).await;
    assert_eq!(app.get("/healthz").await.status, 200);
    let token = Minter::a().mint(&claims(json!({})));
    let refused = me_with(&app, &token).await;
    assert_refused(&refused, 503, "jwk-failed-to-resolve");
    // The source may answer any moment: retry soon.
    assert_eq!(refused.header("retry-after"), Some("1"));

    clerk.set_jwks_down(false);
    handle.advance_ms(30_000);
    let token = Minter::a().mint(&session_claims(NOW_S + 30, json!({})));
    assert_eq!(me_with(&app, &token).await.status, 200);
}
