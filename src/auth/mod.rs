//! Credentials: where tokens are found, their verifiers (session tokens, service keys, machine
//! tokens), revoked sessions, the failed-credential budget, and the principal handlers receive. The
//! middleware that runs them on a request is `request::authenticate`.

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
