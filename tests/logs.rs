//! The log as the real binary writes it: text lines in the shape env_logger gave them, `RUST_LOG`
//! and `log.level` choosing the lines, and the writer off the request path (with stderr blocked,
//! requests are still answered and the lines that do not fit the buffer are counted as dropped in
//! `/metrics`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::binary::{command, http_get, RunningServer};

const EXIT_WITHIN: Duration = Duration::from_secs(20);

/// Requests sent while stderr is blocked: their access lines (over 200 bytes each, ~500 KB in all)
/// are far more than a pipe (64 KiB by default on Linux) and the writer's buffer hold.
const REQUESTS: usize = 2_000;

fn dropped_lines(base: &str) -> f64 {
    let (status, body) = http_get(base, "/metrics");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find_map(|line| line.strip_prefix("auth_core_log_dropped_lines_total "))
        .unwrap_or_else(|| panic!("no auth_core_log_dropped_lines_total in {body}"))
        .parse()
        .unwrap()
}

#[test]
fn a_blocked_stderr_drops_and_counts_lines_instead_of_blocking_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(
        dir.path(),
        &[
            ("AUTH_CORE__LOG__BUFFER_LINES", "1"),
            ("AUTH_CORE__LOG__FORMAT", "json"),
        ],
    )
    .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Held open and never read: once the pipe is full, every write to stderr blocks.
    let blocked_stderr = child.stderr.take().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("auth-core listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();

    // A one-line buffer may already have dropped some of the start-up lines.
    let at_start = dropped_lines(&base);
    // Each request is answered (http_get gives up after 30 s): a request that waited for the log
    // would hang here once the pipe is full.
    for _ in 0..REQUESTS {
        let (status, _) = http_get(&base, "/healthz");
        assert_eq!(status, 200);
    }
    // What the blocked writer holds: the pipe, its own 64 KiB buffer, the one-line queue. JSON access
    // lines are over 200 bytes, so at most ~650 of them; every other line was dropped and counted.
    let dropped = dropped_lines(&base) - at_start;
    assert!(
        dropped >= (REQUESTS / 2) as f64 && dropped <= REQUESTS as f64 + 10.0,
        "{dropped} dropped of {REQUESTS}"
    );

    let _ = child.kill();
    let _ = child.wait();
    drop(blocked_stderr);
}

/// Every stderr line of a server started with `env`, asked for `/healthz` once, then stopped (the
/// log is flushed at exit, and the reading thread ends at end of file).
fn lines_around_one_request(env: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RunningServer::start(dir.path(), env);
    assert_eq!(http_get(&server.base, "/healthz").0, 200);
    server.signal("TERM");
    assert!(server.wait_exit(EXIT_WITHIN).success());
    server.stderr_lines.iter().collect()
}

/// A text line's header, `[2026-12-01T03:39:50.123Z INFO  target] `, split into the level as
/// written (padded to five) and the rest; `None` for a line that has no such header.
fn header(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('[')?;
    let (ts, rest) = rest.split_at_checked(24)?;
    let shape = ts.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        19 => b == b'.',
        23 => b == b'Z',
        _ => b.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let rest = rest.strip_prefix(' ')?;
    rest.split_at_checked(5)
}

fn access_lines(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.contains("auth_core::access"))
        .collect()
}

/// `[2026-12-01T03:39:50.123Z INFO  auth_core::access] GET /healthz 200 0.4ms request_id=… user=- org=-`,
/// byte for byte the line env_logger wrote before auth-core wrote text lines itself; plain (no
/// colour) when stderr is not a terminal.
#[test]
fn text_access_lines_keep_their_shape() {
    let lines = lines_around_one_request(&[]);
    let access = access_lines(&lines);
    assert_eq!(access.len(), 1, "{lines:#?}");
    let (level, rest) = header(access[0]).unwrap_or_else(|| panic!("{access:?}"));
    assert_eq!(level, "INFO ");
    let rest = rest
        .strip_prefix(" auth_core::access] GET /healthz 200 ")
        .unwrap_or_else(|| panic!("{rest}"));
    let (ms, rest) = rest.split_once("ms request_id=").unwrap();
    let (_, decimals) = ms.split_once('.').unwrap();
    assert!(ms.parse::<f64>().is_ok() && decimals.len() == 1, "{ms}");
    let (id, rest) = rest.split_once(' ').unwrap();
    assert!(
        id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'),
        "{id}"
    );
    assert_eq!(rest, "user=- org=-");

    for line in &lines {
        assert!(!line.contains('\x1b'), "coloured on a pipe: {line:?}");
        if let Some((level, rest)) = header(line) {
            assert!(
                ["ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"].contains(&level)
                    && rest.starts_with(" auth_core")
                    && rest.contains("] "),
                "{line}"
            );
        }
    }
    let warning = lines.iter().find(|l| l.contains("NO KEY SOURCE")).unwrap();
    assert_eq!(header(warning).map(|(level, _)| level), Some("WARN "));
}

/// `log.level` (env_logger's directives) chooses the lines; `RUST_LOG`, when set and not empty,
/// replaces it.
#[test]
fn rust_log_and_log_level_choose_the_lines() {
    let levels = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| header(l).map(|(level, _)| level.trim_end().to_owned()))
            .collect()
    };

    // The default, info: the access line and the start-up and shutdown lines.
    let lines = lines_around_one_request(&[]);
    assert_eq!(access_lines(&lines).len(), 1, "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("graceful shutdown")));

    // warn: the missing key source is still said, nothing at info.
    let lines = lines_around_one_request(&[("RUST_LOG", "warn")]);
    assert!(
        lines.iter().any(|l| l.contains("NO KEY SOURCE")),
        "{lines:#?}"
    );
    assert!(
        levels(&lines)
            .iter()
            .all(|level| level == "WARN" || level == "ERROR"),
        "{lines:#?}"
    );

    // The access log alone silenced by log.level; the rest of info kept.
    let lines =
        lines_around_one_request(&[("AUTH_CORE__LOG__LEVEL", "info,auth_core::access=off")]);
    assert!(access_lines(&lines).is_empty(), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("graceful shutdown")),
        "{lines:#?}"
    );

    // RUST_LOG wins over log.level: the access line alone (a directive naming only a target turns
    // every other target off).
    let lines = lines_around_one_request(&[
        ("AUTH_CORE__LOG__LEVEL", "warn"),
        ("RUST_LOG", "auth_core::access=info"),
    ]);
    assert_eq!(levels(&lines), ["INFO"], "{lines:#?}");
    assert_eq!(access_lines(&lines).len(), 1, "{lines:#?}");

    // An empty RUST_LOG leaves log.level in charge.
    let lines = lines_around_one_request(&[("AUTH_CORE__LOG__LEVEL", "warn"), ("RUST_LOG", " ")]);
    assert!(access_lines(&lines).is_empty(), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("NO KEY SOURCE")),
        "{lines:#?}"
    );
}
