//! Server-side records of admin console sessions, keyed by the SHA-256 of the id the browser holds
//! (a copy of this table is no use for signing in).

use diesel::prelude::*;

use super::admin_accounts::AdminRow;
use super::change_feed::{self, Change};
use super::schema::{admin_accounts, admin_sessions as sessions};
use super::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct AdminSessionRow {
    pub id_hash: String,
    pub admin_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

pub fn insert(
    conn: &mut DbConnection,
    id_hash: &str,
    admin_id: i64,
    client_ip: Option<&str>,
    user_agent: Option<&str>,
    now_ms: i64,
) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(id_hash),
            sessions::admin_id.eq(admin_id),
            sessions::created_at.eq(now_ms),
            sessions::last_seen_at.eq(now_ms),
            sessions::client_ip.eq(client_ip),
            sessions::user_agent.eq(user_agent),
        ))
        .execute(conn)?;
    Ok(())
}

/// A session with its account, whatever their state (the caller judges expiry and disabling).
pub fn find_with_admin(
    conn: &mut DbConnection,
    id_hash: &str,
) -> Result<Option<(AdminSessionRow, AdminRow)>, DbError> {
    sessions::table
        .inner_join(admin_accounts::table)
        .filter(sessions::id_hash.eq(id_hash))
        .select((AdminSessionRow::as_select(), AdminRow::as_select()))
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

pub fn touch(conn: &mut DbConnection, id_hash: &str, now_ms: i64) -> Result<(), DbError> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::last_seen_at.eq(now_ms))
        .execute(conn)?;
    Ok(())
}

/// Ends one session, and announces it (without naming it: its id is a secret's hash).
pub fn end(conn: &mut DbConnection, id_hash: &str, now_ms: i64) -> Result<(), DbError> {
    change_feed::in_transaction(conn, |conn| {
        let ended = diesel::update(
            sessions::table
                .find(id_hash)
                .filter(sessions::ended_at.is_null()),
        )
        .set(sessions::ended_at.eq(now_ms))
        .execute(conn)?;
        if ended > 0 {
            change_feed::publish(conn, &Change::AdminSessions(None))?;
        }
        Ok(())
    })
}

/// Ends every open session of an account except `keep` (its own, after a password change).
pub fn end_all_of(
    conn: &mut DbConnection,
    admin_id: i64,
    keep: Option<&str>,
    now_ms: i64,
) -> Result<usize, DbError> {
    let open = sessions::table
        .filter(sessions::admin_id.eq(admin_id))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::id_hash.ne(keep.unwrap_or("")));
    change_feed::in_transaction(conn, |conn| {
        let ended = diesel::update(open)
            .set(sessions::ended_at.eq(now_ms))
            .execute(conn)?;
        if ended > 0 {
            change_feed::publish(conn, &Change::AdminSessions(Some(admin_id)))?;
        }
        Ok(ended)
    })
}

/// Deletes sessions that ended or started before `before_ms`.
pub fn purge(conn: &mut DbConnection, before_ms: i64) -> Result<usize, DbError> {
    diesel::delete(
        sessions::table.filter(
            sessions::created_at
                .lt(before_ms)
                .or(sessions::ended_at.lt(before_ms)),
        ),
    )
    .execute(conn)
    .map_err(DbError::from)
}
