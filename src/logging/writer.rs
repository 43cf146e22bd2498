//! The bounded buffer between the threads that log and the one thread that writes to stderr.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::Duration;

/// Lines dropped because the buffer was full (or the writer gone), since start.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Log lines dropped since start because the writer thread was `log.buffer_lines` behind.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

enum Message {
    Line(Vec<u8>),
    /// Answered once every line queued before it is written.
    Flush(SyncSender<()>),
}

pub struct Writer {
    queue: SyncSender<Message>,
}

impl Writer {
    pub fn spawn(buffer_lines: usize) -> Self {
        let (queue, lines) = mpsc::sync_channel(buffer_lines);
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || drain(&lines));
        if let Err(error) = spawned {
            // Without the thread every line is dropped and counted; say so once, directly.
            eprintln!(
                "auth-core: cannot start the log writer thread ({error}): log lines are dropped"
            );
        }
        Self { queue }
    }

    /// What the logger hands each finished line to.
    pub fn sender(&self) -> LineSender {
        LineSender {
            queue: self.queue.clone(),
        }
    }

    pub fn flush(&self, wait: Duration) {
        let (done, written) = mpsc::sync_channel(1);
        // Blocking is right here: this runs at exit, never on a serving thread.
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = written.recv_timeout(wait);
        }
    }
}

/// Hands each line to the writer thread without waiting: a full buffer drops the line and counts it.
pub struct LineSender {
    queue: SyncSender<Message>,
}

impl LineSender {
    /// Hands over a finished line (no copy), or drops and counts it.
    pub fn send(&self, line: Vec<u8>) {
        match self.queue.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// How long the writer rests when the buffer is empty. It polls instead of blocking on the channel
/// because a blocked receiver must be woken by every line sent (a futex wake on the serving thread:
/// measured at several µs per request, most of the JSON access log's cost); a resting one is not.
/// Lines wait at most this long; 8,192 lines per 10 ms is far more than any server here logs.
const REST: Duration = Duration::from_millis(10);

fn drain(lines: &Receiver<Message>) {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stderr());
    loop {
        match lines.try_recv() {
            Ok(Message::Line(line)) => {
                // A failing stderr cannot be reported anywhere; the line is lost either way.
                let _ = out.write_all(&line);
            }
            Ok(Message::Flush(done)) => {
                let _ = out.flush();
                let _ = done.try_send(());
            }
            Err(TryRecvError::Empty) => {
                // One write per burst, not per line.
                let _ = out.flush();
                std::thread::sleep(REST);
            }
            Err(TryRecvError::Disconnected) => {
                let _ = out.flush();
                return;
            }
        }
    }
}
