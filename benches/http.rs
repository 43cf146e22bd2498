//! End-to-end throughput, measured in one run on loopback with `wrk` (Debian package `wrk`):
//! a bare actix-web hello-world, auth-core's `GET /healthz`, and `GET /api/auth/me` with a valid
//! session token (verified-token and user caches warm). Run: `cargo bench --bench http`.
//!
//! Each server gets one worker thread and wrk one thread, so both fit the 2 cores these machines
//! have. Rounds alternate between targets and the median per target is reported, with ratios: these
//! machines are noisy, ratios measured side by side are what compare. Settings (environment):
//! BENCH_SECONDS (default 8 per round), BENCH_ROUNDS (3), BENCH_CONNECTIONS (64),
//! BENCH_LOG_LEVEL (warn: the access log line per request is not what is being measured),
//! BENCH_USERS (1: every request carries the same token; N: N users in 50 organizations take turns,
//! which is what the audit trail's indexes see in production).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A bare actix-web hello-world with one worker, on its own thread.
fn start_hello_world() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(|| {
                actix_web::App::new()
                    .route("/", actix_web::web::get().to(|| async { "Hello world!" }))
            })
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
            tx.send(format!("http://{}/", server.addrs()[0])).unwrap();
            server.run().await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Requests per second reported by one wrk run, and how many requests it made.
/// Runs wrk; `auth` are the arguments that authenticate its requests (see [`auth_args`]).
fn wrk(url: &str, auth: &[String], seconds: &str, connections: &str) -> (f64, u64) {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c", connections, "-d", &format!("{seconds}s"), url]);
    cmd.args(auth);
    let out = cmd
        .output()
        .expect("wrk is not installed: apt-get install wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("Non-2xx"),
        "non-2xx responses from {url}:\n{text}"
    );
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk output:\n{text}"));
    (rate, requests)
}

/// wrk arguments that authenticate every request: the one token in a header, or a Lua script (written
/// into `dir`) that hands the tokens out in turn, one per request.
fn auth_args(tokens: &[String], dir: &std::path::Path) -> Vec<String> {
    if let [token] = tokens {
        return vec!["-H".into(), format!("Authorization: Bearer {token}")];
    }
    let list: String = tokens.iter().map(|t| format!("  \"{t}\",\n")).collect();
    let script = format!(
        "local tokens = {{\n{list}}}\nlocal i = 0\nrequest = function()\n  i = i % #tokens + 1\n  \
         return wrk.format(nil, nil, {{[\"Authorization\"] = \"Bearer \" .. tokens[i]}})\nend\n"
    );
    let path = dir.join("tokens.lua");
    std::fs::write(&path, script).unwrap();
    vec!["-s".into(), path.display().to_string()]
}

/// CPU time (user + system, in clock ticks of 10 ms) used so far by each named thread of a process.
fn thread_cpu(pid: u32) -> BTreeMap<String, u64> {
    let mut by_name = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // the thread ended
        };
        let (head, tail) = stat.rsplit_once(')').unwrap();
        let name = head.split_once('(').unwrap().1.to_owned();
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        *by_name.entry(name).or_insert(0) += ticks;
    }
    by_name
}

/// Runs wrk against `url` and adds the server's CPU per thread and the request count to `cpu`.
fn measured_wrk(
    pid: u32,
    cpu: &mut (BTreeMap<String, u64>, u64),
    url: &str,
    auth: &[String],
    seconds: &str,
    connections: &str,
) -> f64 {
    let before = thread_cpu(pid);
    let (rate, requests) = wrk(url, auth, seconds, connections);
    for (name, ticks) in thread_cpu(pid) {
        let used = ticks.saturating_sub(before.get(&name).copied().unwrap_or(0));
        *cpu.0.entry(name).or_insert(0) += used;
    }
    cpu.1 += requests;
    rate
}

/// CPU microseconds per request for each server thread that did work, as one line.
fn cpu_line(label: &str, cpu: &(BTreeMap<String, u64>, u64)) -> String {
    let per_request = |ticks: u64| ticks as f64 * 10_000.0 / cpu.1 as f64;
    let parts: Vec<String> = cpu
        .0
        .iter()
        .filter(|(_, ticks)| per_request(**ticks) >= 0.05)
        .map(|(name, ticks)| format!("{name} {:.2}", per_request(*ticks)))
        .collect();
    format!("{label:<40} {}", parts.join(", "))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let seconds = env_or("BENCH_SECONDS", "8");
    let rounds: usize = env_or("BENCH_ROUNDS", "3").parse().unwrap();
    let connections = env_or("BENCH_CONNECTIONS", "64");
    let users: usize = env_or("BENCH_USERS", "1").parse().unwrap();
    assert!(users >= 1, "BENCH_USERS must be at least 1");
    // Two servers, identical but for the audit trail, so its cost is measured in the same run.
    let (dir, mut child, base) = start_auth_core(&[]);
    let (_dir_off, mut child_off, base_off) =
        start_auth_core(&[("AUTH_CORE__AUDIT__ENABLED", "false")]);
    let hello = start_hello_world();

    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let key = EncodingKey::from_rsa_pem(fixture("rsa-2048-a.pem").as_bytes()).unwrap();
    // One user (the default), or BENCH_USERS users in 50 organizations, each with its own session.
    let tokens: Vec<String> = (0..users)
        .map(|i| {
            let suffix = if users == 1 { String::new() } else { format!("{i:05}") };
            let claims = json!({
                "sub": format!("user_2bench{suffix}"), "sid": format!("sess_2bench{suffix}"),
                "iss": "https://clerk.example.com", "azp": "https://app.example.com",
                "iat": now, "nbf": now - 10, "exp": now + 3600, "v": 2, "fea": "o:billing",
                "o": {"id": if users == 1 { "org_2bench".to_owned() } else { format!("org_2bench{:03}", i % 50) },
                      "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"},
            });
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
        })
        .collect();
    let scripts = tempfile::tempdir().unwrap();
    let auth = auth_args(&tokens, scripts.path());
    let me = format!("{base}/api/auth/me");
    let me_off = format!("{base_off}/api/auth/me");
    let healthz = format!("{base}/healthz");
    // Requests first: create the users just in time and fill the caches.
    let warm_up = (1 + users / 500).to_string();
    wrk(&me, &auth, &warm_up, "1");
    wrk(&me_off, &auth, &warm_up, "1");

    let (mut h, mut z, mut m, mut o) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // CPU of each server's threads during its /api/auth/me rounds, and the requests it answered.
    let (mut cpu_on, mut cpu_off) = ((BTreeMap::new(), 0), (BTreeMap::new(), 0));
    for round in 0..rounds {
        // Alternate the order so drift in machine load does not favour one target.
        let order: [u8; 4] = if round % 2 == 0 {
            [0, 1, 2, 3]
        } else {
            [3, 2, 1, 0]
        };
        for target in order {
            match target {
                0 => h.push(wrk(&hello, &[], &seconds, &connections).0),
                1 => z.push(wrk(&healthz, &[], &seconds, &connections).0),
                2 => m.push(measured_wrk(
                    child.id(),
                    &mut cpu_on,
                    &me,
                    &auth,
                    &seconds,
                    &connections,
                )),
                _ => o.push(measured_wrk(
                    child_off.id(),
                    &mut cpu_off,
                    &me_off,
                    &auth,
                    &seconds,
                    &connections,
                )),
            }
        }
    }
    let cpu_lines = [
        cpu_line("  audited", &cpu_on),
        cpu_line("  audit trail off", &cpu_off),
    ];
    // A writer that fell behind drops events, which would make auditing look cheaper than it is.
    let dropped = metric(&base, "auth_core_audit_dropped_events_total");
    for child in [&mut child, &mut child_off] {
        let _ = child.kill();
        let _ = child.wait();
    }
    let audited_rows = count_audit_rows(dir.path());
    let (h, z, m, o) = (median(h), median(z), median(m), median(o));
    println!("\nrequests/s (median of {rounds} rounds of {seconds}s, {connections} connections, 1 server worker, 1 wrk thread, {users} user(s))");
    println!("{:<40} {:>10.0}", "bare actix-web hello world", h);
    println!(
        "{:<40} {:>10.0}   {:>5.1}% of hello world",
        "auth-core GET /healthz",
        z,
        100.0 * z / h
    );
    println!(
        "{:<40} {:>10.0}   {:>5.1}% of /healthz, {:>5.1}% of hello world",
        "auth-core GET /api/auth/me (token)",
        m,
        100.0 * m / z,
        100.0 * m / h
    );
    println!(
        "{:<40} {:>10.0}   {:>5.1}% of /healthz; auditing costs {:.1}% ({audited_rows} audit rows written, {dropped} dropped)",
        "  same, audit trail off",
        o,
        100.0 * o / z,
        100.0 * (o - m) / o
    );
    println!("\nCPU µs per /api/auth/me request, by server thread (actix-rt|system… serves requests; the audit writer runs on tokio's blocking pool)");
    for line in cpu_lines {
        println!("{line}");
    }
}

/// Starts the real binary on a free port in a temp dir; returns the dir, the process and its base URL.
fn start_auth_core(extra: &[(&str, &str)]) -> (tempfile::TempDir, std::process::Child, String) {
    let dir = tempfile::tempdir().unwrap();
    // BENCH_AUTH_CORE_BIN runs another build (say, main's) under the same bench, for A/B runs.
    let bin = std::env::var("BENCH_AUTH_CORE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_auth-core").to_owned());
    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .current_dir(dir.path())
        .env_clear()
        .env("CLERK_JWT_KEY", fixture("rsa-2048-a.pub.pem"))
        .env("CLERK_AUTHORIZED_PARTIES", "https://app.example.com")
        .env("AUTH_CORE__AUTH__ISSUER", "https://clerk.example.com")
        .env("AUTH_CORE__LOG__LEVEL", env_or("BENCH_LOG_LEVEL", "warn"))
        .env("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Settings under test (e.g. AUTH_CORE__AUDIT__…) pass through from the bench's environment.
        .envs(std::env::vars().filter(|(k, _)| k.starts_with("AUTH_CORE__")))
        .envs(extra.iter().copied())
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
    (dir, child, base)
}

/// One value from a server's `/metrics` (plain HTTP/1.0 over loopback).
fn metric(base: &str, name: &str) -> String {
    use std::io::{Read, Write};
    let address = base.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| "?".to_owned())
}

/// Rows in the audited server's SQLite database (read with the sqlite3 CLI when present).
fn count_audit_rows(dir: &std::path::Path) -> String {
    Command::new("sqlite3")
        .arg(dir.join("data/auth-core.sqlite3"))
        .arg("SELECT count(*) FROM audit_events")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("?".to_owned(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        })
}
