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

/// Inserts a batch in one statement whose only parameter is the batch as a JSON array of rows
/// (each row an array, in the column order of the statements below), unpacked by the database's own
/// JSON functions, in the batch's order (ids follow recording order).
///
/// Binding fifteen parameters per event through Diesel cost more CPU than SQLite's inserts
/// themselves (the audit trail runs on every request, so this is the hot write path); one text
/// parameter per batch leaves the per-row work to the database's C code, on both backends.
///
/// On SQLite the rows come from `jsonb_each` (SQLite 3.51), which hands each row over in SQLite's
/// binary JSON: `json_each` rendered every row back to text and each of the fifteen `->>` then
/// parsed it again, which was about half of the writer's time (`cargo bench --bench audit_write`).
pub fn insert_batch(conn: &mut DbConnection, events: &[NewAuditEvent]) -> Result<usize, DbError> {
    if events.is_empty() {
        return Ok(0);
    }
    let rows: Vec<JsonRow<'_>> = events.iter().map(JsonRow::from).collect();
    let json = serde_json::to_string(&rows)
        .map_err(|e| DbError::Query(diesel::result::Error::SerializationError(Box::new(e))))?;
    let inserted = match conn {
        DbConnection::Postgresql(pg) => diesel::sql_query(POSTGRES_INSERT)
            .bind::<diesel::sql_types::Text, _>(&json)
            .execute(pg)?,
        DbConnection::Sqlite(sqlite) => diesel::sql_query(SQLITE_INSERT)
            .bind::<diesel::sql_types::Text, _>(&json)
            .execute(sqlite)?,
    };
    Ok(inserted)
}

/// One event as a JSON array, in the column order of the insert statements below.
#[derive(serde::Serialize)]
struct JsonRow<'a>(
    i64,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    &'a str,
    Option<&'a str>,
    i32,
    i64,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

impl<'a> From<&'a NewAuditEvent> for JsonRow<'a> {
    fn from(e: &'a NewAuditEvent) -> Self {
        Self(
            e.occurred_at,
            e.request_id.as_deref(),
            &e.principal_type,
            e.user_id.as_deref(),
            e.organization_id.as_deref(),
            e.session_id.as_deref(),
            &e.method,
            &e.path,
            e.route.as_deref(),
            e.status,
            e.duration_us,
            e.client_ip.as_deref(),
            e.user_agent.as_deref(),
            e.reason.as_deref(),
            e.detail.as_deref(),
        )
    }
}

const POSTGRES_INSERT: &str = "INSERT INTO audit_events (occurred_at, request_id, principal_type, \
    user_id, organization_id, session_id, method, path, route, status, duration_us, client_ip, \
    user_agent, reason, detail) \
    SELECT (e->>0)::bigint, e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, \
    (e->>9)::integer, (e->>10)::bigint, e->>11, e->>12, e->>13, e->>14 \
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS rows(e, n) ORDER BY n";

const SQLITE_INSERT: &str = "INSERT INTO audit_events (occurred_at, request_id, principal_type, \
    user_id, organization_id, session_id, method, path, route, status, duration_us, client_ip, \
    user_agent, reason, detail) \
    SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, \
    value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, value->>13, value->>14 \
    FROM jsonb_each(?) ORDER BY key";

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
