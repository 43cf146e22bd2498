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
    // One histogram per route: the requests above are counted across them.
    let all_routes = |samples: &HashMap<String, f64>| {
        samples
            .iter()
            .filter(|(series, _)| {
                series.starts_with("auth_core_http_request_duration_seconds_bucket{")
                    && series.ends_with(r#"le="+Inf"}"#)
            })
            .map(|(_, n)| n)
            .sum::<f64>()
    };
    assert!(all_routes(&after) - all_routes(&before) >= 7.0);
    for gauge in [
        "auth_core_audit_queue_depth",
        "auth_core_audit_dropped_events_total",
        "auth_core_db_pool_connections",
        "auth_core_jwks_fetches_total",
        "auth_core_audit_reduced_events_total",
        "auth_core_audit_rejected_events_total",
        "auth_core_log_dropped_lines_total",
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

#[actix_web::test]
async fn the_histogram_counts_a_request_on_its_route() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings(&[])).await;
    let before = parse(std::str::from_utf8(&scrape(&app, None).await.body).unwrap());
    app.get("/healthz").await;
    app.get("/healthz").await;
    let after = parse(std::str::from_utf8(&scrape(&app, None).await.body).unwrap());
    let delta = |series: &str| get(&after, series) - get(&before, series);
    let route = r#"route="/healthz""#;
    assert_eq!(
        delta(&format!(
            "auth_core_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}}"
        )),
        2.0
    );
    assert_eq!(
        delta(&format!(
            "auth_core_http_request_duration_seconds_count{{{route}}}"
        )),
        2.0
    );
    // Buckets are cumulative and the sum is a plausible duration for two local requests.
    let bucket = |le: &str| {
        get(
            &after,
            &format!("auth_core_http_request_duration_seconds_bucket{{{route},le=\"{le}\"}}"),
        )
    };
    assert!(bucket("0.0005") <= bucket("0.01") && bucket("0.01") <= bucket("+Inf"));
    let sum = get(
        &after,
        &format!("auth_core_http_request_duration_seconds_sum{{{route}}}"),
    );
    assert!(sum > 0.0 && sum < 10.0, "sum {sum}");
    // The scrapes themselves are on their own route.
    assert!(
        get(
            &after,
            r#"auth_core_http_request_duration_seconds_count{route="/metrics"}"#
        ) >= 1.0
    );
}

#[actix_web::test]
async fn process_metrics_and_build_info() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings(&[])).await;
    let samples = parse(std::str::from_utf8(&scrape(&app, None).await.body).unwrap());
    let value = |name: &str| {
        *samples
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let rss = value("process_resident_memory_bytes");
    assert!(rss > 1e6 && rss < 64e9, "rss {rss}");
    assert!(value("process_virtual_memory_bytes") >= rss);
    let fds = value("process_open_fds");
    // stdin/stdout/stderr, the listener, the database: at least five, and within the limit.
    assert!(fds >= 5.0 && fds <= value("process_max_fds"), "fds {fds}");
    let cpu = value("process_cpu_seconds_total");
    assert!(cpu > 0.0 && cpu < 1e6, "cpu {cpu}");
    assert!(value("process_threads") >= 2.0);
    let build = format!(
        r#"auth_core_build_info{{version="{}",commit="{}"}}"#,
        env!("CARGO_PKG_VERSION"),
        env!("AUTH_CORE_GIT_COMMIT")
    );
    assert_eq!(value(&build), 1.0, "{samples:?}");
}
