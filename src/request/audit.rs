//! Records one audit event per API request that authenticated or failed to (health, webhooks,
//! metrics, the OpenAPI document and static files are not audited): who (principal, user,
//! organization, session), what (method, path without query, matched route), outcome (status,
//! reason code), how long, from where.

use std::borrow::Cow;
use std::future::{ready, Future, Ready};
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, Uri};
use actix_web::{web, Error, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use pin_project_lite::pin_project;

use crate::audit::{AuditNote, Reservation};
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

/// The audit recorder as a typed middleware (`App::wrap(Record)`). While the queue has room the
/// slot is taken in `call` and the response's future is wrapped unboxed; only a request that must
/// wait for room takes a boxed future.
pub struct Record;

impl<S, B> Transform<S, ServiceRequest> for Record
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RecordService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RecordService {
            service: Rc::new(service),
        }))
    }
}

pub struct RecordService<S> {
    // Shared with the boxed future of a request waiting for room in the queue.
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for RecordService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = RecordFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .filter(|s| s.settings.audit.enabled && audited(req.path()))
            .cloned();
        let Some(state) = state else {
            return RecordFuture::Handling {
                response: self.service.call(req),
                event: None,
            };
        };
        let started = Instant::now();
        // The event's slot is held before the request is handled: a request answered is a request
        // recorded. Refused here (queue full past `audit.full_wait_ms`), the request was not handled
        // and has no row: there is no room for one, which is why it is counted instead (a metric and
        // a warning at most once a minute).
        if let Some(reservation) = state.audit.try_reserve() {
            let event = Event::open(&req, state, reservation, started);
            return RecordFuture::Handling {
                response: self.service.call(req),
                event: Some(event),
            };
        }
        let service = Rc::clone(&self.service);
        RecordFuture::Waiting {
            handled: Box::pin(async move {
                let reservation = match state.audit.reserve().await {
                    Ok(reservation) => reservation,
                    Err(_) => {
                        state.metrics.record_audit_refused();
                        return Err(ApiError::audit_queue_full().into());
                    }
                };
                let event = Event::open(&req, state, reservation, started);
                let result = service.call(req).await;
                event.record(&result);
                result
            }),
        }
    }
}

pin_project! {
    /// The response of a request handed on (with its event to record, when audited), or of one that
    /// waited for room in the queue, in one boxed future.
    #[project = RecordProjection]
    pub enum RecordFuture<F, B> {
        Handling { #[pin] response: F, event: Option<Event> },
        Waiting { handled: LocalBoxFuture<'static, Result<ServiceResponse<B>, Error>> },
    }
}

impl<F, B> Future for RecordFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<B>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            RecordProjection::Handling { response, event } => {
                let result = ready!(response.poll(cx));
                if let Some(event) = event.take() {
                    event.record(&result);
                }
                Poll::Ready(result)
            }
            RecordProjection::Waiting { handled } => handled.as_mut().poll(cx),
        }
    }
}

/// An audited request's event from its slot being held until its response: dropped unrecorded
/// (the request's future dropped when the client went away), its slot is given back.
pub struct Event {
    state: web::Data<AppState>,
    reservation: Reservation,
    started: Instant,
    occurred_at: i64,
    captured: Captured,
}

impl Event {
    fn open(
        req: &ServiceRequest,
        state: web::Data<AppState>,
        reservation: Reservation,
        started: Instant,
    ) -> Self {
        Self {
            occurred_at: state.clock.now_ms(),
            captured: Captured::of(req, &state),
            state,
            reservation,
            started,
        }
    }

    fn record<B>(self, result: &Result<ServiceResponse<B>, Error>) {
        let Self {
            state,
            reservation,
            started,
            occurred_at,
            captured,
        } = self;
        let (status, reason, request) = match result {
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
    }
}
