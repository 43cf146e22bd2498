//! Runs of `auth-core sync`, each row its own checkpoint and, on SQLite, its lease (a running run
//! whose `updated_at` is recent: see `sync::lease`). What `progress` holds is the sync module's
//! business (JSON text); this module only stores it.

use diesel::prelude::*;

use super::page::{Cursor, Page};
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
    /// A dry run recorded from the console: never holds the lease, never resumed.
    pub dry_run: bool,
}

/// A run started (or taken up again), or refused because another holds the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Started(i64),
    Held(Box<SyncRunRow>),
}

/// Why a claiming transaction ended without committing.
enum NotClaimed {
    Held(Box<SyncRunRow>),
    Db(DbError),
}

impl From<diesel::result::Error> for NotClaimed {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error.into())
    }
}

impl From<DbError> for NotClaimed {
    fn from(error: DbError) -> Self {
        Self::Db(error)
    }
}

/// Runs `claim` in a transaction that is rolled back when it finds the lease held.
fn claiming(
    conn: &mut DbConnection,
    claim: impl FnOnce(&mut DbConnection) -> Result<i64, NotClaimed>,
) -> Result<Claim, DbError> {
    match conn.transaction(claim) {
        Ok(id) => Ok(Claim::Started(id)),
        Err(NotClaimed::Held(holder)) => Ok(Claim::Held(holder)),
        Err(NotClaimed::Db(error)) => Err(error),
    }
}

/// Records a new running run. With `lease_fresh_since` (SQLite, where a running run's row is its
/// lease), only when no other running run was updated since then: the insert comes first, so the
/// transaction holds SQLite's write lock before it looks, and of two runs starting at once the
/// second sees the first.
pub fn start(
    conn: &mut DbConnection,
    started_by: &str,
    kinds: &str,
    progress: &str,
    now_ms: i64,
    lease_fresh_since: Option<i64>,
) -> Result<Claim, DbError> {
    let row = (
        sync_runs::started_at.eq(now_ms),
        sync_runs::updated_at.eq(now_ms),
        sync_runs::status.eq(RunStatus::Running.as_str()),
        sync_runs::started_by.eq(started_by),
        sync_runs::kinds.eq(kinds),
        sync_runs::progress.eq(progress),
    );
    claiming(conn, |conn| {
        let id = diesel::insert_into(sync_runs::table)
            .values(row)
            .returning(sync_runs::id)
            .get_result(conn)?;
        refuse_if_held(conn, lease_fresh_since, id, false)?;
        Ok(id)
    })
}

/// Records a new running dry run (from the console), unless another dry run updated since
/// `fresh_since` is running: one dry run at a time on a database, so repeated clicks cannot pile up
/// listings of Clerk. Real runs neither hold this off nor are held off by it. On PostgreSQL (read
/// committed) two starts in the same instant can both pass: this bounds piling up, it is not a lock
/// (real runs have one).
pub fn start_dry(
    conn: &mut DbConnection,
    started_by: &str,
    kinds: &str,
    progress: &str,
    now_ms: i64,
    fresh_since: i64,
) -> Result<Claim, DbError> {
    let row = (
        sync_runs::started_at.eq(now_ms),
        sync_runs::updated_at.eq(now_ms),
        sync_runs::status.eq(RunStatus::Running.as_str()),
        sync_runs::started_by.eq(started_by),
        sync_runs::kinds.eq(kinds),
        sync_runs::progress.eq(progress),
        sync_runs::dry_run.eq(true),
    );
    claiming(conn, |conn| {
        let id = diesel::insert_into(sync_runs::table)
            .values(row)
            .returning(sync_runs::id)
            .get_result(conn)?;
        refuse_if_held(conn, Some(fresh_since), id, true)?;
        Ok(id)
    })
}

/// Fails the claim of run `id` when another running run (dry or real, as `dry_run`) was updated
/// since `fresh_since`.
fn refuse_if_held(
    conn: &mut DbConnection,
    fresh_since: Option<i64>,
    id: i64,
    dry_run: bool,
) -> Result<(), NotClaimed> {
    let Some(fresh_since) = fresh_since else {
        return Ok(());
    };
    let holder = sync_runs::table
        .filter(sync_runs::status.eq(RunStatus::Running.as_str()))
        .filter(sync_runs::dry_run.eq(dry_run))
        .filter(sync_runs::updated_at.ge(fresh_since))
        .filter(sync_runs::id.ne(id))
        .order(sync_runs::id.desc())
        .select(SyncRunRow::as_select())
        .first(conn)
        .optional()?;
    match holder {
        Some(holder) => Err(NotClaimed::Held(Box::new(holder))),
        None => Ok(()),
    }
}

/// Marks that the running run `id` is alive (its lease, on SQLite). The first statement of each of
/// its transactions: a write first takes SQLite's write lock before anything is read, so no other
/// writer can commit between the transaction's reads and its writes (which SQLite would refuse).
pub fn touch(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<(), DbError> {
    diesel::update(sync_runs::table.find(id))
        .set(sync_runs::updated_at.eq(now_ms))
        .execute(conn)?;
    Ok(())
}

/// The newest running run (who holds the PostgreSQL advisory lock, for the message of a run it
/// refuses), if any is recorded.
pub fn newest_running(conn: &mut DbConnection) -> Result<Option<SyncRunRow>, DbError> {
    sync_runs::table
        .filter(sync_runs::status.eq(RunStatus::Running.as_str()))
        .filter(sync_runs::dry_run.eq(false))
        .order(sync_runs::id.desc())
        .select(SyncRunRow::as_select())
        .first(conn)
        .optional()
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

/// Ends a run that stopped on an error before it could record its end: failed (resumable from its
/// last checkpoint), so its row no longer holds the lease.
pub fn abandon(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<(), DbError> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::status.eq(RunStatus::Failed.as_str()),
            sync_runs::updated_at.eq(now_ms),
            sync_runs::finished_at.eq(Some(now_ms)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes a run up again (`--resume`): running, not finished. With `lease_fresh_since` (SQLite), only
/// when no running run, this one included (its process may still be at work), was updated since
/// then.
pub fn reopen(
    conn: &mut DbConnection,
    id: i64,
    now_ms: i64,
    lease_fresh_since: Option<i64>,
) -> Result<Claim, DbError> {
    let fresh_since = lease_fresh_since.unwrap_or(i64::MAX);
    claiming(conn, |conn| {
        let reopened = diesel::update(
            sync_runs::table.find(id).filter(
                sync_runs::status
                    .ne(RunStatus::Running.as_str())
                    .or(sync_runs::updated_at.lt(fresh_since)),
            ),
        )
        .set((
            sync_runs::status.eq(RunStatus::Running.as_str()),
            sync_runs::updated_at.eq(now_ms),
            sync_runs::finished_at.eq(None::<i64>),
        ))
        .execute(conn)?;
        if reopened == 0 {
            if let Some(itself) = find(conn, id)? {
                return Err(NotClaimed::Held(Box::new(itself)));
            }
        }
        refuse_if_held(conn, lease_fresh_since, id, false)?;
        Ok(id)
    })
}

/// The newest run that did not complete (it failed, or its process stopped while running).
pub fn latest_unfinished(conn: &mut DbConnection) -> Result<Option<SyncRunRow>, DbError> {
    let latest = sync_runs::table
        .filter(sync_runs::dry_run.eq(false))
        .order(sync_runs::id.desc())
        .select(SyncRunRow::as_select())
        .first(conn)
        .optional()?;
    Ok(latest.filter(|run| run.status != RunStatus::Completed.as_str()))
}

/// A page of runs for the console, newest first, after the run `before` (an id: ids grow with
/// each run, so they order runs by their start).
pub fn list(
    conn: &mut DbConnection,
    before: Option<&Cursor<i64>>,
    size: i64,
) -> Result<Page<SyncRunRow>, DbError> {
    let mut query = sync_runs::table
        .select(SyncRunRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(sync_runs::id.lt(*before.key()));
    }
    Page::load(conn, query.order(sync_runs::id.desc()), size)
}

pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<SyncRunRow>, DbError> {
    sync_runs::table
        .find(id)
        .select(SyncRunRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)
}
