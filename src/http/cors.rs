//! CORS from `CORS_ALLOWED_ORIGINS`: listed origins only (never `*`), with credentials, so a browser
//! app (Next.js with Clerk) may send `Authorization` or the `__session` cookie. Error responses carry
//! the headers too, so the browser can read why a request failed.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use actix_cors::{Cors, CorsError};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::HeaderMap;
use actix_web::http::{header, Method, StatusCode};
use actix_web::Error;
use pin_project_lite::pin_project;

use crate::http::error::{ApiError, ErrorCode};

/// The most of a refused `Origin` written to the log: it is the sender's text.
const MAX_LOGGED_ORIGIN_CHARS: usize = 100;

pub fn build(allowed_origins: &[String]) -> Cors {
    let origins = allowed_origins.to_vec();
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|o| origins.iter().any(|allowed| allowed == o))
        })
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .allowed_header("x-request-id")
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
        .expose_headers(["x-request-id"])
        .supports_credentials()
        .max_age(600)
}

/// actix-cors sends `Access-Control-Allow-Credentials` even to origins it does not allow (without
/// `Access-Control-Allow-Origin`, so browsers block them anyway); it is removed there, so that only
/// listed origins are ever told credentials are welcome.
pub fn drop_stray_credentials(headers: &mut HeaderMap) {
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
}

/// Wraps [`build`]'s middleware (`App::wrap(RefusalsAsJson)` after `App::wrap(cors::build(…))`): a
/// preflight it refuses (actix-cors answers a bare text 400) leaves in the one JSON error shape, still
/// 400, and the log line names the setting that decides it. Typed, so its future wraps the inner one
/// unboxed; what the log line names is read from the refused response's request, so an allowed
/// request copies nothing.
pub struct RefusalsAsJson;

impl<S, B> Transform<S, ServiceRequest> for RefusalsAsJson
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RefusalsAsJsonService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RefusalsAsJsonService { service }))
    }
}

pub struct RefusalsAsJsonService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RefusalsAsJsonService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = RefusalsAsJsonFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        RefusalsAsJsonFuture {
            response: self.service.call(req),
        }
    }
}

pin_project! {
    pub struct RefusalsAsJsonFuture<F> {
        #[pin]
        response: F,
    }
}

impl<F, B> Future for RefusalsAsJsonFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<B>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // actix-cors answers its refusals itself (a response carrying the error), not with an Err.
        let response = ready!(self.project().response.poll(cx))?;
        Poll::Ready(match refusal(&response) {
            Some(error) => Err(error),
            None => Ok(response),
        })
    }
}

/// The JSON error for a response that carries actix-cors's refusal, logged.
fn refusal<B>(response: &ServiceResponse<B>) -> Option<Error> {
    let cors = response
        .response()
        .error()
        .and_then(|error| error.as_error::<CorsError>())?;
    let request = response.request();
    let origin: String = request
        .headers()
        .get(header::ORIGIN)
        .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned())
        .unwrap_or_default()
        .chars()
        .take(MAX_LOGGED_ORIGIN_CHARS)
        .collect();
    let path = request.path();
    log::info!(
        target: "auth_core::cors",
        "CORS preflight for {path} from origin {origin:?} refused: {cors}; the allowed origins are \
         set by CORS_ALLOWED_ORIGINS"
    );
    let message = format!(
        "CORS preflight refused: {cors} (the origins allowed are set by CORS_ALLOWED_ORIGINS)"
    );
    Some(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message).into())
}
