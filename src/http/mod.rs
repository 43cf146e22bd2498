//! Cross-cutting HTTP concerns that wrap every route: request ids, security headers, CORS and the
//! access log.

pub mod cors;
pub mod error;
pub mod metrics;
pub mod request_id;
pub mod security_headers;
