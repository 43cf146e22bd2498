//! Actix glue for authentication: where tokens are found, the middleware that verifies them, the
//! principal handlers receive.

mod bound_organization;
pub mod failed_credentials;
mod forgettable;
pub mod machine_tokens;
pub mod principal;
pub mod revocation;
pub mod service_keys;
pub mod startup_log;
pub mod token_source;
pub mod verifier;

pub use principal::Principal;
