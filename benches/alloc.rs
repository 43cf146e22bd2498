//! Heap allocations per request, counted by a counting global allocator (`stats_alloc`), in process:
//! the app is built as `auth-core serve` builds it (embedded SQLite in a temp dir, a static Clerk key)
//! and called through actix-web's test service, so what is counted is the middleware stack and the
//! handler, not a socket or HTTP parser. The requests are built before counting starts; the audit
//! writer is not started (its queue is made large enough for the run), so its batches are not
//! counted either. A bare actix-web hello world through the same harness is the floor.
//! Forward auth (`/api/auth/verify`) is counted warm, with a role asked in the query, with and without
//! the forwarded-request headers a proxy adds.
//! Run: `cargo bench --bench alloc` (BENCH_REQUESTS, default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::fixture;

use std::alloc::System;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use actix_web::{web, App};
use auth_core::settings::{Settings, SettingsSources};
use auth_core::state::AppState;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn token() -> String {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let key = EncodingKey::from_rsa_pem(fixture("rsa-2048-a.pem").as_bytes()).unwrap();
    let claims = json!({
        "sub": "user_2bench", "sid": "sess_2bench",
        "iss": "https://clerk.example.com", "azp": "https://app.example.com",
        "iat": now, "nbf": now - 10, "exp": now + 3600, "v": 2, "fea": "o:billing",
        "o": {"id": "org_2bench", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"},
    });
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

/// Allocations, reallocations and bytes per call of `app` on `requests` (all answered `expected`).
async fn count<S, B>(app: &S, requests: Vec<actix_http::Request>, expected: u16) -> (f64, f64, f64)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let n = requests.len() as f64;
    let mut responses = Vec::with_capacity(requests.len());
    let region = Region::new(GLOBAL);
    for req in requests {
        responses.push(test::call_service(app, req).await);
    }
    let stats = region.change();
    assert!(responses.iter().all(|r| r.status().as_u16() == expected));
    (
        stats.allocations as f64 / n,
        stats.reallocations as f64 / n,
        stats.bytes_allocated as f64 / n,
    )
}

fn line(label: &str, (allocations, reallocations, bytes): (f64, f64, f64)) {
    println!("| {label} | {allocations:.1} | {reallocations:.1} | {bytes:.0} |");
}

fn main() {
    let n: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [
        ("CLERK_JWT_KEY", fixture("rsa-2048-a.pub.pem")),
        ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com".into()),
        (
            "AUTH_CORE__AUTH__ISSUER",
            "https://clerk.example.com".into(),
        ),
        (
            "SECRET_KEY",
            "bench-secret-key-0123456789abcdef0123456789".into(),
        ),
        (
            "AUTH_CORE__DATABASE__DATA_DIR",
            dir.path().display().to_string(),
        ),
        // Room for every event of the run: the writer is not started, so nothing waits.
        (
            "AUTH_CORE__AUDIT__QUEUE_CAPACITY",
            (4 * n + 1000).to_string(),
        ),
        ("AUTH_CORE__AUDIT__BATCH_SIZE", "100000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = Settings::load(&SettingsSources {
        env,
        config_file: None,
        working_dir: dir.path().to_owned(),
    })
    .unwrap();
    let token = token();
    actix_web::rt::System::new().block_on(async move {
        let state = AppState::prepare(settings).unwrap();
        let app = test::init_service(auth_core::app::build(
            state,
            &auth_core::app::TeamRoutes::default(),
        ))
        .await;
        let me = |n: usize| -> Vec<actix_http::Request> {
            (0..n)
                .map(|_| {
                    TestRequest::get()
                        .uri("/api/auth/me")
                        .insert_header(("Authorization", format!("Bearer {token}")))
                        .to_request()
                })
                .collect()
        };
        // Forward auth as a proxy asks it: Traefik and Caddy name the proxied request.
        let verify = |n: usize, forwarded: bool| -> Vec<actix_http::Request> {
            (0..n)
                .map(|_| {
                    let req = TestRequest::get()
                        .uri("/api/auth/verify?role=org:admin")
                        .insert_header(("Authorization", format!("Bearer {token}")));
                    if forwarded {
                        req.insert_header(("X-Forwarded-Method", "GET"))
                            .insert_header(("X-Forwarded-Uri", "/notes/7?page=2"))
                    } else {
                        req
                    }
                    .to_request()
                })
                .collect()
        };
        let healthz = |n: usize| -> Vec<actix_http::Request> {
            (0..n)
                .map(|_| TestRequest::get().uri("/healthz").to_request())
                .collect()
        };
        // Warm: the user is created just in time, the token and user caches filled.
        count(&app, me(50), 200).await;
        count(&app, verify(50, false), 200).await;
        count(&app, healthz(50), 200).await;
        let hello =
            test::init_service(App::new().route("/", web::get().to(|| async { "Hello world!" })))
                .await;
        let hellos = |n: usize| -> Vec<actix_http::Request> {
            (0..n)
                .map(|_| TestRequest::get().uri("/").to_request())
                .collect()
        };
        count(&hello, hellos(50), 200).await;

        println!("\nper request, mean of {n} (in process, no logger installed)\n");
        println!("| request | allocations | reallocations | bytes |");
        println!("|---|---:|---:|---:|");
        line("actix-web hello world", count(&hello, hellos(n), 200).await);
        line("auth-core GET /healthz", count(&app, healthz(n), 200).await);
        line(
            "auth-core GET /api/auth/me (audit on)",
            count(&app, me(n), 200).await,
        );
        line(
            "auth-core GET /api/auth/verify?role=org:admin (audit on)",
            count(&app, verify(n, false), 200).await,
        );
        line(
            "the same with X-Forwarded-Method and X-Forwarded-Uri",
            count(&app, verify(n, true), 200).await,
        );
    });
}
