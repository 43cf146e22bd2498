//! Request ids: kept from `X-Request-Id` when well-formed, generated otherwise; reachable from any code
//! serving the request (error bodies) through [`current`].

use std::fmt;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a client; longer ones are replaced rather than truncated.
const MAX_LEN: usize = 128;

tokio::task_local! {
    pub(crate) static CURRENT: RequestId;
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
        // Encoded on the stack: one allocation (the Arc), not a String copied into one.
        let mut text = uuid::Uuid::encode_buffer();
        Self(Arc::from(
            &*uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text),
        ))
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
