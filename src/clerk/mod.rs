//! Everything about Clerk's formats and APIs. Pure: no database, no Actix types in its core.

pub mod authorization;
pub mod backend_api;
pub mod claims;
pub mod http_client;
pub mod jwks;
pub mod jwks_fetch;
pub mod jwt;
pub mod key_source;
pub mod key_store;
pub mod listing;
pub mod machine_token;
pub mod organization;
pub mod reason;
pub mod retry;
pub mod rsa_key;
pub mod user;
pub mod webhook;
