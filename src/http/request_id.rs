//! The outermost middleware: gives every request an id (kept from `X-Request-Id` when well-formed,
//! generated otherwise), echoes it on the response, and writes one access-log line per request.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a client; longer ones are replaced rather than truncated.
const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being served, for code that has no `HttpRequest` at hand (error bodies).
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}

#[derive(Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A client's id is kept only if it is 1–128 characters of `A-Z a-z 0-9 . _ : -`: anything else
    /// could forge log lines or smuggle markup into the admin console.
    pub fn from_client(value: &HeaderValue) -> Option<Self> {
        let s = value.to_str().ok()?;
        let ok = !s.is_empty()
            && s.len() <= MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        ok.then(|| Self(Arc::from(s)))
    }

    pub fn generate() -> Self {
        Self(Arc::from(uuid::Uuid::new_v4().hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.0)
    }
}

/// Handlers may take the id as an argument.
impl FromRequest for RequestId {
    type Error = Error;
    type Future = std::future::Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate);
        std::future::ready(Ok(id))
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(RequestId::from_client)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());
    let method = req.method().clone();
    // The path only: query strings can carry tokens.
    let path = req.path().to_owned();

    let outcome = CURRENT.scope(id.clone(), next.call(req)).await;
    let header_value = HeaderValue::from_str(id.as_str()).ok();
    let mut response = match outcome {
        Ok(response) => response,
        Err(error) => {
            // An error raised by inner middleware: render it here, inside the scope, so that its JSON
            // body carries the request id, and hand the finished response on.
            let mut rendered = CURRENT.sync_scope(id.clone(), || error.error_response());
            if let Some(value) = header_value {
                rendered.headers_mut().insert(HEADER, value);
            }
            log_line(&method, &path, rendered.status().as_u16(), started, &id);
            return Err(InternalError::from_response(error, rendered).into());
        }
    };
    if let Some(value) = header_value {
        response.headers_mut().insert(HEADER, value);
    }
    log_line(&method, &path, response.status().as_u16(), started, &id);
    Ok(response)
}

fn log_line(method: &Method, path: &str, status: u16, started: Instant, id: &RequestId) {
    log::info!(
        target: "auth_core::access",
        "{method} {path} {status} {ms:.1}ms request_id={id}",
        ms = started.elapsed().as_secs_f64() * 1000.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_well_formed() {
        let keep = |s: &str| {
            RequestId::from_client(&HeaderValue::from_str(s).ok()?).map(|id| id.0.to_string())
        };
        assert_eq!(keep("abc-123_X.y:z").as_deref(), Some("abc-123_X.y:z"));
        assert_eq!(keep(&"a".repeat(128)).map(|s| s.len()), Some(128));
        assert_eq!(keep(&"a".repeat(129)), None);
        assert_eq!(keep(""), None);
        assert_eq!(keep("has space"), None);
        assert_eq!(keep("<script>"), None);
        assert_eq!(keep("a\tb"), None);
    }

    #[test]
    fn generated_ids_are_unique_uuids() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 36);
        assert!(RequestId::from_client(
            &HeaderValue::from_str(a.as_str()).unwrap_or(HeaderValue::from_static("x"))
        )
        .is_some());
    }
}
