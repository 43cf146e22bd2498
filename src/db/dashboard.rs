//! Aggregates for the admin console's dashboard. Each is one indexed query, whatever the table size.

use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use super::schema::webhook_deliveries as deliveries;
use super::schema::{audit_events as audit, organization_memberships, organizations, users};
use super::{DbConnection, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub users: i64,
    pub deleted_users: i64,
    pub organizations: i64,
    pub memberships: i64,
}

pub fn counts(conn: &mut DbConnection) -> Result<Counts, DbError> {
    let users_total: i64 = users::table.count().get_result(conn)?;
    let deleted_users: i64 = users::table
        .filter(users::deleted_at.is_not_null())
        .count()
        .get_result(conn)?;
    let organizations: i64 = organizations::table
        .filter(organizations::deleted_at.is_null())
        .count()
        .get_result(conn)?;
    let memberships: i64 = organization_memberships::table
        .filter(organization_memberships::deleted_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(Counts {
        users: users_total - deleted_users,
        deleted_users,
        organizations,
        memberships,
    })
}

/// Audit events since `since_ms` per bucket of `bucket_ms` (bucket 0 starts at `since_ms`):
/// `(bucket, events)`; with `failures_only`, only authentication failures (events with a reason).
pub fn audit_per_bucket(
    conn: &mut DbConnection,
    since_ms: i64,
    bucket_ms: i64,
    failures_only: bool,
) -> Result<Vec<(i64, i64)>, DbError> {
    #[derive(QueryableByName)]
    struct Bucket {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bucket: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        events: i64,
    }
    // Diesel's DSL cannot group by an expression; this is plain SQL both backends accept ($n
    // placeholders are positional in PostgreSQL and numbered names in SQLite).
    let sql = format!(
        "SELECT CAST((occurred_at - $1) / $2 AS BIGINT) AS bucket, COUNT(*) AS events \
         FROM audit_events WHERE occurred_at >= $1{} \
         GROUP BY CAST((occurred_at - $1) / $2 AS BIGINT)",
        if failures_only {
            " AND reason IS NOT NULL"
        } else {
            ""
        }
    );
    let rows: Vec<Bucket> = crate::per_backend!(conn, |c| diesel::sql_query(&sql)
        .bind::<diesel::sql_types::BigInt, _>(since_ms)
        .bind::<diesel::sql_types::BigInt, _>(bucket_ms)
        .load(c))?;
    Ok(rows.into_iter().map(|b| (b.bucket, b.events)).collect())
}

/// Authentication failures since `since_ms` by reason code, most frequent first.
pub fn failures_by_reason(
    conn: &mut DbConnection,
    since_ms: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    let rows: Vec<(Option<String>, i64)> = audit::table
        .filter(audit::occurred_at.ge(since_ms))
        .filter(audit::reason.is_not_null())
        .group_by(audit::reason)
        .select((audit::reason, count_star()))
        .load(conn)?;
    let mut rows: Vec<(String, i64)> = rows
        .into_iter()
        .filter_map(|(reason, n)| reason.map(|r| (r, n)))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows)
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookHealth {
    /// Deliveries since the cut-off by status (applied, ignored, failed).
    pub by_status: Vec<(String, i64)>,
    pub last_received_at: Option<i64>,
    /// Failed deliveries of all time (each can be reprocessed).
    pub failed_total: i64,
}

pub fn webhook_health(conn: &mut DbConnection, since_ms: i64) -> Result<WebhookHealth, DbError> {
    let mut by_status: Vec<(String, i64)> = deliveries::table
        .filter(deliveries::received_at.ge(since_ms))
        .group_by(deliveries::status)
        .select((deliveries::status, count_star()))
        .load(conn)?;
    by_status.sort();
    let last_received_at = deliveries::table
        .select(max(deliveries::received_at))
        .first(conn)?;
    let failed_total = deliveries::table
        .filter(deliveries::status.eq("failed"))
        .count()
        .get_result(conn)?;
    Ok(WebhookHealth {
        by_status,
        last_received_at,
        failed_total,
    })
}
