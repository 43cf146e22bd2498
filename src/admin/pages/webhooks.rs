//! Webhook deliveries: filter by type and status, view one delivery's payload, reprocess a failed one.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::{cursor_field, cursor_link, field, link, pretty_json, time_field};
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, page, redirect, AdminError, Chrome};
use crate::audit;
use crate::db::console::webhooks::{self as deliveries_db, DeliveryFilter};
use crate::db::console::PAGE_SIZE;
use crate::db::webhook_deliveries;
use crate::state::AppState;
use crate::sync::webhooks::{self, Outcome, SyncOptions};

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before_at: Option<String>,
    before_id: Option<String>,
}

pub struct DeliveryItem {
    pub svix_id: String,
    pub event_type: String,
    pub status: String,
    pub status_class: &'static str,
    pub error: String,
    pub attempts: i32,
    pub received: String,
}

fn status_class(status: &str) -> &'static str {
    match status {
        "applied" => "ok",
        "ignored" => "warn",
        _ => "bad",
    }
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct DeliveriesPage {
    chrome: Chrome,
    event_type: String,
    status: String,
    from: String,
    to: String,
    rows: Vec<DeliveryItem>,
    next: Option<String>,
}

pub async fn list(
    admin: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, AdminError> {
    let filter = DeliveryFilter {
        event_type: field(&query.event_type),
        status: field(&query.status),
        from_ms: time_field(&query.from, "from")?,
        to_ms: time_field(&query.to, "to")?,
        before: cursor_field(&[&query.before_at, &query.before_id]),
    };
    let shown = filter.clone();
    let found = state
        .db
        .run(move |conn| deliveries_db::list(conn, &filter, PAGE_SIZE))
        .await?;
    let next = found
        .next(|d| (d.received_at, d.svix_id.clone()))
        .map(|before| {
            cursor_link(
                "/admin/webhooks",
                &[
                    ("type", shown.event_type.as_deref()),
                    ("status", shown.status.as_deref()),
                    ("from", field(&query.from).as_deref()),
                    ("to", field(&query.to).as_deref()),
                ],
                &["before_at", "before_id"],
                &before.values(),
            )
        });
    Ok(page(&DeliveriesPage {
        chrome: admin.chrome("webhooks"),
        event_type: shown.event_type.unwrap_or_default(),
        status: shown.status.unwrap_or_default(),
        from: field(&query.from).unwrap_or_default(),
        to: field(&query.to).unwrap_or_default(),
        rows: found
            .rows
            .into_iter()
            .map(|d| DeliveryItem {
                status_class: status_class(&d.status),
                svix_id: d.svix_id,
                event_type: d.event_type,
                status: d.status,
                error: d.error.unwrap_or_default(),
                attempts: d.attempts,
                received: format_ms(d.received_at),
            })
            .collect(),
        next,
    }))
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct DeliveryPage {
    chrome: Chrome,
    item: DeliveryItem,
    processed: String,
    payload: String,
    outcome: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DeliveryQuery {
    outcome: Option<String>,
}

pub async fn show(
    admin: SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| webhook_deliveries::find(conn, &id))
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(page(&DeliveryPage {
        chrome: admin.chrome("webhooks"),
        processed: row.processed_at.map_or("not yet".to_owned(), format_ms),
        payload: pretty_json(&row.payload),
        outcome: field(&query.outcome),
        item: DeliveryItem {
            status_class: status_class(&row.status),
            svix_id: row.svix_id,
            event_type: row.event_type,
            status: row.status,
            error: row.error.unwrap_or_default(),
            attempts: row.attempts,
            received: format_ms(row.received_at),
        },
    }))
}

/// Applies a stored delivery again (after a fix), then drops what caches it made stale.
pub async fn reprocess(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let now = state.clock.now_ms();
    let options = SyncOptions {
        revoked_session_retention: state.settings.auth.revoked_session_retention,
    };
    let lookup = id.clone();
    let outcome = state
        .db
        .run(move |conn| webhooks::reprocess(conn, &lookup, now, options))
        .await?
        .ok_or(AdminError::NotFound)?;
    if let Outcome::Applied(effects) = &outcome {
        state.apply_webhook_effects(effects);
    }
    let status = match &outcome {
        Outcome::Failed(error) => format!("failed: {error}"),
        other => other.status().to_owned(),
    };
    audit::note(&req, |n| {
        n.detail = Some(format!("reprocessed webhook delivery {id}: {status}"));
    });
    Ok(redirect(&link(
        &format!(
            "/admin/webhooks/{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ),
        &[("outcome", Some(&status))],
    )))
}
