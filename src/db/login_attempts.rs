//! Sign-in attempts on the admin console, counted to throttle guessing per account and per client
//! network. Kept in the database so that every instance behind a load balancer sees the same counts.
//!
//! An attempt is written *before* its password is checked, as a failure (`succeeded = false`), and
//! turned into a success only when the password was right: an attempt in flight already counts, and
//! one whose request died half-way stays counted.

use diesel::dsl::max;
use diesel::prelude::*;

use super::schema::admin_login_attempts as attempts;
use super::{DbConnection, DbError};

/// Writes an attempt, counted as a failure until [`mark_succeeded`]; returns its id.
pub fn insert_failed(
    conn: &mut DbConnection,
    email: &str,
    client_network: Option<&str>,
    now_ms: i64,
) -> Result<i64, DbError> {
    diesel::insert_into(attempts::table)
        .values((
            attempts::attempted_at.eq(now_ms),
            attempts::email.eq(email),
            attempts::client_network.eq(client_network),
            attempts::succeeded.eq(false),
        ))
        .returning(attempts::id)
        .get_result(conn)
        .map_err(DbError::from)
}

pub fn mark_succeeded(conn: &mut DbConnection, id: i64) -> Result<(), DbError> {
    diesel::update(attempts::table.find(id))
        .set(attempts::succeeded.eq(true))
        .execute(conn)?;
    Ok(())
}

/// Failures for `email` after `since_ms` and after its last successful sign-in, other than the
/// attempt `except`, with the time of the oldest one counted (when the lock, if any, starts to lift).
pub fn account_failures(
    conn: &mut DbConnection,
    email: &str,
    since_ms: i64,
    except: Option<i64>,
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
        except,
    )
}

/// Failures from `client_network` after `since_ms`, other than the attempt `except`, with the
/// oldest one's time.
pub fn network_failures(
    conn: &mut DbConnection,
    client_network: &str,
    since_ms: i64,
    except: Option<i64>,
) -> Result<(i64, Option<i64>), DbError> {
    failures(
        conn,
        attempts::table
            .filter(attempts::client_network.eq(client_network))
            .filter(attempts::succeeded.eq(false))
            .filter(attempts::attempted_at.gt(since_ms))
            .into_boxed(),
        except,
    )
}

fn failures(
    conn: &mut DbConnection,
    mut query: attempts::BoxedQuery<'_, super::MultiBackend>,
    except: Option<i64>,
) -> Result<(i64, Option<i64>), DbError> {
    if let Some(id) = except {
        query = query.filter(attempts::id.ne(id));
    }
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
