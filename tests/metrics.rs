//! `GET /metrics`: valid Prometheus text, counters that move with traffic, optional bearer token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::webhooks::{deliver, example, WEBHOOK_SECRET};
use common::{client, Response, TestApp, TestDb};

async fn scrape(app: &TestApp, token: Option<&str>) -> Response {
    let mut req = client().get(app.url("/metrics"));
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    Response::from(req.send().await.unwrap()).await
}

/// Parses the exposition format strictly: every sample line is `name{labels} value`, and every
/// metric has HELP and TYPE lines.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "bad name in {line:?}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
        assert!(
            typed.contains(name) || typed.contains(family),
            "no TYPE for {name}"
        );
        samples.insert(series.to_owned(), value);
    }
    samples
}

fn get(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[actix_web::test]
async fn metrics_parse_and_counters_move() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings(&[("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET)])).await;
    let before = parse(std::str::from_utf8(&scrape(&app, None).await.body).unwrap());
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    app.get("/api/auth/me").await;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    deliver(&app, "msg_m1", now, &example("user.created")).await;
    deliver(&app, "msg_m1", now, &example("user.created")).await;
    common::webhooks::post_raw(&app, b"{}".to_vec(), &[("svix-id", Some("x".into()))]).await;
    let res = scrape(&app, None).await;
    assert_eq!(res.status, 200);
    assert!(res
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let after = parse(std::str::from_utf8(&res.body).unwrap());
    let delta = |series: &str| get(&after, series) - get(&before, series);
    assert_eq!(
        delta(r#"auth_core_http_requests_total{route="/healthz",status="200"}"#),
        3.0
    );
    assert_eq!(
        delta(r#"auth_core_auth_outcomes_total{outcome="session-token-missing"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"auth_core_webhook_deliveries_total{type="user.created",outcome="applied"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"auth_core_webhook_deliveries_total{type="user.created",outcome="duplicate"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"auth_core_webhook_deliveries_total{type="unverified",outcome="refused"}"#),
        1.0
    );
    assert!(delta(r#"auth_core_http_request_duration_seconds_bucket{le="+Inf"}"#) >= 7.0);
    for gauge in [
        "auth_core_audit_queue_depth",
        "auth_core_audit_dropped_events_total",
        "auth_core_db_pool_connections",
        "auth_core_jwks_fetches_total",
    ] {
        assert!(after.contains_key(gauge), "{gauge} missing");
    }
}

#[actix_web::test]
async fn a_configured_token_is_required() {
    let db = TestDb::sqlite();
    let token = "scrape-me-0123456789";
    let app = TestApp::spawn(db.settings(&[("AUTH_CORE__METRICS__TOKEN", token)])).await;
    let missing = scrape(&app, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"]["code"], "metrics-unauthorized");
    assert_eq!(scrape(&app, Some("scrape-me-0123456788")).await.status, 401);
    assert_eq!(scrape(&app, Some(token)).await.status, 200);
}
