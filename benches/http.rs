//! End-to-end throughput and latency, measured in one run on loopback with `wrk` (Debian package
//! `wrk`), as issue 19's table reports it: a bare actix-web hello world, auth-core's `GET /healthz`,
//! and `GET /api/auth/me` with a valid session token (verified-token and user caches warm) with the
//! default settings (access log at `info`, audit trail on, embedded SQLite) and in variants:
//! `RUST_LOG=warn`, the audit trail off, both, and the access log as JSON at `info` (the access
//! log's cost, text or JSON, is against `warn`; issue 18's budget is 5 %). Run:
//! `cargo bench --bench http`. It prints a Markdown table and writes it into
//! `docs/performance.md` between the `bench:http` markers (BENCH_WRITE_DOCS=0 leaves the file alone).
//!
//! Every server (each its own process, one worker) is pinned to core 0 with `taskset`, and wrk (one
//! thread) to core 1, so server and load generator do not compete for a core; the audit writer and
//! SQLite share core 0 with the serving thread, as on a one-core container. Rounds alternate between
//! targets and the median per target is reported, with ratios to hello world: these machines are
//! shared and noisy, ratios measured side by side are what compare (the load average is printed with
//! the table). Settings (environment): BENCH_SECONDS (default 5 per round), BENCH_ROUNDS (3),
//! BENCH_CONNECTIONS (32), BENCH_USERS (1: every request carries the same token; N: N users in 50
//! organizations take turns, which is what the audit trail's indexes see in production),
//! BENCH_SERVER_CPU (0) and BENCH_WRK_CPU (1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{env_or, fixture, median, millis};

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// A bare actix-web hello world with one worker: this bench binary run again (`hello-server`),
/// pinned to `cpu` like the auth-core servers; it prints its address on the first line.
fn start_hello_world(cpu: &str) -> (std::process::Child, String) {
    let mut child = Command::new("taskset")
        .args(["-c", cpu])
        .arg(std::env::current_exe().unwrap())
        .arg("hello-server")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_owned())
}

fn hello_server() {
    actix_web::rt::System::new().block_on(async move {
        let server = actix_web::HttpServer::new(|| {
            actix_web::App::new().route("/", actix_web::web::get().to(|| async { "Hello world!" }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        println!("http://{}", server.addrs()[0]);
        server.run().await.unwrap();
    });
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

/// What one target is: its label, how its server is started, which path is loaded.
struct Target {
    label: &'static str,
    /// The server's process, whose CPU time is read around each run.
    pid: u32,
    base: String,
    path: &'static str,
    authenticated: bool,
}

/// One wrk run's figures.
#[derive(Clone, Copy, Default)]
struct Run {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    /// The server process's CPU time (all its threads: the audit writer and SQLite included) per
    /// request, in µs. Steadier than the rate on a loaded machine: it does not count waiting.
    cpu_us: f64,
}

/// User + system CPU time of a process so far, in clock ticks (10 ms).
fn process_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Runs wrk pinned to `cpu` with latency percentiles.
fn wrk_pinned(
    pid: u32,
    url: &str,
    auth: &[String],
    seconds: &str,
    connections: &str,
    cpu: &str,
) -> Run {
    let ticks_before = process_ticks(pid);
    let out = Command::new("taskset")
        .args(["-c", cpu, "wrk", "--latency", "-t1", "-c", connections])
        .args(["-d", &format!("{seconds}s"), url])
        .args(auth)
        .output()
        .expect("taskset and wrk are needed: apt-get install util-linux wrk");
    let ticks = process_ticks(pid) - ticks_before;
    let text = String::from_utf8_lossy(&out.stdout);
    let requests: f64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk output:\n{text}"));
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {prefix} in wrk output:\n{text}"))
    };
    Run {
        rate: field("Requests/sec:").parse().unwrap(),
        p50_ms: millis(&field("50%")),
        p99_ms: millis(&field("99%")),
        non_2xx: text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
            .map_or(0, |n| n.trim().parse().unwrap()),
        cpu_us: ticks as f64 * 10_000.0 / requests,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("hello-server") {
        return hello_server();
    }
    let seconds = env_or("BENCH_SECONDS", "5");
    let rounds: usize = env_or("BENCH_ROUNDS", "3").parse().unwrap();
    let connections = env_or("BENCH_CONNECTIONS", "32");
    let users: usize = env_or("BENCH_USERS", "1").parse().unwrap();
    let server_cpu = env_or("BENCH_SERVER_CPU", "0");
    let wrk_cpu = env_or("BENCH_WRK_CPU", "1");
    assert!(users >= 1, "BENCH_USERS must be at least 1");
    let load_before = load_average();

    let variants: [(&str, &[(&str, &str)]); 5] = [
        ("auth-core `/api/auth/me`, default settings", &[]),
        ("  with `RUST_LOG=warn`", &[("RUST_LOG", "warn")]),
        ("  audit off", &[("AUTH_CORE__AUDIT__ENABLED", "false")]),
        (
            "  both (`RUST_LOG=warn`, audit off)",
            &[("RUST_LOG", "warn"), ("AUTH_CORE__AUDIT__ENABLED", "false")],
        ),
        (
            "  access log as JSON at `info` (`log.format=json`)",
            &[("AUTH_CORE__LOG__FORMAT", "json")],
        ),
    ];
    let mut servers = Vec::new();
    let mut targets = Vec::new();
    let (mut hello_child, hello) = start_hello_world(&server_cpu);
    targets.push(Target {
        label: "actix-web hello world (no auth)",
        pid: hello_child.id(),
        base: hello,
        path: "/",
        authenticated: false,
    });
    for (i, (label, env)) in variants.iter().enumerate() {
        let (dir, child, base) = start_auth_core(env, &server_cpu);
        if i == 0 {
            targets.push(Target {
                label: "auth-core `/healthz`",
                pid: child.id(),
                base: base.clone(),
                path: "/healthz",
                authenticated: false,
            });
        }
        targets.push(Target {
            label,
            pid: child.id(),
            base,
            path: "/api/auth/me",
            authenticated: true,
        });
        servers.push((dir, child));
    }

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
    // Requests first: create the users just in time and fill the caches.
    let warm_up = (1 + users / 500).to_string();
    for target in targets.iter().filter(|t| t.authenticated) {
        wrk(
            &format!("{}{}", target.base, target.path),
            &auth,
            &warm_up,
            "1",
        );
    }

    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); targets.len()];
    for round in 0..rounds {
        // Alternate the order so drift in machine load does not favour one target.
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let target = &targets[i];
            let args: &[String] = if target.authenticated { &auth } else { &[] };
            let url = format!("{}{}", target.base, target.path);
            runs[i].push(wrk_pinned(
                target.pid,
                &url,
                args,
                &seconds,
                &connections,
                &wrk_cpu,
            ));
        }
    }
    // A writer that fell behind drops events (with audit.when_full=drop) or makes requests wait and
    // be refused (wait, the default): either shows here, so auditing cannot look cheaper than it is.
    let audited = &targets[2].base;
    let dropped = metric(audited, "auth_core_audit_dropped_events_total");
    let refused = metric(audited, "auth_core_audit_refused_requests_total");
    let _ = hello_child.kill();
    let _ = hello_child.wait();
    for (_, child) in &mut servers {
        let _ = child.kill();
        let _ = child.wait();
    }
    let audited_rows = count_audit_rows(servers[0].0.path());

    let hello_rate = median(runs[0].iter().map(|r| r.rate).collect());
    let warn_rate = median(runs[3].iter().map(|r| r.rate).collect());
    let mut table = format!(
        "Measured {} (load average {load_before} before, {} after; 2 cores shared with other \
         sessions): each server one worker pinned to core {server_cpu}, `wrk -t1 -c{connections}` \
         pinned to core {wrk_cpu}, median of {rounds} rounds of {seconds} s, {users} user(s).\n\n\
         | server | req/s | p50 ms | p99 ms | vs hello world | server CPU µs/req |\n|---|---:|---:|---:|---:|---:|\n",
        utc_now(),
        load_average()
    );
    for (target, runs) in targets.iter().zip(&runs) {
        let rate = median(runs.iter().map(|r| r.rate).collect());
        let p50 = median(runs.iter().map(|r| r.p50_ms).collect());
        let p99 = median(runs.iter().map(|r| r.p99_ms).collect());
        let non_2xx: u64 = runs.iter().map(|r| r.non_2xx).sum();
        let cpu = median(runs.iter().map(|r| r.cpu_us).collect());
        let note = if non_2xx > 0 {
            format!(" ({non_2xx} non-2xx)")
        } else {
            String::new()
        };
        table.push_str(&format!(
            "| {}{note} | {} | {p50:.2} | {p99:.2} | {:.2} | {cpu:.1} |\n",
            target.label,
            thousands(rate),
            rate / hello_rate
        ));
    }
    let text_rate = median(runs[2].iter().map(|r| r.rate).collect());
    let json_rate = median(runs[6].iter().map(|r| r.rate).collect());
    let cpu_of = |i: usize| median(runs[i].iter().map(|r| r.cpu_us).collect());
    table.push_str(&format!(
        "\nAgainst `RUST_LOG=warn`, the access log at `info` costs {:.1} % of `/api/auth/me` \
         throughput as text (the default) and {:.1} % as JSON (issue 18's budget: 5 %); by the \
         server's CPU per request, {:.1} % and {:.1} % (a server pinned to one core and kept busy \
         answers in proportion to 1 / CPU per request). The audited server wrote {audited_rows} \
         audit rows; {dropped} events dropped, {refused} requests refused for a full audit queue.\n",
        100.0 * (warn_rate - text_rate) / warn_rate,
        100.0 * (warn_rate - json_rate) / warn_rate,
        100.0 * (1.0 - cpu_of(3) / cpu_of(2)),
        100.0 * (1.0 - cpu_of(3) / cpu_of(6))
    ));
    println!("\n{table}");
    if env_or("BENCH_WRITE_DOCS", "1") != "0" {
        write_into_docs(&table);
    }
}

/// Replaces what is between the `bench:http` markers of docs/performance.md with `table`.
fn write_into_docs(table: &str) {
    let path = format!("{}/docs/performance.md", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- bench:http:begin -->", "<!-- bench:http:end -->");
    let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else {
        println!("docs/performance.md has no {begin} … {end} markers: not written");
        return;
    };
    let updated = format!("{}{begin}\n{table}{}", &text[..b], &text[e..]);
    std::fs::write(&path, updated).unwrap();
    println!("written into docs/performance.md");
}

fn thousands(rate: f64) -> String {
    let digits = format!("{:.0}", rate);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The current UTC date and time, from `date` (no date crate for one line).
fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// Starts the real binary, pinned to `cpu`, with its default settings but for `extra`, on a free
/// port in a temp dir; returns the dir, the process and its base URL. Its log goes to /dev/null.
fn start_auth_core(
    extra: &[(&str, &str)],
    cpu: &str,
) -> (tempfile::TempDir, std::process::Child, String) {
    let dir = tempfile::tempdir().unwrap();
    // BENCH_AUTH_CORE_BIN runs another build (say, main's) under the same bench, for A/B runs.
    let bin = std::env::var("BENCH_AUTH_CORE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_auth-core").to_owned());
    let mut child = Command::new("taskset")
        .args(["-c", cpu])
        .arg(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .current_dir(dir.path())
        .env_clear()
        .env("CLERK_JWT_KEY", fixture("rsa-2048-a.pub.pem"))
        .env("CLERK_AUTHORIZED_PARTIES", "https://app.example.com")
        .env("AUTH_CORE__AUTH__ISSUER", "https://clerk.example.com")
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
