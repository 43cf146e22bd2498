//! Applies a verified webhook delivery: recorded by svix-id and applied in one transaction, so a
//! redelivery (even a concurrent one) is applied once; writes are ordered by Clerk's `updated_at` and
//! never resurrect a tombstone, so deliveries may arrive in any order. A signed delivery that cannot be
//! understood is stored as `failed` with its error, for an administrator to reprocess after a fix.

use std::time::Duration;

use diesel::Connection;

use super::organizations::{organization_record, write_membership};
use super::users::record_from_clerk;
use crate::clerk::webhook::event::{Envelope, Event};
use crate::db::webhook_deliveries::{self as deliveries, DeliveryStatus, NewDelivery};
use crate::db::{organizations, revoked_sessions, users, DbConnection, DbError};

/// A delivery whose signature has been verified.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub svix_id: &'a str,
    pub svix_timestamp: i64,
    pub body: &'a [u8],
}

/// What applying a delivery changed, for the in-memory caches to follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Users whose cached profile is stale.
    pub users: Vec<String>,
    /// Organization data changed: every cached profile may show it.
    pub all_users: bool,
    /// A session whose tokens must be refused, and until when.
    pub revoked_session: Option<(String, i64)>,
    /// An organization deleted in Clerk: credentials bound to it must be refused from now on.
    pub deleted_organization: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(Effects),
    /// A known event type auth-core does not mirror (or records only).
    Ignored,
    /// This svix-id was received before.
    Duplicate,
    /// Signed, but not understood; stored with its error.
    Failed(String),
}

impl Outcome {
    pub fn status(&self) -> &'static str {
        match self {
            Self::Applied(_) => "applied",
            Self::Ignored => "ignored",
            Self::Duplicate => "duplicate",
            Self::Failed(_) => "failed",
        }
    }
}

/// How long a revoked session is remembered: past the lifetime of any token it may have issued.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    pub revoked_session_retention: Duration,
}

fn parse(body: &[u8]) -> Result<(Envelope, Event), (Option<String>, String)> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| (None, format!("not a Clerk event: {e}")))?;
    let event =
        Event::from_envelope(&envelope).map_err(|e| (Some(envelope.event_type.clone()), e))?;
    Ok((envelope, event))
}

pub fn receive(
    conn: &mut DbConnection,
    delivery: &Delivery<'_>,
    now_ms: i64,
    options: SyncOptions,
) -> Result<Outcome, DbError> {
    let payload = String::from_utf8_lossy(delivery.body);
    let (envelope, event) = match parse(delivery.body) {
        Ok(parsed) => parsed,
        Err((event_type, error)) => {
            let event_type = event_type.as_deref().unwrap_or("unknown");
            let failed = NewDelivery {
                svix_id: delivery.svix_id,
                event_type,
                payload: &payload,
                svix_timestamp: delivery.svix_timestamp,
                status: DeliveryStatus::Failed,
                error: Some(&error),
            };
            let stored = deliveries::insert(conn, &failed, now_ms)?;
            if !stored {
                deliveries::count_attempt(conn, delivery.svix_id)?;
                return Ok(Outcome::Duplicate);
            }
            log::warn!(target: "auth_core::webhooks", "delivery {} stored as failed: {error}", delivery.svix_id);
            return Ok(Outcome::Failed(error));
        }
    };
    let outcome = conn.transaction::<_, DbError, _>(|conn| {
        let received = NewDelivery {
            svix_id: delivery.svix_id,
            event_type: &envelope.event_type,
            payload: &payload,
            svix_timestamp: delivery.svix_timestamp,
            status: DeliveryStatus::Received,
            error: None,
        };
        let first = deliveries::insert(conn, &received, now_ms)?;
        if !first {
            return Ok(Outcome::Duplicate);
        }
        let outcome = apply(conn, &envelope.event_type, &event, now_ms, options)?;
        let status = match outcome {
            Outcome::Applied(_) => DeliveryStatus::Applied,
            _ => DeliveryStatus::Ignored,
        };
        deliveries::set_status(conn, delivery.svix_id, status, None, now_ms)?;
        Ok(outcome)
    })?;
    if outcome == Outcome::Duplicate {
        deliveries::count_attempt(conn, delivery.svix_id)?;
    }
    Ok(outcome)
}

/// Applies a stored delivery again (after a fix, from the console or `auth-core webhooks
/// reprocess`). `None` when no delivery has this id.
pub fn reprocess(
    conn: &mut DbConnection,
    svix_id: &str,
    now_ms: i64,
    options: SyncOptions,
) -> Result<Option<Outcome>, DbError> {
    let Some(row) = deliveries::find(conn, svix_id)? else {
        return Ok(None);
    };
    let (envelope, event) = match parse(row.payload.as_bytes()) {
        Ok(parsed) => parsed,
        Err((_, error)) => {
            deliveries::set_status(conn, svix_id, DeliveryStatus::Failed, Some(&error), now_ms)?;
            return Ok(Some(Outcome::Failed(error)));
        }
    };
    let outcome = conn.transaction::<_, DbError, _>(|conn| {
        let outcome = apply(conn, &envelope.event_type, &event, now_ms, options)?;
        let status = match outcome {
            Outcome::Applied(_) => DeliveryStatus::Applied,
            _ => DeliveryStatus::Ignored,
        };
        deliveries::set_status(conn, svix_id, status, None, now_ms)?;
        Ok(outcome)
    })?;
    Ok(Some(outcome))
}

fn apply(
    conn: &mut DbConnection,
    event_type: &str,
    event: &Event,
    now_ms: i64,
    options: SyncOptions,
) -> Result<Outcome, DbError> {
    let mut effects = Effects::default();
    match event {
        Event::UserUpserted(user) => {
            users::write_user(conn, &record_from_clerk(user), now_ms)?;
            effects.users.push(user.id.clone());
        }
        Event::UserDeleted { id } => {
            users::tombstone_user(conn, id, now_ms)?;
            effects.users.push(id.clone());
        }
        Event::OrganizationUpserted(org) => {
            organizations::write_organization(conn, &organization_record(org), now_ms)?;
            effects.all_users = true;
        }
        Event::OrganizationDeleted { id } => {
            organizations::tombstone_organization(conn, id, now_ms)?;
            effects.all_users = true;
            effects.deleted_organization = Some(id.clone());
        }
        Event::MembershipUpserted(membership) => {
            write_membership(conn, membership, false, now_ms)?;
            effects
                .users
                .push(membership.public_user_data.user_id.clone());
        }
        Event::MembershipDeleted(membership) => {
            write_membership(conn, membership, true, now_ms)?;
            effects
                .users
                .push(membership.public_user_data.user_id.clone());
        }
        Event::SessionEnded {
            session_id,
            user_id,
            ..
        } => {
            let retention =
                i64::try_from(options.revoked_session_retention.as_millis()).unwrap_or(i64::MAX);
            let until = now_ms.saturating_add(retention);
            revoked_sessions::insert(
                conn,
                session_id,
                user_id.as_deref(),
                event_type,
                now_ms,
                until,
            )?;
            effects.revoked_session = Some((session_id.clone(), until));
        }
        Event::Recorded | Event::Ignored => return Ok(Outcome::Ignored),
    }
    Ok(Outcome::Applied(effects))
}
