//! Deletes what the console no longer needs: sign-in attempts older than the throttling window
//! (the audit trail keeps the record of each) and sessions past their absolute lifetime or ended
//! that long ago. Hourly, the first time an hour after start-up.

use std::time::Duration;

use crate::clock::Clock;
use crate::db::{admin_sessions, login_attempts, Db, DbError};
use crate::settings::AdminSettings;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Returns (attempts deleted, sessions deleted).
pub fn purge(db: &Db, policy: &AdminSettings, now_ms: i64) -> Result<(usize, usize), DbError> {
    let mut conn = db.get()?;
    let attempts =
        login_attempts::purge(&mut conn, now_ms.saturating_sub(ms(policy.login_window)))?;
    let sessions = admin_sessions::purge(
        &mut conn,
        now_ms.saturating_sub(ms(policy.session_lifetime)),
    )?;
    Ok((attempts, sessions))
}

pub async fn run(db: Db, clock: Clock, policy: AdminSettings) {
    let period = Duration::from_secs(3600);
    let mut interval =
        actix_web::rt::time::interval_at(actix_web::rt::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        let (db, now, policy) = (db.clone(), clock.now_ms(), policy.clone());
        match actix_web::rt::task::spawn_blocking(move || purge(&db, &policy, now)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => log::warn!("admin housekeeping failed: {error}"),
            Err(_) => return,
        }
    }
}
