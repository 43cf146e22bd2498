//! `/api/auth/verify` (forward auth, with its signed assertion) against `/api/auth/me`, same server,
//! same valid session token (verified-token and user caches warm), measured in one run on loopback
//! with `wrk --latency` (Debian package `wrk`): throughput and p99 of each, rounds alternating,
//! medians reported with the ratio. Run: `cargo bench --bench forward_auth`.
//!
//! One server worker and one wrk thread, to fit the 2 cores these machines have. Settings
//! (environment): BENCH_SECONDS (default 8 per round), BENCH_ROUNDS (3), BENCH_CONNECTIONS (64),
//! BENCH_LOG_LEVEL (warn).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{env_or, fixture, median, millis};

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// Requests per second and p99 latency (ms) of one wrk run.
fn wrk(url: &str, token: &str, seconds: &str, connections: &str) -> (f64, f64) {
    let (rate, p99) = common::wrk_bearer(url, token, seconds, connections);
    (rate, millis(&p99))
}

fn main() {
    let seconds = env_or("BENCH_SECONDS", "8");
    let rounds: usize = env_or("BENCH_ROUNDS", "3").parse().unwrap();
    let connections = env_or("BENCH_CONNECTIONS", "64");
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-core"))
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .current_dir(dir.path())
        .env_clear()
        .env("CLERK_JWT_KEY", fixture("rsa-2048-a.pub.pem"))
        .env("CLERK_AUTHORIZED_PARTIES", "https://app.example.com")
        .env("AUTH_CORE__AUTH__ISSUER", "https://clerk.example.com")
        .env("AUTH_CORE__LOG__LEVEL", env_or("BENCH_LOG_LEVEL", "warn"))
        .env("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
        .envs(std::env::vars().filter(|(k, _)| k.starts_with("AUTH_CORE__")))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("auth-core listening on ")
        .unwrap()
        .to_owned();

    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let claims = json!({
        "sub": "user_2bench", "sid": "sess_2bench",
        "iss": "https://clerk.example.com", "azp": "https://app.example.com",
        "iat": now, "nbf": now - 10, "exp": now + 3600, "v": 2, "fea": "o:billing",
        "o": {"id": "org_2bench", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"},
    });
    let key = EncodingKey::from_rsa_pem(fixture("rsa-2048-a.pem").as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
    let me = format!("{base}/api/auth/me");
    let verify = format!("{base}/api/auth/verify?role=org:admin");
    // Warm the caches (the user is created just in time by the first request).
    wrk(&me, &token, "1", "1");
    wrk(&verify, &token, "1", "1");

    let (mut me_rates, mut me_p99, mut v_rates, mut v_p99) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for target in order {
            if target == 0 {
                let (rate, p99) = wrk(&me, &token, &seconds, &connections);
                me_rates.push(rate);
                me_p99.push(p99);
            } else {
                let (rate, p99) = wrk(&verify, &token, &seconds, &connections);
                v_rates.push(rate);
                v_p99.push(p99);
            }
        }
        eprintln!("round {} of {rounds} done", round + 1);
    }
    let (me_rate, verify_rate) = (median(me_rates), median(v_rates));
    let (me_p99, verify_p99) = (median(me_p99), median(v_p99));
    println!(
        "{rounds} rounds of {seconds} s, {connections} connections, 1 server worker, medians:"
    );
    println!("GET /api/auth/me                       {me_rate:>9.0} req/s  p99 {me_p99:.2} ms");
    println!(
        "GET /api/auth/verify?role=org:admin    {verify_rate:>9.0} req/s  p99 {verify_p99:.2} ms"
    );
    println!("verify / me throughput: {:.2}", verify_rate / me_rate);
    let _ = child.kill();
    let _ = child.wait();
}
