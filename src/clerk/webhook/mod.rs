//! Clerk webhooks: Svix signatures over the raw body, and the typed events auth-core applies.

pub mod event;
pub mod signature;
