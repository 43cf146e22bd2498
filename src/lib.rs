//! auth-core: Clerk authentication, tenant scoping and user sync in front of a team's backend.
//!
//! The library builds the application ([`app::build`], or [`app::mount`] to embed it in another
//! Actix App); the `auth-core` binary is the command line around it.

pub mod admin;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod clerk;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod constant_time;
pub mod db;
pub mod error;
pub mod http;
pub mod logging;
pub mod server;
pub mod settings;
pub mod sync;
