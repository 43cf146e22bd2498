//! Deletes audit events older than the retention age, in small batches so the table stays usable.

use std::time::Duration;

use crate::clock::Clock;
use crate::db::{audit, Db, DbError};

const BATCH: i64 = 1_000;

/// Deletes everything older than `max_age` at `now_ms`; returns how many events went.
pub fn purge(db: &Db, now_ms: i64, max_age: Duration) -> Result<usize, DbError> {
    let cutoff = now_ms.saturating_sub(i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX));
    let mut total = 0;
    loop {
        let deleted = audit::delete_older_than(&mut *db.get()?, cutoff, BATCH)?;
        total += deleted;
        if deleted < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            return Ok(total);
        }
    }
}

/// Purges once an hour on the blocking pool, the first time an hour after start-up.
pub async fn run(db: Db, clock: Clock, max_age: Duration) {
    let period = Duration::from_secs(3600);
    let mut interval =
        actix_web::rt::time::interval_at(actix_web::rt::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        let (db, now) = (db.clone(), clock.now_ms());
        match actix_web::rt::task::spawn_blocking(move || purge(&db, now, max_age)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                log::info!(target: "auth_core::audit", "retention: {n} audit events deleted")
            }
            Ok(Err(error)) => log::warn!(target: "auth_core::audit", "retention failed: {error}"),
            Err(_) => return,
        }
    }
}
