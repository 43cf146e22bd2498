//! Everything that touches the database: the pool over SQLite or PostgreSQL, the schema, migrations.
//! Code elsewhere reaches it through [`Db::run`] (async handlers) or [`Db::get`] (blocking code).

pub mod admin_accounts;
pub mod admin_sessions;
pub mod advisory_lock;
pub mod assertion_keys;
pub mod audit;
pub mod audit_query;
pub mod backup;
mod batch;
pub mod change_feed;
mod connection;
pub mod console;
pub mod dashboard;
mod error;
mod jsonb;
pub mod login_attempts;
pub mod migrations;
pub mod organizations;
pub mod page;
mod pool;
pub mod reconcile;
pub mod revoked_sessions;
pub mod schema;
pub mod scoped;
pub mod secret_key;
pub mod serve_lock;
pub mod service_keys;
pub mod status_range;
pub mod sync_runs;
pub mod tenant;
pub mod users;
pub mod webhook_deliveries;

pub use connection::{DbConnection, MultiBackend};
pub use error::DbError;
pub use pool::{Backend, Db, PooledDbConnection};

/// Runs the same statement on whichever backend `conn` holds. The body is compiled once per backend
/// against the concrete connection, so statements Diesel only offers per backend (`ON CONFLICT`
/// upserts) are written once. Use it only for those: plain queries run on `DbConnection` directly.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgresql($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
