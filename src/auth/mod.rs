//! Credentials and who they name: where tokens are found, their verifiers (session tokens, service
//! keys, Clerk's machine tokens), revoked sessions, the failed-credential budget, the [`Principal`]
//! they establish; the user cache read on every signed-in request (`user_directory`) and the user's
//! standing judged from it (`standing`); the identity headers forward auth answers with
//! (`assertion`, `identity_headers`). The middleware that runs them on a request, and the
//! extractors, are in `request`.

pub mod assertion;
mod bound_organization;
pub mod failed_credentials;
mod forgettable;
pub mod identity_headers;
pub mod machine_tokens;
pub mod principal;
pub mod revocation;
pub mod service_keys;
pub mod standing;
pub mod startup_log;
pub mod token_source;
pub mod user_directory;
pub mod verifier;

pub use principal::Principal;
