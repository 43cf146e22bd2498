//! `log.format=json`: one object per line, `ts`, `level`, `target`, `message`, then one field per
//! key-value the record carries.
//!
//! Written straight into the line's own buffer, which [`super::logger::Logger`] then hands whole to
//! the writer thread.

use std::io::{self, Write};
use std::time::SystemTime;

use log::kv::{self, Key, Value, VisitSource, VisitValue};
use log::Record;

use super::timestamp;

/// One record as a JSON object and a newline.
pub fn write_record(out: &mut Vec<u8>, now: SystemTime, record: &Record<'_>) -> io::Result<()> {
    out.extend_from_slice(b"{\"ts\":\"");
    timestamp::write_millis(out, now);
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
    use std::time::UNIX_EPOCH;

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
