//! `POST /api/auth/webhooks/clerk`: Clerk's webhooks, delivered by Svix. The signature is verified on
//! the raw bytes before anything parses them; a body over the limit is refused before it is read.

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::clerk::webhook::signature::{self, SignedHeaders};
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::sync::webhooks::{self, Delivery, Outcome, SyncOptions};

/// Svix's header names, then the Standard Webhooks ones.
const HEADER_NAMES: [[&str; 3]; 2] = [
    ["svix-id", "svix-timestamp", "svix-signature"],
    ["webhook-id", "webhook-timestamp", "webhook-signature"],
];

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn signed_headers(req: &HttpRequest) -> SignedHeaders<'_> {
    let [id, timestamp, signature] = HEADER_NAMES
        .iter()
        .find(|names| req.headers().contains_key(names[0]))
        .unwrap_or(&HEADER_NAMES[0]);
    SignedHeaders {
        id: header(req, id),
        timestamp: header(req, timestamp),
        signature: header(req, signature),
    }
}

/// Reads the body, refusing it (413) as soon as it is known to exceed `limit`.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The event's `type`, for metrics only (anything unusual is counted as "other").
fn event_type_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct TypeOnly {
        #[serde(rename = "type")]
        event_type: String,
    }
    match serde_json::from_slice::<TypeOnly>(body) {
        Ok(t)
            if t.event_type.len() <= 64
                && t.event_type
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.') =>
        {
            t.event_type
        }
        _ => "other".to_owned(),
    }
}

/// The answer to a delivery that was verified.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryReceipt {
    /// `applied`, `duplicate` (already received), `ignored` (a type auth-core does not use) or
    /// `failed` (stored with its error, to reprocess after a fix).
    pub status: &'static str,
    pub svix_id: String,
}

/// Clerk's webhooks, delivered by Svix.
///
/// The signature (`svix-*` headers, or the Standard Webhooks `webhook-*` names) is verified on the raw
/// bytes before anything parses them; a body over `webhooks.max_body_bytes` is refused before it is
/// read. A signed delivery that cannot be understood is stored as `failed` and answered 200.
#[utoipa::path(post, path = "/api/auth/webhooks/clerk", tag = "webhooks",
    params(
        ("svix-id" = Option<String>, Header, description = "Delivery id (`msg_…`); the idempotency key"),
        ("svix-timestamp" = Option<String>, Header, description = "Unix time in seconds; within `webhooks.tolerance_secs` of now"),
        ("svix-signature" = Option<String>, Header, description = "Space-separated `v1,<base64 HMAC-SHA256>` entries"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "A Clerk event (`{\"type\": \"user.created\", \"data\": {…}, …}`), signed as it is sent"),
    responses(
        (status = 200, description = "Verified; applied, a duplicate, ignored or stored as failed", body = DeliveryReceipt),
        (status = 400, response = crate::api::responses::BadRequest),
        (status = 401, description = "The signature was refused: `webhook-secret-not-configured`, `webhook-headers-missing`, `webhook-timestamp-invalid`, `webhook-timestamp-too-old`, `webhook-timestamp-too-new`, `webhook-signature-invalid`",
            body = crate::http::error::ErrorBody),
        (status = 405, response = crate::api::responses::MethodNotAllowed),
        (status = 413, response = crate::api::responses::PayloadTooLarge),
        (status = 503, response = crate::api::responses::ServiceUnavailable),
    )
)]
pub async fn clerk(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.webhooks;
    let body = read_body(&req, payload, settings.max_body_bytes).await?;
    let headers = signed_headers(&req);
    let now_ms = state.clock.now_ms();
    if let Err(error) = signature::verify(
        &state.webhook_keys,
        &headers,
        &body,
        now_ms / 1000,
        settings.tolerance_secs,
    ) {
        log::warn!(target: "auth_core::webhooks", "delivery refused: {}", error.as_str());
        state.metrics.record_webhook("unverified", "refused");
        return Err(ApiError::webhook_refused(error));
    }
    // Verified above: the timestamp parses.
    let svix_timestamp = headers.timestamp.parse().unwrap_or_default();
    let svix_id = headers.id.to_owned();
    let options = SyncOptions {
        revoked_session_retention: state.settings.auth.revoked_session_retention,
    };
    let event_type = event_type_of(&body);
    let body = body.freeze();
    let id = svix_id.clone();
    let outcome = state
        .db
        .run(move |conn| {
            let delivery = Delivery {
                svix_id: &id,
                svix_timestamp,
                body: &body,
            };
            webhooks::receive(conn, &delivery, now_ms, options)
        })
        .await?;
    if let Outcome::Applied(effects) = &outcome {
        state.apply_webhook_effects(effects);
    }
    log::info!(target: "auth_core::webhooks", "delivery {svix_id}: {}", outcome.status());
    state.metrics.record_webhook(&event_type, outcome.status());
    Ok(HttpResponse::Ok().json(DeliveryReceipt {
        status: outcome.status(),
        svix_id,
    }))
}
