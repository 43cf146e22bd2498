//! Follows the change feed for the life of the server: listens, hands each change to a
//! [`ChangeSink`], and when the connection is lost opens another after a jittered, capped backoff.
//!
//! Invariant: a sink's caches are trusted only while a listening connection is up and after
//! everything remembered before it was forgotten. Notifications sent while nobody listened are gone
//! (PostgreSQL keeps none for a session that is not there), so every new connection, the first one
//! included (caches filled during start-up), is followed by [`ChangeSink::forget_everything`]
//! before its first notification is read. `LISTEN` comes first, then the forgetting: a change
//! committed in between is both read fresh and announced.
//!
//! The loop is an Actix task whose blocking work (connecting, waiting, evicting) runs on the
//! blocking thread pool, never on a worker that serves requests; it ends with the server's
//! runtime, so a stopped server stops listening.

use std::sync::Arc;
use std::time::Duration;

use super::listener::Listener;
use super::status::FeedStatus;
use super::Change;
use crate::db::Db;

/// What an instance does with the changes it hears of.
pub trait ChangeSink: Send + Sync + 'static {
    /// Evicts what `change` made stale. Runs on a blocking thread.
    fn apply(&self, change: &Change);
    /// Drops every cache and reloads what cannot be dropped (revoked sessions), after a time in
    /// which changes may have been missed. Runs on a blocking thread.
    fn forget_everything(&self);
}

/// How long one blocking wait lasts before the task looks up again (a stopping runtime is noticed
/// within it).
const WAIT: Duration = Duration::from_millis(250);

/// Runs until the runtime stops.
pub async fn follow(db: Db, status: Arc<FeedStatus>, sink: Arc<dyn ChangeSink>) {
    let mut backoff = Backoff::default();
    loop {
        let connecting = db.clone();
        let mut listener = match actix_web::rt::task::spawn_blocking(move || {
            Listener::connect(&connecting)
        })
        .await
        {
            Ok(Ok(listener)) => listener,
            Ok(Err(error)) => {
                let pause = backoff.next_pause();
                log::warn!(target: "auth_core::change_feed", "cannot listen to the change feed ({error}); retrying in {} ms", pause.as_millis());
                actix_web::rt::time::sleep(pause).await;
                continue;
            }
            Err(_) => return,
        };
        let (forgetting, listening) = (sink.clone(), status.clone());
        let trusted = actix_web::rt::task::spawn_blocking(move || {
            forgetting.forget_everything();
            listening.listening();
        });
        if trusted.await.is_err() {
            return;
        }
        backoff.reset();
        log::info!(target: "auth_core::change_feed", "listening to the change feed; caches dropped");
        let error = loop {
            let (applying, counting) = (sink.clone(), status.clone());
            let waited = actix_web::rt::task::spawn_blocking(move || {
                let result = listener.wait(WAIT).map(|payloads| {
                    counting.received(payloads.len() as u64);
                    apply_batch(applying.as_ref(), payloads);
                });
                (listener, result)
            })
            .await;
            match waited {
                Ok((kept, Ok(()))) => listener = kept,
                Ok((_, Err(error))) => break error,
                Err(_) => return,
            }
        };
        status.lost();
        let pause = backoff.next_pause();
        log::warn!(target: "auth_core::change_feed", "change feed connection lost ({error}); caches follow their TTLs and polling until it is back; reconnecting in {} ms", pause.as_millis());
        actix_web::rt::time::sleep(pause).await;
    }
}

/// Applies what one wait brought. Evictions are idempotent and commute, so a burst is applied once
/// per distinct payload, and a payload this build cannot read makes one `forget_everything` stand
/// for the whole batch: a flood of changes costs each instance at most one eviction per distinct
/// change (and at most one reload of revoked sessions).
fn apply_batch(sink: &dyn ChangeSink, mut payloads: Vec<String>) {
    payloads.sort_unstable();
    payloads.dedup();
    let changes: Vec<Change> = payloads.iter().map(|p| Change::decode(p)).collect();
    if changes.contains(&Change::Unknown) {
        sink.forget_everything();
        return;
    }
    for change in &changes {
        sink.apply(change);
    }
}

/// Exponential backoff from [`Backoff::FIRST`] to [`Backoff::CAP`], each pause drawn between half
/// and all of the current step ("equal jitter"), so that instances that lost the database together
/// do not all come back in the same millisecond.
#[derive(Debug)]
struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { step: Self::FIRST }
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(10);

    fn next_pause(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(Self::CAP);
        let mut random = [0u8; 4];
        // Without randomness the pause is the whole step: still capped, only not spread.
        let fraction = match getrandom::fill(&mut random) {
            Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        step.mul_f64(0.5 + fraction / 2.0)
    }

    fn reset(&mut self) {
        self.step = Self::FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<String>>);

    impl ChangeSink for Recorder {
        fn apply(&self, change: &Change) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(change.encode());
        }
        fn forget_everything(&self) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push("everything".into());
        }
    }

    fn applied(payloads: &[&str]) -> Vec<String> {
        let sink = Recorder::default();
        apply_batch(&sink, payloads.iter().map(|p| (*p).to_owned()).collect());
        sink.0.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn a_burst_is_applied_once_per_distinct_change_and_unknown_forgets_everything_once() {
        assert_eq!(
            applied(&["user:u1", "sessions:*", "user:u1", "sessions:*", "user:u2"]),
            ["sessions:*", "user:u1", "user:u2"]
        );
        assert_eq!(
            applied(&["user:u1", "from-the-future:1", "nonsense", "user:u2"]),
            ["everything"]
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap_and_resets() {
        let mut backoff = Backoff::default();
        let mut step = Backoff::FIRST;
        for _ in 0..12 {
            let pause = backoff.next_pause();
            assert!(pause >= step / 2 && pause <= step, "{pause:?} for {step:?}");
            step = (step * 2).min(Backoff::CAP);
        }
        assert_eq!(backoff.step, Backoff::CAP);
        backoff.reset();
        assert!(backoff.next_pause() <= Backoff::FIRST);
    }
}
