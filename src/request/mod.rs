//! What runs around every request before and after its handler, reading [`AppState`](crate::state::AppState):
//! authentication (the middleware that turns a credential into a [`Principal`](crate::auth::Principal)),
//! the audit recorder, the access log and metrics envelope, and the extractors handlers declare —
//! [`OrgScope`] and the [`Require`] guards, which share one judgement of the user's standing per
//! request (`standing`).

pub mod audit;
pub mod authenticate;
pub mod envelope;
pub mod guard;
pub mod org_scope;
pub mod standing;

pub use guard::Require;
pub use org_scope::OrgScope;
