//! Migrations, embedded in the binary: one folder per backend (`migrations/postgres`,
//! `migrations/sqlite`), since DDL differs between them in small ways (auto-increment ids, booleans).
//! An application embedding auth-core adds its own [`MigrationSet`], applied after auth-core's under
//! the same lock ([`run_pending_with`]); both are recorded in Diesel's one migrations table, so their
//! versions must differ (checked before anything is applied).

use std::collections::BTreeSet;

use diesel::backend::Backend;
use diesel::migration::{Migration, MigrationSource, MigrationVersion};
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

/// A set of migrations, one folder per backend: auth-core's, or an embedding application's own
/// (`MigrationSet::new(&POSTGRES, &SQLITE)` with two `embed_migrations!` constants).
#[derive(Clone, Copy)]
pub struct MigrationSet {
    postgres: &'static EmbeddedMigrations,
    sqlite: &'static EmbeddedMigrations,
}

impl MigrationSet {
    pub const fn new(
        postgres: &'static EmbeddedMigrations,
        sqlite: &'static EmbeddedMigrations,
    ) -> Self {
        Self { postgres, sqlite }
    }
}

/// Borrows an embedded set as a source (Diesel implements the trait for the owned value only).
struct Source(&'static EmbeddedMigrations);

impl<DB: Backend> MigrationSource<DB> for Source {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}

/// Applies every pending migration and returns the versions applied, oldest first.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    run_pending_with(conn, &[])
}

/// Applies auth-core's pending migrations, then each of `extra` in order, all under the one lock;
/// returns the versions applied, in that order. Refuses, before applying anything, an extra version
/// that another set also has: Diesel would take it for applied and silently skip it.
pub fn run_pending_with(
    conn: &mut DbConnection,
    extra: &[MigrationSet],
) -> Result<Vec<String>, DbError> {
    let sets: Vec<MigrationSet> = std::iter::once(MigrationSet::new(&POSTGRES, &SQLITE))
        .chain(extra.iter().copied())
        .collect();
    match conn {
        DbConnection::Postgresql(pg) => {
            let sources: Vec<Source> = sets.iter().map(|s| Source(s.postgres)).collect();
            check_distinct::<diesel::pg::Pg>(&sources)?;
            with_migration_lock(pg, |pg| {
                let mut applied = Vec::new();
                for source in sources {
                    applied.extend(
                        pg.run_pending_migrations(source)
                            .map(versions)
                            .map_err(migration_error)?,
                    );
                }
                Ok(applied)
            })
        }
        DbConnection::Sqlite(sqlite) => {
            let sources: Vec<Source> = sets.iter().map(|s| Source(s.sqlite)).collect();
            check_distinct::<diesel::sqlite::Sqlite>(&sources)?;
            // One migrator at a time per file, as the advisory lock does on PostgreSQL: the write
            // lock is taken before reading what is pending, so a second process (`migrate` beside a
            // starting server) waits its busy timeout and then finds nothing left to apply, rather
            // than applying the same migration twice. Each migration's own transaction becomes a
            // savepoint inside this one.
            sqlite.immediate_transaction(|sqlite| {
                let mut applied = Vec::new();
                for source in sources {
                    applied.extend(
                        sqlite
                            .run_pending_migrations(source)
                            .map(versions)
                            .map_err(migration_error)?,
                    );
                }
                Ok::<_, DbError>(applied)
            })
        }
    }
}

fn check_distinct<DB: Backend>(sources: &[Source]) -> Result<(), DbError> {
    let mut seen = BTreeSet::new();
    for source in sources {
        for migration in MigrationSource::<DB>::migrations(source).map_err(migration_error)? {
            let version = migration.name().version().to_string();
            if !seen.insert(version.clone()) {
                return Err(DbError::Migration(format!(
                    "migration version {version} is in two migration sets: give the application's migration another timestamp"
                )));
            }
        }
    }
    Ok(())
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
