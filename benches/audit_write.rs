//! What writing the audit trail costs the database side alone: `insert_batch` of realistic events in
//! batches of 5,000 (the default `audit.batch_size`), single-threaded, on SQLite (a temp file, as the embedded default) and on
//! PostgreSQL when `BENCH_PG_URL` names a server (a database is created and dropped). Prints
//! microseconds per event of wall time and of this thread's CPU time (on PostgreSQL the server's own
//! work is not in the CPU figure: it is what stays in auth-core's process when the database has its
//! own host). `BENCH_DROP_INDEXES=a,b` drops those indexes first, to see
//! what each costs (on SQLite, with 1,000 distinct users: user and organization indexes together
//! about half of the 10 µs). `BENCH_SQLITE_PRAGMAS='PRAGMA …'` runs statements on the SQLite
//! connection first, to try settings. Each batch is written as the server's writer writes it: one
//! transaction, a statement per slice of `BENCH_SLICE` events (128 unless set: what the writer's
//! 0.5 ms slices hold at 4 µs per event, `audit::pace`); `BENCH_SLICE=0` writes each batch as one
//! statement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use auth_core::db::audit::{
    insert_sealed_slices, BatchFormat, EncodedBatch, NewAuditEvent, PrincipalType, SealedBatch,
};
use auth_core::db::Db;
use auth_core::settings::{Settings, SettingsSources};

const EVENTS: usize = 200_000;
const BATCH: usize = 5000;

fn event(i: usize) -> NewAuditEvent {
    NewAuditEvent {
        occurred_at: 1_795_000_000_000 + i as i64,
        request_id: Some(format!("0b6c1f7e-3f59-4c1a-9d1e-{:012x}", i)),
        principal_type: PrincipalType::User,
        user_id: Some(format!("user_2bench{:05}", i % 1000)),
        organization_id: Some("org_2bench".into()),
        session_id: Some("sess_2bench".into()),
        method: "GET".into(),
        path: "/api/auth/me".into(),
        route: Some("/api/auth/me".into()),
        status: 200,
        duration_us: 85,
        client_ip: Some("127.0.0.1".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) bench".into()),
        reason: None,
        detail: None,
    }
}

/// User + system CPU time of the calling thread, from /proc (clock ticks of 10 ms).
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

fn run(label: &str, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [
        ("DATABASE_URL".to_owned(), url.to_owned()),
        (
            "AUTH_CORE__DATABASE__DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        ),
    ]
    .into_iter()
    .collect();
    let settings = Settings::load(&SettingsSources {
        env,
        config_file: None,
        working_dir: dir.path().to_owned(),
    })
    .unwrap();
    let db = Db::open(&settings.database).unwrap();
    db.migrate().unwrap();
    let events: Vec<NewAuditEvent> = (0..EVENTS).map(event).collect();
    let mut conn = db.get().unwrap();
    if let Ok(pragmas) = std::env::var("BENCH_SQLITE_PRAGMAS") {
        use diesel::connection::SimpleConnection;
        if label == "SQLite" {
            conn.batch_execute(&pragmas).unwrap();
        }
    }
    if let Ok(list) = std::env::var("BENCH_DROP_INDEXES") {
        use diesel::connection::SimpleConnection;
        for index in list.split(',') {
            conn.batch_execute(&format!("DROP INDEX {index}")).unwrap();
        }
    }
    let slice = std::env::var("BENCH_SLICE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(128);
    let slice = if slice == 0 { BATCH } else { slice };
    let format = BatchFormat::for_backend(db.backend());
    // Encoding happens on the request path in the server, so it is done before the clock starts.
    let batches: Vec<Vec<Arc<SealedBatch>>> = events
        .chunks(BATCH)
        .map(|batch| {
            batch
                .chunks(slice)
                .map(|events| {
                    let mut encoded = EncodedBatch::new(format, Vec::new());
                    for event in events {
                        encoded.push(&event.as_ref());
                    }
                    Arc::new(encoded.seal())
                })
                .collect()
        })
        .collect();
    let (started, cpu_before) = (Instant::now(), thread_cpu_seconds());
    for slices in &batches {
        insert_sealed_slices(&mut conn, slices, |_| {}).unwrap();
    }
    let (elapsed, cpu) = (started.elapsed(), thread_cpu_seconds() - cpu_before);
    println!(
        "{label:<12} {EVENTS} events in transactions of {BATCH}, statements of {slice}: {:.2} µs per event ({:.0} events/s), {:.2} µs of this thread's CPU",
        elapsed.as_secs_f64() * 1e6 / EVENTS as f64,
        EVENTS as f64 / elapsed.as_secs_f64(),
        cpu * 1e6 / EVENTS as f64
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    run(
        "SQLite",
        &dir.path().join("audit.sqlite3").display().to_string(),
    );
    if let Ok(server) = std::env::var("BENCH_PG_URL") {
        let name = format!("auth_core_audit_bench_{}", std::process::id());
        let admin = format!("{server}/postgres");
        let psql = |sql: &str| {
            std::process::Command::new("psql")
                .args([admin.as_str(), "-qc", sql])
                .status()
                .unwrap()
        };
        psql(&format!("CREATE DATABASE {name}"));
        run("PostgreSQL", &format!("{server}/{name}?sslmode=disable"));
        psql(&format!("DROP DATABASE {name}"));
    }
}
