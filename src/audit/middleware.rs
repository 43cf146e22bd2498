//! Records one audit event per API request that authenticated or failed to (health, webhooks,
//! metrics, the OpenAPI document and static files are not audited): who (principal, user,
//! organization, session), what (method, path without query, matched route), outcome (status,
//! reason code), how long, from where.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest};

use super::{client_ip, AuditNote};
use crate::app::AppState;
use crate::auth::Principal;
use crate::db::audit::NewAuditEvent;
use crate::error::ApiError;
use crate::http::request_id::RequestId;

const MAX_USER_AGENT: usize = 512;

fn audited(path: &str) -> bool {
    let api = path.starts_with("/api/")
        && path != "/api/auth/health"
        && path != "/api/openapi.json"
        && !path.starts_with("/api/auth/webhooks/");
    let admin =
        (path == "/admin" || path.starts_with("/admin/")) && !path.starts_with("/admin/static/");
    api || admin
}

pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state.filter(|s| s.settings.audit.enabled && audited(req.path())) else {
        return next.call(req).await;
    };
    let started = Instant::now();
    let occurred_at = state.clock.now_ms();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>());
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let client_ip = client_ip::resolve(
        req.peer_addr().map(|a| a.ip()),
        forwarded.as_deref(),
        &state.settings.server.trusted_proxies,
    );
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.as_str().to_owned());

    let result = next.call(req).await;

    let (status, reason, request) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.response()
                .error()
                .and_then(|e| e.as_error::<ApiError>())
                .map(|e| e.code.as_str()),
            Some(res.request()),
        ),
        Err(error) => (
            error.as_response_error().status_code().as_u16(),
            error.as_error::<ApiError>().map(|e| e.code.as_str()),
            None,
        ),
    };
    let principal = request.and_then(|r: &HttpRequest| r.extensions().get::<Principal>().cloned());
    let note = request
        .and_then(|r: &HttpRequest| r.extensions().get::<AuditNote>().cloned())
        .unwrap_or_default();
    let principal_type = match (&principal, &note.admin) {
        (Some(p), _) => p.kind(),
        (None, Some(_)) => "admin",
        (None, None) => "anonymous",
    };
    let detail = match (&note.admin, note.detail) {
        (Some(admin), Some(detail)) => Some(format!("admin {admin}: {detail}")),
        (None, detail) => detail,
        (Some(admin), None) => Some(format!("admin {admin}")),
    };
    let route = request.and_then(HttpRequest::match_pattern);
    let event = NewAuditEvent {
        occurred_at,
        request_id,
        principal_type: principal_type.to_owned(),
        user_id: principal
            .as_ref()
            .and_then(|p| p.user_id())
            .map(str::to_owned),
        organization_id: principal
            .as_ref()
            .and_then(|p| p.organization_id())
            .map(str::to_owned),
        session_id: principal
            .as_ref()
            .and_then(|p| p.session())
            .map(|s| s.session_id.clone()),
        method,
        path,
        route,
        status: i32::from(status),
        duration_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
        client_ip,
        user_agent,
        reason: reason.or(note.reason).map(str::to_owned),
        detail,
    };
    state.audit.record(event);
    result
}
