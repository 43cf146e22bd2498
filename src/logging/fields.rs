//! The fields every access and audit-related line carries: in JSON as fields of the object, in
//! text inside the message as before. Each text field is bounded as the audit trail bounds it
//! (`audit::limits`, one rule for both), so a 100 KB path makes neither a 100 KB log line nor a
//! 100 KB audit row.

use std::borrow::Cow;

use log::kv::{self, Key, Source, Value, VisitSource};
use log::{Level, Metadata, Record};

use crate::bounds::{fit, CODE, ID, PATH};

/// What a log line says about one request. Absent values are JSON `null`.
#[derive(Debug, Clone, Copy)]
pub struct RequestFields<'a> {
    pub request_id: Option<&'a str>,
    pub method: &'a str,
    /// The path without its query string (queries can carry tokens).
    pub path: &'a str,
    pub status: Option<u16>,
    pub duration_ms: Option<f64>,
    pub user: Option<&'a str>,
    pub org: Option<&'a str>,
    /// `user`, `machine`, `service_key`, `anonymous`…
    pub principal: &'a str,
}

impl RequestFields<'_> {
    /// Logs `message` with these fields, if `target` logs at `level`. The message is built only then.
    pub fn log(&self, level: Level, target: &str, message: std::fmt::Arguments<'_>) {
        let logger = log::logger();
        if level > log::max_level()
            || !logger.enabled(&Metadata::builder().level(level).target(target).build())
        {
            return;
        }
        let bounded = Bounded {
            request_id: self.request_id.map(|id| fit(id, ID)),
            method: fit(self.method, CODE),
            path: fit(self.path, PATH),
            status: self.status,
            duration_ms: self.duration_ms,
            user: self.user.map(|id| fit(id, ID)),
            org: self.org.map(|id| fit(id, ID)),
            principal: fit(self.principal, CODE),
        };
        logger.log(
            &Record::builder()
                .level(level)
                .target(target)
                .args(message)
                .key_values(&bounded)
                .build(),
        );
    }
}

/// The fields as logged: each text within its bound (borrowed unless it had to be cut).
struct Bounded<'a> {
    request_id: Option<Cow<'a, str>>,
    method: Cow<'a, str>,
    path: Cow<'a, str>,
    status: Option<u16>,
    duration_ms: Option<f64>,
    user: Option<Cow<'a, str>>,
    org: Option<Cow<'a, str>>,
    principal: Cow<'a, str>,
}

fn text<'v>(value: Option<&'v Cow<'_, str>>) -> Value<'v> {
    value.map_or_else(Value::null, |text| Value::from(&**text))
}

impl Source for Bounded<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
        let pairs = [
            ("request_id", text(self.request_id.as_ref())),
            ("method", text(Some(&self.method))),
            ("path", text(Some(&self.path))),
            ("status", self.status.map_or_else(Value::null, Value::from)),
            (
                "duration_ms",
                self.duration_ms.map_or_else(Value::null, Value::from),
            ),
            ("user", text(self.user.as_ref())),
            ("org", text(self.org.as_ref())),
            ("principal", text(Some(&self.principal))),
        ];
        for (key, value) in pairs {
            visitor.visit_pair(Key::from(key), value)?;
        }
        Ok(())
    }
}
