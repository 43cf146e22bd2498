//! Everything about Clerk's formats and APIs. Pure: no database, no Actix types in its core.

pub mod key_source;
