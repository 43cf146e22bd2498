//! The log writer is off the request path: with stderr blocked, requests are still answered and the
//! lines that do not fit the buffer are counted as dropped in `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::binary::{command, http_get};

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
