//! Prometheus metrics at `GET /metrics`, kept and rendered by `metrics-exporter-prometheus` (text
//! format 0.0.4, the names below unchanged from the hand-written renderer it replaced).
//!
//! The request path never takes a global lock: the exporter's registry is sharded, counters are
//! atomics, and a histogram sample is pushed onto a lock-free bucket that a scrape, or the upkeep
//! thread every few seconds, folds into the buckets ([`UPKEEP_EVERY`] bounds what is held between
//! scrapes). Values the request path does not own ([`Gauges`], the process's own use of CPU, memory
//! and descriptors) are read when `/metrics` is scraped.

mod process;

use std::sync::{Arc, Weak};
use std::time::Duration;

use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

pub use process::ProcessStats;

/// Upper bounds (seconds) of the request-duration histogram buckets.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// How often the samples recorded since the last scrape are folded into the histograms, so that
/// memory stays bounded when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

const REQUESTS: &str = "auth_core_http_requests_total";
const DURATION: &str = "auth_core_http_request_duration_seconds";
const AUTH: &str = "auth_core_auth_outcomes_total";
const WEBHOOKS: &str = "auth_core_webhook_deliveries_total";
const BUILD_INFO: &str = "auth_core_build_info";
const SYNC_RUNS: &str = "auth_core_sync_runs_total";
const SYNC_SKIPPED: &str = "auth_core_sync_skipped_total";
const SYNC_ROWS: &str = "auth_core_sync_rows_total";
const SYNC_LAST_START: &str = "auth_core_sync_last_run_start_timestamp_seconds";
const SYNC_LAST_END: &str = "auth_core_sync_last_run_end_timestamp_seconds";
const SYNC_LAST_SUCCESS: &str = "auth_core_sync_last_run_success";
const SYNC_LAST_ROWS: &str = "auth_core_sync_last_run_rows";

/// A sync run this process carried out (not a dry run), as plain values: `http` knows no `sync`.
#[derive(Debug, Clone)]
pub struct SyncRunFigures {
    /// Who started it: `schedule` or `console`.
    pub trigger: &'static str,
    /// `completed`, `failed` (a listing failed; resumable) or `error` (it stopped on an error).
    pub outcome: &'static str,
    pub started_ms: i64,
    pub ended_ms: i64,
    /// Per kind (`users`, …): rows created, updated and tombstoned.
    pub rows: Vec<(&'static str, [u64; 3])>,
}

/// The changes of [`SyncRunFigures::rows`], in order.
const SYNC_CHANGES: [&str; 3] = ["created", "updated", "tombstoned"];
const AUDIT_REFUSED: &str = "auth_core_audit_refused_requests_total";

/// Counters set from a value read at scrape time: (name, help).
const SCRAPED_COUNTERS: [(&str, &str); 8] = [
    ("auth_core_jwks_fetches_total", "JWKS fetch attempts."),
    (
        "auth_core_jwks_fetch_failures_total",
        "JWKS fetch attempts that failed.",
    ),
    (
        "auth_core_audit_dropped_events_total",
        "Audit events dropped because the queue was full.",
    ),
    (
        "auth_core_audit_reduced_events_total",
        "Audit events the database refused as recorded, written in a reduced form.",
    ),
    (
        "auth_core_audit_rejected_events_total",
        "Audit events the database refused even in the reduced form: not written.",
    ),
    (
        "auth_core_log_dropped_lines_total",
        "Log lines dropped because the log writer was log.buffer_lines behind.",
    ),
    (
        "auth_core_change_feed_reconnects_total",
        "Change feed listening connections opened again after one was lost (PostgreSQL).",
    ),
    (
        "auth_core_change_feed_notifications_total",
        "Changes heard from the change feed, this instance's own included (PostgreSQL).",
    ),
];

/// Gauges set at scrape time: (name, help).
const SCRAPED_GAUGES: [(&str, &str); 12] = [
    (
        "auth_core_audit_queue_depth",
        "Audit events waiting for the writer.",
    ),
    (
        "auth_core_db_pool_connections",
        "Open database connections.",
    ),
    (
        "auth_core_db_pool_idle_connections",
        "Idle database connections.",
    ),
    // CPU seconds are fractional; the metrics facade's counters are integers. PromQL's rate() reads
    // a gauge named _total all the same.
    (
        "process_cpu_seconds_total",
        "User and system CPU time spent, in seconds.",
    ),
    (
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
    ),
    (
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
    ),
    ("process_open_fds", "Open file descriptors."),
    ("process_max_fds", "Limit of open file descriptors."),
    ("process_threads", "Operating-system threads."),
    (
        "auth_core_change_feed_listening",
        "1 while this instance listens to the change feed, else 0 (absent on SQLite).",
    ),
    (
        "auth_core_change_feed_without_listener_seconds",
        "Seconds without a change feed listener in the current gap (0 while listening).",
    ),
    // Cumulative, fractional: a gauge named _total, as process_cpu_seconds_total.
    (
        "auth_core_change_feed_without_listener_seconds_total",
        "Seconds without a change feed listener since start, start-up included.",
    ),
];

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// Values the request path does not own, gathered when `/metrics` is read.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub jwks_fetches: u64,
    pub jwks_fetch_failures: u64,
    pub audit_queue_depth: usize,
    pub audit_dropped: u64,
    pub audit_reduced: u64,
    pub audit_rejected: u64,
    pub log_dropped: u64,
    pub db_connections: u32,
    pub db_idle_connections: u32,
    /// `None` on SQLite (no change feed).
    pub change_feed: Option<ChangeFeedGauges>,
}

/// What the change feed reports at a scrape.
#[derive(Debug, Clone, Default)]
pub struct ChangeFeedGauges {
    pub listening: bool,
    pub current_gap_ms: u64,
    pub total_gap_ms: u64,
    pub reconnects: u64,
    pub notifications: u64,
}

struct Exporter {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

pub struct Metrics {
    exporter: Arc<Exporter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        // Only an empty list is refused, and BUCKETS is not empty.
        let builder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let exporter = Arc::new(Exporter { recorder, handle });
        exporter.describe();
        spawn_upkeep(Arc::downgrade(&exporter));
        Self { exporter }
    }

    pub fn record_request(&self, route: &str, status: u16, duration: Duration) {
        // One allocation for the route, shared by both keys; the status text is static.
        let route = SharedString::from(std::sync::Arc::<str>::from(route));
        let recorder = &self.exporter.recorder;
        let requests = Key::from_parts(
            REQUESTS,
            vec![
                Label::new("route", route.clone()),
                Label::new("status", status_label(status)),
            ],
        );
        recorder.register_counter(&requests, &METADATA).increment(1);
        let duration_key = Key::from_parts(DURATION, vec![Label::new("route", route)]);
        recorder
            .register_histogram(&duration_key, &METADATA)
            .record(duration.as_secs_f64());
    }

    pub fn record_auth(&self, outcome: &'static str) {
        let key = Key::from_parts(AUTH, vec![Label::from_static_parts("outcome", outcome)]);
        self.exporter
            .recorder
            .register_counter(&key, &METADATA)
            .increment(1);
    }

    pub fn record_webhook(&self, event_type: &str, outcome: &'static str) {
        let key = Key::from_parts(
            WEBHOOKS,
            vec![
                Label::new("type", event_type.to_owned()),
                Label::from_static_parts("outcome", outcome),
            ],
        );
        self.exporter
            .recorder
            .register_counter(&key, &METADATA)
            .increment(1);
    }

    /// A sync run of this process has ended: counted by trigger and outcome, its rows added to the
    /// totals, and the `last_run` gauges set to it.
    pub fn record_sync_run(&self, run: &SyncRunFigures) {
        let recorder = &self.exporter.recorder;
        let runs = Key::from_parts(
            SYNC_RUNS,
            vec![
                Label::from_static_parts("trigger", run.trigger),
                Label::from_static_parts("outcome", run.outcome),
            ],
        );
        recorder.register_counter(&runs, &METADATA).increment(1);
        let seconds = |ms: i64| ms as f64 / 1000.0;
        for (name, value) in [
            (SYNC_LAST_START, seconds(run.started_ms)),
            (SYNC_LAST_END, seconds(run.ended_ms)),
            (
                SYNC_LAST_SUCCESS,
                if run.outcome == "completed" { 1.0 } else { 0.0 },
            ),
        ] {
            recorder
                .register_gauge(&Key::from_static_name(name), &METADATA)
                .set(value);
        }
        for (kind, counts) in &run.rows {
            for (change, n) in SYNC_CHANGES.iter().zip(counts) {
                let labels = vec![
                    Label::from_static_parts("kind", kind),
                    Label::from_static_parts("change", change),
                ];
                recorder
                    .register_counter(&Key::from_parts(SYNC_ROWS, labels.clone()), &METADATA)
                    .increment(*n);
                recorder
                    .register_gauge(&Key::from_parts(SYNC_LAST_ROWS, labels), &METADATA)
                    .set(*n as f64);
            }
        }
    }

    /// A sync run was not started because another (on this or another instance) held the lease.
    pub fn record_sync_skipped(&self, trigger: &'static str) {
        let key = Key::from_parts(
            SYNC_SKIPPED,
            vec![Label::from_static_parts("trigger", trigger)],
        );
        self.exporter
            .recorder
            .register_counter(&key, &METADATA)
            .increment(1);
    }

    /// A request refused unhandled with 503 because the audit queue stayed full.
    pub fn record_audit_refused(&self) {
        self.exporter
            .recorder
            .register_counter(&Key::from_static_name(AUDIT_REFUSED), &METADATA)
            .increment(1);
    }

    /// The text exposition of every metric, with `gauges` and the process's own figures as of now.
    pub fn render(&self, gauges: &Gauges) -> String {
        let recorder = &self.exporter.recorder;
        let feed = gauges.change_feed.as_ref();
        let counters = [
            Some(gauges.jwks_fetches),
            Some(gauges.jwks_fetch_failures),
            Some(gauges.audit_dropped),
            Some(gauges.audit_reduced),
            Some(gauges.audit_rejected),
            Some(gauges.log_dropped),
            feed.map(|f| f.reconnects),
            feed.map(|f| f.notifications),
        ];
        for ((name, _), value) in SCRAPED_COUNTERS.iter().zip(counters) {
            if let Some(value) = value {
                recorder
                    .register_counter(&Key::from_static_name(name), &METADATA)
                    .absolute(value);
            }
        }
        let stats = process::read();
        let values = [
            Some(gauges.audit_queue_depth as f64),
            Some(f64::from(gauges.db_connections)),
            Some(f64::from(gauges.db_idle_connections)),
            stats.cpu_seconds,
            stats.resident_memory_bytes.map(|n| n as f64),
            stats.virtual_memory_bytes.map(|n| n as f64),
            stats.open_fds.map(|n| n as f64),
            stats.max_fds.map(|n| n as f64),
            stats.threads.map(|n| n as f64),
            feed.map(|f| if f.listening { 1.0 } else { 0.0 }),
            feed.map(|f| f.current_gap_ms as f64 / 1000.0),
            feed.map(|f| f.total_gap_ms as f64 / 1000.0),
        ];
        for ((name, _), value) in SCRAPED_GAUGES.iter().zip(values) {
            if let Some(value) = value {
                recorder
                    .register_gauge(&Key::from_static_name(name), &METADATA)
                    .set(value);
            }
        }
        self.exporter.handle.render()
    }
}

impl Exporter {
    /// HELP lines, and the build_info gauge (constant for the life of the process).
    fn describe(&self) {
        let help: [(&'static str, &'static str); 13] = [
            (
                AUDIT_REFUSED,
                "Requests refused unhandled (503) because the audit queue stayed full for audit.full_wait_ms.",
            ),
            (REQUESTS, "HTTP requests by matched route and status."),
            (
                DURATION,
                "Time from request to response head, by matched route.",
            ),
            (AUTH, "Authentication outcomes: ok or the reason code."),
            (WEBHOOKS, "Webhook deliveries by event type and outcome."),
            (
                BUILD_INFO,
                "The running build: version and git commit, as labels; always 1.",
            ),
            (
                SYNC_RUNS,
                "Sync runs this instance carried out, by trigger (schedule, console) and outcome.",
            ),
            (
                SYNC_SKIPPED,
                "Sync runs not started because another run held the lock, by trigger.",
            ),
            (
                SYNC_ROWS,
                "Rows sync runs of this instance created, updated or tombstoned, by kind.",
            ),
            (
                SYNC_LAST_START,
                "When this instance's last sync run started (Unix seconds).",
            ),
            (
                SYNC_LAST_END,
                "When this instance's last sync run ended (Unix seconds).",
            ),
            (
                SYNC_LAST_SUCCESS,
                "1 if this instance's last sync run completed, 0 if it failed.",
            ),
            (
                SYNC_LAST_ROWS,
                "Rows this instance's last sync run created, updated or tombstoned, by kind.",
            ),
        ];
        for (name, text) in help {
            self.describe_one(name, text, Kind::Other);
        }
        for (name, text) in SCRAPED_COUNTERS {
            self.describe_one(name, text, Kind::Counter);
        }
        for (name, text) in SCRAPED_GAUGES {
            self.describe_one(name, text, Kind::Gauge);
        }
        let build = Key::from_parts(
            BUILD_INFO,
            vec![
                Label::from_static_parts("version", env!("CARGO_PKG_VERSION")),
                Label::from_static_parts("commit", env!("AUTH_CORE_GIT_COMMIT")),
            ],
        );
        self.recorder.register_gauge(&build, &METADATA).set(1.0);
        // Shown at 0 from the start, so that an alert on its rate has a series before the first refusal.
        self.recorder
            .register_counter(&Key::from_static_name(AUDIT_REFUSED), &METADATA)
            .absolute(0);
    }

    fn describe_one(&self, name: &'static str, text: &'static str, kind: Kind) {
        let (name, text) = (KeyName::from_const_str(name), SharedString::const_str(text));
        match kind {
            Kind::Counter => self.recorder.describe_counter(name, None, text),
            Kind::Gauge => self.recorder.describe_gauge(name, None, text),
            Kind::Other => {
                // One name is one kind; describing it as all three is harmless and keeps one table.
                self.recorder
                    .describe_counter(name.clone(), None, text.clone());
                self.recorder
                    .describe_gauge(name.clone(), None, text.clone());
                self.recorder.describe_histogram(name, None, text);
            }
        }
    }
}

/// A status code as label text: the codes this service answers without an allocation.
fn status_label(status: u16) -> SharedString {
    let text = match status {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        303 => "303",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return SharedString::from(other.to_string()),
    };
    SharedString::const_str(text)
}

enum Kind {
    Counter,
    Gauge,
    Other,
}

/// Folds histogram samples every [`UPKEEP_EVERY`] until the metrics are dropped.
fn spawn_upkeep(exporter: Weak<Exporter>) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            match exporter.upgrade() {
                Some(exporter) => exporter.handle.run_upkeep(),
                None => return,
            }
        });
    if let Err(error) = spawned {
        // Scrapes still fold the samples; only an unscraped process holds them longer.
        log::warn!("cannot start the metrics upkeep thread: {error}");
    }
}
