//! The Universal Scalability Law, X(N) = λN / (1 + σ(N−1) + κN(N−1)), fitted to successful
//! served throughput against concurrency (users): σ is contention, κ coherency (the
//! retrograde term).

use serde::Serialize;

use crate::levels::LoadLevel;

#[derive(Debug, Clone, Serialize)]
pub struct UslFit {
    pub lambda: f64,
    pub sigma: f64,
    pub kappa: f64,
    pub r_squared: f64,
    pub peak_users: Option<f64>,
    pub peak_throughput_rps: f64,
}

impl UslFit {
    pub fn predict(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }
}

/// Least-squares fit of X(N) = λN / (1 + σ(N−1) + κN(N−1)) by grid search over σ and κ,
/// with λ solved exactly for each pair.
pub fn fit_usl(levels: &[LoadLevel]) -> Option<UslFit> {
    let pts: Vec<(f64, f64)> = levels
        .iter()
        .filter(|l| l.trusted())
        .map(|l| (l.load, l.succeeded_rps))
        .collect();
    if pts.len() < 4 {
        return None;
    }
    let grid = |lo: f64, hi: f64, n: usize| -> Vec<f64> {
        std::iter::once(0.0)
            .chain((0..n).map(move |i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64)))
            .collect()
    };
    let sigmas = grid(1e-4, 1.0, 80);
    let kappas = grid(1e-7, 1.0, 80);
    let mut best: Option<(f64, f64, f64, f64)> = None;
    for &s in &sigmas {
        for &k in &kappas {
            let f: Vec<f64> = pts
                .iter()
                .map(|(n, _)| n / (1.0 + s * (n - 1.0) + k * n * (n - 1.0)))
                .collect();
            let ff: f64 = f.iter().map(|v| v * v).sum();
            if ff <= 0.0 {
                continue;
            }
            let lambda = pts.iter().zip(&f).map(|((_, x), fv)| x * fv).sum::<f64>() / ff;
            let sse: f64 = pts
                .iter()
                .zip(&f)
                .map(|((_, x), fv)| (x - lambda * fv).powi(2))
                .sum();
            if best.is_none_or(|b| sse < b.3) {
                best = Some((lambda, s, k, sse));
            }
        }
    }
    let (lambda, sigma, kappa, sse) = best?;
    let mean = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    let sst: f64 = pts.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let peak_users = (kappa > 0.0).then(|| ((1.0 - sigma).max(0.0) / kappa).sqrt());
    let fit = UslFit {
        lambda,
        sigma,
        kappa,
        r_squared: if sst > 0.0 { 1.0 - sse / sst } else { 1.0 },
        peak_users,
        peak_throughput_rps: 0.0,
    };
    let peak_throughput_rps = match peak_users {
        Some(n) if n >= 1.0 => fit.predict(n),
        // No retrograde term: throughput approaches λ/σ as N grows (or grows without bound).
        _ if sigma > 0.0 => lambda / sigma,
        _ => f64::INFINITY,
    };
    Some(UslFit {
        peak_throughput_rps,
        ..fit
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(users: f64, ok_rps: f64) -> LoadLevel {
        LoadLevel::for_test(users, ok_rps, 0.0)
    }

    #[test]
    fn usl_recovers_known_parameters() {
        let truth = UslFit {
            lambda: 10.0,
            sigma: 0.05,
            kappa: 0.002,
            r_squared: 1.0,
            peak_users: None,
            peak_throughput_rps: 0.0,
        };
        let levels: Vec<_> = (1..=40)
            .map(|u| level(f64::from(u), truth.predict(f64::from(u))))
            .collect();
        let fit = fit_usl(&levels).expect("fits");
        assert!((fit.lambda - 10.0).abs() < 0.5, "{fit:?}");
        assert!(fit.r_squared > 0.99);
        let n_star = ((1.0f64 - 0.05) / 0.002).sqrt();
        assert!(
            (fit.peak_users.expect("peak") - n_star).abs() / n_star < 0.15,
            "{fit:?}"
        );
    }
}
