//! Reading the audit trail: one filter and one query, newest first (keyset on id), for the
//! organization's API (always scoped to the caller's organization, by `tenant`) and the console.
//! Each caller maps its own input to [`AuditFilter`] and selects the columns it shows.

use diesel::prelude::*;

use super::page::Cursor;
use super::schema::audit_events as ae;
use super::status_range::StatusRange;
use super::MultiBackend;

/// Filters of the audit trail; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub organization_id: Option<String>,
    pub user_id: Option<String>,
    pub principal_type: Option<String>,
    pub status: Option<StatusRange>,
    pub path: Option<String>,
    pub reason: Option<String>,
    /// Occurred at or after / before these times (ms).
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// Events matching `filter`, older than `before` (the id of the last event shown), newest first; the
/// caller selects its columns and loads a [`Page`](super::page::Page).
pub fn events(
    filter: &AuditFilter,
    before: Option<&Cursor<i64>>,
) -> ae::BoxedQuery<'static, MultiBackend> {
    let mut query = ae::table.into_boxed();
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
    if let Some(status) = filter.status {
        query = query.filter(
            ae::status
                .ge(status.low())
                .and(ae::status.le(status.high())),
        );
        if status.low() >= 400 {
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
    query.order(ae::id.desc())
}
