//! [`AuthCore`]: the one way to run auth-core, whether as `auth-core serve` or inside a team's own
//! backend. A team adds its routes, which get exactly auth-core's middleware stack (request id and
//! security headers, CORS, authentication, audit, in that order) and its extractors (`Principal`,
//! `OrgScope`, `Require`); its own migrations, applied after auth-core's under the same lock; and
//! gets the background tasks and the graceful stop of `auth-core serve`, because that command is
//! this builder with no routes added.
//!
//! ```no_run
//! use auth_core::prelude::*;
//! use actix_web::{web, HttpResponse};
//!
//! async fn hello(scope: OrgScope) -> HttpResponse {
//!     HttpResponse::Ok().json(serde_json::json!({"organization": scope.organization_id()}))
//! }
//!
//! fn main() -> Result<(), EmbedError> {
//!     AuthCore::from_env()?
//!         .configure(|cfg| {
//!             cfg.route("/api/hello", web::get().to(hello));
//!         })
//!         .run()
//! }
//! ```

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};

use crate::app::{self, TeamRoutes};
use crate::background::BackgroundTasks;
use crate::clock::Clock;
use crate::db::migrations::MigrationSet;
use crate::request::authenticate::Accepts;
use crate::server;
use crate::settings::{Settings, SettingsError, SettingsSources};
use crate::state::{AppState, StartupError};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("cannot read .env: {0}")]
    DotEnv(String),
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Startup(#[from] StartupError),
    #[error("cannot listen on {bind}: {error}")]
    Bind { bind: String, error: std::io::Error },
    #[error("server stopped with an error: {0}")]
    Server(std::io::Error),
    #[error("{0}")]
    ServeLock(#[from] crate::db::serve_lock::ServeLockError),
}

/// The builder: settings, then routes and migrations, then [`AuthCore::run`] (or, in tests,
/// [`AuthCore::start`] / [`AuthCore::prepare`]).
pub struct AuthCore {
    settings: Settings,
    clock: Clock,
    migrations: Vec<MigrationSet>,
    team: TeamRoutes,
    bind: Option<String>,
    workers: Option<usize>,
}

impl AuthCore {
    /// auth-core with these settings (loaded and checked by `Settings::load`).
    pub fn from_settings(settings: Settings) -> Self {
        Self {
            settings,
            clock: Clock::system(),
            migrations: Vec::new(),
            team: TeamRoutes::default(),
            bind: None,
            workers: None,
        }
    }

    /// The settings as the `auth-core` binary reads them (a `.env` file, `AUTH_CORE_CONFIG`, the
    /// environment), with logging started as it starts it: a team's binary is configured exactly
    /// like the server. Fails on the settings the server refuses.
    pub fn from_env() -> Result<Self, EmbedError> {
        if let Err(e) = dotenvy::dotenv() {
            if !e.not_found() {
                return Err(EmbedError::DotEnv(e.to_string()));
            }
        }
        let settings = Settings::load(&SettingsSources::from_process(None))?;
        crate::logging::init(
            &settings.log.filter,
            settings.log.json,
            settings.log.buffer_lines,
        );
        Ok(Self::from_settings(settings))
    }

    /// A clock other than the system's (tests move a manual one).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The application's own migrations, applied after auth-core's, under the same lock, when
    /// `database.run_migrations` is on. Their versions must differ from auth-core's.
    pub fn migrations(mut self, set: MigrationSet) -> Self {
        self.migrations.push(set);
        self
    }

    /// Adds routes behind authentication (and the rest of the middleware stack). Handlers take
    /// `Principal`, `OrgScope` and wrap `Require` guards as auth-core's own do. Can be called more
    /// than once; every call shares the credential kinds of [`AuthCore::accepts`].
    pub fn configure(
        mut self,
        routes: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.team.authenticated.push(Arc::new(routes));
        self
    }

    /// The credential kinds the routes of [`AuthCore::configure`] accept; every kind unless set
    /// (session tokens, service keys, Clerk machine tokens), as `/api/orgs`.
    pub fn accepts(mut self, accepts: Accepts) -> Self {
        self.team.accepts = accepts;
        self
    }

    /// Adds routes with the middleware stack but without authentication: public endpoints, or
    /// scopes that wrap `request::authenticate::Authenticate` with credential kinds of their own.
    pub fn public_routes(
        mut self,
        routes: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.team.public.push(Arc::new(routes));
        self
    }

    /// Listens on `bind` instead of `server.bind`.
    pub fn bind(mut self, bind: impl Into<String>) -> Self {
        self.bind = Some(bind.into());
        self
    }

    /// Runs `workers` workers instead of `server.workers` (0: one per core).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Opens the database, migrates it (auth-core's migrations, then the application's) and prepares
    /// the caches and verifiers. Blocking: call it before the Actix system starts, or on its
    /// blocking pool ([`AuthCore::start`] does).
    pub fn prepare(self) -> Result<Prepared, EmbedError> {
        let bind = self
            .bind
            .unwrap_or_else(|| self.settings.server.bind.clone());
        let workers = self.workers.unwrap_or(self.settings.server.workers);
        let state = AppState::prepare_with_migrations(self.settings, self.clock, &self.migrations)?;
        Ok(Prepared {
            state,
            team: self.team,
            bind,
            workers,
        })
    }

    /// Prepares, listens, prints where (`auth-core listening on http://…`), and serves until SIGINT
    /// or SIGTERM; then stops gracefully, writes the audit events still queued and stops the
    /// background tasks. What `auth-core serve` does.
    pub fn run(self) -> Result<(), EmbedError> {
        let json_logs = self.settings.log.json;
        // A SQLite file is served by one process (PostgreSQL's instances share changes through the
        // change feed); held until this function returns, i.e. for as long as this process serves.
        let _serving = crate::db::serve_lock::acquire(&self.settings.database.url)?;
        let prepared = self.prepare()?;
        actix_web::rt::System::new().block_on(async move {
            let signals = server::ShutdownSignals::install().map_err(EmbedError::Server)?;
            let running = prepared.serve()?;
            announce(running.addrs(), json_logs);
            actix_web::rt::spawn(server::stop_on_signals(running.handle(), signals));
            running.wait().await?;
            log::info!("stopped");
            Ok(())
        })
    }

    /// Inside an Actix system: prepares (on the blocking pool) and serves, without signal handling;
    /// stop it with [`Running::handle`], then await [`Running::wait`].
    pub async fn start(self) -> Result<Running, EmbedError> {
        let prepared = actix_web::rt::task::spawn_blocking(move || self.prepare())
            .await
            .map_err(|_| EmbedError::Server(std::io::Error::other("start-up was cancelled")))??;
        prepared.serve()
    }
}

/// Once, on stdout, for people and for scripts and tests that bind port 0 and need the real port.
/// In JSON, log shippers (which may read only stderr) get it as a record too; in text, a terminal
/// would show it twice.
fn announce(addrs: &[SocketAddr], json_logs: bool) {
    for addr in addrs {
        if json_logs {
            log::info!("listening on http://{addr}");
        }
        println!("auth-core listening on http://{addr}");
    }
    let _ = std::io::stdout().flush();
}

/// A prepared application, not serving yet.
pub struct Prepared {
    state: AppState,
    team: TeamRoutes,
    bind: String,
    workers: usize,
}

impl Prepared {
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The application as an Actix `App` (for `actix_web::test::init_service`): every route and the
    /// whole middleware stack, but no background tasks (nothing writes the audit trail).
    pub fn into_app(
        self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        app::build(self.state, &self.team)
    }

    /// Inside an Actix system: listens and starts the background tasks.
    pub fn serve(self) -> Result<Running, EmbedError> {
        let bound = server::bind(self.state.clone(), self.team, &self.bind, self.workers).map_err(
            |error| EmbedError::Bind {
                bind: self.bind.clone(),
                error,
            },
        )?;
        let tasks = BackgroundTasks::start(&self.state);
        Ok(Running {
            state: self.state,
            addrs: bound.addrs,
            server: bound.server,
            tasks,
        })
    }
}

/// A serving application and its background tasks.
pub struct Running {
    state: AppState,
    addrs: Vec<SocketAddr>,
    server: Server,
    tasks: BackgroundTasks,
}

impl Running {
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Where it listens (port 0 in the settings is a real port here).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stops the server: `stop(true)` gracefully, as a signal does.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, then writes the audit events still queued and stops the background
    /// tasks.
    pub async fn wait(self) -> Result<(), EmbedError> {
        let served = self.server.await;
        self.tasks.stop().await;
        served.map_err(EmbedError::Server)
    }
}
