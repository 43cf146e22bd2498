//! Everything that touches the database: the pool over SQLite or PostgreSQL, the schema, migrations.
//! Code elsewhere reaches it through [`Db::run`] (async handlers) or [`Db::get`] (blocking code).

mod connection;
mod error;
pub mod migrations;
mod pool;
pub mod schema;

pub use connection::DbConnection;
pub use error::DbError;
pub use pool::{Backend, Db, PooledDbConnection};
