//! Helpers every bench shares: settings from the environment, the test keys, medians and wrk's
//! latency figures. Each bench includes this file (`mod common;`) and uses what it needs.
#![allow(dead_code)]

/// The environment variable `name`, or `default` when it is unset.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A file of `tests/fixtures/keys/` (the test signing keys).
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The median of `values` (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A wrk duration (`950.00us`, `1.23ms`, `2.00s`) in milliseconds.
pub fn millis(text: &str) -> f64 {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        panic!("not a wrk duration: {text:?}")
    };
    number.parse::<f64>().unwrap() * scale
}

/// One wrk run (one thread, `--latency`) with a bearer token: requests/s and the 99th percentile
/// latency as wrk prints it (`1.23ms`; [`millis`] reads it). Any non-2xx answer fails the bench.
pub fn wrk_bearer(url: &str, token: &str, seconds: &str, connections: &str) -> (f64, String) {
    let out = std::process::Command::new("wrk")
        .args([
            "-t1",
            "-c",
            connections,
            "-d",
            &format!("{seconds}s"),
            "--latency",
            url,
        ])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .output()
        .expect("wrk is not installed: apt-get install wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("Non-2xx"),
        "non-2xx responses from {url}:\n{text}"
    );
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no 99% line in wrk output:\n{text}"));
    (rate, p99)
}
