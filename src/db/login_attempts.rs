//! Sign-in attempts on the admin console, counted to throttle guessing per account and per client IP.
//! Kept in the database so that every instance behind a load balancer sees the same counts.

use diesel::dsl::max;
use diesel::prelude::*;

use super::schema::admin_login_attempts as attempts;
use super::{DbConnection, DbError};

pub fn record(
    conn: &mut DbConnection,
    email: &str,
    client_ip: Option<&str>,
    succeeded: bool,
    now_ms: i64,
) -> Result<(), DbError> {
    diesel::insert_into(attempts::table)
        .values((
            attempts::attempted_at.eq(now_ms),
            attempts::email.eq(email),
            attempts::client_ip.eq(client_ip),
            attempts::succeeded.eq(succeeded),
        ))
        .execute(conn)?;
    Ok(())
}

/// Failures for `email` after `since_ms` and after its last successful sign-in, with the time of
/// the oldest one counted (when the lock, if any, starts to lift).
pub fn account_failures(
    conn: &mut DbConnection,
    email: &str,
    since_ms: i64,
) -> Result<(i64, Option<i64>), DbError> {
    let last_success: Option<i64> = attempts::table
        .filter(attempts::email.eq(email))
        .filter(attempts::succeeded.eq(true))
        .filter(attempts::attempted_at.gt(since_ms))
        .select(max(attempts::attempted_at))
        .first(conn)?;
    let from = last_success.map_or(since_ms, |t| t.max(since_ms));
    failures(
        conn,
        attempts::table
            .filter(attempts::email.eq(email))
            .filter(attempts::succeeded.eq(false))
            .filter(attempts::attempted_at.gt(from))
            .into_boxed(),
    )
}

/// Failures from `client_ip` after `since_ms`, with the oldest one's time.
pub fn ip_failures(
    conn: &mut DbConnection,
    client_ip: &str,
    since_ms: i64,
) -> Result<(i64, Option<i64>), DbError> {
    failures(
        conn,
        attempts::table
            .filter(attempts::client_ip.eq(client_ip))
            .filter(attempts::succeeded.eq(false))
            .filter(attempts::attempted_at.gt(since_ms))
            .into_boxed(),
    )
}

fn failures(
    conn: &mut DbConnection,
    query: attempts::BoxedQuery<'_, super::MultiBackend>,
) -> Result<(i64, Option<i64>), DbError> {
    query
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(attempts::attempted_at),
        ))
        .first(conn)
        .map_err(DbError::from)
}

/// Deletes attempts older than `before_ms` (they no longer count).
pub fn purge(conn: &mut DbConnection, before_ms: i64) -> Result<usize, DbError> {
    diesel::delete(attempts::table.filter(attempts::attempted_at.lt(before_ms)))
        .execute(conn)
        .map_err(DbError::from)
}
