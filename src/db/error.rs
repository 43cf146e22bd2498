use diesel::result::{DatabaseErrorKind, Error as DieselError};
use thiserror::Error;

/// What can go wrong talking to the database. Messages never contain a password: connection errors
/// come from libpq/SQLite, which do not echo credentials, and URLs are shown redacted.
#[derive(Debug, Error)]
pub enum DbError {
    /// The database cannot be used right now and a retry may succeed: no connection could be had in
    /// time (down, unreachable, or every pooled connection busy), or the connection was lost under a
    /// statement (see [`unavailable`]). Callers answer 503 (retry later), never hang; the audit
    /// writer keeps its batch and tries again.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("cannot open database {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The database refused or failed this statement: retrying the same statement fails the same.
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("database task was cancelled")]
    Cancelled,
}

impl DbError {
    /// Whether the same work may succeed later, unchanged.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// The one place where a failed statement is told apart from an unavailable database: every `?`
/// on a Diesel result in `db` goes through here, so handlers answer 503 with `Retry-After` (Clerk's
/// webhook sender and API clients retry) instead of 500, and the audit writer retries instead of
/// isolating rows it would otherwise have to record reduced or reject.
impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        if unavailable(&error) {
            Self::Unavailable(one_line(&error.to_string()))
        } else {
            Self::Query(error)
        }
    }
}

/// Whether `error` says the database (or the connection to it) is gone rather than that the
/// statement was wrong.
///
/// Structured kinds first: Diesel reports `ClosedConnection` for SQLSTATE class 08 and whenever
/// libpq's connection status is bad after the error (a backend killed by `pg_terminate_backend`, a
/// failover, a restart); `UnableToSendCommand` when libpq could not send at all;
/// `ReadOnlyTransaction` when a failover left us on a standby. A transaction manager broken by a
/// failed rollback belongs to a connection that is about to leave the pool (see
/// `connection::ConnectionManager::has_broken`), so a retry gets another.
///
/// Diesel exposes no SQLSTATE beyond those kinds, and SQLite's result codes not at all, so the rest
/// is matched on message text: the server's FATAL for 57P01 (`admin_shutdown`) and its siblings can
/// arrive before libpq has marked the connection bad, libpq's own client-side messages carry no
/// SQLSTATE, and SQLite's busy/locked/full/I-O errors are conditions of the whole database (a
/// retry, not a row, is the cure).
fn unavailable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ReadOnlyTransaction => true,
            _ => unavailable_message(info.message()),
        },
        DieselError::BrokenTransactionManager => true,
        DieselError::RollbackErrorOnCommit {
            rollback_error,
            commit_error,
        } => unavailable(commit_error) || unavailable(rollback_error),
        _ => false,
    }
}

/// Messages (libpq's, PostgreSQL's FATALs, SQLite's result-code texts) that mean the database
/// cannot be used right now. Matched as substrings: libpq prefixes and suffixes them.
const UNAVAILABLE_MESSAGES: [&str; 16] = [
    // libpq, client side
    "server closed the connection unexpectedly",
    "no connection to the server",
    "could not connect",
    "could not receive data from server",
    "could not send data to server",
    "connection to server",
    "SSL SYSCALL error",
    "SSL connection has been closed unexpectedly",
    "lost synchronization with server",
    // PostgreSQL FATALs of SQLSTATE class 57P (admin_shutdown, crash_shutdown, cannot_connect_now,
    // idle timeouts): "terminating connection due to administrator command", …
    "terminating connection",
    "the database system is",
    // PostgreSQL's disk full (SQLSTATE 53100, "could not extend file …: No space left on device")
    "No space left on device",
    // SQLite: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR
    "database is locked",
    "database table is locked",
    "database or disk is full",
    "disk I/O error",
];

fn unavailable_message(message: &str) -> bool {
    UNAVAILABLE_MESSAGES.iter().any(|m| message.contains(m))
}

/// libpq's messages span several lines ("…Connection refused\n\tIs the server running…"); logs and
/// start-up errors want one line each.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_lost_connection_is_unavailable() {
        for error in [
            database_error(DatabaseErrorKind::ClosedConnection, "anything"),
            database_error(
                DatabaseErrorKind::UnableToSendCommand,
                "no connection to the server\n",
            ),
            database_error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            database_error(
                DatabaseErrorKind::Unknown,
                "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n",
            ),
            database_error(DatabaseErrorKind::Unknown, "SSL SYSCALL error: EOF detected"),
            database_error(DatabaseErrorKind::Unknown, "database is locked"),
            database_error(
                DatabaseErrorKind::ReadOnlyTransaction,
                "cannot execute INSERT in a read-only transaction",
            ),
            DieselError::BrokenTransactionManager,
            DieselError::RollbackErrorOnCommit {
                rollback_error: Box::new(DieselError::BrokenTransactionManager),
                commit_error: Box::new(database_error(
                    DatabaseErrorKind::ClosedConnection,
                    "server closed the connection unexpectedly",
                )),
            },
        ] {
            let shown = error.to_string();
            let converted = DbError::from(error);
            assert!(converted.is_unavailable(), "{shown}: {converted:?}");
            assert!(!converted.to_string().contains('\n'), "{converted}");
        }
    }

    #[test]
    fn a_refused_statement_is_a_query_error() {
        for error in [
            database_error(
                DatabaseErrorKind::Unknown,
                "index row size 6016 exceeds btree version 4 maximum 2704 for index \"audit_events_path_idx\"",
            ),
            database_error(DatabaseErrorKind::UniqueViolation, "duplicate key value"),
            database_error(DatabaseErrorKind::CheckViolation, "violates check constraint"),
            database_error(DatabaseErrorKind::Unknown, "invalid input syntax for type json"),
            DieselError::NotFound,
        ] {
            assert!(matches!(DbError::from(error), DbError::Query(_)));
        }
    }
}
