//! The one rule for a latency target: **attainment**. "p95 < 15 s" holds when at least 95% of
//! the endpoint's **arrivals** succeeded in under 15 s: the nearest-rank p95 over every
//! arrival, a failure, a timeout or a dropped arrival counting as slower than any target. The
//! percentile of successful responses alone (the tables' figure) cannot fail a target whose
//! slow requests time out: they leave the sample. `run`'s and `analyze`'s verdicts, the
//! capacity search's steps and the per-level attainment curves all judge by this.

/// Whether `within` arrivals out of `arrivals` meeting the target satisfy "p`percentile` <
/// target": at least ⌈percentile/100 · arrivals⌉ of them (nearest rank). No arrivals: nothing
/// to judge, so no.
pub fn attains(within: f64, arrivals: f64, percentile: f64) -> bool {
    // A hair under the product so that 0.95 · 100 (94.999…) asks for 95, not 96.
    arrivals > 0.0 && within >= (percentile / 100.0 * arrivals - 1e-9).ceil()
}

/// The share of arrivals that met the target; None without arrivals.
pub fn attainment(within: f64, arrivals: f64) -> Option<f64> {
    (arrivals > 0.0).then(|| within / arrivals)
}

/// Whether one successful response met a target: strictly under it, as "p95 < 15 s" says.
pub fn within_target(latency_us: f64, target_ms: f64) -> bool {
    latency_us < target_ms * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attainment_is_the_nearest_rank_percentile_over_arrivals() {
        // 95 of 100 within: p95 (the 95th value) is within.
        assert!(attains(95.0, 100.0, 95.0));
        assert!(!attains(94.0, 100.0, 95.0));
        // 19 of 20: ⌈0.95 · 20⌉ = 19.
        assert!(attains(19.0, 20.0, 95.0));
        // 1 of 1, and p50 of 3 needs 2.
        assert!(attains(1.0, 1.0, 99.0));
        assert!(!attains(1.0, 3.0, 50.0));
        assert!(attains(2.0, 3.0, 50.0));
        assert!(!attains(0.0, 0.0, 95.0));
        assert_eq!(attainment(87.0, 100.0), Some(0.87));
        assert!(within_target(14_999_999.0, 15_000.0));
        assert!(!within_target(15_000_000.0, 15_000.0));
    }
}
