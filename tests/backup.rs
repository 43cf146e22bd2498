//! `auth-core backup PATH` with the real binary: a copy taken while a server writes, restored as
//! docs/operations.md says (stop, replace the file, start), and the refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::binary::{http_get, run, RunningServer};
use common::TestDb;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

const EXIT_WITHIN: Duration = Duration::from_secs(20);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn count(db_file: &Path, table: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = SqliteConnection::establish(db_file.to_str().unwrap()).unwrap();
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
}

fn create_key(dir: &Path, env: &[(&str, &str)], name: &str) {
    let out = run(dir, env, &["keys", "create", "--name", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn key_names(dir: &Path, env: &[(&str, &str)]) -> String {
    let out = run(dir, env, &["keys", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn backup_while_the_server_writes_then_restore() {
    let db = TestDb::sqlite();
    let db_file = Path::new(&db.url).to_owned();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        // The audit writer commits every millisecond: the database changes all through the copy.
        ("AUTH_CORE__AUDIT__LINGER_MS", "1"),
    ];
    let mut server = RunningServer::start(db.dir.path(), &env);
    for name in ["before-1", "before-2", "before-3"] {
        create_key(db.dir.path(), &env, name);
    }

    // Refused requests, each one an audit event the server writes, until the backup is done.
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, requests, base) = (stop.clone(), requests.clone(), server.base.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let (status, _) = http_get(&base, "/api/auth/me");
                assert_eq!(status, 401);
                requests.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Wait for the first written event, not for a duration: then the server is writing.
    let deadline = std::time::Instant::now() + EXIT_WITHIN;
    while count(&db_file, "audit_events") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no audit event written"
        );
        std::thread::yield_now();
    }

    let backup_file = db.dir.path().join("backup.sqlite3");
    let backup_arg = backup_file.to_str().unwrap();
    let before = requests.load(Ordering::Relaxed);
    let out = run(db.dir.path(), &env, &["backup", backup_arg]);
    let during = requests.load(Ordering::Relaxed) - before;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let size = backup_file.metadata().unwrap().len();
    assert_eq!(
        text(&out.stdout),
        format!("backup written to {backup_arg} ({size} bytes, integrity ok)\n")
    );
    // Readable by its owner only: it holds everything the database does.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        backup_file.metadata().unwrap().permissions().mode() & 0o777,
        0o600
    );
    let events_in_backup = count(&backup_file, "audit_events");
    assert!(events_in_backup > 0);

    // Never over an existing file, not even its own.
    let again = run(db.dir.path(), &env, &["backup", backup_arg]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        text(&again.stderr),
        format!("auth-core: {backup_arg} exists: refusing to overwrite it (choose a new name)\n")
    );
    assert_eq!(backup_file.metadata().unwrap().len(), size);

    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    // At least one event the backup cannot hold: its request was made after the copy was taken.
    assert_eq!(http_get(&server.base, "/api/auth/me").0, 401);
    create_key(db.dir.path(), &env, "after-backup");
    let events_at_stop = {
        server.signal("TERM");
        assert!(server.wait_exit(EXIT_WITHIN).success());
        count(&db_file, "audit_events")
    };
    eprintln!(
        "{during} requests were served while the backup ran; {events_in_backup} events in the \
         backup, {events_at_stop} at stop"
    );
    assert!(events_at_stop > events_in_backup);

    // Restore, as documented: with the server stopped, the backup replaces the database file and
    // the old WAL and shared-memory files go (a stale WAL would be replayed onto the restored file).
    std::fs::copy(&backup_file, &db_file).unwrap();
    for suffix in ["-wal", "-shm"] {
        let stale = format!("{}{suffix}", db_file.display());
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("{stale}: {e}"),
        }
    }
    let mut restored = RunningServer::start(db.dir.path(), &env);
    let (status, body) = http_get(&restored.base, "/api/auth/health");
    // 503 only for want of a Clerk key source (none is configured here): the database is up.
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        health["down"],
        serde_json::json!(["signing_keys"]),
        "{body}"
    );
    assert_eq!(health["checks"]["database"]["status"], "up", "{body}");
    let keys = key_names(db.dir.path(), &env);
    for name in ["before-1", "before-2", "before-3"] {
        assert!(keys.contains(name), "{name} missing after restore: {keys}");
    }
    assert!(!keys.contains("after-backup"), "{keys}");
    restored.signal("TERM");
    assert!(restored.wait_exit(EXIT_WITHIN).success());
    // The restored database holds exactly what the backup held (and what the second server wrote).
    assert!(count(&db_file, "audit_events") >= events_in_backup);
    assert!(count(&db_file, "audit_events") < events_at_stop);
}

#[test]
fn backup_refuses_what_it_cannot_copy() {
    let db = TestDb::sqlite();
    let env = [("DATABASE_URL", db.url.as_str())];
    let dir = db.dir.path();

    // No database yet: nothing is copied and no empty database is created on the way.
    let out = run(dir, &env, &["backup", "copy.sqlite3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "auth-core: no SQLite database at {}: nothing to back up\n",
            db.url
        )
    );
    assert!(!Path::new(&db.url).exists());
    assert!(!dir.join("copy.sqlite3").exists());

    let out = run(dir, &env, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // An existing file, even empty (which SQLite itself would write into), or a dangling link.
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("link")).unwrap();
    for name in ["empty", "link"] {
        let out = run(dir, &env, &["backup", name]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!("auth-core: {name} exists: refusing to overwrite it (choose a new name)\n")
        );
    }
    assert!(!dir.join("nowhere").exists());

    // A directory that does not exist.
    let out = run(dir, &env, &["backup", "no/such/dir.sqlite3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "auth-core: cannot write no/such/dir.sqlite3: No such file or directory (os error 2)\n"
    );
}

#[test]
fn backup_on_postgres_prints_the_pg_dump_command_with_the_password_masked() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://auth:s3cr3t-pw@db.internal:5432/auth_core?sslmode=require";
    let out = run(
        dir.path(),
        &[("DATABASE_URL", url)],
        &["backup", "/var/backups/auth core.dump"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "auth-core: the database is PostgreSQL: back it up with pg_dump (replace *** with the \
         password, or leave it out and set PGPASSWORD):\n  pg_dump --format=custom \
         --file='/var/backups/auth core.dump' \
         'postgres://auth:***@db.internal:5432/auth_core?sslmode=require'\n"
    );
    assert!(!text(&out.stdout).contains("s3cr3t") && !text(&out.stderr).contains("s3cr3t"));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// The check that decides whether a copy is reported written: a file with a damaged page fails it.
#[test]
fn integrity_check_finds_a_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("damaged.sqlite3");
    {
        let mut conn = SqliteConnection::establish(file.to_str().unwrap()).unwrap();
        diesel::sql_query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query("CREATE INDEX t_v ON t (v)")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO t (v) SELECT printf('value-%d', i) FROM n",
        )
        .execute(&mut conn)
        .unwrap();
    }
    assert_eq!(
        auth_core::db::backup::sqlite_integrity_problems(&file).unwrap(),
        Vec::<String>::new()
    );
    // Zero the last page: an index (or table) page the schema still points at.
    let mut bytes = std::fs::read(&file).unwrap();
    let page = 4096;
    let len = bytes.len();
    bytes[len - page..].fill(0);
    std::fs::write(&file, bytes).unwrap();
    // SQLite reports damage as rows, or fails the statement outright: either way, no backup.
    match auth_core::db::backup::sqlite_integrity_problems(&file) {
        Ok(problems) => assert!(!problems.is_empty()),
        Err(e) => assert!(e.to_string().contains("malformed"), "{e}"),
    }
}
