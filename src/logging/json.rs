//! `log.format=json`: one object per line, `ts`, `level`, `target`, `message`, then one field per
//! key-value the record carries.
//!
//! This is a [`log::Log`] of its own rather than an env_logger format: each line is written straight
//! into the buffer that is then handed, whole, to the writer thread. env_logger's path formatted into
//! its per-thread buffer, then its `Pipe` target took a process-wide mutex and copied the line into a
//! new one for the writer; its styles and timestamp machinery ran per line too. The filter is still
//! env_logger's (the `env_filter` crate it is built on), so `log.level` and `RUST_LOG` keep their
//! syntax. Text lines stay with env_logger (their format is its format).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use log::kv::{self, Key, Value, VisitSource, VisitValue};
use log::{Log, Metadata, Record};

use super::writer::LineSender;

/// A line's usual size: an access line with its fields is about 300 bytes; one allocation each.
const LINE_CAPACITY: usize = 512;

pub struct JsonLogger {
    filter: env_filter::Filter,
    lines: LineSender,
}

impl JsonLogger {
    pub fn new(filter: env_filter::Filter, lines: LineSender) -> Self {
        Self { filter, lines }
    }

    pub fn max_level(&self) -> log::LevelFilter {
        self.filter.filter()
    }
}

impl Log for JsonLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        let mut line = Vec::with_capacity(LINE_CAPACITY);
        // Writing into a Vec fails only through a key-value's own error; the line is still sent.
        let _ = write_record(&mut line, SystemTime::now(), record);
        self.lines.send(line);
    }

    fn flush(&self) {}
}

/// One record as a JSON object and a newline.
pub fn write_record(out: &mut Vec<u8>, now: SystemTime, record: &Record<'_>) -> io::Result<()> {
    out.extend_from_slice(b"{\"ts\":\"");
    timestamp_millis(out, now);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(record.level().as_str().as_bytes());
    out.extend_from_slice(b"\",\"target\":");
    string(out, record.target())?;
    out.extend_from_slice(b",\"message\":");
    match record.args().as_str() {
        Some(message) => string(out, message)?,
        None => string(out, &record.args().to_string())?,
    }
    record
        .key_values()
        .visit(&mut Fields { out })
        .map_err(io::Error::other)?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// `now` as RFC 3339 in UTC with milliseconds (`2026-12-01T03:39:50.123Z`), as env_logger wrote it.
fn timestamp_millis(out: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    );
}

/// The proleptic Gregorian date of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // In range by construction: day 1–31, month 1–12.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// A JSON string, escaped.
fn string(out: &mut Vec<u8>, text: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, text).map_err(io::Error::from)
}

struct Fields<'a> {
    out: &'a mut Vec<u8>,
}

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        self.out.push(b',');
        string(self.out, key.as_str())?;
        self.out.push(b':');
        value.visit(FieldValue { out: self.out })
    }
}

/// A key-value's value as JSON: numbers, booleans and null as themselves, anything else as a string.
struct FieldValue<'a> {
    out: &'a mut Vec<u8>,
}

impl<'v> VisitValue<'v> for FieldValue<'_> {
    fn visit_any(&mut self, value: Value<'_>) -> Result<(), kv::Error> {
        Ok(string(self.out, &value.to_string())?)
    }

    fn visit_null(&mut self) -> Result<(), kv::Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        Ok(write!(self.out, "{value}")?)
    }

    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        Ok(write!(self.out, "{value}")?)
    }

    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        if value.is_finite() {
            Ok(write!(self.out, "{value}")?)
        } else {
            // JSON has no NaN or infinity.
            self.out.extend_from_slice(b"null");
            Ok(())
        }
    }

    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        Ok(write!(self.out, "{value}")?)
    }

    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        Ok(string(self.out, value)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_123, "2000-02-29T00:00:00.123Z"),
            (1_796_096_390_007, "2026-12-01T03:39:50.007Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
        ];
        for (ms, expected) in cases {
            let mut out = Vec::new();
            timestamp_millis(&mut out, UNIX_EPOCH + Duration::from_millis(ms));
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn a_record_is_one_json_object_with_its_fields() {
        let kvs: [(&str, Value<'_>); 4] = [
            ("path", Value::from("/a\"b\n")),
            ("status", Value::from(200u16)),
            ("duration_ms", Value::from(f64::NAN)),
            ("user", Value::null()),
        ];
        let mut out = Vec::new();
        write_record(
            &mut out,
            UNIX_EPOCH,
            &Record::builder()
                .level(log::Level::Info)
                .target("auth_core::access")
                .args(format_args!("request {}", 1))
                .key_values(&kvs)
                .build(),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"INFO\",\"target\":\"auth_core::access\",\
             \"message\":\"request 1\",\"path\":\"/a\\\"b\\n\",\"status\":200,\"duration_ms\":null,\"user\":null}\n"
        );
    }
}
