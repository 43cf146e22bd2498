//! Clerk's machine tokens in JWT form, verified networkless with the instance keys (no secret key, no
//! Backend API): M2M tokens minted with `token_format: jwt` (`mch_` subject, M2M `cat`) and OAuth
//! access tokens (`typ: at+jwt`), on an application route that accepts them, on one that accepts M2M
//! tokens only, and on `/api/auth/me` (session tokens only). Claims are read as @clerk/backend's
//! `M2MToken.fromJwtPayload` and `IdPOAuthAccessToken.fromJwtPayload` read them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::{middleware::from_fn, web, HttpMessage, HttpRequest, HttpResponse};
use auth_core::auth::Principal;
use auth_core::request::authenticate::{authenticate, Accepts};
use common::clerk::{merged, session_claims, ClerkStandIn, Minter, ISSUER, KID_A};
use common::embedded::{call, start};
use common::{client, Response, TestDb};
use jsonwebtoken::Header;
use serde_json::{json, Value};

const NOW_S: i64 = 1_800_000_000;
const CATEGORY_M2M: &str = "cl_B7d4PD333AAA";
const CATEGORY_JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
const MACHINE: &str = "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk";

/// What the request's principal is, as the application sees it.
async fn whoami(req: HttpRequest) -> HttpResponse {
    let extensions = req.extensions();
    let body = match extensions.get::<Principal>() {
        Some(Principal::MachineToken(m)) => json!({
            "principal": "machine_token", "kind": m.kind.as_str(), "id": m.info.id,
            "subject": m.info.subject, "scopes": m.info.scopes, "expiration": m.info.expiration,
            "user_id": extensions.get::<Principal>().and_then(Principal::user_id),
        }),
        Some(other) => json!({"principal": other.kind().as_str()}),
        None => json!({"principal": null}),
    };
    HttpResponse::Ok().json(body)
}

const M2M_ONLY: Accepts = Accepts {
    session_token: false,
    service_key: false,
    api_key: false,
    m2m_token: true,
    oauth_token: false,
};

fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::scope("/any")
                .wrap(from_fn(|req, next| authenticate(Accepts::ANY, req, next)))
                .route("", web::get().to(whoami)),
        )
        .service(
            web::scope("/m2m")
                .wrap(from_fn(|req, next| authenticate(M2M_ONLY, req, next)))
                .route("", web::get().to(whoami)),
        );
}

fn mint(minter: &Minter, header: Value, claims: Value) -> String {
    let header: Header = serde_json::from_value(header).unwrap();
    minter.mint_with_header(header, &claims)
}

/// An M2M token in JWT form as Clerk mints it, with `extra` merged in (`null` removes a claim).
fn m2m_claims(extra: Value) -> Value {
    merged(
        json!({
            "iss": ISSUER, "sub": MACHINE, "jti": "mt_f7f0ba8c3b4843ce7d85fcdd5e71853e",
            "iat": NOW_S, "nbf": NOW_S - 5, "exp": NOW_S + 3600,
            "scopes": "mch_2yGkLpQ7Y3rXSwtU24CzTk9I7Em mch_2zAbCdEfGhIjKlMnOpQrStUvWxY",
        }),
        &extra,
    )
}

fn m2m(extra: Value) -> String {
    mint(
        &Minter::a(),
        json!({"alg": "RS256", "kid": KID_A, "typ": "JWT", "cat": CATEGORY_M2M}),
        m2m_claims(extra),
    )
}

fn oauth(claims: Value) -> String {
    mint(
        &Minter::a(),
        json!({"alg": "RS256", "kid": KID_A, "typ": "at+jwt"}),
        claims,
    )
}

async fn m2m_and_oauth_jwts_are_verified_with_the_instance_keys(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let (base, _, _) = start(&db, &clerk, NOW_S, routes).await;

    let (status, body) = call(&base, &m2m(json!({})), "/any").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "principal": "machine_token", "kind": "m2m_token",
            "id": "mt_f7f0ba8c3b4843ce7d85fcdd5e71853e", "subject": MACHINE,
            "scopes": ["mch_2yGkLpQ7Y3rXSwtU24CzTk9I7Em", "mch_2zAbCdEfGhIjKlMnOpQrStUvWxY"],
            "expiration": ((NOW_S + 3600) * 1000) as f64, "user_id": null,
        })
    );
    // Minted before Clerk added `cat`: still accepted, as Clerk does. Without `scopes`, `aud` is read.
    let no_cat = mint(
        &Minter::a(),
        json!({"alg": "RS256", "kid": KID_A}),
        m2m_claims(json!({"scopes": null, "aud": ["mch_2aud"]})),
    );
    let (status, body) = call(&base, &no_cat, "/any").await;
    assert_eq!(
        (status, &body["scopes"]),
        (200, &json!(["mch_2aud"])),
        "{body}"
    );

    // OAuth access tokens: `scp`, else `scope`; the subject is the user they act for.
    let (status, body) = call(
        &base,
        &oauth(
            json!({"sub": "user_2oauth", "jti": "oat_jwt1", "client_id": "client_1",
            "iat": NOW_S, "exp": NOW_S + 600, "scp": ["profile", "email"]}),
        ),
        "/any",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["kind"],
            &body["scopes"],
            &body["user_id"],
            &body["id"]
        ),
        (
            &json!("oauth_token"),
            &json!(["profile", "email"]),
            &json!("user_2oauth"),
            &json!("oat_jwt1")
        )
    );
    let (_, body) = call(
        &base,
        &oauth(
            json!({"sub": "user_2oauth", "iat": NOW_S, "exp": NOW_S + 600,
            "scope": "read  write"}),
        ),
        "/any",
    )
    .await;
    assert_eq!(body["scopes"], json!(["read", "write"]));

    // The same route still takes session tokens.
    let session = Minter::a().mint(&session_claims(NOW_S, json!({})));
    assert_eq!(call(&base, &session, "/any").await.1["principal"], "user");
}

async fn machine_jwts_are_refused_with_clerks_reasons(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let (base, _, clock) = start(&db, &clerk, NOW_S, routes).await;
    let oauth_token = oauth(json!({"sub": "user_2oauth", "iat": NOW_S, "exp": NOW_S + 600}));
    let cases: Vec<(&str, String, &str)> = vec![
        // Routes that do not take the kind.
        ("token-type-mismatch", m2m(json!({})), "/api/auth/me"),
        ("token-type-mismatch", oauth_token.clone(), "/api/auth/me"),
        ("token-type-mismatch", oauth_token, "/m2m"),
        (
            "token-type-mismatch",
            Minter::a().mint(&session_claims(NOW_S, json!({}))),
            "/m2m",
        ),
        // Another category signed by the same key, or a machine subject under a template category.
        (
            "token-type-mismatch",
            mint(
                &Minter::a(),
                json!({"alg": "RS256", "kid": KID_A, "cat": CATEGORY_JWT_TEMPLATE}),
                m2m_claims(json!({})),
            ),
            "/any",
        ),
        // Time, with Clerk's 5-second skew.
        ("token-expired", m2m(json!({"exp": NOW_S - 5})), "/any"),
        (
            "token-not-active-yet",
            m2m(json!({"nbf": NOW_S + 6})),
            "/any",
        ),
        (
            "token-iat-in-the-future",
            m2m(json!({"iat": NOW_S + 6})),
            "/any",
        ),
        (
            "token-verification-failed",
            m2m(json!({"exp": null})),
            "/any",
        ),
        // Signed by a key the instance does not publish, under its kid; or under an unknown kid.
        (
            "token-invalid-signature",
            mint(
                &Minter::b(),
                json!({"alg": "RS256", "kid": KID_A, "cat": CATEGORY_M2M}),
                m2m_claims(json!({})),
            ),
            "/any",
        ),
        (
            "jwk-kid-mismatch",
            mint(
                &Minter::a(),
                json!({"alg": "RS256", "kid": "ins_unknown", "cat": CATEGORY_M2M}),
                m2m_claims(json!({})),
            ),
            "/any",
        ),
    ];
    for (code, token, path) in &cases {
        let (status, body) = call(&base, token, path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some(*code)),
            "{path}: {body}"
        );
    }
    // Machine credentials come from the Authorization header only, never from a cookie.
    let res = Response::from(
        client()
            .get(format!("{base}/any"))
            .insert_header(("Cookie", format!("__session={}", m2m(json!({})))))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["code"], "token-type-mismatch");
    // A verified token is remembered, and a remembered one is checked against the clock again.
    let token = m2m(json!({}));
    for _ in 0..3 {
        assert_eq!(call(&base, &token, "/m2m").await.0, 200);
    }
    clock.advance_ms((3600 + 5) * 1000);
    let (status, body) = call(&base, &token, "/m2m").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("token-expired"))
    );
}

db_test!(m2m_and_oauth_jwts_are_verified_with_the_instance_keys);
db_test!(machine_jwts_are_refused_with_clerks_reasons);
