//! A real nginx with `auth_request` in front of a tiny upstream, auth-core answering the subrequests:
//! the configuration `docs/forward-auth.md` gives. A valid token reaches the upstream with the
//! identity headers and an assertion that verifies against auth-core's JWKS; a client's forged
//! `X-Auth-*` headers are replaced or removed; no token is nginx's 401 with auth-core's challenge;
//! an unmet `?role=` is 403. nginx runs unprivileged-style, everything (pid, logs, temp files) in a
//! temporary directory. Outside CI a missing nginx skips the test; with `CI=true` it fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use common::clerk::{session_claims, Minter, ISSUER};
use common::{client, Response, TestApp, TestDb};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

fn nginx_binary() -> Option<PathBuf> {
    let candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("nginx"))
                    .find(|p| p.exists())
            })
        })
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A free loopback port for nginx's `listen` (nginx cannot report one it picked itself).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx killed when the test ends, however it ends.
struct Nginx {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// The docs' configuration, with this test's addresses and a private prefix for every file nginx
/// writes.
fn config(dir: &Path, port: u16, auth_core: &str, upstream: &str) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    upstream auth_core {{ server {auth_core}; }}
    upstream app {{ server {upstream}; }}

    server {{
        listen 127.0.0.1:{port};

        location = /_auth {{
            internal;
            proxy_pass http://auth_core/api/auth/verify$auth_query;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-Method $request_method;
        }}

        location / {{
            set $auth_query "";
            include {d}/identity.conf;
        }}

        location /admin/ {{
            set $auth_query "?role=org:admin";
            include {d}/identity.conf;
        }}
    }}
}}
"#
    )
}

/// What every protected location repeats: ask auth-core, then pass the identity on. Every
/// `X-Auth-*` header is set, so a client's own (forged) one is replaced, or removed when the
/// identity has no such value (nginx drops a header set to an empty value).
const IDENTITY_CONF: &str = r#"
auth_request /_auth;
auth_request_set $auth_user_id $upstream_http_x_auth_user_id;
auth_request_set $auth_session_id $upstream_http_x_auth_session_id;
auth_request_set $auth_org_id $upstream_http_x_auth_org_id;
auth_request_set $auth_org_slug $upstream_http_x_auth_org_slug;
auth_request_set $auth_org_role $upstream_http_x_auth_org_role;
auth_request_set $auth_org_permissions $upstream_http_x_auth_org_permissions;
auth_request_set $auth_principal $upstream_http_x_auth_principal;
auth_request_set $auth_assertion $upstream_http_x_auth_assertion;
proxy_set_header X-Auth-User-Id $auth_user_id;
proxy_set_header X-Auth-Session-Id $auth_session_id;
proxy_set_header X-Auth-Org-Id $auth_org_id;
proxy_set_header X-Auth-Org-Slug $auth_org_slug;
proxy_set_header X-Auth-Org-Role $auth_org_role;
proxy_set_header X-Auth-Org-Permissions $auth_org_permissions;
proxy_set_header X-Auth-Principal $auth_principal;
proxy_set_header X-Auth-Assertion $auth_assertion;
proxy_pass http://app;
"#;

fn start_nginx(binary: &Path, auth_core: &str, upstream: &str) -> Nginx {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_owned();
    let port = free_port();
    std::fs::write(dir.join("identity.conf"), IDENTITY_CONF).unwrap();
    std::fs::write(
        dir.join("nginx.conf"),
        config(&dir, port, auth_core, upstream),
    )
    .unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut nginx = Nginx {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir: temp,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = nginx.child.try_wait() {
            panic!("nginx exited ({status}):\n{}", nginx.error_log());
        }
        assert!(
            Instant::now() < deadline,
            "nginx not listening:\n{}",
            nginx.error_log()
        );
        std::thread::yield_now();
    }
    nginx
}

/// The upstream: answers every request with the headers it received, as JSON.
async fn echo(req: HttpRequest) -> HttpResponse {
    let mut headers = serde_json::Map::new();
    for (name, value) in req.headers() {
        headers.insert(
            name.to_string(),
            Value::String(value.to_str().unwrap_or("<bytes>").to_owned()),
        );
    }
    HttpResponse::Ok().json(json!({"path": req.path(), "headers": headers}))
}

/// Log lines through `eprintln!`, which the test harness captures (for the test's threads and
/// the ones they start) and shows when the test fails.
struct CapturedLog;

impl log::Log for CapturedLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("[{} {}] {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

fn start_upstream() -> String {
    let server = HttpServer::new(|| App::new().default_service(web::to(echo)))
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.addrs()[0].to_string();
    actix_web::rt::spawn(server.run());
    addr
}

async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = client().get(format!("{base}{path}"));
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    Response::from(req.send().await.unwrap()).await
}

fn now_s() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

async fn nginx_auth_request_in_front_of_an_upstream(db: TestDb) {
    let Some(binary) = nginx_binary() else {
        assert!(
            !in_ci(),
            "nginx is not installed; CI=true requires this test to run"
        );
        eprintln!("skipped: nginx is not installed (apt-get install nginx)");
        return;
    };
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let app = TestApp::spawn(db.settings(&[
        ("CLERK_JWT_KEY", pem.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ]))
    .await;
    // auth-core's log in the captured output: a failure shows why a subrequest was answered so.
    if log::set_logger(&CapturedLog).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    let upstream = start_upstream();
    let auth_core = app.base.trim_start_matches("http://").to_owned();
    let nginx = start_nginx(&binary, &auth_core, &upstream);

    let admin = Minter::a().mint(&session_claims(now_s(), json!({})));
    let bearer = format!("Bearer {admin}");
    // A valid token reaches the upstream with the identity; the client's forged headers do not.
    let res = get(
        &nginx.base,
        "/notes/7?x=1",
        &[
            ("Authorization", &bearer),
            ("X-Auth-User-Id", "user_evil"),
            ("X-Auth-Org-Role", "org:owner"),
        ],
    )
    .await;
    assert_eq!(res.status, 200, "{}", nginx.error_log());
    let echoed = res.json();
    let headers = &echoed["headers"];
    assert_eq!(echoed["path"], "/notes/7");
    assert_eq!(headers["x-auth-user-id"], "user_2test");
    assert_eq!(headers["x-auth-session-id"], "sess_2test");
    assert_eq!(headers["x-auth-org-id"], "org_2test");
    assert_eq!(headers["x-auth-org-slug"], "acme");
    assert_eq!(headers["x-auth-org-role"], "org:admin");
    assert_eq!(
        headers["x-auth-org-permissions"],
        "org:billing:read,org:billing:manage"
    );
    assert_eq!(headers["x-auth-principal"], "user");

    // The assertion verifies against auth-core's JWKS, EdDSA only.
    let assertion = headers["x-auth-assertion"].as_str().unwrap();
    let jwks = app.get("/.well-known/auth-core/jwks.json").await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&jwks.body).unwrap();
    let kid = jsonwebtoken::decode_header(assertion).unwrap().kid.unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["auth-core"]);
    let claims = jsonwebtoken::decode::<Value>(
        assertion,
        &DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], "user_2test");
    assert_eq!(claims["org_role"], "org:admin");

    // Without an organization, the forged organization headers are removed, not passed on.
    let personal = Minter::a().mint(&session_claims(now_s(), json!({"o": null, "fea": null})));
    let res = get(
        &nginx.base,
        "/notes",
        &[
            ("Authorization", &format!("Bearer {personal}")),
            ("X-Auth-Org-Id", "org_evil"),
            ("X-Auth-Org-Role", "org:admin"),
        ],
    )
    .await;
    assert_eq!(res.status, 200);
    let headers = &res.json()["headers"];
    assert_eq!(headers["x-auth-user-id"], "user_2test");
    assert!(headers.get("x-auth-org-id").is_none(), "{headers}");
    assert!(headers.get("x-auth-org-role").is_none(), "{headers}");

    // No token: nginx answers 401 with auth-core's challenge; the upstream is not reached.
    let res = get(&nginx.base, "/notes/7", &[("X-Auth-User-Id", "user_evil")]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    assert!(!String::from_utf8_lossy(&res.body).contains("user_evil"));

    // A requirement in the subrequest's query: a member is refused, an admin passes.
    let member = Minter::a().mint(&session_claims(
        now_s(),
        json!({"o": {"id": "org_2test", "rol": "member"}}),
    ));
    let res = get(
        &nginx.base,
        "/admin/settings",
        &[("Authorization", &format!("Bearer {member}"))],
    )
    .await;
    assert_eq!(res.status, 403);
    let res = get(
        &nginx.base,
        "/admin/settings",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["path"], "/admin/settings");
}

db_test!(nginx_auth_request_in_front_of_an_upstream);
