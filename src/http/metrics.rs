//! Prometheus metrics, kept in memory and rendered in the text exposition format at `GET /metrics`.
//! Counters are plain atomics and a small map keyed by label values, updated off the response path's
//! critical section (one short lock per request).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the request-duration histogram buckets.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
pub struct Metrics {
    /// (route pattern, status) → count.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Cumulative bucket counts, then +Inf.
    duration_buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_sum_micros: AtomicU64,
    /// Authentication outcome ("ok" or a reason code) → count.
    auth: Mutex<BTreeMap<&'static str, u64>>,
    /// (event type, outcome) → count.
    webhooks: Mutex<BTreeMap<(String, &'static str), u64>>,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *map.entry(key).or_default() += 1;
}

/// Label values are escaped as the exposition format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Values the request path does not own, gathered when `/metrics` is read.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub jwks_fetches: u64,
    pub jwks_fetch_failures: u64,
    pub audit_queue_depth: usize,
    pub audit_dropped: u64,
    pub audit_reduced: u64,
    pub audit_rejected: u64,
    pub db_connections: u32,
    pub db_idle_connections: u32,
}

impl Metrics {
    pub fn record_request(&self, route: &str, status: u16, duration: Duration) {
        bump(&self.requests, (route.to_owned(), status));
        let seconds = duration.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.duration_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_buckets[BUCKETS.len()].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.duration_sum_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    pub fn record_auth(&self, outcome: &'static str) {
        bump(&self.auth, outcome);
    }

    pub fn record_webhook(&self, event_type: &str, outcome: &'static str) {
        bump(&self.webhooks, (event_type.to_owned(), outcome));
    }

    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP auth_core_http_requests_total HTTP requests by matched route and status."
        );
        let _ = writeln!(out, "# TYPE auth_core_http_requests_total counter");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "auth_core_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP auth_core_http_request_duration_seconds Time from request to response head."
        );
        let _ = writeln!(
            out,
            "# TYPE auth_core_http_request_duration_seconds histogram"
        );
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.duration_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "auth_core_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let count = self.duration_buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "auth_core_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.duration_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "auth_core_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "auth_core_http_request_duration_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP auth_core_auth_outcomes_total Authentication outcomes: ok or the reason code."
        );
        let _ = writeln!(out, "# TYPE auth_core_auth_outcomes_total counter");
        for (outcome, n) in self
            .auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "auth_core_auth_outcomes_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP auth_core_webhook_deliveries_total Webhook deliveries by event type and outcome.");
        let _ = writeln!(out, "# TYPE auth_core_webhook_deliveries_total counter");
        for ((event_type, outcome), n) in self
            .webhooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "auth_core_webhook_deliveries_total{{type=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(event_type)
            );
        }
        let scalars: [(&str, &str, &str, String); 8] = [
            (
                "auth_core_jwks_fetches_total",
                "counter",
                "JWKS fetch attempts.",
                gauges.jwks_fetches.to_string(),
            ),
            (
                "auth_core_jwks_fetch_failures_total",
                "counter",
                "JWKS fetch attempts that failed.",
                gauges.jwks_fetch_failures.to_string(),
            ),
            (
                "auth_core_audit_queue_depth",
                "gauge",
                "Audit events waiting for the writer.",
                gauges.audit_queue_depth.to_string(),
            ),
            (
                "auth_core_audit_dropped_events_total",
                "counter",
                "Audit events dropped because the queue was full.",
                gauges.audit_dropped.to_string(),
            ),
            (
                "auth_core_audit_reduced_events_total",
                "counter",
                "Audit events the database refused as recorded, written in a reduced form.",
                gauges.audit_reduced.to_string(),
            ),
            (
                "auth_core_audit_rejected_events_total",
                "counter",
                "Audit events the database refused even in the reduced form: not written.",
                gauges.audit_rejected.to_string(),
            ),
            (
                "auth_core_db_pool_connections",
                "gauge",
                "Open database connections.",
                gauges.db_connections.to_string(),
            ),
            (
                "auth_core_db_pool_idle_connections",
                "gauge",
                "Idle database connections.",
                gauges.db_idle_connections.to_string(),
            ),
        ];
        for (name, kind, help, value) in scalars {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}
