//! The audit trail: one event per authenticated request and per authentication failure, recorded by
//! a middleware, queued in memory and written in batches off the request path.

pub mod client_ip;
pub mod log;
pub mod middleware;
pub mod retention;

pub use log::{AuditConfig, AuditLog};
