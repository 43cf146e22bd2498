use thiserror::Error;

/// What can go wrong talking to the database. Messages never contain a password: connection errors
/// come from libpq/SQLite, which do not echo credentials, and URLs are shown redacted.
#[derive(Debug, Error)]
pub enum DbError {
    /// No connection could be had in time: the database is down, unreachable, or every pooled
    /// connection is busy. Callers answer 503 (retry later), never hang.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("cannot open database {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database task was cancelled")]
    Cancelled,
}

/// libpq's messages span several lines ("…Connection refused\n\tIs the server running…"); logs and
/// start-up errors want one line each.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
