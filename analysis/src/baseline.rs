//! Question 9: what got worse against a baseline run, with a significance test so noise is
//! not called a regression. Requests within a run are autocorrelated, so the test compares
//! per-window p95 values of each run (one sample per window), not raw requests.

use serde::Serialize;

use crate::Analysis;
use crate::judge::format_ms;

/// One endpoint compared with the baseline run: each figure as (before, after).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointChange {
    /// The endpoint.
    pub name: String,
    /// p50 of successful responses (ms), before and after.
    pub p50_ms: (f64, f64),
    /// p95 of successful responses (ms), before and after.
    pub p95_ms: (f64, f64),
    /// p99 of successful responses (ms), before and after.
    pub p99_ms: (f64, f64),
    /// Error rate (a share), before and after.
    pub error_rate: (f64, f64),
    /// Completions per second, before and after.
    pub throughput_rps: (f64, f64),
    /// Relative change of p95 (0.2 = 20% slower).
    pub p95_change: f64,
    /// Two-sided Mann-Whitney U p-value on per-window p95.
    pub p_value: Option<f64>,
    /// Whether this is a regression (p95 ≥ 10% worse and significant, or the error rate up by more than a point).
    pub regression: bool,
    /// The comparison in words.
    pub verdict: String,
    /// When the baseline asked the model server directly (its answers carry generation
    /// figures) and this run did not: the time added in front of the model server.
    pub overhead: Option<Overhead>,
}

/// What a layer in front of the model server (AURAX) adds to an endpoint, from a run through
/// it against a baseline run against the model server directly, same endpoint names.
#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    /// p50 through the layer less p50 direct (ms).
    pub p50_ms: f64,
    /// Mean through the layer less mean direct (ms).
    pub mean_ms: f64,
    /// The added p50 as a share of the p50 through the layer.
    pub share_of_p50: f64,
    /// Where the direct requests' time went, as the model server said (Ollama).
    pub model_server: Option<crate::generation::TimeSplit>,
    /// The overhead in words.
    pub verdict: String,
}

/// [`Overhead`] of `now` over `before`, when `before` was a model server asked directly.
fn overhead(current: &Analysis, baseline: &Analysis, name: &str) -> Option<Overhead> {
    let direct = baseline
        .generation
        .endpoints
        .iter()
        .find(|g| g.name == name)?;
    if current.generation.endpoints.iter().any(|g| g.name == name) {
        // Both runs asked a model server: no layer in front of either.
        return None;
    }
    let now = current.endpoints.iter().find(|e| e.name == name)?;
    let before = baseline.endpoints.iter().find(|e| e.name == name)?;
    let p50_ms = now.p50_ms? - before.p50_ms?;
    let mean_ms = now.mean_ms? - before.mean_ms?;
    let share_of_p50 = now.p50_ms.filter(|p| *p > 0.0).map_or(0.0, |p| p50_ms / p);
    let mut verdict = format!(
        "{} at p50 ({:.0}% of its {} p50; {} direct)",
        signed_ms(p50_ms),
        share_of_p50 * 100.0,
        format_ms(now.p50_ms?),
        format_ms(before.p50_ms?)
    );
    if let Some(split) = direct.split {
        let (largest, ms) = split.largest();
        verdict += &format!(
            "; direct, the model server's largest part is {largest} ({})",
            format_ms(ms)
        );
    }
    Some(Overhead {
        p50_ms,
        mean_ms,
        share_of_p50,
        model_server: direct.split,
        verdict,
    })
}

/// `+215.0 ms`, `−20.0 ms`: a difference in the judge's format.
fn signed_ms(ms: f64) -> String {
    format!(
        "{}{}",
        if ms >= 0.0 { "+" } else { "−" },
        format_ms(ms.abs())
    )
}

/// A regression: p95 at least 10% worse with p < 0.05, or the error rate up by more than
/// one point with p < 0.05 ([`error_rise_p`]: a replay's 69 failures of 206 against its
/// original's 74 had been called one).
pub fn compare(current: &Analysis, baseline: &Analysis) -> Vec<EndpointChange> {
    current
        .endpoints
        .iter()
        .filter_map(|now| {
            let before = baseline.endpoints.iter().find(|b| b.name == now.name)?;
            let samples = |a: &Analysis| -> Vec<f64> {
                a.endpoint_windows
                    .iter()
                    .filter(|w| w.endpoint == now.name && w.p95_ms.is_finite())
                    .map(|w| w.p95_ms)
                    .collect()
            };
            let p_value = mann_whitney_p(&samples(current), &samples(baseline));
            let ms = |v: Option<f64>| v.unwrap_or(f64::NAN);
            let p95_change = match (before.p95_ms, now.p95_ms) {
                (Some(b), Some(n)) if b > 0.0 => n / b - 1.0,
                _ => 0.0,
            };
            let slower = p95_change >= 0.10 && p_value.is_some_and(|p| p < 0.05);
            let arrivals = |e: &crate::endpoints::EndpointSummary| (e.requests + e.dropped) as f64;
            let more_errors = now.error_rate - before.error_rate > 0.01
                && error_rise_p(
                    (before.error_rate, arrivals(before)),
                    (now.error_rate, arrivals(now)),
                ) < 0.05;
            let verdict = match (slower, more_errors) {
                (true, _) => format!(
                    "p95 {:+.0}% (p = {:.3}): regression",
                    p95_change * 100.0,
                    p_value.unwrap_or(1.0)
                ),
                (false, true) => format!(
                    "error rate {:.1}% → {:.1}%: regression",
                    before.error_rate * 100.0,
                    now.error_rate * 100.0
                ),
                _ if p95_change.abs() >= 0.10 => format!(
                    "p95 {:+.0}%, not significant (p = {})",
                    p95_change * 100.0,
                    p_value.map_or("n/a".into(), |p| format!("{p:.3}"))
                ),
                _ => "no meaningful change".to_string(),
            };
            Some(EndpointChange {
                name: now.name.clone(),
                p50_ms: (ms(before.p50_ms), ms(now.p50_ms)),
                p95_ms: (ms(before.p95_ms), ms(now.p95_ms)),
                p99_ms: (ms(before.p99_ms), ms(now.p99_ms)),
                error_rate: (before.error_rate, now.error_rate),
                throughput_rps: (before.throughput_rps, now.throughput_rps),
                p95_change,
                p_value,
                regression: slower || more_errors,
                verdict,
                overhead: overhead(current, baseline, &now.name),
            })
        })
        .collect()
}

/// Two-sided Mann-Whitney U test, normal approximation with tie correction. None when a
/// side has fewer than 3 samples.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> Option<f64> {
    let (n1, n2) = (a.len(), b.len());
    if n1 < 3 || n2 < 3 {
        return None;
    }
    let mut all: Vec<(f64, usize)> = a
        .iter()
        .map(|v| (*v, 0))
        .chain(b.iter().map(|v| (*v, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        ranks[i..=j].iter_mut().for_each(|r| *r = rank);
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| x.1 == 0)
        .map(|(_, r)| r)
        .sum();
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if var <= 0.0 {
        return Some(1.0);
    }
    let z = ((u1 - mean).abs() - 0.5).max(0.0) / var.sqrt();
    Some((2.0 * (1.0 - normal_cdf(z))).clamp(0.0, 1.0))
}

/// One-sided two-proportion z-test: the chance of an error rate rising at least from
/// `before` to `now` (each a rate and its arrivals) if both runs had the pooled one. 1 when
/// either run had no arrivals or the pooled rate is 0 or 1 (nothing to tell).
pub fn error_rise_p((p1, n1): (f64, f64), (p2, n2): (f64, f64)) -> f64 {
    if n1 <= 0.0 || n2 <= 0.0 {
        return 1.0;
    }
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let spread = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if spread <= 0.0 || !spread.is_finite() {
        return 1.0;
    }
    1.0 - normal_cdf((p2 - p1) / spread)
}

/// Standard normal CDF (Abramowitz-Stegun 7.1.26 erf approximation, error < 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    0.5 * (1.0 + if x >= 0.0 { erf } else { -erf })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_are_not_significant_and_shifted_ones_are() {
        let a: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 7)).collect();
        let same: Vec<f64> = (0..30).map(|i| 100.0 + f64::from((i + 3) % 7)).collect();
        assert!(mann_whitney_p(&a, &same).expect("enough") > 0.5);
        let slower: Vec<f64> = a.iter().map(|v| v + 20.0).collect();
        assert!(mann_whitney_p(&slower, &a).expect("enough") < 0.001);
        assert_eq!(mann_whitney_p(&a[..2], &a), None);
    }

    /// 69 of 206 failed, then 74 of 206: noise (p 0.30); 1% then 5% of 2,000: not noise.
    #[test]
    fn an_error_rate_rise_is_weighed_against_its_arrivals() {
        let p = error_rise_p((69.0 / 206.0, 206.0), (74.0 / 206.0, 206.0));
        assert!((0.25..0.40).contains(&p), "{p}");
        assert!(error_rise_p((0.01, 2000.0), (0.05, 2000.0)) < 1e-6);
        assert_eq!(error_rise_p((0.0, 100.0), (0.0, 100.0)), 1.0);
        assert_eq!(error_rise_p((0.0, 0.0), (0.5, 10.0)), 1.0);
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
    }
}
