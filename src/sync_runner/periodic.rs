//! The periodic reconcile of `serve` (`sync.reconcile_interval`): every interval, a run like
//! `auth-core sync`'s, unless another run (another instance's, a command's) holds the lease — then
//! this round is skipped, logged and counted, and the next one tries again.
//!
//! The first round is one interval after start, not at start: a server restarting in a loop must
//! not list Clerk each time. Each wait is the interval plus up to a tenth of it at random, so that
//! instances started together drift apart rather than contend for the lease at the same moment.
//! A server stopping mid-run drops the run between two commits: each page is applied with its
//! checkpoint in one transaction, the lock's connection closes (PostgreSQL) or the row's lease
//! goes stale within `sync::lease::LEASE_TTL_MS` (SQLite), and the next round starts afresh.

use std::time::Duration;

use super::{claim, finish, listing_client, plan, StartError, Trigger};
use crate::state::AppState;
use crate::sync::backfill::Report;

/// What one round did.
#[derive(Debug)]
pub enum Round {
    /// No interval is set, or no secret key (the settings refuse that combination).
    Off,
    /// Another run held the lease.
    Skipped,
    /// The run ended (its failures, if any, are in the report).
    Ran(Report),
    /// The run could not start, or stopped on an error.
    Error(String),
}

/// The background task: started once by the server; returns at once when the setting is off.
pub async fn run(state: AppState) {
    let Some(interval) = state.settings.sync.reconcile_interval else {
        return;
    };
    log::info!(target: "auth_core::sync", "reconciling with Clerk every {}s (first in about that long)", interval.as_secs());
    loop {
        actix_web::rt::time::sleep(with_jitter(interval, random_fraction())).await;
        round(&state).await;
    }
}

/// One round: a run to its end, or skipped while another holds the lease.
pub async fn round(state: &AppState) -> Round {
    let trigger = Trigger::Schedule;
    if state.settings.sync.reconcile_interval.is_none() {
        return Round::Off;
    }
    let Some(api) = listing_client(state) else {
        return Round::Off;
    };
    let plan = plan(&trigger, false);
    let claimed = match claim(state, &api, &plan).await.map_err(StartError::from) {
        Ok(claimed) => claimed,
        Err(busy @ StartError::Busy(_)) => {
            log::info!(target: "auth_core::sync", "periodic reconcile skipped: {busy}");
            state.metrics.record_sync_skipped(trigger.label());
            return Round::Skipped;
        }
        Err(error) => {
            log::warn!(target: "auth_core::sync", "periodic reconcile did not start: {error}");
            return Round::Error(error.to_string());
        }
    };
    match finish(state, &api, claimed, &plan, &trigger).await {
        Ok(report) => Round::Ran(report),
        Err(error) => Round::Error(error.to_string()),
    }
}

/// `interval` plus `fraction` (0 to 1) of a tenth of it.
pub fn with_jitter(interval: Duration, fraction: f64) -> Duration {
    interval + interval.mul_f64(fraction.clamp(0.0, 1.0) / 10.0)
}

/// A number from 0 to 1 from the system's random source (the middle when it has none: jitter only
/// spreads instances, it guards nothing).
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_the_interval_plus_up_to_a_tenth() {
        let hour = Duration::from_secs(3_600);
        assert_eq!(with_jitter(hour, 0.0), hour);
        assert_eq!(with_jitter(hour, 1.0), Duration::from_secs(3_960));
        assert_eq!(with_jitter(hour, 0.5), Duration::from_secs(3_780));
        assert_eq!(with_jitter(hour, 7.0), Duration::from_secs(3_960));
        assert_eq!(with_jitter(hour, -1.0), hour);
        for _ in 0..100 {
            let f = random_fraction();
            assert!((0.0..=1.0).contains(&f), "{f}");
        }
    }
}
