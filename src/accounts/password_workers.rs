//! Where the console's argon2 work runs: a few dedicated threads fed by a short bounded queue.
//!
//! One argon2id hash holds 19 MiB for tens of milliseconds. Run on the blocking pool (`web::block`,
//! `Db::run`), a burst of sign-ins would hash in hundreds of threads at once, taking gigabytes and
//! every blocking thread the database work, webhooks and the audit writer need. Here:
//! - at most `threads` hashes run at a time, so argon2 holds at most `threads` × 19 MiB;
//! - at most [`QUEUED_PER_THREAD`] × `threads` jobs wait; one more is refused at once with
//!   [`Busy`] (the console answers 503 with `Retry-After`), so a waiting sign-in waits briefly;
//! - a job whose caller has gone (the browser hung up) is skipped rather than hashed;
//! - the threads end when the last handle is dropped.

use std::future::Future;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Jobs that may wait per thread: with argon2's tens of milliseconds per job, a queued sign-in
/// starts within a fraction of a second.
pub const QUEUED_PER_THREAD: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

/// The queue is full: every thread is hashing and enough jobs wait already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is busy")]
pub struct Busy;

#[derive(Debug, thiserror::Error)]
pub enum PasswordWorkError {
    #[error("{0}")]
    Busy(#[from] Busy),
    /// The job did not report back: its thread panicked or no thread is left to take it.
    #[error("password hashing failed")]
    Lost,
}

pub struct PasswordWorkers {
    jobs: SyncSender<Job>,
}

impl PasswordWorkers {
    /// Starts `threads` threads (at least one).
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads * QUEUED_PER_THREAD);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || work(&queue))?;
        }
        Ok(Self { jobs })
    }

    /// Queues `job` for a password thread at once (not at the first poll) and returns its
    /// result; refused with [`Busy`] when the queue is full.
    pub fn run<T, F>(&self, job: F) -> impl Future<Output = Result<T, PasswordWorkError>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let wrapped: Job = Box::new(move || {
            if !done.is_closed() {
                let _ = done.send(job());
            }
        });
        let queued = match self.jobs.try_send(wrapped) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(PasswordWorkError::Busy(Busy)),
            Err(TrySendError::Disconnected(_)) => Err(PasswordWorkError::Lost),
        };
        async move {
            queued?;
            result.await.map_err(|_| PasswordWorkError::Lost)
        }
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while taking a job, never while running one.
        let next = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match next {
            // A panicking job (argon2 does not panic on any input, but a bug might) must not take
            // the thread with it: the caller sees `Lost`, the thread takes the next job.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[actix_web::test]
    async fn jobs_run_on_their_threads_and_a_full_queue_is_refused() {
        let workers = PasswordWorkers::start(1).unwrap();
        assert_eq!(workers.run(|| 6 * 7).await.unwrap(), 42);

        // Hold the only thread, fill the queue, then one more is refused at once.
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let holding = workers.run(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            "held"
        });
        started.recv().unwrap();
        let queued: Vec<_> = (0..QUEUED_PER_THREAD)
            .map(|n| workers.run(move || n))
            .collect();
        assert!(matches!(
            workers.run(|| 0).await,
            Err(PasswordWorkError::Busy(Busy))
        ));
        release.send(()).unwrap();
        assert_eq!(holding.await.unwrap(), "held");
        for (n, job) in queued.into_iter().enumerate() {
            assert_eq!(job.await.unwrap(), n);
        }
    }

    #[actix_web::test]
    async fn a_job_whose_caller_left_is_skipped() {
        let workers = PasswordWorkers::start(1).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let holding = workers.run(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        started.recv().unwrap();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        drop(workers.run(move || flag.store(true, std::sync::atomic::Ordering::SeqCst)));
        release.send(()).unwrap();
        holding.await.unwrap();
        // Jobs run in order on the one thread: this one runs after the dropped one was taken.
        workers.run(|| ()).await.unwrap();
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[actix_web::test]
    async fn a_panicking_job_is_lost_and_the_thread_goes_on() {
        let workers = PasswordWorkers::start(1).unwrap();
        let lost = workers.run(|| -> u8 { panic!("a bug") }).await;
        assert!(matches!(lost, Err(PasswordWorkError::Lost)));
        assert_eq!(workers.run(|| 1).await.unwrap(), 1);
    }
}
