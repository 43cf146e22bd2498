//! Migrations, embedded in the binary: one folder per backend (`migrations/postgres`,
//! `migrations/sqlite`), since DDL differs between them in small ways (auto-increment ids, booleans).

use diesel::migration::MigrationVersion;
use diesel::pg::PgConnection;
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::connection::DbConnection;
use super::DbError;

pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Key of the PostgreSQL advisory lock held while migrating, so that several instances starting at
/// once apply each migration exactly once (SQLite serialises writers by itself).
const MIGRATION_LOCK_KEY: i64 = 0x6175_7468_636f_7265; // "authcore"

fn versions(list: Vec<MigrationVersion<'_>>) -> Vec<String> {
    list.into_iter().map(|v| v.to_string()).collect()
}

fn migration_error(e: impl std::fmt::Display) -> DbError {
    DbError::Migration(super::error::one_line(&e.to_string()))
}

/// Applies every pending migration and returns the versions applied, oldest first.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    match conn {
        DbConnection::Postgresql(pg) => with_migration_lock(pg, |pg| {
            pg.run_pending_migrations(POSTGRES)
                .map(versions)
                .map_err(migration_error)
        }),
        DbConnection::Sqlite(sqlite) => sqlite
            .run_pending_migrations(SQLITE)
            .map(versions)
            .map_err(migration_error),
    }
}

/// Versions not yet applied.
pub fn pending(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let names = match conn {
        DbConnection::Postgresql(pg) => pg
            .pending_migrations(POSTGRES)
            .map_err(migration_error)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
        DbConnection::Sqlite(sqlite) => sqlite
            .pending_migrations(SQLITE)
            .map_err(migration_error)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
    };
    Ok(names)
}

/// Versions applied so far.
pub fn applied(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    match conn {
        DbConnection::Postgresql(pg) => pg.applied_migrations().map(versions),
        DbConnection::Sqlite(sqlite) => sqlite.applied_migrations().map(versions),
    }
    .map_err(migration_error)
}

/// Reverts every applied migration, newest first (used by tests and by operators rolling back).
pub fn revert_all(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    match conn {
        DbConnection::Postgresql(pg) => with_migration_lock(pg, |pg| {
            pg.revert_all_migrations(POSTGRES)
                .map(versions)
                .map_err(migration_error)
        }),
        DbConnection::Sqlite(sqlite) => sqlite
            .revert_all_migrations(SQLITE)
            .map(versions)
            .map_err(migration_error),
    }
}

fn with_migration_lock<T>(
    pg: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(pg)?;
    let result = work(pg);
    let unlocked =
        diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(pg);
    let value = result?;
    unlocked?;
    Ok(value)
}
