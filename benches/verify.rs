//! Token verification cost, cold (decode + RSA signature + claims) and warm (verified-token cache hit
//! through `SessionVerifier::verify`). Run: `cargo bench --bench verify`.
//!
//! A plain timing loop (no harness dependency): each figure is the median of 5 runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::fixture;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_core::auth::verifier::SessionVerifier;
use auth_core::clerk::jwt::{self, Policy};
use auth_core::clerk::rsa_key::RsaPublicKey;
use auth_core::clock::Clock;
use auth_core::settings::{Settings, SettingsSources};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn token(now_s: i64) -> String {
    let claims = json!({
        "sub": "user_2bench", "sid": "sess_2bench", "iss": "https://clerk.example.com",
        "azp": "https://app.example.com", "iat": now_s, "nbf": now_s - 10, "exp": now_s + 3600, "v": 2,
        "fea": "o:billing", "o": {"id": "org_2bench", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"},
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ins_bench".into());
    let key = EncodingKey::from_rsa_pem(fixture("rsa-2048-a.pem").as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// Median time per operation over 5 runs of `iterations`.
fn measure(iterations: u32, mut op: impl FnMut()) -> Duration {
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                op();
            }
            start.elapsed() / iterations
        })
        .collect();
    runs.sort();
    runs[2]
}

fn report(name: &str, per_op: Duration) {
    let per_sec = 1.0 / per_op.as_secs_f64();
    println!(
        "{name:<44} {:>10.3} µs/op {:>14.0} ops/s",
        per_op.as_secs_f64() * 1e6,
        per_sec
    );
}

fn main() {
    let now_s = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let token = token(now_s);
    let key = RsaPublicKey::from_pem(&fixture("rsa-2048-a.pub.pem")).unwrap();
    let policy = Policy {
        authorized_parties: vec!["https://app.example.com".into()],
        issuer: Some("https://clerk.example.com".into()),
        ..Policy::default()
    };
    let now_ms = now_s * 1000;
    println!("token: {} bytes, RSA-2048, RS256", token.len());

    let cold = measure(2_000, || {
        std::hint::black_box(
            jwt::verify(std::hint::black_box(&token), &key, &policy, now_ms).unwrap(),
        );
    });
    report("cold: decode + RSA verify + claims", cold);

    let decode = measure(50_000, || {
        std::hint::black_box(jwt::decode(std::hint::black_box(&token), &policy).unwrap());
    });
    report("  of which decode + header checks", decode);

    let env: HashMap<String, String> = [
        ("CLERK_JWT_KEY".to_owned(), fixture("rsa-2048-a.pub.pem")),
        (
            "AUTH_CORE__AUTH__ISSUER".to_owned(),
            "https://clerk.example.com".to_owned(),
        ),
        (
            "CLERK_AUTHORIZED_PARTIES".to_owned(),
            "https://app.example.com".to_owned(),
        ),
    ]
    .into_iter()
    .collect();
    let settings = Settings::load(&SettingsSources {
        env,
        config_file: None,
        working_dir: std::env::temp_dir(),
    })
    .unwrap();
    let verifier = SessionVerifier::from_settings(&settings, Clock::system()).unwrap();
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async {
        verifier.verify(&token).await.unwrap();
        let mut waker_ctx = std::task::Context::from_waker(std::task::Waker::noop());
        let warm = measure(1_000_000, || {
            // A cache hit completes on its first poll: no await point is reached.
            let mut fut = std::pin::pin!(verifier.verify(std::hint::black_box(&token)));
            match fut.as_mut().poll(&mut waker_ctx) {
                std::task::Poll::Ready(result) => {
                    std::hint::black_box(result.unwrap());
                }
                std::task::Poll::Pending => panic!("a cache hit must not wait"),
            }
        });
        report("warm: SessionVerifier::verify (cache hit)", warm);
        println!("cold/warm: {:.0}x", cold.as_secs_f64() / warm.as_secs_f64());
    });
}

use std::future::Future;
