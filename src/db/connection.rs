//! One connection type for both backends, and how a connection is opened and kept healthy.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use crate::settings::DatabaseUrl;

/// A connection to whichever backend is configured. Queries written with Diesel's DSL against this
/// type run on both; the few statements that differ match on the variant (see `migrations`).
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Opens connections for the r2d2 pool.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    sqlite_busy_timeout: Duration,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl, sqlite_busy_timeout: Duration) -> Self {
        Self {
            url,
            sqlite_busy_timeout,
        }
    }

    pub fn establish(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            // libpq reads sslmode, sslrootcert, … from the URL, so TLS needs nothing more here.
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(url.expose()).map(DbConnection::Postgresql)
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    ConnectionError::InvalidConnectionUrl("SQLite path is not valid UTF-8".into())
                })?;
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(&sqlite_pragmas(self.sqlite_busy_timeout))
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Page size of a SQLite database this service creates (an existing database keeps its own: SQLite
/// ignores the pragma once the file has content). The audit trail appends a row and four index
/// entries per request, and SQLite writes every changed page to the WAL as its own frame: with 4 KiB
/// pages, the audit writer spent 9.5 µs of CPU per event in `cargo bench --bench audit_write` (1,000
/// distinct users), with 16 KiB pages 5.7 µs, with 32 KiB 4.9 µs. Small transactions (a webhook, a
/// new user) write whole pages too, so the size is not pushed further than the audit trail needs.
pub const SQLITE_PAGE_SIZE: u32 = 16_384;

/// Set on every new SQLite connection. The page size first, as it only counts before the file is
/// created (see [`SQLITE_PAGE_SIZE`]). WAL lets readers proceed while one writer writes; the busy
/// timeout makes a second writer wait instead of failing at once; foreign keys are off by default in
/// SQLite and must be switched on per connection; NORMAL is WAL's recommended durability level.
fn sqlite_pragmas(busy_timeout: Duration) -> String {
    format!(
        "PRAGMA page_size = {SQLITE_PAGE_SIZE}; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
        busy_timeout.as_millis()
    )
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    /// True for a connection whose transaction could not be closed (a connection lost mid-
    /// transaction ends up so): r2d2 then closes it instead of pooling it. A connection lost
    /// outside a transaction is caught by the ping on check-out (see `Db::open`).
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// r2d2 logs every failed background connection attempt at error level by default; during an outage
/// that floods the log. Failures surface to callers as 503s and in the health check, so a warning
/// suffices here.
#[derive(Debug)]
pub struct WarnOnConnectError;

impl r2d2::HandleError<r2d2::Error> for WarnOnConnectError {
    fn handle_error(&self, error: r2d2::Error) {
        log::warn!(
            target: "auth_core::db",
            "database connection attempt failed: {}",
            super::error::one_line(&error.to_string())
        );
    }
}
