//! Everything about Clerk's formats and APIs. Pure: no database, no Actix types in its core.

pub mod claims;
pub mod jwt;
pub mod key_source;
pub mod reason;
pub mod rsa_key;
