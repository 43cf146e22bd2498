//! One access-log line's cost, in process: the logging thread's time per line (the filter, the
//! line written into its buffer, the hand-over to the writer) and the process's CPU time per line
//! (the writer thread's write to stderr included), for text lines (the default), JSON lines, and a
//! line the filter leaves out (`warn`, the floor). `cargo bench --bench http` measures the same
//! through HTTP, where a shared machine's noise is larger than the log's cost.
//! Run: `cargo bench --bench log_line`.
//!
//! Each format runs in a process of its own (the `log` facade takes one logger per process), with
//! stderr to /dev/null (so text lines are plain, as on a pipe). Lines are logged in batches that
//! fit the writer's buffer, and the writer is waited for between batches (untimed), so no line is
//! dropped: a dropped line would be cheaper than a written one. Settings (environment):
//! BENCH_BATCHES (500 of 4,000 lines).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{env_or, median};

use std::process::{Command, Stdio};
use std::time::Instant;

use auth_core::logging::{self, fields::RequestFields};
use log::Level;

/// Lines per batch: within the writer's buffer (`BUFFER_LINES`), so none is dropped.
const BATCH: usize = 4_000;
const BUFFER_LINES: usize = 8_192;

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("child") {
        return child(&args.next().unwrap());
    }
    println!("| access line | logging thread ns/line | process CPU ns/line |\n|---|---:|---:|");
    for (label, format) in [
        ("text (the default)", "text"),
        ("JSON (`log.format=json`)", "json"),
        ("filtered out (`warn`)", "off"),
    ] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["child", format])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let (thread_ns, process_ns) = text.trim().split_once(' ').unwrap();
        println!("| {label} | {thread_ns} | {process_ns} |");
    }
}

fn child(format: &str) {
    let batches: usize = env_or("BENCH_BATCHES", "500").parse().unwrap();
    let filter = if format == "off" { "warn" } else { "info" };
    logging::init(filter, format == "json", BUFFER_LINES);
    let fields = RequestFields {
        request_id: Some("0e1c6f9e-5b7a-4d2e-9c31-7f0a8b6d2e44"),
        method: "GET",
        path: "/api/auth/me",
        status: Some(200),
        duration_ms: Some(0.42),
        user: Some("user_2bench"),
        org: Some("org_2bench"),
        principal: "user",
    };
    let mut per_line_ns = Vec::with_capacity(batches);
    let ticks_before = process_ticks();
    for _ in 0..batches {
        let started = Instant::now();
        for _ in 0..BATCH {
            // The access line as `request::envelope` logs it in each format.
            if logging::structured() {
                fields.log(Level::Info, "auth_core::access", format_args!("request"));
            } else {
                let (id, ms) = (fields.request_id.unwrap(), fields.duration_ms.unwrap());
                fields.log(
                    Level::Info,
                    "auth_core::access",
                    format_args!(
                        "GET /api/auth/me 200 {ms:.1}ms request_id={id} user=user_2bench org=org_2bench"
                    ),
                );
            }
        }
        per_line_ns.push(started.elapsed().as_nanos() as f64 / BATCH as f64);
        logging::flush();
    }
    let ticks = process_ticks() - ticks_before;
    assert_eq!(logging::dropped_lines(), 0, "lines were dropped");
    let lines = (batches * BATCH) as f64;
    println!(
        "{:.0} {:.0}",
        median(per_line_ns),
        ticks as f64 * 10_000_000.0 / lines
    );
}

/// User + system CPU time of this process so far, in clock ticks (10 ms).
fn process_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}
