//! `GET /metrics`: Prometheus text format. With `metrics.token` set, a scraper must send it as
//! `Authorization: Bearer <token>` (compared in constant time); otherwise restrict access by network.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::error::ApiError;
use crate::http::metrics::{ChangeFeedGauges, Gauges};
use crate::state::AppState;

/// Prometheus metrics.
///
/// Requests by route and status, latency, authentication outcomes, webhook deliveries, JWKS, audit
/// queue and pool. With `metrics.token` set the scraper must send it as a bearer token; otherwise the
/// route is open (restrict it by network).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 401, description = "`metrics.token` is set and was not sent (`metrics-unauthorized`)",
            body = crate::http::error::ErrorBody),
        (status = 405, response = crate::api::responses::MethodNotAllowed),
    )
)]
pub async fn metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.settings.metrics.token {
        let presented = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !crate::constant_time::eq(presented.as_bytes(), token.expose().as_bytes()) {
            return Err(ApiError::metrics_unauthorized());
        }
    }
    let keys = state.verifier.key_store().map(|k| k.status());
    let (connections, idle) = state.db.pool_state();
    let gauges = Gauges {
        jwks_fetches: keys.as_ref().map_or(0, |k| k.fetches),
        jwks_fetch_failures: keys.as_ref().map_or(0, |k| k.failures),
        audit_queue_depth: state.audit.depth(),
        audit_dropped: state.audit.dropped(),
        audit_reduced: state.audit.reduced(),
        audit_rejected: state.audit.rejected(),
        log_dropped: crate::logging::dropped_lines(),
        db_connections: connections,
        db_idle_connections: idle,
        change_feed: Some(state.change_feed.read())
            .filter(|feed| feed.used)
            .map(|feed| ChangeFeedGauges {
                listening: feed.listening,
                current_gap_ms: feed.current_gap_ms,
                total_gap_ms: feed.total_gap_ms,
                reconnects: feed.reconnects,
                notifications: feed.notifications,
            }),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&gauges)))
}
