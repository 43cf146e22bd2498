//! `/api/auth/verify` (forward auth, with its signed assertion) against `/api/auth/me`, same server,
//! same valid session token (verified-token and user caches warm), measured in one run on loopback
//! with `wrk --latency` (Debian package `wrk`): throughput and p99 of each, rounds alternating,
//! medians reported with the ratio. Also the server's CPU time per request (every thread's on-CPU
//! time from Linux's `/proc/<pid>/task/*/schedstat`, over the requests wrk completed): on a machine
//! busy with other work, throughput and latency measure the neighbours as much as the server, while
//! the time the server itself spent on a CPU moves much less. Run:
//! `cargo bench --bench forward_auth`.
//!
//! One server worker and one wrk thread, to fit the 2 cores these machines have. Settings
//! (environment): BENCH_SECONDS (default 8 per round), BENCH_ROUNDS (3), BENCH_CONNECTIONS (64),
//! BENCH_LOG_LEVEL (warn), BENCH_BINARY (another `auth-core` binary to serve, e.g. an earlier build to
//! compare with; by default the one cargo just built).
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

/// Nanoseconds every live thread of process `pid` has spent on a CPU (Linux's schedstat).
fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// One wrk run as [`wrk`], with the server's CPU microseconds per request.
fn measured(pid: u32, url: &str, token: &str, seconds: &str, connections: &str) -> (f64, f64, f64) {
    let before = cpu_ns(pid);
    let (rate, p99) = wrk(url, token, seconds, connections);
    let spent_us = (cpu_ns(pid) - before) as f64 / 1000.0;
    let requests = rate * seconds.parse::<f64>().unwrap();
    (rate, p99, spent_us / requests)
}

/// Each run's requests/s, p99 (ms) and server CPU (µs per request).
#[derive(Default)]
struct Runs(Vec<f64>, Vec<f64>, Vec<f64>);

impl Runs {
    fn push(&mut self, (rate, p99, cpu): (f64, f64, f64)) {
        self.0.push(rate);
        self.1.push(p99);
        self.2.push(cpu);
    }

    fn medians(self) -> (f64, f64, f64) {
        (median(self.0), median(self.1), median(self.2))
    }
}

fn main() {
    let seconds = env_or("BENCH_SECONDS", "8");
    let rounds: usize = env_or("BENCH_ROUNDS", "3").parse().unwrap();
    let connections = env_or("BENCH_CONNECTIONS", "64");
    let dir = tempfile::tempdir().unwrap();
    let binary = env_or("BENCH_BINARY", env!("CARGO_BIN_EXE_auth-core"));
    let mut child = Command::new(binary)
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

    let pid = child.id();
    let (mut me_runs, mut verify_runs) = (Runs::default(), Runs::default());
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for target in order {
            if target == 0 {
                me_runs.push(measured(pid, &me, &token, &seconds, &connections));
            } else {
                verify_runs.push(measured(pid, &verify, &token, &seconds, &connections));
            }
        }
        eprintln!("round {} of {rounds} done", round + 1);
    }
    let (me_rate, me_p99, me_cpu) = me_runs.medians();
    let (verify_rate, verify_p99, verify_cpu) = verify_runs.medians();
    println!(
        "{rounds} rounds of {seconds} s, {connections} connections, 1 server worker, medians:"
    );
    println!(
        "GET /api/auth/me                       {me_rate:>9.0} req/s  p99 {me_p99:.2} ms  \
         server CPU {me_cpu:.1} µs/request"
    );
    println!(
        "GET /api/auth/verify?role=org:admin    {verify_rate:>9.0} req/s  p99 {verify_p99:.2} ms  \
         server CPU {verify_cpu:.1} µs/request"
    );
    println!("verify / me throughput: {:.2}", verify_rate / me_rate);
    println!(
        "verify / me server CPU per request: {:.2}",
        verify_cpu / me_cpu
    );
    let _ = child.kill();
    let _ = child.wait();
}
