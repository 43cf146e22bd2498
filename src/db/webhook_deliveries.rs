//! The log of webhook deliveries, keyed by svix-id: what makes redeliveries idempotent, and what the
//! console shows and reprocesses.

use diesel::prelude::*;

use super::schema::webhook_deliveries;
use super::{DbConnection, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Received,
    Applied,
    Ignored,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Applied => "applied",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub svix_id: String,
    pub event_type: String,
    pub status: String,
    pub payload: String,
    pub error: Option<String>,
    pub attempts: i32,
    pub svix_timestamp: i64,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

/// A delivery as first recorded.
#[derive(Debug, Clone, Copy)]
pub struct NewDelivery<'a> {
    pub svix_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
    pub svix_timestamp: i64,
    pub status: DeliveryStatus,
    pub error: Option<&'a str>,
}

/// Records a delivery; `false` when its svix-id is already recorded (a redelivery).
pub fn insert(
    conn: &mut DbConnection,
    new: &NewDelivery<'_>,
    now_ms: i64,
) -> Result<bool, DbError> {
    let row = (
        webhook_deliveries::svix_id.eq(new.svix_id),
        webhook_deliveries::event_type.eq(new.event_type),
        webhook_deliveries::status.eq(new.status.as_str()),
        webhook_deliveries::payload.eq(new.payload),
        webhook_deliveries::error.eq(new.error),
        webhook_deliveries::svix_timestamp.eq(new.svix_timestamp),
        webhook_deliveries::received_at.eq(now_ms),
        webhook_deliveries::processed_at.eq(Some(now_ms)),
    );
    let inserted = crate::per_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table)
        .values(row)
        .on_conflict(webhook_deliveries::svix_id)
        .do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Counts a redelivery of an already recorded id.
pub fn count_attempt(conn: &mut DbConnection, svix_id: &str) -> Result<(), DbError> {
    diesel::update(webhook_deliveries::table.find(svix_id))
        .set(webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1))
        .execute(conn)?;
    Ok(())
}

pub fn set_status(
    conn: &mut DbConnection,
    svix_id: &str,
    status: DeliveryStatus,
    error: Option<&str>,
    now_ms: i64,
) -> Result<(), DbError> {
    diesel::update(webhook_deliveries::table.find(svix_id))
        .set((
            webhook_deliveries::status.eq(status.as_str()),
            webhook_deliveries::error.eq(error),
            webhook_deliveries::processed_at.eq(Some(now_ms)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, svix_id: &str) -> Result<Option<DeliveryRow>, DbError> {
    webhook_deliveries::table
        .find(svix_id)
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

/// Ids of failed deliveries, oldest first.
pub fn failed_ids(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Failed.as_str()))
        .order(webhook_deliveries::received_at.asc())
        .select(webhook_deliveries::svix_id)
        .load(conn)
        .map_err(DbError::from)
}
