//! The outermost middleware: every response, errors included, leaves with its request id, the
//! security headers, and one access-log line (method, path without query, status, duration, id).

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::InternalError;
use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, Uri};
use actix_web::{web, Error, HttpMessage};
use log::Level;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;

use crate::auth::Principal;
use crate::bounds::{fit, PATH};
use crate::db::audit::PrincipalType;
use crate::http::request_id::{RequestId, CURRENT, HEADER};
use crate::http::{cors, security_headers};
use crate::logging::{self, fields::RequestFields};
use crate::state::AppState;

/// The access log's target: `RUST_LOG=auth_core::access=off` silences it alone.
const TARGET: &str = "auth_core::access";

/// The envelope as a typed middleware (`App::wrap(Envelope)`): its future wraps the inner one
/// unboxed.
pub struct Envelope;

impl<S, B> Transform<S, ServiceRequest> for Envelope
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = EnvelopeService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(EnvelopeService { service }))
    }
}

pub struct EnvelopeService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for EnvelopeService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = EnvelopeFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let id = req
            .headers()
            .get(&HEADER)
            .and_then(RequestId::from_client)
            .unwrap_or_else(RequestId::generate);
        req.extensions_mut().insert(id.clone());
        let method = req.method().clone();
        // The path only (query strings can carry tokens), kept through a clone of the URI: a
        // reference count, where copying the path was an allocation per request.
        let uri = req.uri().clone();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let hsts = state
            .as_ref()
            .is_some_and(|state| state.settings.server.hsts);
        // Typed middlewares further in do their work in `call` when they need not wait (a cached
        // credential, a free audit slot): the request id is current there as while polling.
        let response = CURRENT.sync_scope(id.clone(), || self.service.call(req));
        EnvelopeFuture {
            response: CURRENT.scope(id.clone(), response),
            request: Request {
                started,
                id,
                method,
                uri,
                state,
                hsts,
            },
        }
    }
}

pin_project! {
    /// The inner response, polled with the request id current, then finished by [`Request::finish`].
    pub struct EnvelopeFuture<F> {
        #[pin]
        response: TaskLocalFuture<RequestId, F>,
        request: Request,
    }
}

impl<F, B> Future for EnvelopeFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<B>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = ready!(this.response.poll(cx));
        Poll::Ready(this.request.finish(outcome))
    }
}

/// What the envelope keeps of a request for its response and log line.
pub struct Request {
    started: Instant,
    id: RequestId,
    method: Method,
    uri: Uri,
    state: Option<web::Data<AppState>>,
    hsts: bool,
}

impl Request {
    fn finish<B>(
        &self,
        outcome: Result<ServiceResponse<B>, Error>,
    ) -> Result<ServiceResponse<B>, Error> {
        let Self {
            started,
            id,
            method,
            uri,
            state,
            hsts,
        } = self;
        let (started, hsts, path) = (*started, *hsts, uri.path());
        let header_value = HeaderValue::from_str(id.as_str()).ok();
        let mut response = match outcome {
            Ok(response) => response,
            Err(error) => {
                // An error raised by inner middleware: render it here, inside the scope, so that its
                // JSON body carries the request id, and hand the finished response on.
                let mut rendered = CURRENT.sync_scope(id.clone(), || error.error_response());
                if let Some(value) = header_value {
                    rendered.headers_mut().insert(HEADER, value);
                }
                security_headers::apply(rendered.headers_mut(), hsts);
                cors::drop_stray_credentials(rendered.headers_mut());
                log_line(method, path, rendered.status().as_u16(), started, id, None);
                if let Some(state) = state {
                    // No route was matched for a request refused before routing finished.
                    let status = rendered.status().as_u16();
                    state
                        .metrics
                        .record_request("unmatched", status, started.elapsed());
                }
                return Err(InternalError::from_response(error, rendered).into());
            }
        };
        if let Some(value) = header_value {
            response.headers_mut().insert(HEADER, value);
        }
        security_headers::apply(response.headers_mut(), hsts);
        cors::drop_stray_credentials(response.headers_mut());
        let principal = response.request().extensions().get::<Principal>().cloned();
        if let Some(state) = state {
            let route = response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            state
                .metrics
                .record_request(&route, response.status().as_u16(), started.elapsed());
        }
        log_line(
            method,
            path,
            response.status().as_u16(),
            started,
            id,
            principal.as_ref(),
        );
        Ok(response)
    }
}

/// One access-log line. Text keeps the readable line it always had; JSON carries the same facts as
/// fields (`logging::fields`) under a constant message.
fn log_line(
    method: &Method,
    path: &str,
    status: u16,
    started: Instant,
    id: &RequestId,
    principal: Option<&Principal>,
) {
    let fields = RequestFields {
        request_id: Some(id.as_str()),
        method: method.as_str(),
        path,
        status: Some(status),
        duration_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        user: principal.and_then(Principal::user_id),
        org: principal.and_then(Principal::organization_id),
        principal: principal
            .map_or(PrincipalType::Anonymous, Principal::kind)
            .as_str(),
    };
    if logging::structured() {
        fields.log(Level::Info, TARGET, format_args!("request"));
        return;
    }
    let path = fit(path, PATH);
    let user = fields.user.unwrap_or("-");
    let org = fields.org.unwrap_or("-");
    let ms = fields.duration_ms.unwrap_or_default();
    fields.log(
        Level::Info,
        TARGET,
        format_args!("{method} {path} {status} {ms:.1}ms request_id={id} user={user} org={org}"),
    );
}
