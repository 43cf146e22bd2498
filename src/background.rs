//! The background tasks that run beside the server, in one list: [`BackgroundTasks::start`] starts
//! them all on the current Actix system when the server starts, [`BackgroundTasks::stop`] writes the
//! audit events still queued and stops them when it has stopped. `auth-core serve` and an application
//! embedding auth-core (`embed::AuthCore`) both go through here, so a task added to the list runs in
//! both.
//!
//! A task is a future that runs until the process ends (each loops on its own period and logs its own
//! failures); it must not hold anything a graceful stop waits for.

use std::future::Future;

use actix_web::rt::task::JoinHandle;

use crate::state::AppState;

/// The running tasks. Dropping the handle leaves them running; [`BackgroundTasks::stop`] ends them.
pub struct BackgroundTasks {
    state: AppState,
    running: Vec<(&'static str, JoinHandle<()>)>,
}

impl BackgroundTasks {
    /// Starts every task the settings ask for. Must run inside an Actix system. The key set is
    /// prefetched in the background, so start-up never waits for (or fails on) Clerk.
    pub fn start(state: &AppState) -> Self {
        let mut tasks = Self {
            state: state.clone(),
            running: Vec::new(),
        };
        // The audit writer is the log's own task: stopping means flushing it (see `stop`).
        state.audit.start_writer(state.db.clone());
        if let Some(keys) = state.verifier.key_store().cloned() {
            tasks.spawn("jwks prefetch", async move { keys.prefetch().await });
        }
        tasks.spawn("revoked-session sync", sync_revoked_sessions(state.clone()));
        if let Some(follower) = state.change_follower() {
            tasks.spawn("change feed", follower);
        }
        if let Some(max_age) = state.settings.audit.retention {
            let (db, clock) = (state.db.clone(), state.clock.clone());
            tasks.spawn(
                "audit retention",
                crate::audit::retention::run(db, clock, max_age),
            );
        }
        if state.settings.admin.enabled {
            let (db, clock) = (state.db.clone(), state.clock.clone());
            let admin = state.settings.admin.clone();
            tasks.spawn(
                "console housekeeping",
                crate::accounts::housekeeping::run(db, clock, admin),
            );
        }
        if state.settings.sync.reconcile_interval.is_some() {
            tasks.spawn(
                "sync reconcile",
                crate::sync_runner::periodic::run(state.clone()),
            );
        }
        tasks
    }

    fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + 'static) {
        self.running.push((name, actix_web::rt::spawn(task)));
    }

    /// Names of the tasks started, in order (for the start-up log and tests).
    pub fn names(&self) -> Vec<&'static str> {
        self.running.iter().map(|(name, _)| *name).collect()
    }

    /// After the server has stopped (no request can record anything more): writes every audit event
    /// still queued, then ends the periodic tasks.
    pub async fn stop(self) {
        self.state.audit.flush().await;
        for (name, task) in self.running {
            task.abort();
            log::debug!("background task stopped: {name}");
        }
    }
}

/// Reloads revoked sessions from the database periodically, so that a webhook received by another
/// instance takes effect here within `auth.revocation_sync_secs`.
async fn sync_revoked_sessions(state: AppState) {
    // Start-up loaded them already: the first reload is one period later.
    let period = state.settings.auth.revocation_sync;
    let mut interval =
        actix_web::rt::time::interval_at(actix_web::rt::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        let reload = state.clone();
        match actix_web::rt::task::spawn_blocking(move || reload.reload_revoked_sessions()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                log::warn!(target: "auth_core::auth", "revoked sessions not reloaded: {error}")
            }
            Err(_) => return,
        }
    }
}
