//! The real `auth-core` binary: start-up with no configuration, refusals of bad settings, an
//! unreachable database, `check`, `migrate`, `--help`, and graceful shutdown on signals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::binary::{http_get, run, RunningServer};
use common::TestDb;

const EXIT_WITHIN: Duration = Duration::from_secs(20);

fn stderr_lines(output: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn starts_in_an_empty_directory_with_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RunningServer::start(dir.path(), &[]);
    let (status, body) = http_get(&server.base, "/healthz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"healthy"}"#));
    let (status, body) = http_get(&server.base, "/api/auth/health");
    assert_eq!(status, 200, "{body}");
    // The embedded default: a SQLite file under ./data, created on first start.
    assert!(dir.path().join("data/auth-core.sqlite3").is_file());

    server.signal("TERM");
    server.wait_for_log("graceful shutdown", EXIT_WITHIN);
    assert!(server.wait_exit(EXIT_WITHIN).success());
}

#[test]
fn stops_gracefully_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RunningServer::start(dir.path(), &[]);
    server.signal("INT");
    let line = server.wait_for_log("received", EXIT_WITHIN);
    assert!(
        line.contains("SIGINT received; starting graceful shutdown"),
        "{line}"
    );
    assert!(server.wait_exit(EXIT_WITHIN).success());
}

#[test]
fn access_log_has_one_line_per_request_without_query_strings() {
    let dir = tempfile::tempdir().unwrap();
    let server = RunningServer::start(dir.path(), &[]);
    http_get(
        &server.base,
        "/healthz?__session=eyJhbGciOiJSUzI1NiJ9.secret",
    );
    let line = server.wait_for_log("auth_core::access", EXIT_WITHIN);
    assert!(line.contains("GET /healthz 200 "), "{line}");
    assert!(line.contains("request_id="), "{line}");
    assert!(line.ends_with("user=- org=-"), "anonymous: {line}");
    assert!(!line.contains("secret") && !line.contains('?'), "{line}");
}

/// `log.format = json`: every line is one JSON object; the access line carries the request's facts
/// (id, method, path, status, duration, user, organization, principal) as fields.
#[test]
fn json_logs_for_log_shippers() {
    let dir = tempfile::tempdir().unwrap();
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let server = RunningServer::start(
        dir.path(),
        &[
            ("AUTH_CORE__LOG__FORMAT", "json"),
            ("CLERK_JWT_KEY", pem.as_str()),
            ("AUTH_CORE__AUTH__ISSUER", common::clerk::ISSUER),
        ],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = common::clerk::Minter::a().mint(&common::clerk::session_claims(
        i64::try_from(now).unwrap(),
        serde_json::json!({}),
    ));
    let addr = server.base.trim_start_matches("http://").to_owned();
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(stream, "GET /api/auth/me HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
    let line = server.wait_for_log("auth_core::access", EXIT_WITHIN);
    let record: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(record["level"], "INFO");
    assert_eq!(record["target"], "auth_core::access");
    // The request's facts are fields, not text inside the message.
    assert_eq!(record["message"], "request", "{line}");
    assert!(
        record["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{line}"
    );
    assert_eq!(record["method"], "GET");
    assert_eq!(record["path"], "/api/auth/me");
    assert_eq!(record["status"], 200);
    assert!(
        record["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{line}"
    );
    assert_eq!(record["user"], "user_2test");
    assert_eq!(record["org"], "org_2test");
    assert_eq!(record["principal"], "user");
    assert!(!line.contains(&token), "the token never reaches the log");
    for earlier in server.stderr_lines.try_iter() {
        assert!(
            serde_json::from_str::<serde_json::Value>(&earlier).is_ok(),
            "not JSON: {earlier}"
        );
    }
}

#[test]
fn an_invalid_setting_in_dotenv_stops_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "CLERK_WEBHOOK_SECRET=not-a-whsec-secret\n",
    )
    .unwrap();
    let out = run(dir.path(), &[], &["serve", "--bind", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_lines(&out),
        ["auth-core: invalid setting clerk.webhook_secret (CLERK_WEBHOOK_SECRET): secret #1 must start with whsec_"]
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not-a-whsec-secret"));
}

#[test]
fn an_invalid_setting_in_the_environment_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[("CLERK_PUBLISHABLE_KEY", "pk_prod_xyz")], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_lines(&out),
        ["auth-core: invalid setting clerk.publishable_key (CLERK_PUBLISHABLE_KEY): must start with pk_test_ or pk_live_"]
    );
}

#[test]
fn an_unreachable_database_at_start_up_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            ("DATABASE_URL", "postgres://app:hunter2@127.0.0.1:1/auth"),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "300"),
        ],
        &["serve", "--bind", "127.0.0.1:0"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        // The cause (libpq's "Connection refused") follows when the first attempt failed before the
        // acquire timeout, which a loaded machine does not guarantee.
        last.starts_with("auth-core: database unavailable: timed out waiting for connection"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "password leaked: {stderr}");
}

#[test]
fn an_unusable_bind_address_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(dir.path(), &[], &["serve", "--bind", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("auth-core: cannot listen on {addr}:")),
        "{stderr}"
    );
}

#[test]
fn check_explains_what_is_missing_for_clerk() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[], &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "database            sqlite://./data/auth-core.sqlite3: reachable; migrations applied: 0, 3 pending",
        "session tokens      MISSING: no key source; set CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_SECRET_KEY or CLERK_PUBLISHABLE_KEY",
        "webhooks            MISSING: no webhook secret: webhooks will be refused (set CLERK_WEBHOOK_SECRET)",
        "backend api         not set: no backfill from Clerk and no Clerk machine tokens",
        "admin console       on at /admin; SECRET_KEY set; administrators unknown until the database is migrated",
        "not ready: no key source for session tokens",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn check_reports_the_admin_console() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[("DEBUG", "false")], &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "admin console       MISSING: SECRET_KEY is not set, so `serve` will not start"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("no SECRET_KEY for the admin console"),
        "{stdout}"
    );

    assert!(run(dir.path(), &[], &["migrate"]).status.success());
    let out = run(dir.path(), &[], &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("SECRET_KEY set; no administrator yet: create one with `auth-core admin create --email …`"), "{stdout}");
    let off = run(
        dir.path(),
        &[("DEBUG", "false"), ("AUTH_CORE__ADMIN__ENABLED", "false")],
        &["check"],
    );
    assert!(String::from_utf8_lossy(&off.stdout)
        .contains("admin console       off (admin.enabled = false)"));
    let dev = run(dir.path(), &[("DEBUG", "true")], &["check"]);
    assert!(
        String::from_utf8_lossy(&dev.stdout)
            .contains("SECRET_KEY not set: a development key is kept in ./data/secret_key"),
        "{}",
        String::from_utf8_lossy(&dev.stdout)
    );
}

#[test]
fn check_reports_a_configured_service_ready_without_printing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("CLERK_SECRET_KEY", "sk_test_Zm9vYmFyc2VjcmV0"),
        ("CLERK_PUBLISHABLE_KEY", "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"),
        (
            "CLERK_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com"),
        ("SECRET_KEY", "a-very-long-cookie-signing-key-0123456789"),
    ];
    let out = run(dir.path(), &env, &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "verified with JWKS from Clerk's Backend API at https://api.clerk.com/v1/jwks"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("clerk instance      development, Frontend API clerk.example.com"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("ready"), "{stdout}");
    for (_, secret) in [env[0], env[2], env[4]] {
        let tail = &secret[secret.len() - 10..];
        assert!(!stdout.contains(tail), "{secret} printed:\n{stdout}");
    }
}

#[test]
fn migrate_applies_then_reports_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), &[], &["migrate"]);
    assert!(first.status.success());
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        "sqlite://./data/auth-core.sqlite3: applied 20261126000001\nsqlite://./data/auth-core.sqlite3: applied 20261126000002\nsqlite://./data/auth-core.sqlite3: applied 20261130000001\n"
    );
    let second = run(dir.path(), &[], &["migrate"]);
    assert_eq!(
        String::from_utf8_lossy(&second.stdout),
        "sqlite://./data/auth-core.sqlite3: up to date\n"
    );
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (vec!["--help"], "migrate"),
        (vec!["serve", "--help"], "--workers"),
        (
            vec!["migrate", "--help"],
            "Apply pending database migrations",
        ),
        (vec!["check", "--help"], "what is missing"),
    ] {
        let out = run(dir.path(), &[], &args);
        assert!(out.status.success(), "{args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(expected), "{args:?}: {stdout}");
    }
}

/// SIGTERM while a request is in flight: the request still completes with a full response.
/// The request is made to wait on a new database connection by a relay in front of PostgreSQL that
/// the test controls, so "in flight" is known exactly rather than guessed with a sleep.
#[test]
fn in_flight_requests_finish_after_sigterm() {
    let Some(db) = TestDb::postgres("in_flight_requests_finish_after_sigterm") else {
        return;
    };
    let real = url::Url::parse(&db.url).unwrap();
    let real_addr = format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(5432)
    );
    let relay = Relay::start(real_addr);
    let mut via_relay = real.clone();
    via_relay.set_host(Some("127.0.0.1")).unwrap();
    via_relay.set_port(Some(relay.port)).unwrap();
    via_relay.set_query(Some("sslmode=disable"));

    let dir = tempfile::tempdir().unwrap();
    let mut server = RunningServer::start(
        dir.path(),
        &[
            ("DATABASE_URL", via_relay.as_str()),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "20000"),
            ("AUTH_CORE__AUTH__REVOCATION_SYNC_SECS", "3600"),
        ],
    );
    // Start-up's connections are dropped: the request below must open a new one, which is held.
    relay.arm();
    let base = server.base.clone();
    let request = std::thread::spawn(move || http_get(&base, "/api/auth/health"));
    let held = relay
        .held
        .recv_timeout(EXIT_WITHIN)
        .expect("the request opened a database connection");
    server.signal("TERM");
    server.wait_for_log("graceful shutdown", EXIT_WITHIN);

    // Now let the database connection through; the request must complete.
    let upstream = std::net::TcpStream::connect(&relay.upstream).unwrap();
    pipe(held.try_clone().unwrap(), upstream.try_clone().unwrap());
    pipe(upstream, held);

    let (status, body) = request.join().unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""status":"healthy""#), "{body}");
    assert!(server.wait_exit(EXIT_WITHIN).success());
}

/// A TCP relay to PostgreSQL: passes connections through until armed; arming cuts the connections it
/// passed so far, and the next new connection is handed to the test instead of being passed.
struct Relay {
    port: u16,
    upstream: String,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    passed: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    held: std::sync::mpsc::Receiver<std::net::TcpStream>,
}

impl Relay {
    fn start(upstream: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let passed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, held) = std::sync::mpsc::channel();
        let (armed_in, passed_in, target) = (armed.clone(), passed.clone(), upstream.clone());
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                if armed_in.load(Ordering::SeqCst) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(conn);
                        continue;
                    }
                }
                let Ok(up) = std::net::TcpStream::connect(&target) else {
                    return;
                };
                passed_in.lock().unwrap().push(conn.try_clone().unwrap());
                pipe(conn.try_clone().unwrap(), up.try_clone().unwrap());
                pipe(up, conn);
            }
        });
        Self {
            port,
            upstream,
            armed,
            passed,
            held,
        }
    }

    fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
        for conn in self.passed.lock().unwrap().drain(..) {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn pipe(mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
