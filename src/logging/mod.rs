//! Where log lines go. `log` stays the facade; one logger of auth-core's own ([`logger`]) filters
//! each record (env_logger's filter syntax) and writes it, on the thread that logs it, into a line
//! of its own — text ([`text`], the format env_logger gave it) or JSON ([`json`]) — which is
//! handed to a bounded buffer that one writer thread drains to stderr. A serving thread never
//! waits for stderr: when the writer has fallen `buffer_lines` behind (a slow terminal, a blocked
//! pipe, a log shipper that stopped reading), further lines are dropped and counted
//! ([`dropped_lines`], exported as `auth_core_log_dropped_lines_total`).
//!
//! With `log.format=json` each line is one JSON object; the key-values a record carries (the access
//! log's `request_id`, `method`, `path`, …) become fields of that object rather than text in its
//! `message` ([`json`]).

pub mod fields;
mod json;
mod logger;
mod text;
mod timestamp;
mod writer;

use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use logger::{LineFormat, Logger};
use text::Style;

pub use writer::dropped_lines;

/// Set once at start-up: whether lines are JSON objects (fields) or text (one readable message).
static STRUCTURED: AtomicBool = AtomicBool::new(false);

/// The running writer, for [`flush`] at exit.
static WRITER: OnceLock<writer::Writer> = OnceLock::new();

/// How long [`flush`] waits for the writer to reach the lines logged before it.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Whether log lines carry their details as JSON fields (`log.format=json`) rather than in the
/// message text. Callers that log key-values use it to keep the message short in that case.
pub fn structured() -> bool {
    STRUCTURED.load(Ordering::Relaxed)
}

/// Installs the process's logger: `filter` in env_logger's syntax (`RUST_LOG`, when set and not
/// empty, replaces it), JSON or text lines, at most `buffer_lines` lines waiting for the writer.
/// A second call does nothing (the `log` facade takes one logger per process).
pub fn init(filter: &str, json: bool, buffer_lines: usize) {
    let writer = WRITER.get_or_init(|| writer::Writer::spawn(buffer_lines));
    let spec = match std::env::var("RUST_LOG") {
        Ok(from_env) if !from_env.trim().is_empty() => from_env,
        _ => filter.to_owned(),
    };
    let format = if json {
        LineFormat::Json
    } else if std::io::stderr().is_terminal() {
        // Coloured on a terminal, as env_logger wrote it there.
        LineFormat::Text(Style::Coloured)
    } else {
        LineFormat::Text(Style::Plain)
    };
    let logger = Logger::new(
        env_filter::Builder::new().parse(&spec).build(),
        format,
        writer.sender(),
    );
    let max_level = logger.max_level();
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max_level);
        STRUCTURED.store(json, Ordering::Relaxed);
    }
}

/// Waits (at most two seconds) until every line logged so far has been written: at exit, so that
/// the last lines are not lost with the writer thread.
pub fn flush() {
    if let Some(writer) = WRITER.get() {
        writer.flush(FLUSH_WAIT);
    }
    let _ = std::io::stderr().flush();
}
