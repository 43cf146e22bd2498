//! The connection pool, and the one way handlers reach the database: [`Db::run`], which runs Diesel's
//! blocking calls on the blocking thread pool, never on an async worker.

use std::sync::Arc;
use std::time::Duration;

use diesel::r2d2::{Pool, PooledConnection, R2D2Connection};

use super::connection::{ConnectionManager, DbConnection, WarnOnConnectError};
use super::error::one_line;
use super::{migrations, DbError};
use crate::settings::{DatabaseSettings, DatabaseUrl};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

pub type PooledDbConnection = PooledConnection<ConnectionManager>;

/// A handle on the database, cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager>,
    /// Opens connections outside the pool ([`Db::connect_alone`]).
    connector: Arc<ConnectionManager>,
    backend: Backend,
    url_for_messages: String,
    acquire_timeout: Duration,
}

impl Db {
    /// Prepares the pool without connecting: the service can start, and say 503 in its health check,
    /// while the database is still down. For SQLite the file's directory is created here.
    pub fn open(settings: &DatabaseSettings) -> Result<Self, DbError> {
        let url_for_messages = settings.url.redacted();
        let backend = match &settings.url {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| DbError::Open {
                        url: url_for_messages.clone(),
                        reason: format!("cannot create directory {}: {e}", dir.display()),
                    })?;
                }
                Backend::Sqlite
            }
        };
        let manager = ConnectionManager::new(settings.url.clone(), settings.sqlite_busy_timeout);
        let connector = Arc::new(ConnectionManager::new(
            settings.url.clone(),
            settings.sqlite_busy_timeout,
        ));
        let pool = Pool::builder()
            .max_size(settings.max_connections)
            // Connections are opened on demand, so start-up never waits on the database.
            .min_idle(Some(0))
            .connection_timeout(settings.acquire_timeout)
            // A connection the server closed while it sat idle (failover, restart,
            // `pg_terminate_backend`) fails this ping at once (libpq reads the pending FATAL or
            // finds the socket closed; no round trip is waited for) and is replaced, so work
            // never starts on it. Diesel's `is_broken`, checked on return, only sees a broken
            // transaction, not a dead socket. r2d2's default, stated because the rule above
            // depends on it.
            .test_on_check_out(true)
            .error_handler(Box::new(WarnOnConnectError))
            .build_unchecked(manager);
        Ok(Self {
            pool,
            connector,
            backend,
            url_for_messages,
            acquire_timeout: settings.acquire_timeout,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL with any password masked.
    pub fn describe(&self) -> &str {
        &self.url_for_messages
    }

    /// A connection for blocking code (the CLI, background threads). Waits at most the acquire timeout.
    pub fn get(&self) -> Result<PooledDbConnection, DbError> {
        self.pool
            .get_timeout(self.acquire_timeout)
            .map_err(|e| DbError::Unavailable(one_line(&e.to_string())))
    }

    /// A connection of its own, outside the pool (blocking), for session state that must end with its
    /// holder: a PostgreSQL advisory lock taken on it is released when it is dropped, however the
    /// holder ends, where a pooled connection would go back to the pool still holding the lock.
    pub fn connect_alone(&self) -> Result<DbConnection, DbError> {
        self.connector
            .establish()
            .map_err(|e| DbError::Unavailable(one_line(&e.to_string())))
    }

    /// Runs `work` with a pooled connection on the blocking thread pool. Fails with
    /// [`DbError::Unavailable`] when no connection is free within the acquire timeout.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            work(&mut conn)
        })
        .await
        .map_err(|_| DbError::Cancelled)?
    }

    /// One round trip, for health checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| conn.ping().map_err(DbError::from)).await
    }

    /// Applies pending migrations; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        migrations::run_pending(&mut *self.get()?)
    }

    /// As [`Db::migrate`], then an embedding application's own sets, under the same lock.
    pub fn migrate_with(&self, extra: &[migrations::MigrationSet]) -> Result<Vec<String>, DbError> {
        migrations::run_pending_with(&mut *self.get()?, extra)
    }

    /// Connections open and idle, for health and metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}
