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
