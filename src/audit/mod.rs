//! The audit trail: one event per authenticated request and per authentication failure, recorded by
//! a middleware, queued in memory and written in batches off the request path.

pub mod batch_writer;
pub mod limits;
pub mod log;
mod log_throttle;
pub mod pace;
pub mod retention;

pub use log::{AuditConfig, AuditLog, QueueFull, Reservation, WhenFull};

/// What a handler outside the JSON API (the admin console) tells the audit trail about its request:
/// the administrator acting, a failure reason code, and what was done. The audit middleware reads it
/// from the request's extensions when the response is ready.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditNote {
    /// Email of the signed-in (or signing-in) administrator.
    pub admin: Option<String>,
    pub reason: Option<&'static str>,
    /// Stored with the administrator's email, cut to [`bounds::DETAIL`](crate::bounds::DETAIL) bytes when recorded.
    pub detail: Option<String>,
}

/// Adds to the request's [`AuditNote`].
pub fn note(req: &actix_web::HttpRequest, update: impl FnOnce(&mut AuditNote)) {
    use actix_web::HttpMessage;
    let mut extensions = req.extensions_mut();
    if let Some(note) = extensions.get_mut::<AuditNote>() {
        update(note);
    } else {
        let mut note = AuditNote::default();
        update(&mut note);
        extensions.insert(note);
    }
}
