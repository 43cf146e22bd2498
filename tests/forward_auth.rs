//! Forward auth over HTTP (`/api/auth/verify`), on both databases: the identity headers, the query's
//! requirements, Clerk's reverification body (also from the `Require::reverification` guard), the
//! signed assertion against the JWKS document, the audit trail's forwarded target, key agreement
//! between instances and rotation, and what a warm check reuses (the answer, never the judgement).
//! nginx in front of it: `tests/nginx.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::http::Method;
use actix_web::{middleware::from_fn, web, HttpResponse};
use auth_core::auth::assertion::{
    self, LIFETIME_SECS, RETIREMENT_DELAY_MS, REUSE_SECS, ROTATION_LEAD_MS,
};
use auth_core::clerk::authorization::Reverification;
use auth_core::db::schema::audit_events as ae;
use auth_core::request::authenticate::{authenticate, Accepts};
use auth_core::request::Require;
use common::clerk::{session_claims, ClerkStandIn, Minter, ISSUER};
use common::embedded::start;
use common::webhooks::{deliver, example, WEBHOOK_SECRET};
use common::{client, Response, TestApp, TestDb};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

const NOW_S: i64 = 1_800_000_000;

fn settings(db: &TestDb) -> auth_core::settings::Settings {
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    db.settings(&[
        ("CLERK_JWT_KEY", pem.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ])
}

fn token(extra: Value) -> String {
    Minter::a().mint(&session_claims(NOW_S, extra))
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Response {
    let mut req = client().request(method, app.url(path));
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    Response::from(req.send().await.unwrap()).await
}

async fn verify(app: &TestApp, query: &str, token: Option<&str>) -> Response {
    send(
        app,
        Method::GET,
        &format!("/api/auth/verify{query}"),
        token,
        &[],
    )
    .await
}

/// Every `x-auth-*` header of a response except the assertion, sorted.
fn identity_headers(res: &Response) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = res
        .headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-auth-") && *name != "x-auth-assertion")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = expected
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    out.sort();
    out
}

/// The assertion's claims, verified with the key the JWKS document names (EdDSA only).
async fn verified_assertion(app: &TestApp, assertion: &str) -> Value {
    let jwks = app.get("/.well-known/auth-core/jwks.json").await;
    assert_eq!(jwks.status, 200);
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&jwks.body).unwrap();
    let kid = jsonwebtoken::decode_header(assertion).unwrap().kid.unwrap();
    let jwk = set.find(&kid).expect("the assertion's kid is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["auth-core"]);
    // The app runs on a manual clock; exp is checked below against it.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "exp", "sub"]);
    let data =
        jsonwebtoken::decode::<Value>(assertion, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .expect("the assertion verifies");
    data.claims
}

async fn identity_headers_and_assertion(db: TestDb) {
    // Half a second in: the first key, created now, signs at once (its activation is in ms).
    let (app, _clock) = TestApp::spawn_at(settings(&db), NOW_S * 1000 + 500).await;
    let admin = token(json!({}));
    // Any method: the proxy's subrequest may keep the client's.
    for method in [Method::GET, Method::POST, Method::DELETE, Method::HEAD] {
        let res = send(&app, method.clone(), "/api/auth/verify", Some(&admin), &[]).await;
        assert_eq!(res.status, 200, "{method}");
        assert!(res.body.is_empty());
        assert_eq!(res.header("cache-control"), Some("no-store"));
        assert_eq!(
            identity_headers(&res),
            pairs(&[
                ("x-auth-user-id", "user_2test"),
                ("x-auth-session-id", "sess_2test"),
                ("x-auth-org-id", "org_2test"),
                ("x-auth-org-slug", "acme"),
                ("x-auth-org-role", "org:admin"),
                (
                    "x-auth-org-permissions",
                    "org:billing:read,org:billing:manage"
                ),
                ("x-auth-principal", "user"),
            ]),
            "{method}"
        );
    }
    let res = verify(&app, "", Some(&admin)).await;
    let claims = verified_assertion(&app, res.header("x-auth-assertion").unwrap()).await;
    assert_eq!(
        claims,
        json!({
            "iss": "auth-core", "iat": NOW_S, "exp": NOW_S + LIFETIME_SECS,
            "sub": "user_2test", "sid": "sess_2test", "org_id": "org_2test", "org_slug": "acme",
            "org_role": "org:admin", "org_permissions": ["org:billing:read", "org:billing:manage"],
            "principal": "user",
        })
    );
    let jwks = app.get("/.well-known/auth-core/jwks.json").await;
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    let keys = jwks.json()["keys"].clone();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(
        (&keys[0]["kty"], &keys[0]["crv"], &keys[0]["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    assert!(keys[0].get("d").is_none(), "no private part");

    // No organization: no organization headers at all, never empty ones.
    let personal = token(json!({"o": null, "fea": null}));
    let res = verify(&app, "", Some(&personal)).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        identity_headers(&res),
        pairs(&[
            ("x-auth-user-id", "user_2test"),
            ("x-auth-session-id", "sess_2test"),
            ("x-auth-principal", "user"),
        ])
    );
    let claims = verified_assertion(&app, res.header("x-auth-assertion").unwrap()).await;
    assert!(claims.get("org_id").is_none() && claims.get("org_permissions").is_none());

    // A service key: its organization and scopes, no user, no session.
    let key = app
        .service_key(Some("org_2test"), &["notes:read"], None, NOW_S * 1000)
        .await;
    let res = verify(&app, "", Some(&key)).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        identity_headers(&res),
        pairs(&[
            ("x-auth-org-id", "org_2test"),
            ("x-auth-org-permissions", "notes:read"),
            ("x-auth-principal", "service"),
        ])
    );
}

async fn refusals_are_those_of_every_route(db: TestDb) {
    let (app, _clock) = TestApp::spawn_at(settings(&db), NOW_S * 1000).await;
    let res = verify(&app, "", None).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["code"], "session-token-missing");
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(res.header("x-auth-user-id").is_none());

    let expired = Minter::a().mint(&session_claims(NOW_S - 3600, json!({})));
    let res = verify(&app, "", Some(&expired)).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["code"], "token-expired");
    assert_eq!(
        res.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\", error_description=\"token-expired\"")
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));

    // Forged identity headers from the client change nothing: the answer is about the token.
    let admin = token(json!({}));
    let res = send(
        &app,
        Method::GET,
        "/api/auth/verify",
        Some(&admin),
        &[
            ("X-Auth-User-Id", "user_evil"),
            ("X-Auth-Org-Role", "org:owner"),
        ],
    )
    .await;
    assert_eq!(res.header("x-auth-user-id"), Some("user_2test"));
    assert_eq!(res.header("x-auth-org-role"), Some("org:admin"));
}

async fn query_requirements(db: TestDb) {
    let (app, _clock) = TestApp::spawn_at(settings(&db), NOW_S * 1000).await;
    let admin = token(json!({}));
    let member =
        token(json!({"o": {"id": "org_2test", "rol": "member", "per": "read", "fpm": "1"}}));
    let personal = token(json!({"o": null, "fea": null}));
    for (who, query, status, code) in [
        (&admin, "?role=org:admin", 200, None),
        (&admin, "?role=admin&org=required", 200, None),
        (
            &member,
            "?role=org:admin",
            403,
            Some("insufficient-permissions"),
        ),
        (
            &admin,
            "?permission=org:billing:read&permission=billing:manage",
            200,
            None,
        ),
        (&member, "?permission=org:billing:read", 200, None),
        (
            &member,
            "?permission=org:billing:read&permission=org:billing:manage",
            403,
            Some("insufficient-permissions"),
        ),
        (
            &personal,
            "?org=required",
            403,
            Some("organization-required"),
        ),
        (
            &personal,
            "?permission=org:billing:read",
            403,
            Some("insufficient-permissions"),
        ),
        (&admin, "?rol=org:admin", 400, Some("bad-request")),
        (
            &admin,
            "?role=org:admin&role=org:member",
            400,
            Some("bad-request"),
        ),
        (&admin, "?org=optional", 400, Some("bad-request")),
        (
            &admin,
            "?reverification=sometimes",
            400,
            Some("bad-request"),
        ),
        (&admin, "?role=", 400, Some("bad-request")),
    ] {
        let res = verify(&app, query, Some(who)).await;
        assert_eq!(res.status, status, "{query}");
        assert_eq!(res.header("cache-control"), Some("no-store"), "{query}");
        if let Some(code) = code {
            assert_eq!(res.json()["error"]["code"], code, "{query}");
            assert!(res.header("x-auth-user-id").is_none(), "{query}");
        }
    }
    let res = verify(&app, "?role=org:admin", Some(&member)).await;
    assert_eq!(
        res.json()["error"]["required"],
        json!({"role": "org:admin"})
    );
    // Floods of parameters: refused whole, before any check.
    let many = format!("?{}", vec!["permission=org:billing:read"; 17].join("&"));
    assert_eq!(verify(&app, &many, Some(&admin)).await.status, 400);
    let sixteen = format!("?{}", vec!["permission=org:billing:read"; 16].join("&"));
    assert_eq!(verify(&app, &sixteen, Some(&admin)).await.status, 200);
    let huge = format!("?role={}", "a".repeat(5000));
    assert_eq!(verify(&app, &huge, Some(&admin)).await.status, 400);
}

/// @clerk/shared's `reverificationError(missingConfig)`, as `useReverification()` reads it.
fn clerk_reverification_body(level: &str, after_minutes: i64) -> Value {
    json!({"clerk_error": {"type": "forbidden", "reason": "reverification-error",
        "metadata": {"reverification": {"level": level, "afterMinutes": after_minutes}}}})
}

async fn reverification_answers_in_clerks_shape(db: TestDb) {
    let (app, _clock) = TestApp::spawn_at(settings(&db), NOW_S * 1000).await;
    // First factor 3 minutes ago, second 30.
    let recent = token(json!({"fva": [3, 30]}));
    for (query, expected) in [
        ("?reverification=lax", None),
        ("?reverification=moderate", None),
        ("?reverification=strict", Some(("second_factor", 10))),
        ("?reverification=strict_mfa", Some(("multi_factor", 10))),
    ] {
        let res = verify(&app, query, Some(&recent)).await;
        match expected {
            None => assert_eq!(res.status, 200, "{query}"),
            Some((level, minutes)) => {
                assert_eq!(res.status, 403, "{query}");
                assert_eq!(res.header("content-type"), Some("application/json"));
                assert_eq!(
                    res.json(),
                    clerk_reverification_body(level, minutes),
                    "{query}"
                );
            }
        }
    }
    // A token without `fva` cannot prove a recent verification.
    let res = verify(&app, "?reverification=lax", Some(&token(json!({})))).await;
    assert_eq!(res.json(), clerk_reverification_body("second_factor", 1440));
    // A missing role is the first answer: verifying again would not grant it.
    let member = token(json!({"fva": [90, 90], "o": {"id": "org_2test", "rol": "member"}}));
    let res = verify(&app, "?role=org:admin&reverification=strict", Some(&member)).await;
    assert_eq!(res.json()["error"]["code"], "insufficient-permissions");
    // A service key has verified no factor: insufficient, not a dialog it cannot open.
    let key = app
        .service_key(Some("org_2test"), &[], None, NOW_S * 1000)
        .await;
    let res = verify(&app, "?reverification=lax", Some(&key)).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"]["code"], "insufficient-permissions");
}

fn step_up_routes(config: &mut web::ServiceConfig) {
    config.service(
        web::resource("/app/transfer")
            .wrap(Require::reverification(Reverification::Strict))
            .wrap(from_fn(|req, next| authenticate(Accepts::ANY, req, next)))
            .to(|| async { HttpResponse::Ok().json(json!({"transferred": true})) }),
    );
}

/// The guard a team puts on its own route answers exactly as `/api/auth/verify` does.
async fn the_reverification_guard_answers_in_clerks_shape(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let (base, _state, _clock) = start(&db, &clerk, NOW_S, step_up_routes).await;
    for (fva, status, body) in [
        (json!([3, 5]), 200, json!({"transferred": true})),
        (
            json!([3, 30]),
            403,
            clerk_reverification_body("second_factor", 10),
        ),
        (
            json!([30, -1]),
            403,
            clerk_reverification_body("second_factor", 10),
        ),
    ] {
        let (got_status, got) =
            common::embedded::call(&base, &token(json!({"fva": fva})), "/app/transfer").await;
        assert_eq!((got_status, &got), (status, &body), "fva {fva}");
    }
}

/// method, path, status, user, reason, detail
type AuditRow = (
    String,
    String,
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn the_audit_trail_names_the_forwarded_request(db: TestDb) {
    let (app, _clock) = TestApp::spawn_at(settings(&db), NOW_S * 1000).await;
    let admin = token(json!({}));
    let forwarded = [
        ("X-Forwarded-Method", "DELETE"),
        ("X-Forwarded-Uri", "/notes/7?token=secret"),
    ];
    send(
        &app,
        Method::GET,
        "/api/auth/verify",
        Some(&admin),
        &forwarded,
    )
    .await;
    // A refusal is recorded with it too; nginx's header name; a URI with escapes and no method.
    send(
        &app,
        Method::GET,
        "/api/auth/verify",
        None,
        &[("X-Original-URI", "/admin\tx")],
    )
    .await;
    tokio::time::timeout(std::time::Duration::from_secs(30), app.state.audit.flush())
        .await
        .unwrap();
    let rows: Vec<AuditRow> = app
        .state
        .db
        .run(|c| {
            Ok(ae::table
                .order(ae::id)
                .select((
                    ae::method,
                    ae::path,
                    ae::status,
                    ae::user_id,
                    ae::reason,
                    ae::detail,
                ))
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            (
                "GET".to_owned(),
                "/api/auth/verify".to_owned(),
                200,
                Some("user_2test".to_owned()),
                None,
                Some("forwarded DELETE /notes/7".to_owned())
            ),
            (
                "GET".to_owned(),
                "/api/auth/verify".to_owned(),
                401,
                None,
                Some("session-token-missing".to_owned()),
                Some("forwarded ? /admin\\tx".to_owned())
            ),
        ]
    );
}

/// Two instances started together on one database sign with the same key: the first start's insert
/// is if-absent, then both read.
async fn instances_on_one_database_agree_on_the_key(db: TestDb) {
    let (a, b) = (settings(&db), settings(&db));
    let first = actix_web::rt::task::spawn_blocking(move || {
        auth_core::state::AppState::prepare(a).unwrap()
    });
    let second = actix_web::rt::task::spawn_blocking(move || {
        auth_core::state::AppState::prepare(b).unwrap()
    });
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    let (first, second) = (TestApp::serve(first), TestApp::serve(second));
    let one = first.get("/.well-known/auth-core/jwks.json").await.json();
    let other = second.get("/.well-known/auth-core/jwks.json").await.json();
    assert_eq!(one["keys"].as_array().unwrap().len(), 1);
    assert_eq!(one, other);
}

/// A rotation: the next key is published at once and signs only after the lead; the previous key
/// stays published until its last assertions have expired, then disappears.
async fn rotation_publishes_first_then_signs(db: TestDb) {
    let (app, clock) = TestApp::spawn_at(settings(&db), NOW_S * 1000).await;
    let admin = token(json!({}));
    let kid_of = |res: &Response| {
        jsonwebtoken::decode_header(res.header("x-auth-assertion").unwrap())
            .unwrap()
            .kid
            .unwrap()
    };
    let old = kid_of(&verify(&app, "", Some(&admin)).await);
    let rotated = assertion::rotate(&app.state.db, NOW_S * 1000, false).unwrap();
    assert_eq!(rotated.activates_at, NOW_S * 1000 + ROTATION_LEAD_MS);
    app.state.assertion_keys.reload().unwrap();
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let published = kids(app.get("/.well-known/auth-core/jwks.json").await.json());
    assert_eq!(published, [old.clone(), rotated.kid.clone()]);
    clock.set_ms(NOW_S * 1000 + ROTATION_LEAD_MS - 1000);
    let fresh = Minter::a().mint(&session_claims(NOW_S + 359, json!({})));
    assert_eq!(kid_of(&verify(&app, "", Some(&fresh)).await), old);
    // Past the lead and the reuse of the last assertion the old key signed.
    clock.set_ms(NOW_S * 1000 + ROTATION_LEAD_MS + 10_000);
    let fresh = Minter::a().mint(&session_claims(NOW_S + 370, json!({})));
    let res = verify(&app, "", Some(&fresh)).await;
    assert_eq!(kid_of(&res), rotated.kid);
    verified_assertion(&app, res.header("x-auth-assertion").unwrap()).await;
    clock.set_ms(NOW_S * 1000 + ROTATION_LEAD_MS + RETIREMENT_DELAY_MS);
    app.state.assertion_keys.reload().unwrap();
    let published = kids(app.get("/.well-known/auth-core/jwks.json").await.json());
    assert_eq!(published, [rotated.kid]);
}

/// A rotation `--immediately` (a key believed compromised), once loaded, signs the next check at
/// once: the assertion handed out a moment before is not reused, its key no longer being published.
async fn an_immediate_rotation_is_not_answered_with_a_reused_assertion(db: TestDb) {
    let (app, _clock) = TestApp::spawn_at(settings(&db), NOW_S * 1000 + 500).await;
    let admin = token(json!({}));
    let kid_of = |res: &Response| {
        jsonwebtoken::decode_header(res.header("x-auth-assertion").unwrap())
            .unwrap()
            .kid
            .unwrap()
    };
    let before = verify(&app, "", Some(&admin)).await;
    let rotated = assertion::rotate(&app.state.db, NOW_S * 1000 + 500, true).unwrap();
    assert_ne!(kid_of(&before), rotated.kid);
    app.state.assertion_keys.reload().unwrap();
    let after = verify(&app, "", Some(&admin)).await;
    assert_eq!(after.status, 200);
    assert_eq!(kid_of(&after), rotated.kid);
    assert_eq!(identity_headers(&after), identity_headers(&before));
    verified_assertion(&app, after.header("x-auth-assertion").unwrap()).await;
}

/// An upstream that pins EdDSA and the published keys refuses forgeries of the assertion: `alg:
/// none`, HS256 keyed with the public key (algorithm confusion), and a payload changed after signing.
async fn forged_assertions_do_not_verify(db: TestDb) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let (app, _clock) = TestApp::spawn_at(settings(&db), NOW_S * 1000).await;
    let res = verify(&app, "", Some(&token(json!({})))).await;
    let genuine = res.header("x-auth-assertion").unwrap().to_owned();
    let jwks = app.get("/.well-known/auth-core/jwks.json").await.json();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let payload = URL_SAFE_NO_PAD.encode(
        json!({"iss": "auth-core", "sub": "user_evil", "exp": NOW_S + 30, "principal": "user"})
            .to_string(),
    );
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": kid}).to_string())
    );
    let mut hs = jsonwebtoken::Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let confused = jsonwebtoken::encode(
        &hs,
        &json!({"iss": "auth-core", "sub": "user_evil", "exp": NOW_S + 30}),
        &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
    )
    .unwrap();
    let mut parts: Vec<&str> = genuine.split('.').collect();
    parts[1] = &payload;
    let tampered = parts.join(".");
    let key = DecodingKey::from_ed_components(&x).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    assert!(jsonwebtoken::decode::<Value>(&genuine, &key, &validation).is_ok());
    for forged in [none, confused, tampered] {
        assert!(
            jsonwebtoken::decode::<Value>(&forged, &key, &validation).is_err(),
            "{forged}"
        );
    }
}

/// An event of Clerk's about `user_2test`'s membership of `org_2test`.
fn membership_event(kind: &str) -> Value {
    let mut e = example("organizationMembership.created");
    e["type"] = kind.into();
    e["data"]["id"] = "orgmem_2test".into();
    e["data"]["role"] = "org:admin".into();
    e["data"]["organization"]["id"] = "org_2test".into();
    e["data"]["organization"]["slug"] = "acme".into();
    e["data"]["public_user_data"]["user_id"] = "user_2test".into();
    e
}

async fn delivered(app: &TestApp, svix_id: &str, event: &Value) {
    let res = deliver(app, svix_id, NOW_S, event).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["status"], "applied");
}

/// A warm check hands out the answer made for its credential (the same headers, the same
/// assertion) until the assertion's reuse ends, but is judged each time: a membership removed or a
/// session revoked by webhook is refused at once, and an organization switch (a new token) is
/// answered about the new organization.
async fn warm_checks_reuse_the_answer_but_not_the_judgement(db: TestDb) {
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let settings = db.settings(&[
        ("CLERK_JWT_KEY", pem.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
        ("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ]);
    let (app, clock) = TestApp::spawn_at(settings, NOW_S * 1000 + 500).await;
    delivered(
        &app,
        "msg_1",
        &membership_event("organizationMembership.created"),
    )
    .await;
    let admin = token(json!({}));
    let first = verify(&app, "?role=org:admin", Some(&admin)).await;
    assert_eq!(first.status, 200);
    let again = verify(&app, "?role=org:admin", Some(&admin)).await;
    assert_eq!(again.status, 200);
    assert_eq!(identity_headers(&again), identity_headers(&first));
    assert_eq!(
        again.header("x-auth-assertion"),
        first.header("x-auth-assertion")
    );
    // The requirement is judged on the warm request too.
    let res = verify(&app, "?role=org:owner", Some(&admin)).await;
    assert_eq!(res.status, 403);
    assert!(res.header("x-auth-assertion").is_none());

    // Past the assertion's reuse: the same headers with a new assertion.
    clock.set_ms((NOW_S + REUSE_SECS) * 1000);
    let later = verify(&app, "", Some(&admin)).await;
    assert_eq!(identity_headers(&later), identity_headers(&first));
    let claims = verified_assertion(&app, later.header("x-auth-assertion").unwrap()).await;
    assert_eq!(claims["iat"], NOW_S + REUSE_SECS);

    // An organization switch: Clerk mints a token naming the other organization.
    let switched = token(json!({"o": {"id": "org_2other", "slg": "other", "rol": "member"}}));
    let res = verify(&app, "", Some(&switched)).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("x-auth-org-id"), Some("org_2other"));
    assert_eq!(res.header("x-auth-org-role"), Some("org:member"));
    let claims = verified_assertion(&app, res.header("x-auth-assertion").unwrap()).await;
    assert_eq!(claims["org_id"], "org_2other");

    // Removed from org_2test: the warm token naming it is refused at once, the other one is not.
    delivered(
        &app,
        "msg_2",
        &membership_event("organizationMembership.deleted"),
    )
    .await;
    let res = verify(&app, "", Some(&admin)).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"]["code"], "membership-revoked");
    assert!(res.header("x-auth-user-id").is_none());
    assert_eq!(verify(&app, "", Some(&switched)).await.status, 200);

    // The session revoked: every token of it is refused.
    let mut revoked = example("session.revoked");
    revoked["data"]["id"] = "sess_2test".into();
    delivered(&app, "msg_3", &revoked).await;
    for token in [&admin, &switched] {
        let res = verify(&app, "", Some(token)).await;
        assert_eq!(res.status, 401);
        assert_eq!(res.json()["error"]["code"], "session-revoked");
    }
}

db_test!(
    warm_checks_reuse_the_answer_but_not_the_judgement,
    identity_headers_and_assertion,
    refusals_are_those_of_every_route,
    query_requirements,
    reverification_answers_in_clerks_shape,
    the_reverification_guard_answers_in_clerks_shape,
    the_audit_trail_names_the_forwarded_request,
    instances_on_one_database_agree_on_the_key,
    rotation_publishes_first_then_signs,
    an_immediate_rotation_is_not_answered_with_a_reused_assertion,
    forged_assertions_do_not_verify,
);

/// The real binary: `assertion-keys rotate` before any start makes the first key, signing at once;
/// a second rotation's key is `next` while the first keeps signing; `list` never prints a private key.
#[test]
fn assertion_keys_command_rotates_and_lists() {
    use common::binary::run;
    let dir = tempfile::tempdir().unwrap();
    let stdout = |args: &[&str]| {
        let out = run(dir.path(), &[], args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let empty = stdout(&["assertion-keys", "list"]);
    assert_eq!(empty.lines().count(), 1, "{empty}");
    assert!(empty.starts_with("KID  STATE  CREATED  SIGNS FROM  PUBLISHED UNTIL"));

    let first = stdout(&["assertion-keys", "rotate"]);
    let first_kid = first
        .lines()
        .next()
        .unwrap()
        .strip_prefix("new assertion key ")
        .unwrap()
        .to_owned();
    let second = stdout(&["assertion-keys", "rotate"]);
    let second_kid = second
        .lines()
        .next()
        .unwrap()
        .strip_prefix("new assertion key ")
        .unwrap()
        .to_owned();
    let listed = stdout(&["assertion-keys", "list"]);
    let states: Vec<(String, String)> = listed
        .lines()
        .skip(1)
        .map(|l| {
            let mut cells = l.split_whitespace();
            (
                cells.next().unwrap().to_owned(),
                cells.next().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (second_kid, "next".to_owned()),
            (first_kid, "signing".to_owned())
        ],
        "{listed}"
    );

    let mut conn = <diesel::SqliteConnection as diesel::Connection>::establish(
        &dir.path()
            .join("data/auth-core.sqlite3")
            .display()
            .to_string(),
    )
    .unwrap();
    let private: Vec<String> = auth_core::db::schema::assertion_keys::table
        .select(auth_core::db::schema::assertion_keys::private_key)
        .load(&mut conn)
        .unwrap();
    assert_eq!(private.len(), 2);
    for output in [&first, &second, &listed] {
        for key in &private {
            assert!(
                !output.contains(key.as_str()),
                "a private key printed:\n{output}"
            );
        }
    }
}

/// A database unreadable at start-up does not stop the start (readiness reports it): no key is
/// published yet and a check answers 503, never a forged or unsigned identity.
#[actix_web::test]
async fn an_unreadable_database_at_start_publishes_no_key() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().join("not-a-file.sqlite3");
    std::fs::create_dir(&dir).unwrap();
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let url = dir.display().to_string();
    let settings = db.settings(&[
        ("CLERK_JWT_KEY", pem.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
        ("DATABASE_URL", url.as_str()),
        ("AUTH_CORE__DATABASE__RUN_MIGRATIONS", "false"),
        ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "300"),
    ]);
    let (app, _clock) = TestApp::spawn_at(settings, NOW_S * 1000).await;
    let jwks = app.get("/.well-known/auth-core/jwks.json").await;
    assert_eq!((jwks.status, jwks.json()), (200, json!({"keys": []})));
    let res = verify(&app, "", Some(&token(json!({})))).await;
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["error"]["code"], "database-unavailable");
    assert!(res.header("x-auth-assertion").is_none());
}
