//! Writing and pruning the audit trail.

use diesel::prelude::*;

use super::schema::audit_events;
use super::{DbConnection, DbError};

/// One audit event, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent {
    pub occurred_at: i64,
    pub request_id: Option<String>,
    pub principal_type: String,
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    pub session_id: Option<String>,
    pub method: String,
    pub path: String,
    pub route: Option<String>,
    pub status: i32,
    pub duration_us: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
}

/// Inserts a batch in one multi-row statement.
pub fn insert_batch(conn: &mut DbConnection, events: &[NewAuditEvent]) -> Result<usize, DbError> {
    if events.is_empty() {
        return Ok(0);
    }
    crate::per_backend!(conn, |c| diesel::insert_into(audit_events::table)
        .values(events)
        .execute(c))
    .map_err(DbError::from)
}

/// Deletes up to `batch` events older than `before_ms`; returns how many.
pub fn delete_older_than(
    conn: &mut DbConnection,
    before_ms: i64,
    batch: i64,
) -> Result<usize, DbError> {
    let ids: Vec<i64> = audit_events::table
        .filter(audit_events::occurred_at.lt(before_ms))
        .order(audit_events::id.asc())
        .limit(batch)
        .select(audit_events::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(audit_events::table.filter(audit_events::id.eq_any(ids)))
        .execute(conn)
        .map_err(DbError::from)
}
