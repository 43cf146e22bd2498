//! Actix glue for authentication: where tokens are found, the middleware that verifies them, the
//! principal handlers receive.

pub mod middleware;
pub mod principal;
pub mod revocation;
pub mod token_source;
pub mod verifier;

pub use principal::Principal;
