//! Records one audit event per API request that authenticated or failed to (health, webhooks,
//! metrics, the OpenAPI document and static files are not audited): who (principal, user,
//! organization, session), what (method, path without query, matched route), outcome (status,
//! reason code), how long, from where.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, Uri};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest};

use crate::audit::AuditNote;
use crate::auth::Principal;
use crate::client_ip::{self, IpText};
use crate::db::audit::{AuditEventRef, PrincipalType};
use crate::http::error::ApiError;
use crate::http::request_id::RequestId;
use crate::state::AppState;

fn audited(path: &str) -> bool {
    let api = path.starts_with("/api/")
        && path != "/api/auth/health"
        && path != "/api/openapi.json"
        && !path.starts_with("/api/auth/webhooks/");
    let admin =
        (path == "/admin" || path.starts_with("/admin/")) && !path.starts_with("/admin/static/");
    api || admin
}

/// What is taken from the request before it is handed on: an error answered by a middleware or
/// handler further in comes back without its request. Cloning these costs a reference count each.
struct Captured {
    method: Method,
    uri: Uri,
    user_agent: Option<HeaderValue>,
    client_ip: Option<IpAddr>,
    request_id: Option<RequestId>,
}

impl Captured {
    fn of(req: &ServiceRequest, state: &AppState) -> Self {
        let headers = req.headers();
        Self {
            method: req.method().clone(),
            uri: req.uri().clone(),
            user_agent: headers.get(header::USER_AGENT).cloned(),
            client_ip: client_ip::of_request(req.head(), &state.settings.server.trusted_proxies),
            request_id: req.extensions().get::<RequestId>().cloned(),
        }
    }
}

/// The user agent when it is visible ASCII (what `to_str` accepts); the log bounds its length.
fn user_agent(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok()
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
    // The event's slot is held before the request is handled: a request answered is a request
    // recorded. Refused here (queue full past `audit.full_wait_ms`), the request was not handled and
    // has no row: there is no room for one, which is why it is counted instead (a metric and a
    // warning at most once a minute).
    let reservation = match state.audit.reserve().await {
        Ok(reservation) => reservation,
        Err(_) => {
            state.metrics.record_audit_refused();
            return Err(ApiError::audit_queue_full().into());
        }
    };
    let occurred_at = state.clock.now_ms();
    let captured = Captured::of(&req, &state);

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
    let extensions = request.map(HttpRequest::extensions);
    let principal = extensions.as_ref().and_then(|e| e.get::<Principal>());
    let note = extensions.as_ref().and_then(|e| e.get::<AuditNote>());
    let admin = note.and_then(|n| n.admin.as_deref());
    let principal_type = match (principal, admin) {
        (Some(p), _) => p.kind(),
        (None, Some(_)) => PrincipalType::Admin,
        (None, None) => PrincipalType::Anonymous,
    };
    let detail = match (admin, note.and_then(|n| n.detail.as_deref())) {
        (Some(admin), Some(detail)) => Some(Cow::Owned(format!("admin {admin}: {detail}"))),
        (None, detail) => detail.map(Cow::Borrowed),
        (Some(admin), None) => Some(Cow::Owned(format!("admin {admin}"))),
    };
    let route = request.and_then(HttpRequest::match_pattern);
    let client_ip = captured.client_ip.map(IpText::new);
    state.audit.record_reserved(
        reservation,
        &AuditEventRef {
            occurred_at,
            request_id: captured.request_id.as_ref().map(RequestId::as_str),
            principal_type,
            user_id: principal.and_then(Principal::user_id),
            organization_id: principal.and_then(Principal::organization_id),
            session_id: principal
                .and_then(Principal::session)
                .map(|s| s.session_id.as_str()),
            method: captured.method.as_str(),
            path: captured.uri.path(),
            route: route.as_deref(),
            status: i32::from(status),
            duration_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            client_ip: client_ip.as_ref().map(IpText::as_str),
            user_agent: captured.user_agent.as_ref().and_then(user_agent),
            reason: reason.or(note.and_then(|n| n.reason)),
            detail: detail.as_deref(),
        },
    );
    drop(extensions);
    result
}
