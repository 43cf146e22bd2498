//! The audit log: a bounded in-memory queue, drained by one background writer in batches.
//!
//! Requests never wait: recording is a non-blocking send, and when the queue is full the event is
//! dropped and counted (and logged once a minute). The writer inserts batches in one multi-row
//! statement; on a database error it keeps the batch and retries with backoff, so nothing is lost
//! while the queue has room. `flush` waits until everything queued before it is written (graceful
//! shutdown calls it; tests use it instead of sleeping).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::db::audit::{self, NewAuditEvent};
use crate::db::Db;

enum Message {
    Event(Box<NewAuditEvent>),
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Clone, Copy)]
pub struct AuditConfig {
    pub queue_capacity: usize,
    pub batch_size: usize,
    /// How long a partial batch waits for more events before it is written.
    pub linger: Duration,
}

pub struct AuditLog {
    sender: mpsc::Sender<Message>,
    receiver: Mutex<Option<mpsc::Receiver<Message>>>,
    config: AuditConfig,
    dropped: AtomicU64,
    drop_logged_at: Mutex<Option<Instant>>,
}

impl AuditLog {
    pub fn new(config: AuditConfig) -> Self {
        let (sender, receiver) = mpsc::channel(config.queue_capacity.max(1));
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            config,
            dropped: AtomicU64::new(0),
            drop_logged_at: Mutex::new(None),
        }
    }

    /// Queues an event without waiting; a full queue drops it (counted).
    pub fn record(&self, event: NewAuditEvent) {
        if self
            .sender
            .try_send(Message::Event(Box::new(event)))
            .is_err()
        {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let mut logged = self
                .drop_logged_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                log::warn!(target: "auth_core::audit", "audit queue full: {dropped} events dropped so far");
                *logged = Some(Instant::now());
            }
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events waiting to be written.
    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    /// Waits until everything queued before this call has been written. Returns at once when no
    /// writer was started.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Starts the writer on the current Actix system (once; later calls do nothing).
    pub fn start_writer(&self, db: Db) {
        let receiver = self
            .receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(receiver) = receiver {
            actix_web::rt::spawn(write_loop(receiver, db, self.config));
        }
    }
}

async fn write_loop(mut receiver: mpsc::Receiver<Message>, db: Db, config: AuditConfig) {
    let mut pending: Vec<NewAuditEvent> = Vec::with_capacity(config.batch_size);
    loop {
        let message = if pending.is_empty() {
            receiver.recv().await
        } else {
            match actix_web::rt::time::timeout(config.linger, receiver.recv()).await {
                Ok(message) => message,
                Err(_) => {
                    write(&db, &mut pending).await;
                    continue;
                }
            }
        };
        match message {
            Some(Message::Event(event)) => {
                pending.push(*event);
                if pending.len() >= config.batch_size {
                    write(&db, &mut pending).await;
                }
            }
            Some(Message::Flush(done)) => {
                write(&db, &mut pending).await;
                let _ = done.send(());
            }
            None => {
                write(&db, &mut pending).await;
                return;
            }
        }
    }
}

/// Writes the batch, retrying with backoff (up to 5 s between attempts) until the database takes it.
async fn write(db: &Db, pending: &mut Vec<NewAuditEvent>) {
    let mut wait = Duration::from_millis(100);
    let mut failures = 0u32;
    while !pending.is_empty() {
        let batch = pending.clone();
        match db.run(move |conn| audit::insert_batch(conn, &batch)).await {
            Ok(_) => {
                if failures > 0 {
                    log::info!(target: "auth_core::audit", "audit events written again after {failures} failed attempts");
                }
                pending.clear();
            }
            Err(error) => {
                if failures == 0 {
                    log::warn!(target: "auth_core::audit", "audit events not written ({error}); retrying, {} kept", pending.len());
                }
                failures += 1;
                actix_web::rt::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
