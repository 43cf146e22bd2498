//! Webhook deliveries for the console: filter by type and status; keyset pages, newest first.

use diesel::prelude::*;

use crate::db::page::{Cursor, Page};
use crate::db::schema::webhook_deliveries as deliveries;
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct DeliveryListRow {
    pub svix_id: String,
    pub event_type: String,
    pub status: String,
    pub error: Option<String>,
    pub attempts: i32,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub event_type: Option<String>,
    pub status: Option<String>,
    /// Received at or after / before these times (ms).
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// (received_at, svix_id) of the last row shown.
    pub before: Option<Cursor<(i64, String)>>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &DeliveryFilter,
    size: i64,
) -> Result<Page<DeliveryListRow>, DbError> {
    let mut query = deliveries::table
        .select((
            deliveries::svix_id,
            deliveries::event_type,
            deliveries::status,
            deliveries::error,
            deliveries::attempts,
            deliveries::received_at,
            deliveries::processed_at,
        ))
        .into_boxed();
    if let Some(event_type) = &filter.event_type {
        query = query.filter(deliveries::event_type.eq(event_type.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(deliveries::status.eq(status.clone()));
    }
    if let Some(from) = filter.from_ms {
        query = query.filter(deliveries::received_at.ge(from));
    }
    if let Some(to) = filter.to_ms {
        query = query.filter(deliveries::received_at.lt(to));
    }
    if let Some((at, id)) = filter.before.as_ref().map(Cursor::key) {
        query = query.filter(
            deliveries::received_at.lt(*at).or(deliveries::received_at
                .eq(*at)
                .and(deliveries::svix_id.lt(id.clone()))),
        );
    }
    let query = query.order((deliveries::received_at.desc(), deliveries::svix_id.desc()));
    Page::load(conn, query, size)
}
