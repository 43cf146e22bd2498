//! The process's one [`log::Log`], the same for both formats: the filter decides (env_logger's
//! syntax, from the `env_filter` crate env_logger is built on), the record is written on the
//! logging thread into a buffer of its own, and that buffer is handed whole to the writer thread
//! (or dropped and counted when the writer has fallen behind, `writer`). Only how a record becomes
//! bytes differs: [`LineFormat`].
//!
//! env_logger, which wrote text lines until issue 19, formatted into a per-thread buffer, then its
//! `Pipe` target took a process-wide mutex, ran the line through an output adapter and copied it
//! into a new buffer for the writer; its style and timestamp machinery ran per line too.

use std::time::SystemTime;

use log::{Log, Metadata, Record};

use super::text::Style;
use super::writer::LineSender;
use super::{json, text};

/// A line's usual size: an access line is under 200 bytes as text, about 300 as JSON with its
/// fields; one allocation each.
const LINE_CAPACITY: usize = 512;

/// How a record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// One readable line (`text`).
    Text(Style),
    /// One JSON object with the record's key-values as fields (`json`).
    Json,
}

impl LineFormat {
    fn write(self, out: &mut Vec<u8>, now: SystemTime, record: &Record<'_>) -> std::io::Result<()> {
        match self {
            Self::Text(style) => text::write_record(out, now, record, style),
            Self::Json => json::write_record(out, now, record),
        }
    }
}

pub struct Logger {
    filter: env_filter::Filter,
    format: LineFormat,
    lines: LineSender,
}

impl Logger {
    pub fn new(filter: env_filter::Filter, format: LineFormat, lines: LineSender) -> Self {
        Self {
            filter,
            format,
            lines,
        }
    }

    pub fn max_level(&self) -> log::LevelFilter {
        self.filter.filter()
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        let mut line = Vec::with_capacity(LINE_CAPACITY);
        // Writing into a Vec fails only through a value's own `Display` or a key-value's error:
        // what was written is still sent, ended so that it cannot run into the next line.
        if self
            .format
            .write(&mut line, SystemTime::now(), record)
            .is_err()
            && line.last() != Some(&b'\n')
        {
            line.push(b'\n');
        }
        self.lines.send(line);
    }

    fn flush(&self) {}
}
