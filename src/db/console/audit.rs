//! The audit trail for the console: filters, keyset pages newest first (by id), and batches for the
//! CSV export of exactly the filtered rows.

use diesel::prelude::*;

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

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    pub principal_type: Option<String>,
    /// 2 for 2xx … 5 for 5xx.
    pub status_class: Option<i32>,
    pub path: Option<String>,
    pub reason: Option<String>,
}

/// Events matching `filter`, older than `before` (the id of the last event shown), newest first: a
/// page of `size`.
pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    before: Option<&Cursor<i64>>,
    size: i64,
) -> Result<Page<AuditRow>, DbError> {
    let mut query = ae::table
        .select((
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
        ))
        .into_boxed();
    if let Some(from) = filter.from_ms {
        query = query.filter(ae::occurred_at.ge(from));
    }
    if let Some(to) = filter.to_ms {
        query = query.filter(ae::occurred_at.lt(to));
    }
    if let Some(user) = &filter.user_id {
        query = query.filter(ae::user_id.eq(user.clone()));
    }
    if let Some(org) = &filter.organization_id {
        query = query.filter(ae::organization_id.eq(org.clone()));
    }
    if let Some(principal) = &filter.principal_type {
        query = query.filter(ae::principal_type.eq(principal.clone()));
    }
    if let Some(class) = filter.status_class {
        query = query.filter(
            ae::status
                .ge(class * 100)
                .and(ae::status.lt(class * 100 + 100)),
        );
        if class >= 4 {
            // Spelled as in the partial index `audit_events_errors_idx`, so that SQLite (which
            // matches a partial index's condition literally) may use it.
            query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "audit_events.status >= 400",
            ));
        }
    }
    if let Some(path) = &filter.path {
        query = query.filter(ae::path.eq(path.clone()));
    }
    if let Some(reason) = &filter.reason {
        query = query.filter(ae::reason.eq(reason.clone()));
    }
    if let Some(before) = before {
        query = query.filter(ae::id.lt(*before.key()));
    }
    Page::load(conn, query.order(ae::id.desc()), size)
}
