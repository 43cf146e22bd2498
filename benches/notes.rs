//! The example team backend's `GET /api/notes` (a tenant-scoped query of 20 notes) against
//! `GET /api/auth/me` on the same server, in one run, with `wrk --latency` (Debian package `wrk`):
//! requests/s and p99 of each. The bound: the notes listing costs no more than one database
//! round trip on top of `/me` (whose warm path has none). Run: `cargo bench --bench notes`.
//!
//! The server is built with `AuthCore` in this process (on its own thread, one worker), as
//! `examples/team_backend.rs` builds it; wrk runs with one thread. Rounds alternate the two targets and
//! the median is reported. Settings (environment): BENCH_SECONDS (default 8 per round), BENCH_ROUNDS
//! (3), BENCH_CONNECTIONS (64), BENCH_DATABASE_URL (default: a SQLite file in a temp dir; a
//! `postgres://` URL of an empty database measures PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{env_or, fixture, median};

#[path = "../examples/team_backend/notes.rs"]
mod notes;

use std::collections::HashMap;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::settings::{Settings, SettingsSources};
use auth_core::AuthCore;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn settings(dir: &std::path::Path) -> Settings {
    let mut env: HashMap<String, String> = HashMap::new();
    let database = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| dir.join("bench.sqlite3").display().to_string());
    for (k, v) in [
        ("DATABASE_URL", database.as_str()),
        ("CLERK_JWT_KEY", &fixture("rsa-2048-a.pub.pem")),
        ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com"),
        ("AUTH_CORE__AUTH__ISSUER", "https://clerk.example.com"),
        ("AUTH_CORE__LOG__LEVEL", "warn"),
        ("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    Settings::load(&SettingsSources {
        env,
        config_file: None,
        working_dir: dir.to_owned(),
    })
    .unwrap()
}

/// Starts the team backend on its own thread; returns its base URL.
fn start(settings: Settings) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let running = AuthCore::from_settings(settings)
                .migrations(notes::MIGRATIONS)
                .configure(notes::routes)
                .bind("127.0.0.1:0")
                .workers(1)
                .start()
                .await
                .unwrap();
            tx.send(format!("http://{}", running.addrs()[0])).unwrap();
            running.wait().await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Requests/s and the 99th percentile latency (as wrk prints it) of one wrk run.
fn wrk(url: &str, token: &str, seconds: &str, connections: &str) -> (f64, String) {
    common::wrk_bearer(url, token, seconds, connections)
}

/// wrk's latency text (`1.23ms`, `850.00us`, `1.02s`) in microseconds.
fn micros(latency: &str) -> f64 {
    let split = latency.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let (value, unit) = latency.split_at(split);
    let value: f64 = value.parse().unwrap();
    value
        * match unit {
            "us" => 1.0,
            "ms" => 1_000.0,
            "s" => 1_000_000.0,
            other => panic!("unknown unit {other}"),
        }
}

fn main() {
    let seconds = env_or("BENCH_SECONDS", "8");
    let rounds: usize = env_or("BENCH_ROUNDS", "3").parse().unwrap();
    let connections = env_or("BENCH_CONNECTIONS", "64");
    let dir = tempfile::tempdir().unwrap();
    let base = start(settings(dir.path()));

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
        "iat": now, "nbf": now - 10, "exp": now + 3600, "v": 2,
        "o": {"id": "org_2bench", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"},
    });
    let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
    // 20 notes in the organization, written through the API itself.
    for i in 0..20 {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args(["-H", "Content-Type: application/json"])
            .args(["-d", &format!("{{\"title\": \"note {i}\"}}")])
            .arg(format!("{base}/api/notes"))
            .output()
            .expect("curl is not installed");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "201");
    }
    let me = format!("{base}/api/auth/me");
    let notes_url = format!("{base}/api/notes");
    // Warm the caches (verified token, user just in time, the pool's connections).
    wrk(&me, &token, "1", "1");
    wrk(&notes_url, &token, "1", "1");

    let (mut me_rates, mut me_p99, mut notes_rates, mut notes_p99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for target in order {
            if target == 0 {
                let (rate, p99) = wrk(&me, &token, &seconds, &connections);
                me_rates.push(rate);
                me_p99.push(micros(&p99));
            } else {
                let (rate, p99) = wrk(&notes_url, &token, &seconds, &connections);
                notes_rates.push(rate);
                notes_p99.push(micros(&p99));
            }
        }
    }
    let (m, mp, n, np) = (
        median(me_rates),
        median(me_p99),
        median(notes_rates),
        median(notes_p99),
    );
    let backend = if std::env::var("BENCH_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("\n{backend}, median of {rounds} rounds of {seconds}s, {connections} connections, 1 server worker, 1 wrk thread");
    println!("{:<44} {:>10} {:>12}", "", "requests/s", "p99");
    println!("{:<44} {:>10.0} {:>10.0}µs", "GET /api/auth/me", m, mp);
    println!(
        "{:<44} {:>10.0} {:>10.0}µs",
        "GET /api/notes (20 notes, one scoped query)", n, np
    );
    println!(
        "notes/me: {:.1}% of the throughput; {:.0}µs per request more ({:.0}µs vs {:.0}µs of server time at this concurrency)",
        100.0 * n / m,
        1e6 / n - 1e6 / m,
        1e6 / n,
        1e6 / m
    );
}
