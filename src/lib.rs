//! auth-core: Clerk authentication, tenant scoping and user sync in front of a team's backend.
//!
//! The library runs the application through one builder, [`embed::AuthCore`]: the `auth-core`
//! binary is the command line around it, and a team's backend uses it to add routes of its own
//! behind auth-core's middleware (`use auth_core::prelude::*;`, see `docs/embedding.md`).
//! `ARCHITECTURE.md` at the repository's root follows one request through these modules.
//!
//! # Layers
//!
//! Each line may use the lines below it and never one above; modules on one line do not use each
//! other. `tests/layering.rs` reads this list and checks every `crate::` path in `src/` against it.
//!
//! - `main.rs`: the binary: reads the settings, starts logging, hands over to `cli`.
//! - `cli`: the command line, one module per command.
//! - `prelude`: the names a team's backend imports (re-exports only).
//! - `embed`: `AuthCore`, the builder both `auth-core serve` and a team's backend run: routes,
//!   migrations, server, background tasks, graceful stop.
//! - `server`, `background`: binds the HTTP server and stops it on signals · the one list of
//!   background tasks, started with the server and stopped (audit trail flushed) after it.
//! - `app`: the router: mounts the routes on an `AppState` and wraps them in the middleware stack.
//! - `api`, `admin`: handlers — the JSON API and the server-rendered console (which never calls `api`).
//! - `request`: what runs around every handler: authentication, the audit recorder, the access log
//!   and metrics envelope, and the extractors (`OrgScope`, `Require`).
//! - `sync_runner`: the server's own sync runs (the periodic reconcile, runs started from the
//!   console), carried out by `sync` on an `AppState`.
//! - `state`: `AppState`, what handlers and middleware reach, and its preparation from the settings.
//! - `accounts`, `auth`, `audit`, `sync`: the domain — administrator accounts of the console;
//!   credentials (session tokens, service keys, machine tokens, `Principal`); the audit trail;
//!   applying Clerk's data (webhooks, just-in-time users, backfill).
//! - `http`: HTTP pieces that know no state: the API's error type, request ids, security headers,
//!   CORS, the metrics registry.
//! - `logging`: where log lines go (text or JSON, off the request path).
//! - `db`: the pool over SQLite or PostgreSQL, schema, queries, migrations.
//! - `settings`: typed settings from files and the environment.
//! - `clerk`: Clerk's formats and APIs — keys, token rules and reason codes, webhook signatures, the
//!   Backend API client. It takes plain values: no database, no settings.
//! - `secret`, `clock`, `constant_time`, `client_ip`, `bounds`: small pieces everything may use.

pub mod accounts;
pub mod admin;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod background;
pub mod bounds;
pub mod clerk;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod constant_time;
pub mod db;
pub mod embed;
pub mod http;
pub mod logging;
pub mod prelude;
pub mod request;
pub mod secret;
pub mod server;
pub mod settings;
pub mod state;
pub mod sync;
pub mod sync_runner;

pub use embed::AuthCore;
