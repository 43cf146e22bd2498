//! How fast a change made through one instance reaches another on the same PostgreSQL (the change
//! feed), and what the feed costs an instance: two release binaries A and B on a scratch database;
//! for each of BENCH_CHANGES (default 1,000) sessions, B serves a token of it (so B has it cached),
//! a signed `session.revoked` goes to A, and B is polled until it refuses the token. Reported:
//! median and p99 from A's answer (the change committed) to B's refusal, and from the delivery's
//! start. Then the warm request path: 5,000 sequential `GET /api/auth/me` with one cached token on
//! B (listening) and on a SQLite instance (no listener; a warm request touches no database either
//! way), and the CPU each of them uses over 5 s idle.
//!
//! Run: `cargo bench --bench propagation` (PostgreSQL from TEST_DATABASE_URL or
//! postgres://postgres@127.0.0.1:5432/postgres; the scratch database is dropped at the end).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{env_or, fixture};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_core::clerk::webhook::signature::SigningKey;
use diesel::{Connection, PgConnection, RunQueryDsl};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ISSUER: &str = "https://clerk.example.com";

fn now_s() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, database_url: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-core"))
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "2"])
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("CLERK_WEBHOOK_SECRET", SECRET)
        .env("CLERK_JWT_KEY", fixture("rsa-2048-a.pub.pem"))
        .env("AUTH_CORE__AUTH__ISSUER", ISSUER)
        .env("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
        .env("AUTH_CORE__LOG__LEVEL", "warn")
        // Polling far past the run: only the change feed propagates.
        .env("AUTH_CORE__AUTH__REVOCATION_SYNC_SECS", "3600")
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
    Server { child, base }
}

/// User and system CPU seconds of a process so far (Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let changes: usize = env_or("BENCH_CHANGES", "1000").parse().unwrap();
    let admin_url = env_or(
        "TEST_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let name = format!("auth_core_bench_feed_{}", std::process::id());
    let mut admin =
        PgConnection::establish(&admin_url).expect("PostgreSQL is needed for this benchmark");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), url.as_str());
    let b = start(dir.path(), url.as_str());
    let sqlite = start(
        dir.path(),
        dir.path().join("alone.sqlite3").to_str().unwrap(),
    );

    let minter = EncodingKey::from_rsa_pem(fixture("rsa-2048-a.pem").as_bytes()).unwrap();
    let token = |sid: &str| {
        let now = now_s();
        let claims = json!({"sub": "user_bench", "sid": sid, "iss": ISSUER, "iat": now,
            "nbf": now - 10, "exp": now + 3600, "v": 2});
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("bench".into());
        jsonwebtoken::encode(&header, &claims, &minter).unwrap()
    };
    let signing = SigningKey::from_secret(SECRET).unwrap();

    let (after_commit, end_to_end, warm) = actix_web::rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let me = |base: &str, bearer: &str| {
            client
                .get(format!("{base}/api/auth/me"))
                .insert_header(("Authorization", format!("Bearer {bearer}")))
        };
        // B listens once its health says so.
        loop {
            let mut res = client
                .get(format!("{}/api/auth/health", b.base))
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = res.json().await.unwrap();
            if body["checks"]["change_feed"]["status"] == "listening" {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        let mut after_commit = Vec::with_capacity(changes);
        let mut end_to_end = Vec::with_capacity(changes);
        for i in 0..changes {
            let sid = format!("sess_bench_{i}");
            let bearer = token(&sid);
            let res = me(&b.base, &bearer).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200);
            let event = json!({"type": "session.revoked", "object": "event", "data": {
                "object": "session", "id": sid, "user_id": "user_bench", "client_id": "client_bench",
                "status": "revoked", "last_active_at": 0, "expire_at": 0, "abandon_at": 0,
                "created_at": 0, "updated_at": 0}});
            let body = serde_json::to_vec(&event).unwrap();
            let msg = format!("msg_feed_{i}");
            let now = now_s();
            let signature = signing.sign(&msg, now, &body);
            let start = Instant::now();
            let mut res = client
                .post(format!("{}/api/auth/webhooks/clerk", a.base))
                .content_type("application/json")
                .insert_header(("svix-id", msg))
                .insert_header(("svix-timestamp", now.to_string()))
                .insert_header(("svix-signature", signature))
                .send_body(body)
                .await
                .unwrap();
            let answer = res.body().await.unwrap();
            assert!(
                String::from_utf8_lossy(&answer).contains("\"applied\""),
                "{}",
                String::from_utf8_lossy(&answer)
            );
            let committed = Instant::now();
            loop {
                let res = me(&b.base, &bearer).send().await.unwrap();
                if res.status().as_u16() == 401 {
                    break;
                }
                assert!(start.elapsed() < Duration::from_secs(10), "not propagated");
            }
            after_commit.push(committed.elapsed());
            end_to_end.push(start.elapsed());
        }
        // The warm request path, with and without a listener beside it.
        let mut warm = Vec::new();
        for server in [&b, &sqlite] {
            let bearer = token("sess_warm");
            assert_eq!(me(&server.base, &bearer).send().await.unwrap().status().as_u16(), 200);
            let mut times = Vec::with_capacity(5_000);
            for _ in 0..5_000 {
                let start = Instant::now();
                let mut res = me(&server.base, &bearer).send().await.unwrap();
                res.body().await.unwrap();
                times.push(start.elapsed());
            }
            times.sort();
            warm.push(times);
        }
        (after_commit, end_to_end, warm)
    });
    let idle_cpu: Vec<f64> = {
        let before = [cpu_seconds(b.child.id()), cpu_seconds(sqlite.child.id())];
        std::thread::sleep(Duration::from_secs(5));
        let after = [cpu_seconds(b.child.id()), cpu_seconds(sqlite.child.id())];
        vec![after[0] - before[0], after[1] - before[1]]
    };
    drop((a, b, sqlite));
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();

    let report = |what: &str, mut times: Vec<Duration>| {
        times.sort();
        println!(
            "{what}: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0,
        );
    };
    println!("\n{changes} session revocations delivered to A, refused by B (PostgreSQL):");
    report("  from A's answer (committed) to B's refusal", after_commit);
    report("  from the delivery's start to B's refusal", end_to_end);
    for (label, times) in ["B (PostgreSQL, listening)", "SQLite (no listener)"]
        .iter()
        .zip(&warm)
    {
        println!(
            "warm GET /api/auth/me on {label}: median {:.1} µs, p99 {:.1} µs (5,000 sequential)",
            percentile(times, 0.5).as_secs_f64() * 1e6,
            percentile(times, 0.99).as_secs_f64() * 1e6,
        );
    }
    println!(
        "idle CPU over 5 s: B (listening) {:.2} s, SQLite instance {:.2} s",
        idle_cpu[0], idle_cpu[1]
    );
}
