//! HTTP hardening over real HTTP: security headers on every response (success and every error), HSTS
//! when configured, CORS for listed origins only (preflights with Authorization from a Next.js
//! origin), CORS headers on error responses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, Response, TestApp, TestDb};

const NEXT_ORIGIN: &str = "http://localhost:3000";

async fn app(extra: &[(&str, &str)]) -> (TestApp, TestDb) {
    let db = TestDb::sqlite();
    let mut env = vec![(
        "CORS_ALLOWED_ORIGINS",
        "http://localhost:3000,https://app.example.com",
    )];
    env.extend_from_slice(extra);
    let app = TestApp::spawn(db.settings(&env)).await;
    (app, db)
}

async fn send(req: awc::ClientRequest) -> Response {
    Response::from(req.send().await.unwrap()).await
}

fn assert_security_headers(res: &Response, what: &str) {
    assert_eq!(
        res.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert_eq!(res.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        res.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'"),
        "{what}"
    );
    assert!(res.header("x-request-id").is_some(), "{what}");
}

#[actix_web::test]
async fn every_response_carries_security_headers() {
    let (app, _db) = app(&[]).await;
    let cases = [
        ("200", client().get(app.url("/healthz"))),
        ("401", client().get(app.url("/api/auth/me"))),
        ("404", client().get(app.url("/nowhere"))),
        ("405", client().delete(app.url("/healthz"))),
        (
            "401 webhook",
            client().post(app.url("/api/auth/webhooks/clerk")),
        ),
    ];
    for (what, req) in cases {
        let res = send(req).await;
        assert_eq!(
            res.status.to_string(),
            what.split(' ').next().unwrap(),
            "{what}"
        );
        assert_security_headers(&res, what);
        assert_eq!(
            res.header("strict-transport-security"),
            None,
            "HSTS only when configured"
        );
    }
}

#[actix_web::test]
async fn hsts_when_served_over_https() {
    let (app, _db) = app(&[("AUTH_CORE__SERVER__HSTS", "true")]).await;
    for path in ["/healthz", "/api/auth/me"] {
        let res = send(client().get(app.url(path))).await;
        assert_eq!(
            res.header("strict-transport-security"),
            Some("max-age=31536000; includeSubDomains"),
            "{path}"
        );
    }
}

fn preflight(app: &TestApp, origin: &str) -> awc::ClientRequest {
    client()
        .request(actix_web::http::Method::OPTIONS, app.url("/api/auth/me"))
        .insert_header(("Origin", origin))
        .insert_header(("Access-Control-Request-Method", "GET"))
        .insert_header(("Access-Control-Request-Headers", "authorization"))
}

#[actix_web::test]
async fn preflight_from_a_listed_origin_allows_authorization_with_credentials() {
    let (app, _db) = app(&[]).await;
    let res = send(preflight(&app, NEXT_ORIGIN)).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), Some(NEXT_ORIGIN));
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    let allowed = res
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    assert_security_headers(&res, "preflight");
}

#[actix_web::test]
async fn preflight_and_requests_from_other_origins_are_refused() {
    let (app, _db) = app(&[]).await;
    for origin in ["https://evil.example", "http://localhost:3001", "null"] {
        let res = send(preflight(&app, origin)).await;
        assert_eq!(res.status, 400, "{origin}");
        assert_eq!(res.header("access-control-allow-origin"), None, "{origin}");
        // In the one error shape, naming the setting that decides it.
        assert_eq!(
            res.header("content-type"),
            Some("application/json"),
            "{origin}"
        );
        assert_eq!(
            res.json(),
            serde_json::json!({"error": {
                "code": "bad-request",
                "message": "CORS preflight refused: Origin is not allowed to make this request \
                            (the origins allowed are set by CORS_ALLOWED_ORIGINS)",
                "request_id": res.header("x-request-id").unwrap(),
            }}),
            "{origin}"
        );
        assert_security_headers(&res, "refused preflight");
        let res = send(
            client()
                .get(app.url("/healthz"))
                .insert_header(("Origin", origin)),
        )
        .await;
        assert_eq!(res.header("access-control-allow-origin"), None, "{origin}");
        assert_eq!(
            res.header("access-control-allow-credentials"),
            None,
            "{origin}"
        );
    }
}

/// A browser on a listed origin can read why its request failed.
#[actix_web::test]
async fn error_responses_carry_cors_headers_for_listed_origins() {
    let (app, _db) = app(&[]).await;
    let res = send(
        client()
            .get(app.url("/api/auth/me"))
            .insert_header(("Origin", NEXT_ORIGIN)),
    )
    .await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("access-control-allow-origin"), Some(NEXT_ORIGIN));
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    let exposed = res
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("www-authenticate") && exposed.contains("x-request-id"),
        "{exposed}"
    );
    assert_eq!(res.json()["error"]["code"], "session-token-missing");
    let ok = send(
        client()
            .get(app.url("/healthz"))
            .insert_header(("Origin", "https://app.example.com")),
    )
    .await;
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

/// With no origins configured no browser on another origin gets CORS headers.
#[actix_web::test]
async fn no_configured_origins_means_no_cross_origin_access() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings(&[])).await;
    let res = send(preflight(&app, NEXT_ORIGIN)).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.header("access-control-allow-origin"), None);
}

/// The server speaks HTTP/1 only: an HTTP/2 client with prior knowledge (h2c, the connection
/// preface and a SETTINGS frame) gets an HTTP/1.1 400 and the connection closes, so the h2 crate's
/// frame handling (RUSTSEC-2026-0258) is never reached from the network; `.cargo/audit.toml` relies
/// on this.
#[actix_web::test]
async fn http2_prior_knowledge_is_refused() {
    use std::io::{Read, Write};
    let (app, _db) = app(&[]).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let answer = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        // The client connection preface (RFC 9113 §3.4), then an empty SETTINGS frame.
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
}
