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
    // Ready but for a Clerk key source, which nothing configures yet.
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains(r#""down":["signing_keys"]"#)
            && body.contains(r#""database":{"status":"up""#),
        "{body}"
    );
    // The embedded default: a SQLite file under ./data, created on first start.
    assert!(dir.path().join("data/auth-core.sqlite3").is_file());

    server.signal("TERM");
    let mut stderr = Vec::new();
    loop {
        let line = server.stderr_lines.recv_timeout(EXIT_WITHIN).unwrap();
        let done = line.contains("graceful shutdown");
        stderr.push(line);
        if done {
            break;
        }
    }
    assert!(server.wait_exit(EXIT_WITHIN).success());
    // "listening on http://…" once, on stdout (where the harness read it), not again in the log,
    // neither ours nor actix_server's ("starting service: …, listening on: 127.0.0.1:…").
    assert!(
        stderr.iter().all(|l| !l.contains("listening on")),
        "{stderr:#?}"
    );
}

/// With nothing set, the console's key is generated once, kept in the database, reused by the next
/// start, and never written to the log.
#[test]
fn the_generated_secret_key_is_stored_reused_and_never_logged() {
    use diesel::{Connection, OptionalExtension, QueryDsl, RunQueryDsl, SqliteConnection};
    let stored = |dir: &std::path::Path| -> Option<String> {
        let file = dir.join("data/auth-core.sqlite3");
        let mut conn = SqliteConnection::establish(file.to_str().unwrap()).unwrap();
        auth_core::db::schema::generated_secret_key::table
            .select(auth_core::db::schema::generated_secret_key::secret)
            .first::<String>(&mut conn)
            .optional()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut logged = Vec::new();
    for expected_line in [
        "SECRET_KEY is not set: generated a key for the admin console's sessions and stored it in the database",
        "SECRET_KEY is not set: the admin console's sessions use the key generated on first start, stored in the database",
    ] {
        let mut server = RunningServer::start(dir.path(), &[]);
        assert_eq!(http_get(&server.base, "/healthz").0, 200);
        server.signal("TERM");
        assert!(server.wait_exit(EXIT_WITHIN).success());
        // Every line: the reading thread ends at end of file, after the exit.
        let lines: Vec<String> = server.stderr_lines.iter().collect();
        let said = lines.iter().filter(|l| l.contains(expected_line)).count();
        assert_eq!(said, 1, "{lines:#?}");
        logged.extend(lines);
    }
    let secret = stored(dir.path()).expect("a key was stored");
    assert_eq!(secret.len(), 64);
    assert!(
        logged.iter().all(|line| !line.contains(&secret)),
        "{logged:#?}"
    );

    // An explicit SECRET_KEY wins: the stored one is left alone, and nothing is generated anew.
    let dir = tempfile::tempdir().unwrap();
    let mut server = RunningServer::start(
        dir.path(),
        &[("SECRET_KEY", "a-very-long-cookie-signing-key-0123456789")],
    );
    server.signal("TERM");
    assert!(server.wait_exit(EXIT_WITHIN).success());
    // Every line: the reading thread ends at end of file, after the exit.
    let lines: Vec<String> = server.stderr_lines.iter().collect();
    assert!(
        lines.iter().all(|l| !l.contains("SECRET_KEY is not set")),
        "{lines:#?}"
    );
    assert_eq!(stored(dir.path()), None);
}

/// Start-up names the key source, the expected issuer and the azp policy; without a key source it
/// warns loudly.
#[test]
fn start_up_logs_how_session_tokens_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let server = RunningServer::start(dir.path(), &[]);
    let line = server.wait_for_log("NO KEY SOURCE FOR SESSION TOKENS", EXIT_WITHIN);
    assert!(line.contains(" WARN "), "{line}");
    assert!(
        line.ends_with("every session token is refused (503 jwk-failed-to-resolve, Retry-After: 30) and readiness (/api/auth/health) is 503 until one of CLERK_PUBLISHABLE_KEY, CLERK_SECRET_KEY, CLERK_JWKS_URL or CLERK_JWT_KEY is set"),
        "{line}"
    );
    drop(server);

    let server = RunningServer::start(
        dir.path(),
        &[
            ("CLERK_JWKS_URL", "http://127.0.0.1:1/jwks"),
            ("AUTH_CORE__AUTH__ISSUER", "https://clerk.example.com"),
            ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com"),
            ("AUTH_CORE__AUTH__AZP_POLICY", "required"),
        ],
    );
    let line = server.wait_for_log("session tokens: ", EXIT_WITHIN);
    assert!(
        line.ends_with("session tokens: keys from JWKS at http://127.0.0.1:1/jwks (CLERK_JWKS_URL); expected issuer https://clerk.example.com; azp required, one of https://app.example.com"),
        "{line}"
    );
}

/// A refused CORS preflight is logged with the setting that decides it, and the sender's origin
/// quoted (it cannot forge a log line).
#[test]
fn a_refused_cors_preflight_is_logged_naming_cors_allowed_origins() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = RunningServer::start(
        dir.path(),
        &[("CORS_ALLOWED_ORIGINS", "https://app.example.com")],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "OPTIONS /api/auth/me HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://evil.example\r\n\
         Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 400 "), "{raw}");
    let line = server.wait_for_log("CORS preflight", EXIT_WITHIN);
    assert!(
        line.ends_with(r#"CORS preflight for /api/auth/me from origin "https://evil.example" refused: Origin is not allowed to make this request; the allowed origins are set by CORS_ALLOWED_ORIGINS"#),
        "{line}"
    );
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
fn a_periodic_reconcile_without_a_secret_key_or_below_its_minimum_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["serve", "--bind", "127.0.0.1:0"];
    let out = run(
        dir.path(),
        &[("AUTH_CORE__SYNC__RECONCILE_INTERVAL", "6h")],
        &args,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_lines(&out),
        ["auth-core: invalid setting sync.reconcile_interval (AUTH_CORE__SYNC__RECONCILE_INTERVAL): needs clerk.secret_key (CLERK_SECRET_KEY): the reconcile reads Clerk's Backend API; set it, or leave sync.reconcile_interval empty"]
    );
    let out = run(
        dir.path(),
        &[
            ("AUTH_CORE__SYNC__RECONCILE_INTERVAL", "1m"),
            ("CLERK_SECRET_KEY", "sk_test_abc123"),
        ],
        &args,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_lines(&out),
        ["auth-core: invalid setting sync.reconcile_interval (AUTH_CORE__SYNC__RECONCILE_INTERVAL): must be from 5m to 30d (got \"1m\"); empty turns it off"]
    );
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
        "database            sqlite://./data/auth-core.sqlite3: reachable; migrations applied: 0, 7 pending",
        "session tokens      MISSING: no key source; set CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_SECRET_KEY or CLERK_PUBLISHABLE_KEY",
        "webhooks            MISSING: no webhook secret: webhooks will be refused (set CLERK_WEBHOOK_SECRET)",
        "backend api         not set: no backfill from Clerk and no Clerk machine tokens",
        "admin console       on at /admin; SECRET_KEY not set: a key is generated on first start and kept in the database; administrators unknown until the database is migrated",
        "not ready: no key source for session tokens",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn check_reports_the_admin_console() {
    let dir = tempfile::tempdir().unwrap();
    let key = [("SECRET_KEY", "a-very-long-cookie-signing-key-0123456789")];
    assert!(run(dir.path(), &[], &["migrate"]).status.success());
    let out = run(dir.path(), &key, &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("SECRET_KEY set; no administrator yet: create one with `auth-core admin create --email …`"), "{stdout}");
    let off = run(
        dir.path(),
        &[("DEBUG", "false"), ("AUTH_CORE__ADMIN__ENABLED", "false")],
        &["check"],
    );
    assert!(String::from_utf8_lossy(&off.stdout)
        .contains("admin console       off (admin.enabled = false)"));
    // DEBUG no longer decides where the key comes from.
    for debug in ["true", "false"] {
        let out = run(dir.path(), &[("DEBUG", debug)], &["check"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(
                "SECRET_KEY not set: a key is generated on first start and kept in the database"
            ),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
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
        "sqlite://./data/auth-core.sqlite3: applied 20261126000001\nsqlite://./data/auth-core.sqlite3: applied 20261126000002\nsqlite://./data/auth-core.sqlite3: applied 20261130000001\nsqlite://./data/auth-core.sqlite3: applied 20261130000002\nsqlite://./data/auth-core.sqlite3: applied 20261130000003\nsqlite://./data/auth-core.sqlite3: applied 20261201000001\nsqlite://./data/auth-core.sqlite3: applied 20261201000002\n"
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

/// Every argument and option of every command says what it is for in `--help`.
#[test]
fn every_argument_has_help_text() {
    use clap::CommandFactory;
    fn blank(command: &clap::Command, path: &str, found: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id != "help" && id != "version" && arg.get_help().is_none() {
                found.push(format!("{path} {id}"));
            }
        }
        for sub in command.get_subcommands() {
            blank(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }
    let mut found = Vec::new();
    blank(&auth_core::cli::Cli::command(), "auth-core", &mut found);
    assert!(found.is_empty(), "arguments without help: {found:?}");
}

/// `keys create --org` warns when the organization has not been mirrored here (a typo, or the
/// webhooks are not set up yet), and creates the key anyway.
#[test]
fn creating_a_key_for_an_unknown_organization_warns() {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let dir = tempfile::tempdir().unwrap();
    let warning = "warning: organization org_2abc is not known here yet (no webhook or backfill has brought it): check the id; the key is created anyway";
    let out = run(
        dir.path(),
        &[],
        &["keys", "create", "--name", "n", "--org", "org_2abc"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr_lines(&out), [warning]);

    let file = dir.path().join("data/auth-core.sqlite3");
    let mut conn = SqliteConnection::establish(file.to_str().unwrap()).unwrap();
    diesel::sql_query(
        "INSERT INTO organizations (id, name, public_metadata, private_metadata, \
         clerk_created_at, clerk_updated_at, created_at, synced_at) \
         VALUES ('org_2abc', 'Acme', '{}', '{}', 1, 1, 1, 1)",
    )
    .execute(&mut conn)
    .unwrap();
    let out = run(
        dir.path(),
        &[],
        &["keys", "create", "--name", "m", "--org", "org_2abc"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr_lines(&out).iter().all(|l| !l.contains("warning")),
        "{:?}",
        stderr_lines(&out)
    );
}

/// `keys list`: a header row, then one row per key, with times as dates, not milliseconds.
#[test]
fn key_listings_have_a_header_and_human_times() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[],
        &["keys", "create", "--name", "billing", "--expires", "90d"],
    );
    assert_eq!(out.status.code(), Some(0));
    let out = run(dir.path(), &[], &["keys", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    let header: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "ID",
            "STATE",
            "NAME",
            "ORGANIZATION",
            "SCOPES",
            "EXPIRES",
            "LAST USED"
        ]
    );
    let cells: Vec<&str> = lines[1]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cells[1..4], ["active", "billing", "(global)"], "{listed}");
    let expires = cells[cells.len() - 2];
    assert!(
        expires.len() == 23 && expires.ends_with(" UTC") && expires.starts_with("20"),
        "{expires}"
    );
    assert_eq!(cells[cells.len() - 1], "never");
}

/// `check --online` asks the Clerk stand-in: the JWKS, the secret key against the Backend API, the
/// webhook secret's shape; each ok or FAILED with the reason, and exit 1 when one fails.
#[actix_web::test]
async fn check_online_asks_clerk_and_says_what_failed() {
    use common::clerk::{ClerkStandIn, SECRET_KEY};
    let clerk = ClerkStandIn::start(&["a"]);
    let dir = tempfile::tempdir().unwrap();
    let jwks = clerk.jwks_url();
    let path = dir.path().to_owned();
    let check = move |env: Vec<(&'static str, String)>| {
        let dir = path.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let out = run(&dir, &env, &["check", "--online"]);
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        })
    };
    let good = vec![
        ("CLERK_JWKS_URL", jwks.clone()),
        ("CLERK_SECRET_KEY", SECRET_KEY.to_owned()),
        ("AUTH_CORE__CLERK__API_URL", clerk.base.clone()),
        (
            "CLERK_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        ),
    ];
    let (code, out) = check.clone()(good.clone()).await.unwrap();
    for expected in [
        format!("jwks online         ok: {jwks}: 1 keys (ins_test_a)"),
        format!(
            "backend api online  ok: CLERK_SECRET_KEY accepted by {}/v1/jwks",
            clerk.base
        ),
        "webhook secret      ok: 1 secret(s) of the whsec_<base64> shape".to_owned(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    assert_eq!(code, Some(0), "{out}");

    // A wrong secret key, the JWKS down, no webhook secret.
    clerk.set_jwks_down(true);
    let bad = vec![
        ("CLERK_JWKS_URL", jwks.clone()),
        ("CLERK_SECRET_KEY", "sk_test_not0the0right0key".to_owned()),
        ("AUTH_CORE__CLERK__API_URL", clerk.base.clone()),
    ];
    let (code, out) = check.clone()(bad).await.unwrap();
    for expected in [
        format!("jwks online         FAILED: {jwks}: answered HTTP 503 (after 3 attempts)"),
        format!("backend api online  FAILED: CLERK_SECRET_KEY at {}/v1/jwks: answered HTTP 401 (after 3 attempts)", clerk.base),
        "webhook secret      FAILED: CLERK_WEBHOOK_SECRET not set: webhooks are refused".to_owned(),
        "not ready: an online check failed".to_owned(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains("sk_test_not0the0right0key"), "{out}");

    // A closed port: the reason names the request that failed.
    let (code, out) = check(vec![(
        "CLERK_JWKS_URL",
        "http://127.0.0.1:1/jwks".to_owned(),
    )])
    .await
    .unwrap();
    assert!(
        out.contains("jwks online         FAILED: http://127.0.0.1:1/jwks: request failed"),
        "{out}"
    );
    assert_eq!(code, Some(1), "{out}");
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
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let mut server = RunningServer::start(
        dir.path(),
        &[
            ("DATABASE_URL", via_relay.as_str()),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "20000"),
            ("AUTH_CORE__AUTH__REVOCATION_SYNC_SECS", "3600"),
            // A key source, so that readiness is about the database alone.
            ("CLERK_JWT_KEY", pem.as_str()),
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
