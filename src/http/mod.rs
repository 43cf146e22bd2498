//! Cross-cutting HTTP concerns that wrap every route: request ids and the access log.

pub mod request_id;
