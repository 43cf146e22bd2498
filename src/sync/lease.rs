//! One sync run at a time on a database: two runs writing at once would each apply rows correctly,
//! but their checkpoints, counts and reconcile cut-offs would overlap.
//!
//! - PostgreSQL: a session advisory lock ([`ADVISORY_LOCK_KEY`]) taken on a connection of the run's
//!   own, outside the pool, and held until the run ends; a killed process's connection closes and
//!   the lock with it.
//! - SQLite has no advisory locks: a running run's row in `sync_runs` is its lease while its
//!   `updated_at` is younger than [`LEASE_TTL_MS`]. The run rewrites it with each page and every
//!   [`KEEP_ALIVE`] while it waits (a `Retry-After`), so a run whose process was killed stops
//!   holding it after at most [`LEASE_TTL_MS`].
//!
//! A dry run writes nothing and takes no lease.

use std::convert::Infallible;
use std::time::Duration;

use crate::clock::Clock;
use crate::db::sync_runs;
use crate::db::{advisory_lock, Backend, Db, DbConnection, DbError};

use super::backfill::SyncError;

/// The PostgreSQL advisory lock of sync runs: "authsync" in ASCII, a key no other code of this
/// database takes.
pub const ADVISORY_LOCK_KEY: i64 = 0x6175_7468_7379_6e63;

/// How long a running run's row holds the SQLite lease after its last update.
pub const LEASE_TTL_MS: i64 = 120_000;

/// How often a run rewrites its row while nothing else does: well inside [`LEASE_TTL_MS`].
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// The lease of one run, held until [`Lease::release`] (or until it is dropped).
pub struct Lease {
    /// PostgreSQL: the connection holding the advisory lock.
    lock_connection: Option<DbConnection>,
}

impl Lease {
    /// Takes the lease where a lock does it (PostgreSQL); on SQLite the run's row takes it when the
    /// run is recorded (see [`Lease::row_fresh_since`]).
    pub async fn take(db: &Db) -> Result<Lease, SyncError> {
        if db.backend() == Backend::Sqlite {
            return Ok(Lease {
                lock_connection: None,
            });
        }
        let for_lock = db.clone();
        let lock_connection = actix_web::rt::task::spawn_blocking(move || {
            let mut conn = for_lock.connect_alone()?;
            let taken = advisory_lock::try_lock(&mut conn, ADVISORY_LOCK_KEY)?;
            Ok::<_, DbError>(taken.map(|taken| (taken, conn)))
        })
        .await
        .map_err(|_| DbError::Cancelled)??;
        match lock_connection {
            None => Ok(Lease {
                lock_connection: None,
            }),
            Some((true, conn)) => Ok(Lease {
                lock_connection: Some(conn),
            }),
            Some((false, _)) => {
                // The holder records its run right after taking the lock: it may not have yet.
                let holder = db.run(sync_runs::newest_running).await?;
                Err(SyncError::Busy(holder.map(Box::new)))
            }
        }
    }

    /// On SQLite, since when another running run's row must not have been updated for this run to
    /// start (`None` on PostgreSQL, where the lock already decided).
    pub fn row_fresh_since(&self, now_ms: i64) -> Option<i64> {
        self.lock_connection
            .is_none()
            .then(|| now_ms.saturating_sub(LEASE_TTL_MS))
    }

    /// Ends the lease: closes the lock's connection (PostgreSQL), which releases the lock. On SQLite
    /// the run's row stops holding it when the run is recorded as ended.
    pub async fn release(self) {
        if let Some(conn) = self.lock_connection {
            // Closing a connection says goodbye to the server: not on the async thread.
            let _ = actix_web::rt::task::spawn_blocking(move || drop(conn)).await;
        }
    }
}

/// Rewrites run `id`'s row every [`KEEP_ALIVE`], for as long as it is polled (the run's lease on
/// SQLite, its sign of life on both). A failed rewrite is logged; the next one may succeed.
pub async fn keep_alive(db: &Db, clock: &Clock, id: i64) -> Infallible {
    loop {
        actix_web::rt::time::sleep(KEEP_ALIVE).await;
        let now = clock.now_ms();
        if let Err(error) = db.run(move |conn| sync_runs::touch(conn, id, now)).await {
            log::warn!(target: "auth_core::sync", "sync run {id}: cannot renew its lease: {error}");
        }
    }
}
