//! PostgreSQL's session advisory locks: a lock belongs to the connection that took it until that
//! connection unlocks it or closes (however its process ends). SQLite has nothing of the kind.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::{DbConnection, DbError};

diesel::define_sql_function! {
    fn pg_try_advisory_lock(key: BigInt) -> Bool;
}

/// Takes the advisory lock `key` for this connection's session when no other session holds it:
/// `Some(true)` taken (or already held by this session), `Some(false)` held by another, `None` on
/// SQLite. Hold the connection for as long as the lock is needed; one from the pool would go back
/// to the pool still holding it.
pub fn try_lock(conn: &mut DbConnection, key: i64) -> Result<Option<bool>, DbError> {
    match conn {
        DbConnection::Postgresql(c) => Ok(Some(
            diesel::select(pg_try_advisory_lock(key)).get_result(c)?,
        )),
        DbConnection::Sqlite(_) => Ok(None),
    }
}
