//! Runs of `auth-core sync`, each row its own checkpoint. What `progress` holds is the sync module's
//! business (JSON text); this module only stores it.

use diesel::prelude::*;

use super::schema::sync_runs;
use super::{DbConnection, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sync_runs)]
pub struct SyncRunRow {
    pub id: i64,
    pub started_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub status: String,
    pub started_by: String,
    pub kinds: String,
    pub progress: String,
}

/// Records a new running run; returns its id.
pub fn start(
    conn: &mut DbConnection,
    started_by: &str,
    kinds: &str,
    progress: &str,
    now_ms: i64,
) -> Result<i64, DbError> {
    let row = (
        sync_runs::started_at.eq(now_ms),
        sync_runs::updated_at.eq(now_ms),
        sync_runs::status.eq(RunStatus::Running.as_str()),
        sync_runs::started_by.eq(started_by),
        sync_runs::kinds.eq(kinds),
        sync_runs::progress.eq(progress),
    );
    conn.transaction(|conn| match conn {
        DbConnection::Postgresql(c) => diesel::insert_into(sync_runs::table)
            .values(row)
            .returning(sync_runs::id)
            .get_result(c),
        // Diesel's RETURNING for SQLite needs a feature this build leaves off; the rowid of this
        // connection's last insert is the same thing, inside the transaction.
        DbConnection::Sqlite(c) => {
            diesel::insert_into(sync_runs::table)
                .values(row)
                .execute(c)?;
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "last_insert_rowid()",
            ))
            .get_result(c)
        }
    })
    .map_err(DbError::from)
}

/// Stores the run's progress (called in the transaction of the page it describes).
pub fn save_progress(
    conn: &mut DbConnection,
    id: i64,
    progress: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::progress.eq(progress),
            sync_runs::updated_at.eq(now_ms),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends a run (completed or failed) with its final progress; a failed run can be resumed.
pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    status: RunStatus,
    progress: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::status.eq(status.as_str()),
            sync_runs::progress.eq(progress),
            sync_runs::updated_at.eq(now_ms),
            sync_runs::finished_at.eq(Some(now_ms)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes a run up again (`--resume`): running, not finished.
pub fn reopen(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<(), DbError> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::status.eq(RunStatus::Running.as_str()),
            sync_runs::updated_at.eq(now_ms),
            sync_runs::finished_at.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}

/// The newest run that did not complete (it failed, or its process stopped while running).
pub fn latest_unfinished(conn: &mut DbConnection) -> Result<Option<SyncRunRow>, DbError> {
    let latest = sync_runs::table
        .order(sync_runs::id.desc())
        .select(SyncRunRow::as_select())
        .first(conn)
        .optional()?;
    Ok(latest.filter(|run| run.status != RunStatus::Completed.as_str()))
}

pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<SyncRunRow>, DbError> {
    sync_runs::table
        .find(id)
        .select(SyncRunRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)
}
