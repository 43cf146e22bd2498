//! Signed `user.updated` deliveries applied per second, on PostgreSQL, by the release binary, from
//! concurrent senders on loopback. Run: `cargo bench --bench webhooks` (PostgreSQL from
//! TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres; a scratch database is created and
//! dropped). BENCH_DELIVERIES (default 6000), BENCH_CONCURRENCY (32).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::env_or;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use auth_core::clerk::webhook::signature::SigningKey;
use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_util::StreamExt;
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn user(i: usize, version: usize, now_ms: i64) -> serde_json::Value {
    json!({"object": "event", "type": if version == 0 { "user.created" } else { "user.updated" }, "data": {
        "object": "user", "id": format!("user_bench_{i:05}"), "first_name": "Bench", "last_name": format!("v{version}"),
        "username": null, "image_url": "https://img.clerk.com/x", "primary_email_address_id": "idn_1",
        "email_addresses": [{"id": "idn_1", "object": "email_address", "email_address": format!("bench{i}@example.com"),
            "reserved": false, "verification": null, "linked_to": [], "created_at": now_ms, "updated_at": now_ms}],
        "public_metadata": {"version": version}, "private_metadata": {}, "unsafe_metadata": {}, "banned": false,
        "last_sign_in_at": null, "created_at": now_ms, "updated_at": now_ms + i64::try_from(version).unwrap()}})
}

fn main() {
    let deliveries: usize = env_or("BENCH_DELIVERIES", "6000").parse().unwrap();
    let concurrency: usize = env_or("BENCH_CONCURRENCY", "32").parse().unwrap();
    let admin_url = env_or(
        "TEST_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let name = format!("auth_core_bench_{}", std::process::id());
    let mut admin =
        PgConnection::establish(&admin_url).expect("PostgreSQL is needed for this benchmark");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-core"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", url.as_str())
        .env("CLERK_WEBHOOK_SECRET", SECRET)
        .env("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
        .env("AUTH_CORE__LOG__LEVEL", "warn")
        .env("AUTH_CORE__DATABASE__MAX_CONNECTIONS", "16")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = format!(
        "{}/api/auth/webhooks/clerk",
        line.trim().strip_prefix("auth-core listening on ").unwrap()
    );

    let now_s = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let key = SigningKey::from_secret(SECRET).unwrap();
    let users = 500;
    let signed = |n: usize, version: usize| {
        let body = serde_json::to_vec(&user(n % users, version, now_s * 1000)).unwrap();
        let id = format!("msg_bench_{version}_{n}");
        let signature = key.sign(&id, now_s, &body);
        (id, signature, body)
    };
    // Users exist first (not timed): the timed deliveries are updates of known users.
    let creates: Vec<_> = (0..users).map(|n| signed(n, 0)).collect();
    let updates: Vec<_> = (0..deliveries).map(|n| signed(n, 1 + n / users)).collect();

    let elapsed = actix_web::rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish();
        let send = |batch: Vec<(String, String, Vec<u8>)>| {
            let client = client.clone();
            let endpoint = endpoint.clone();
            async move {
                futures_util::stream::iter(batch)
                    .map(|(id, signature, body)| {
                        let request = client
                            .post(&endpoint)
                            .insert_header(("svix-id", id))
                            .insert_header(("svix-timestamp", now_s.to_string()))
                            .insert_header(("svix-signature", signature))
                            .content_type("application/json");
                        async move {
                            let mut res = request.send_body(body).await.unwrap();
                            let body = res.body().await.unwrap();
                            assert_eq!(
                                res.status().as_u16(),
                                200,
                                "{}",
                                String::from_utf8_lossy(&body)
                            );
                            assert!(String::from_utf8_lossy(&body).contains("\"applied\""));
                        }
                    })
                    .buffer_unordered(concurrency)
                    .collect::<Vec<()>>()
                    .await;
            }
        };
        send(creates).await;
        let start = Instant::now();
        send(updates).await;
        start.elapsed()
    });
    let _ = child.kill();
    let _ = child.wait();
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    println!(
        "\n{deliveries} signed user.updated deliveries, {concurrency} concurrent senders, PostgreSQL: {:.2} s, {:.0} deliveries/s",
        elapsed.as_secs_f64(),
        deliveries as f64 / elapsed.as_secs_f64()
    );
}
