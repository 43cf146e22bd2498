//! The audit log: a bounded in-memory buffer, drained by one background writer in batches.
//!
//! Requests never wait and never wake anyone: recording encodes the event straight into the batch
//! being filled, under a short lock (a cross-thread wake-up per request would cost more than the
//! request itself, and so did an owned copy of every field: allocated by the request's thread,
//! freed by the writer's); when the buffer is full the event is dropped and counted (logged once a
//! minute). The writer wakes every `linger`, takes the oldest batch (at most `batch_size` events)
//! and inserts it in one statement; while the database is unavailable it keeps the batch and
//! retries with backoff, so nothing is lost while the buffer has room (memory holds at most
//! `queue_capacity + batch_size` events); a batch the database refuses for another reason is split
//! so that one event never holds back the rest (see [`batch_writer`](super::batch_writer)).
//! `flush` wakes the writer and waits until everything recorded before it is written (graceful
//! shutdown calls it; tests use it instead of sleeping).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::batch_writer::{self, Refusals};
use super::limits;
use super::log_throttle::LogThrottle;
use crate::db::audit::{AuditEventRef, BatchFormat, EncodedBatch, SealedBatch};
use crate::db::Db;

#[derive(Debug, Clone, Copy)]
pub struct AuditConfig {
    pub queue_capacity: usize,
    pub batch_size: usize,
    /// How often the writer looks for events.
    pub linger: Duration,
}

/// Events waiting for the writer, as encoded batches (oldest first; only the last one is filled).
struct Pending {
    batches: VecDeque<EncodedBatch>,
    events: usize,
    /// The buffer of the last batch written, reused by the next batch.
    spare: Option<Vec<u8>>,
}

pub struct AuditLog {
    pending: Mutex<Pending>,
    format: BatchFormat,
    config: AuditConfig,
    dropped: AtomicU64,
    drop_logged: LogThrottle,
    refusals: Refusals,
    flushes: mpsc::Sender<oneshot::Sender<()>>,
    flush_receiver: Mutex<Option<mpsc::Receiver<oneshot::Sender<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AuditLog {
    /// `format` is the encoding the writer's database reads ([`BatchFormat::for_backend`]).
    pub fn new(config: AuditConfig, format: BatchFormat) -> Self {
        let (flushes, flush_receiver) = mpsc::channel(64);
        Self {
            pending: Mutex::new(Pending {
                batches: VecDeque::new(),
                events: 0,
                spare: None,
            }),
            format,
            config,
            dropped: AtomicU64::new(0),
            drop_logged: LogThrottle::default(),
            refusals: Refusals::default(),
            flushes,
            flush_receiver: Mutex::new(Some(flush_receiver)),
        }
    }

    /// Buffers an event without waiting, its fields cut to their bounds ([`limits`]); a full
    /// buffer drops it (counted).
    pub fn record(&self, event: &AuditEventRef<'_>) {
        if limits::fits(event) {
            self.enqueue(event);
        } else {
            // Rare (a huge path or header, a NUL): the cut copy is made before taking the lock.
            self.enqueue(&limits::bounded(event).as_ref());
        }
    }

    fn enqueue(&self, event: &AuditEventRef<'_>) {
        {
            let mut pending = lock(&self.pending);
            if pending.events < self.config.queue_capacity {
                let pending = &mut *pending;
                let full = |b: &EncodedBatch| b.len() >= self.config.batch_size;
                if pending.batches.back().is_none_or(full) {
                    let buffer = pending.spare.take().unwrap_or_default();
                    pending
                        .batches
                        .push_back(EncodedBatch::new(self.format, buffer));
                }
                if let Some(batch) = pending.batches.back_mut() {
                    batch.push(event);
                    pending.events += 1;
                    return;
                }
            }
        }
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if self.drop_logged.ready() {
            log::warn!(target: "auth_core::audit", "audit queue full: {dropped} events dropped so far");
        }
    }

    /// Events dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events the database refused as recorded and that were written in a reduced form.
    pub fn reduced(&self) -> u64 {
        self.refusals.reduced()
    }

    /// Events the database refused even in the reduced form: not written.
    pub fn rejected(&self) -> u64 {
        self.refusals.rejected()
    }

    /// Events waiting to be written.
    pub fn depth(&self) -> usize {
        lock(&self.pending).events
    }

    /// Waits until everything recorded before this call has been written. Returns at once when no
    /// writer was started.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Starts the writer on the current Actix system (once; later calls do nothing).
    pub fn start_writer(self: &Arc<Self>, db: Db) {
        if let Some(flushes) = lock(&self.flush_receiver).take() {
            actix_web::rt::spawn(write_loop(self.clone(), flushes, db));
        }
    }

    /// Takes the oldest batch from the buffer.
    fn take_batch(&self) -> Option<SealedBatch> {
        let mut pending = lock(&self.pending);
        let batch = pending.batches.pop_front()?;
        pending.events -= batch.len();
        drop(pending);
        Some(batch.seal())
    }

    /// Keeps a written batch's buffer for the next batch.
    fn recycle(&self, buffer: Vec<u8>) {
        lock(&self.pending).spare = Some(buffer);
    }
}

async fn write_loop(log: Arc<AuditLog>, mut flushes: mpsc::Receiver<oneshot::Sender<()>>, db: Db) {
    let mut tick = actix_web::rt::time::interval(log.config.linger);
    loop {
        let waiter = tokio::select! {
            _ = tick.tick() => None,
            waiter = flushes.recv() => match waiter {
                Some(waiter) => Some(waiter),
                // The log itself is gone: write what is left and stop.
                None => {
                    drain(&log, &db).await;
                    return;
                }
            },
        };
        drain(&log, &db).await;
        if let Some(waiter) = waiter {
            let _ = waiter.send(());
        }
    }
}

/// Writes batches until the buffer is empty.
async fn drain(log: &AuditLog, db: &Db) {
    while let Some(batch) = log.take_batch() {
        if let Some(buffer) = batch_writer::write(db, batch, &log.refusals).await {
            log.recycle(buffer);
        }
    }
}
