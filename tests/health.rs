//! Health routes, error shape and request ids, over real HTTP on a loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::clerk::ClerkStandIn;
use common::{client, Response, TestApp, TestDb};
use serde_json::json;

/// Settings with a PEM key (CLERK_JWT_KEY), so that the signing-key check is up and these tests
/// are about the database.
fn with_pem_key(db: &TestDb, env: &[(&str, &str)]) -> auth_core::settings::Settings {
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let mut all = vec![("CLERK_JWT_KEY", pem.as_str())];
    all.extend_from_slice(env);
    db.settings(&all)
}

/// The change feed's detail once it settles: listening on PostgreSQL (waited for, bounded), nothing
/// to listen to on SQLite.
async fn change_feed_of(app: &TestApp, backend: &str) -> serde_json::Value {
    if backend == "sqlite" {
        return json!({"status": "single_instance"});
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let feed = app.get("/api/auth/health").await.json()["checks"]["change_feed"].clone();
        if feed["status"] == "listening" {
            assert_eq!(feed["without_listener_ms"], 0);
            assert_eq!(feed["reconnects"], 0);
            return feed;
        }
        assert_eq!(feed["status"], "connecting");
        assert!(std::time::Instant::now() < deadline, "{feed}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn readiness_reports_the_database_up(db: TestDb) {
    let backend = db.backend.name();
    let app = TestApp::spawn(with_pem_key(&db, &[])).await;
    // Settled first: once listening, the figures stay as they are.
    let change_feed = change_feed_of(&app, backend).await;
    let res = app.get("/api/auth/health").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        json!({"status": "healthy", "checks": {
            "database": {"status": "up", "backend": backend},
            "signing_keys": {"status": "up", "source": "pem", "keys": "configured"},
            "change_feed": change_feed,
        }})
    );
    let live = app.get("/healthz").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.json(), json!({"status": "healthy"}));
}

/// The service starts while its database is unreachable and says so with a 503 naming it.
async fn readiness_is_503_when_the_database_is_unreachable(db: TestDb) {
    let unreachable = match db.backend {
        // Port 1 on loopback refuses connections at once.
        auth_core::db::Backend::Postgres => "postgres://postgres@127.0.0.1:1/auth".to_owned(),
        // A directory where the database file should be: SQLite cannot open it.
        auth_core::db::Backend::Sqlite => {
            let dir = db.dir.path().join("not-a-file.sqlite3");
            std::fs::create_dir(&dir).unwrap();
            dir.display().to_string()
        }
    };
    let settings = with_pem_key(
        &db,
        &[
            ("DATABASE_URL", &unreachable),
            ("AUTH_CORE__DATABASE__RUN_MIGRATIONS", "false"),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "300"),
        ],
    );
    let app = TestApp::spawn(settings).await;
    let res = app.get("/api/auth/health").await;
    assert_eq!(res.status, 503);
    let body = res.json();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["down"], json!(["database"]));
    assert_eq!(body["checks"]["database"]["status"], "down");
    assert_eq!(body["request_id"].as_str(), res.header("x-request-id"));
    assert_eq!(res.header("retry-after"), Some("1"));
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status, 200);
}

/// Every pooled connection busy: requests get 503 after the acquire timeout instead of hanging,
/// and recover as soon as a connection is free again.
async fn pool_exhaustion_gives_503_not_a_hang(db: TestDb) {
    let settings = with_pem_key(
        &db,
        &[
            ("AUTH_CORE__DATABASE__MAX_CONNECTIONS", "1"),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "200"),
        ],
    );
    let app = TestApp::spawn(settings).await;
    let db_handle = app.state.db.clone();
    let held = actix_web::rt::task::spawn_blocking(move || db_handle.get().unwrap())
        .await
        .unwrap();
    let res = app.get("/api/auth/health").await;
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["checks"]["database"]["status"], "down");
    drop(held);
    assert_eq!(app.get("/api/auth/health").await.status, 200);
}

/// No key source at all: no session token can be verified, so the service is not ready, and says
/// so for long enough (30 s) that clients do not spin.
async fn readiness_without_a_key_source_is_503(db: TestDb) {
    let app = TestApp::spawn(db.settings(&[])).await;
    let res = app.get("/api/auth/health").await;
    assert_eq!(res.status, 503);
    let body = res.json();
    assert_eq!(body["down"], json!(["signing_keys"]));
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(
        body["checks"]["signing_keys"],
        json!({"status": "down", "source": "none", "keys": "no_key_source"})
    );
    assert_eq!(res.header("retry-after"), Some("30"));
    assert_eq!(app.get("/healthz").await.status, 200);
}

/// A JWKS URL that never answers (a closed port): not ready, never fetched.
async fn readiness_is_503_while_the_jwks_was_never_reachable(db: TestDb) {
    let app = TestApp::spawn(db.settings(&[
        ("CLERK_JWKS_URL", "http://127.0.0.1:1/jwks"),
        ("AUTH_CORE__CLERK__JWKS_FETCH_TIMEOUT_MS", "200"),
        ("AUTH_CORE__CLERK__JWKS_REFETCH_COOLDOWN_SECS", "20"),
    ]))
    .await;
    let res = app.get("/api/auth/health").await;
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["down"], json!(["signing_keys"]));
    assert_eq!(
        res.json()["checks"]["signing_keys"],
        json!({"status": "down", "source": "jwks_url", "keys": "never_fetched"})
    );
    assert_eq!(res.header("retry-after"), Some("20"));
}

fn signing_keys(res: &Response) -> (u16, String) {
    let keys = res.json()["checks"]["signing_keys"]["keys"]
        .as_str()
        .unwrap()
        .to_owned();
    (res.status, keys)
}

/// The JWKS stand-in down at start, recovered, down again: readiness follows, refetching at most
/// once per cooldown (probes do not hammer Clerk), serving stale keys for one more TTL, then not.
async fn readiness_follows_the_jwks_down_recovered_and_down_again(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    clerk.set_jwks_down(true);
    let jwks_url = clerk.jwks_url();
    let (app, clock) = TestApp::spawn_at(
        db.settings(&[
            ("CLERK_JWKS_URL", &jwks_url),
            ("AUTH_CORE__CLERK__JWKS_CACHE_TTL_SECS", "60"),
            ("AUTH_CORE__CLERK__JWKS_REFETCH_COOLDOWN_SECS", "10"),
        ]),
        1_800_000_000_000,
    )
    .await;
    let health = || app.get("/api/auth/health");
    assert_eq!(signing_keys(&health().await), (503, "never_fetched".into()));
    // Clerk is back, but the failed attempt is not repeated within the cooldown.
    clerk.set_jwks_down(false);
    let fetches = clerk.jwks_fetches();
    assert_eq!(signing_keys(&health().await), (503, "never_fetched".into()));
    assert_eq!(clerk.jwks_fetches(), fetches);
    clock.advance_ms(10_000);
    assert_eq!(signing_keys(&health().await), (200, "fresh".into()));

    // Down again: within the TTL nothing is fetched; past it, the refetch fails and the keys are
    // served stale for one more TTL; after that, not ready.
    clerk.set_jwks_down(true);
    clock.advance_ms(59_000);
    assert_eq!(signing_keys(&health().await), (200, "fresh".into()));
    clock.advance_ms(2_000);
    assert_eq!(signing_keys(&health().await), (200, "stale".into()));
    clock.advance_ms(60_000);
    let res = health().await;
    assert_eq!(signing_keys(&res), (503, "expired".into()));
    assert_eq!(res.header("retry-after"), Some("10"));
    // Recovered: the next probe after the cooldown fetches, and the service is ready again.
    clerk.set_jwks_down(false);
    clock.advance_ms(10_000);
    assert_eq!(signing_keys(&health().await), (200, "fresh".into()));
}

db_test!(
    readiness_without_a_key_source_is_503,
    readiness_is_503_while_the_jwks_was_never_reachable,
    readiness_follows_the_jwks_down_recovered_and_down_again,
    readiness_reports_the_database_up,
    readiness_is_503_when_the_database_is_unreachable,
    pool_exhaustion_gives_503_not_a_hang,
);

/// The database disappears while the service runs (dropped with its connections): 503, no panic.
#[actix_web::test]
async fn readiness_turns_503_when_postgres_goes_away() {
    let Some(mut db) = TestDb::postgres("readiness_turns_503_when_postgres_goes_away") else {
        return;
    };
    let app = TestApp::spawn(with_pem_key(
        &db,
        &[("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "300")],
    ))
    .await;
    assert_eq!(app.get("/api/auth/health").await.status, 200);
    actix_web::rt::task::spawn_blocking(move || {
        db.drop_now();
        db
    })
    .await
    .unwrap();
    let res = app.get("/api/auth/health").await;
    assert_eq!(res.status, 503);
    assert_eq!(res.json()["down"], json!(["database"]));
}

fn request_id_of(res: &Response) -> String {
    res.header("x-request-id")
        .expect("x-request-id header")
        .to_owned()
}

#[actix_web::test]
async fn request_ids_are_kept_when_well_formed_and_generated_otherwise() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings(&[])).await;
    let send = |id: Option<&'static str>| {
        let mut req = client().get(app.url("/healthz"));
        if let Some(id) = id {
            req = req.insert_header(("X-Request-Id", id));
        }
        async move { Response::from(req.send().await.unwrap()).await }
    };

    let kept = send(Some("edge-7f3a.42:retry-1")).await;
    assert_eq!(request_id_of(&kept), "edge-7f3a.42:retry-1");

    for bad in ["has space", "<script>alert(1)</script>", "x\"y"] {
        let replaced = send(Some(bad)).await;
        let id = request_id_of(&replaced);
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36, "a generated UUID, got {id}");
    }
    let too_long: &'static str = Box::leak("a".repeat(129).into_boxed_str());
    assert_eq!(request_id_of(&send(Some(too_long)).await).len(), 36);

    let a = request_id_of(&send(None).await);
    let b = request_id_of(&send(None).await);
    assert_ne!(a, b);
}

#[actix_web::test]
async fn errors_are_json_with_code_message_and_request_id() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings(&[])).await;

    let res = Response::from(
        client()
            .get(app.url("/no/such/route?token=secret"))
            .insert_header(("X-Request-Id", "trace-404"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, 404);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(
        res.json(),
        json!({"error": {"code": "not-found", "message": "no such resource", "request_id": "trace-404"}})
    );

    let res = Response::from(
        client()
            .delete(app.url("/api/auth/health"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, 405);
    let body = res.json();
    assert_eq!(body["error"]["code"], "method-not-allowed");
    assert_eq!(
        body["error"]["request_id"].as_str(),
        res.header("x-request-id")
    );
}

/// An application built with `AuthCore` and `into_app` (as `actix_web::test` takes it): auth-core's
/// routes and a public route of its own, side by side.
#[actix_web::test]
async fn an_embedding_app_serves_its_routes_and_auth_cores() {
    use actix_web::{test, web};
    let db = TestDb::sqlite();
    let settings = with_pem_key(&db, &[]);
    let prepared = actix_web::rt::task::spawn_blocking(move || {
        auth_core::AuthCore::from_settings(settings)
            .public_routes(|cfg| {
                cfg.route("/theirs", web::get().to(|| async { "their route" }));
            })
            .prepare()
    })
    .await
    .unwrap()
    .unwrap();
    let app = test::init_service(prepared.into_app()).await;
    let res = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/api/auth/health")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = test::call_service(&app, test::TestRequest::get().uri("/theirs").to_request()).await;
    assert!(
        res.headers().contains_key("x-request-id"),
        "the middleware stack wraps it"
    );
    assert_eq!(test::read_body(res).await, "their route");
}
