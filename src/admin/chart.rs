//! A server-rendered bar chart (SVG drawn by the template from these numbers; no script).

/// One bar pair: all events and failures in one time bucket, in SVG user units.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: u32,
    pub width: u32,
    pub total: i64,
    pub failures: i64,
    pub total_y: u32,
    pub total_height: u32,
    pub failures_y: u32,
    pub failures_height: u32,
    /// Hour label (UTC) of the bucket's start, shown every few bars.
    pub label: String,
    pub show_label: bool,
}

pub const WIDTH: u32 = 720;
pub const HEIGHT: u32 = 200;
/// Plot area: bars stand on `BASELINE`, labels go below it.
pub const BASELINE: u32 = 180;
const TOP: u32 = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub bars: Vec<Bar>,
    pub max: i64,
    pub total: i64,
    pub failures: i64,
}

/// `totals` and `failures` are `(bucket index, count)` for buckets `0..buckets`, each `bucket_ms`
/// long from `start_ms`.
pub fn build(
    buckets: usize,
    start_ms: i64,
    bucket_ms: i64,
    totals: &[(i64, i64)],
    failures: &[(i64, i64)],
) -> Chart {
    let mut total_by = vec![0i64; buckets];
    let mut failed_by = vec![0i64; buckets];
    for &(i, n) in totals {
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| total_by.get_mut(i)) {
            *slot += n;
        }
    }
    for &(i, n) in failures {
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| failed_by.get_mut(i)) {
            *slot += n;
        }
    }
    let max = total_by.iter().copied().max().unwrap_or(0).max(1);
    let plot = f64::from(BASELINE - TOP);
    let slot = WIDTH / u32::try_from(buckets.max(1)).unwrap_or(1);
    let height = |n: i64| -> u32 {
        // Counts are far below 2^52, so the f64 round trip is exact enough for pixels.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let h = ((n as f64 / max as f64) * plot).round() as u32;
        h.min(BASELINE - TOP)
    };
    let bars = (0..buckets)
        .map(|i| {
            let (total, failures) = (total_by[i], failed_by[i]);
            let (th, fh) = (height(total), height(failures));
            let start = start_ms + bucket_ms * i64::try_from(i).unwrap_or(0);
            let hour = start.div_euclid(3_600_000).rem_euclid(24);
            let x = u32::try_from(i).unwrap_or(0) * slot;
            Bar {
                x: x + 1,
                width: slot.saturating_sub(2).max(1),
                total,
                failures,
                total_y: BASELINE - th,
                total_height: th,
                failures_y: BASELINE - fh,
                failures_height: fh,
                label: format!("{hour:02}:00"),
                show_label: i % 4 == 0,
            }
        })
        .collect();
    Chart {
        bars,
        max,
        total: total_by.iter().sum(),
        failures: failed_by.iter().sum(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_bucket() {
        let chart = build(24, 0, 3_600_000, &[(0, 10), (5, 20), (30, 99)], &[(5, 5)]);
        assert_eq!(chart.bars.len(), 24);
        assert_eq!(chart.max, 20);
        assert_eq!(chart.total, 30, "out-of-range buckets are ignored");
        assert_eq!(chart.failures, 5);
        assert_eq!(chart.bars[5].total_height, BASELINE - TOP);
        assert_eq!(chart.bars[0].total_height, (BASELINE - TOP) / 2);
        assert_eq!(chart.bars[5].failures_height, 43, "170 / 4 = 42.5, rounded");
        assert_eq!(chart.bars[1].total_height, 0);
        assert_eq!(chart.bars[1].label, "01:00");
    }
}
