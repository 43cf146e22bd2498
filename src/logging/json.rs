//! `log.format=json`: one object per line, `ts`, `level`, `target`, `message`, then one field per
//! key-value the record carries. Written straight into env_logger's per-thread buffer (no
//! intermediate `serde_json::Value`): this runs for every access-log line.

use std::io::{self, Write};

use env_logger::fmt::Formatter;
use log::kv::{self, Key, Value, VisitSource, VisitValue};
use log::Record;

pub fn format(buf: &mut Formatter, record: &Record<'_>) -> io::Result<()> {
    let ts = buf.timestamp_millis();
    write!(
        buf,
        "{{\"ts\":\"{ts}\",\"level\":\"{}\",\"target\":",
        record.level()
    )?;
    string(buf, record.target())?;
    buf.write_all(b",\"message\":")?;
    match record.args().as_str() {
        Some(message) => string(buf, message)?,
        None => string(buf, &record.args().to_string())?,
    }
    record
        .key_values()
        .visit(&mut Fields { buf })
        .map_err(io::Error::other)?;
    buf.write_all(b"}\n")
}

/// A JSON string, escaped.
fn string(buf: &mut Formatter, text: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *buf, text).map_err(io::Error::from)
}

struct Fields<'a> {
    buf: &'a mut Formatter,
}

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        self.buf.write_all(b",")?;
        string(self.buf, key.as_str())?;
        self.buf.write_all(b":")?;
        value.visit(FieldValue { buf: self.buf })
    }
}

/// A key-value's value as JSON: numbers, booleans and null as themselves, anything else as a string.
struct FieldValue<'a> {
    buf: &'a mut Formatter,
}

impl<'v> VisitValue<'v> for FieldValue<'_> {
    fn visit_any(&mut self, value: Value<'_>) -> Result<(), kv::Error> {
        Ok(string(self.buf, &value.to_string())?)
    }

    fn visit_null(&mut self) -> Result<(), kv::Error> {
        Ok(self.buf.write_all(b"null")?)
    }

    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        Ok(write!(self.buf, "{value}")?)
    }

    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        Ok(write!(self.buf, "{value}")?)
    }

    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        if value.is_finite() {
            Ok(write!(self.buf, "{value}")?)
        } else {
            // JSON has no NaN or infinity.
            Ok(self.buf.write_all(b"null")?)
        }
    }

    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        Ok(write!(self.buf, "{value}")?)
    }

    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        Ok(string(self.buf, value)?)
    }
}
