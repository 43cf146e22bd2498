//! Test harness: a fresh database per test on each backend, the app on a real loopback port, and
//! the real binary. Shared by every test file (each uses a subset, hence `dead_code` allowances).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod admin;
pub mod binary;
pub mod clerk;
pub mod clerk_listing;
pub mod embedded;
pub mod replay;
pub mod settings_keys;
pub mod webhooks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use auth_core::db::Backend;
use auth_core::server;
use auth_core::settings::{Settings, SettingsSources};
use auth_core::state::AppState;
use diesel::{Connection, PgConnection, RunQueryDsl};
use url::Url;

/// Where PostgreSQL is for tests: `TEST_DATABASE_URL`, else the local default of these machines.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Checked once per test binary.
fn postgres_reachable() -> Result<(), String> {
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    REACHABLE
        .get_or_init(|| {
            PgConnection::establish(&postgres_admin_url())
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .clone()
}

/// A database that exists for one test only.
pub struct TestDb {
    pub backend: Backend,
    /// The value to put in DATABASE_URL.
    pub url: String,
    /// Holds the SQLite file (and any other per-test files) until the test ends.
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // A plain absolute path (sqlite:///x would be relative, as in dj-database-url).
        let url = dir.path().join("auth-core.sqlite3").display().to_string();
        Self {
            backend: Backend::Sqlite,
            url,
            dir,
            pg_name: None,
        }
    }

    /// A new, empty PostgreSQL database. `None` (after a loud notice) when no PostgreSQL is reachable
    /// outside CI; in CI (`CI=true`) an unreachable PostgreSQL fails the test instead.
    pub fn postgres(test: &str) -> Option<Self> {
        if let Err(e) = postgres_reachable() {
            let message = format!(
                "PostgreSQL at {} is not reachable ({})",
                redact(&postgres_admin_url()),
                e.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            if in_ci() {
                panic!("{message}; CI=true requires the PostgreSQL variants to run");
            }
            // Written to stderr directly: libtest captures eprintln! output of passing tests.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!! SKIPPED {test} [postgres]: {message}. Set TEST_DATABASE_URL or start PostgreSQL. !!!!!"
            );
            return None;
        }
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "auth_core_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::establish(&postgres_admin_url()).unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        let mut url = Url::parse(&postgres_admin_url()).unwrap();
        url.set_path(&name);
        // Plain TCP to the test databases: libpq's OpenSSL cleans up at process exit while server
        // threads left by earlier tests may still hold TLS connections, which can crash the test
        // binary after every test has passed. TLS itself is tested explicitly (migrations.rs).
        if !url.query_pairs().any(|(k, _)| k == "sslmode") {
            url.query_pairs_mut().append_pair("sslmode", "disable");
        }
        Some(Self {
            backend: Backend::Postgres,
            url: url.to_string(),
            dir: tempfile::tempdir().unwrap(),
            pg_name: Some(name),
        })
    }

    /// Drops the PostgreSQL database now, while the app may still hold connections to it
    /// (simulates the database going away).
    pub fn drop_now(&mut self) {
        if let Some(name) = self.pg_name.take() {
            drop_pg_database(&name);
        }
    }

    /// Settings for an app on this database: defaults, the data directory in the test's temp dir,
    /// then `env` on top.
    pub fn settings(&self, env: &[(&str, &str)]) -> Settings {
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("DATABASE_URL".into(), self.url.clone());
        vars.insert("SECRET_KEY".into(), binary::TEST_SECRET_KEY.into());
        vars.insert(
            "AUTH_CORE__DATABASE__DATA_DIR".into(),
            self.dir.path().join("data").display().to_string(),
        );
        for (k, v) in env {
            vars.insert((*k).into(), (*v).into());
        }
        Settings::load(&SettingsSources {
            env: vars,
            config_file: None,
            working_dir: self.dir.path().to_owned(),
        })
        .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            drop_pg_database(&name);
        }
    }
}

fn drop_pg_database(name: &str) {
    if let Ok(mut admin) = PgConnection::establish(&postgres_admin_url()) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin);
    }
}

pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Generates `NAME::sqlite` and `NAME::postgres`, each calling `async fn NAME(db: TestDb)` with a
/// fresh database of its backend.
#[macro_export]
macro_rules! db_test {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::common::TestDb::sqlite()).await;
            }

            #[actix_web::test]
            async fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres(module_path!()) {
                    super::$name(db).await;
                }
            }
        }
    )+};
}

/// The application serving on a free loopback port, in this test's runtime.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    /// Prepares the state (migrations run on the blocking pool) and starts serving with one worker.
    pub async fn spawn(settings: Settings) -> Self {
        Self::spawn_with_clock(settings, auth_core::clock::Clock::system()).await
    }

    /// As `spawn`, with a clock the test moves.
    pub async fn spawn_with_clock(settings: Settings, clock: auth_core::clock::Clock) -> Self {
        let state = actix_web::rt::task::spawn_blocking(move || {
            AppState::prepare_with_clock(settings, clock)
        })
        .await
        .unwrap()
        .expect("app state");
        let app = Self::serve(state);
        app.change_feed_listening().await;
        app
    }

    /// On PostgreSQL, waits (bounded) until the app listens to the change feed: it drops every
    /// cache when it starts listening, which would otherwise race with a test's first requests. Not
    /// for an app started on a database it cannot reach (it will not listen).
    pub async fn change_feed_listening(&self) {
        if self.state.db.backend() != Backend::Postgres || self.state.db.ping().await.is_err() {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.state.change_feed.read().listening {
            assert!(
                std::time::Instant::now() < deadline,
                "the change feed is not listening"
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// As `spawn_with_clock`, with a manual clock set to `now_ms`; returns the handle that moves it.
    pub async fn spawn_at(
        settings: Settings,
        now_ms: i64,
    ) -> (Self, auth_core::clock::ManualClock) {
        let (clock, handle) = auth_core::clock::Clock::manual(now_ms);
        (Self::spawn_with_clock(settings, clock).await, handle)
    }

    /// Creates a service key in the app's database (as `auth-core keys create` does) and returns its
    /// secret.
    pub async fn service_key(
        &self,
        organization: Option<&str>,
        scopes: &[&str],
        expires_at: Option<i64>,
        now_ms: i64,
    ) -> String {
        let organization = organization.map(str::to_owned);
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.state
            .db
            .run(move |conn| {
                auth_core::auth::service_keys::create(
                    conn,
                    "test",
                    organization.as_deref(),
                    &scopes,
                    expires_at,
                    None,
                    now_ms,
                )
                .map_err(|e| auth_core::db::DbError::Migration(e.to_string()))
            })
            .await
            .unwrap()
            .secret
    }

    /// Serves `state` with auth-core's routes only and starts its background tasks (as
    /// `embed::AuthCore` does; tests that need a state prepared their own way come here).
    pub fn serve(state: AppState) -> Self {
        let bound = server::bind(
            state.clone(),
            auth_core::app::TeamRoutes::default(),
            "127.0.0.1:0",
            1,
        )
        .unwrap();
        // Left running until the test's runtime ends, as the server's threads are.
        drop(auth_core::background::BackgroundTasks::start(&state));
        let base = format!("http://{}", bound.addrs[0]);
        let handle = bound.server.handle();
        actix_web::rt::spawn(bound.server);
        Self {
            base,
            state,
            handle,
        }
    }

    /// An application started with `AuthCore::start` (a team's routes and migrations, say), served
    /// until the test ends; `service_key`, `get` and the webhook helpers work on it as on any other.
    pub fn from_running(running: auth_core::embed::Running) -> Self {
        let base = format!("http://{}", running.addrs()[0]);
        let state = running.state().clone();
        let handle = running.handle();
        actix_web::rt::spawn(running.wait());
        Self {
            base,
            state,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        Response::from(client().get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// Stops the server when the test ends, so its worker threads do not outlive it (the stop command
/// is sent at once; nothing waits for it).
impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish()
}

/// A fully read response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub async fn from<S>(mut res: awc::ClientResponse<S>) -> Self
    where
        S: futures_util::Stream<
                Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>,
            > + Unpin,
    {
        let body = res.body().limit(10 << 20).await.unwrap().to_vec();
        Self {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn target_dir_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}
