//! The audit trail for the console: every column of the events [`audit_query`] finds, in pages (of
//! the listing, and batches for the CSV export of exactly the filtered rows).

use diesel::prelude::*;

use crate::db::audit_query::{self, AuditFilter};
use crate::db::page::{Cursor, Page};
use crate::db::schema::audit_events as ae;
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct AuditRow {
    pub id: i64,
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

/// Events matching `filter`, older than `before`, newest first: a page of `size`.
pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    before: Option<&Cursor<i64>>,
    size: i64,
) -> Result<Page<AuditRow>, DbError> {
    let query = audit_query::events(filter, before).select((
        ae::id,
        ae::occurred_at,
        ae::request_id,
        ae::principal_type,
        ae::user_id,
        ae::organization_id,
        ae::session_id,
        ae::method,
        ae::path,
        ae::route,
        ae::status,
        ae::duration_us,
        ae::client_ip,
        ae::user_agent,
        ae::reason,
        ae::detail,
    ));
    Page::load(conn, query, size)
}
