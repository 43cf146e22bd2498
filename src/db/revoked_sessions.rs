//! Sessions Clerk has revoked or ended, remembered until their tokens can no longer be valid.

use diesel::prelude::*;

use super::change_feed::{self, Change};
use super::schema::revoked_sessions;
use super::{DbConnection, DbError};

/// Remembers a session as revoked until `expires_at` (kept if already remembered), and announces it.
pub fn insert(
    conn: &mut DbConnection,
    session_id: &str,
    user_id: Option<&str>,
    reason: &str,
    now_ms: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    let row = (
        revoked_sessions::session_id.eq(session_id),
        revoked_sessions::user_id.eq(user_id),
        revoked_sessions::reason.eq(reason),
        revoked_sessions::revoked_at.eq(now_ms),
        revoked_sessions::expires_at.eq(expires_at),
    );
    change_feed::in_transaction(conn, |conn| {
        crate::per_backend!(&mut *conn, |c| diesel::insert_into(revoked_sessions::table)
            .values(row)
            .on_conflict(revoked_sessions::session_id)
            .do_nothing()
            .execute(c))?;
        let change = Change::SessionRevoked {
            session_id: session_id.to_owned(),
            until_ms: expires_at,
        };
        change_feed::publish(conn, &change)
    })
}

/// Sessions still remembered at `now_ms`, with the time each is remembered until.
pub fn active(conn: &mut DbConnection, now_ms: i64) -> Result<Vec<(String, i64)>, DbError> {
    revoked_sessions::table
        .filter(revoked_sessions::expires_at.gt(now_ms))
        .select((revoked_sessions::session_id, revoked_sessions::expires_at))
        .load(conn)
        .map_err(DbError::from)
}

/// Forgets sessions whose tokens have all expired; returns how many.
pub fn purge(conn: &mut DbConnection, now_ms: i64) -> Result<usize, DbError> {
    diesel::delete(revoked_sessions::table.filter(revoked_sessions::expires_at.le(now_ms)))
        .execute(conn)
        .map_err(DbError::from)
}
