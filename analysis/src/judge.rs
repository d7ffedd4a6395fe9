//! The one judge: the figures a run is judged on and the rules that judge them. `run`'s
//! end-of-run verdict and `analyze` both come from here, on the same files, so the same run
//! gets the same figures and the same exit code from either.
//!
//! - Response time, by attainment ([`crate::slo`]): "p95 < T" holds when at least 95% of the
//!   endpoint's arrivals succeeded strictly under T; failures, timeouts and dropped arrivals
//!   count as over it. An endpoint with a target and no arrival to judge fails it.
//! - Throughput tiers: the most requests per second of the mix, in its proportions, served
//!   successfully at a load level (each endpoint's most over its share, the lowest, and no
//!   more than the total), at least the tier; a tier above what the configured load could
//!   offer is not judged.
//! - Error rate: failed arrivals (dropped ones included) over all arrivals, strictly under the
//!   run's tier.
//! - Generation targets (`--slo generate_text:ttft_p95<1s`): the percentile of the figure
//!   (time to first token, a request's mean inter-token latency) over the endpoint's
//!   successful streamed responses, strictly under the limit; none to judge fails.

use aurax_schema::Targets;
use serde::Serialize;

use crate::endpoints::EndpointSummary;

/// A target's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// Met.
    Pass,
    /// Missed.
    Fail,
    /// Not judged, and why (e.g. the configured load could not offer that throughput).
    NotJudged(String),
}

/// One judged target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    /// What was judged, e.g. `generate_text p95`.
    pub what: String,
    /// The figure measured.
    pub observed: String,
    /// The limit, e.g. `< 5.00 s`.
    pub limit: String,
    /// The verdict.
    pub judgement: Judgement,
}

/// The run-wide figures the judge needs besides the endpoints.
#[derive(Debug, Clone)]
pub struct RunFigures {
    /// The most requests per second of the mix, in its proportions, served successfully at
    /// a trusted load level ([`crate::saturation::Groups::mix_served_rps`]).
    pub served_rps: f64,
    /// The endpoint of the mix that had no success at any level of its own, where one did
    /// (then `served_rps` is 0: the mix in its proportions was never served).
    pub never_served: Option<String>,
    /// The most requests per second the load could offer (configured, or measured).
    pub offered_ceiling_rps: f64,
    /// (failed + dropped) / arrivals.
    pub error_rate: f64,
    /// Only some workers of a distributed run: their throughput is a share of the run's.
    pub partial_workers: Option<crate::source::PartialWorkers>,
}

/// Every target of the run judged: response times per endpoint, throughput tiers, error rate.
pub fn judge(
    endpoints: &[EndpointSummary],
    run: RunFigures,
    targets: &Targets,
) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    for e in endpoints {
        let Some(target_ms) = e.target_ms else {
            continue;
        };
        checks.push(TargetCheck {
            what: format!("{} p{}", e.name, targets.percentile),
            observed: e.attainment.map_or("no arrival".to_string(), |a| {
                format!("{:.1}% < {}", a * 100.0, format_ms(target_ms))
            }),
            limit: format!(">= {}%", targets.percentile),
            judgement: if e.meets_target == Some(true) {
                Judgement::Pass
            } else {
                Judgement::Fail
            },
        });
    }
    for (tier, rps) in tiers(targets) {
        let judgement = if let Some(partial) = run.partial_workers {
            Judgement::NotJudged(partial.to_string())
        } else if run.offered_ceiling_rps + 1e-9 < rps {
            Judgement::NotJudged(format!(
                "load offers at most {:.1} req/s",
                run.offered_ceiling_rps
            ))
        } else if run.served_rps >= rps {
            Judgement::Pass
        } else {
            Judgement::Fail
        };
        checks.push(TargetCheck {
            what: format!("throughput ({tier})"),
            observed: match &run.never_served {
                Some(endpoint) => format!("{:.1} req/s ({endpoint}: no success)", run.served_rps),
                None => format!("{:.1} req/s", run.served_rps),
            },
            limit: format!(">= {rps} req/s"),
            judgement,
        });
    }
    let e = &targets.error_rate;
    checks.push(TargetCheck {
        what: format!("error rate ({})", e.tier),
        observed: format!("{:.2}%", run.error_rate * 100.0),
        limit: format!("< {}%", e.max_error_rate * 100.0),
        judgement: if run.error_rate < e.max_error_rate {
            Judgement::Pass
        } else {
            Judgement::Fail
        },
    });
    checks
}

/// The generation targets judged ([`crate::generation::JudgedGeneration`]).
pub fn generation_checks(judged: &[crate::generation::JudgedGeneration]) -> Vec<TargetCheck> {
    judged
        .iter()
        .map(|j| TargetCheck {
            what: format!(
                "{} {}",
                j.target.endpoint,
                crate::generation::figure_name(j.target.metric, j.target.percentile)
            ),
            observed: j
                .observed_ms
                .map_or("no streamed success".to_string(), format_ms),
            limit: format!("< {}", format_ms(j.target.limit_ms)),
            judgement: match j.observed_ms {
                Some(v) if v < j.target.limit_ms => Judgement::Pass,
                _ => Judgement::Fail,
            },
        })
        .collect()
}

/// A capacity search fails steps on purpose, so its whole-run response times and error rate
/// are not judged (each step judged them); the throughput tiers are judged on the capacity it
/// found, and a search that found none fails.
pub fn search_checks(
    checks: Vec<TargetCheck>,
    answer: &crate::capacity::CapacityAnswer,
    targets: &Targets,
) -> Vec<TargetCheck> {
    let capacity = answer.capacity_rps;
    let observed = capacity.map_or("none".to_string(), |c| format!("{c:.1} req/s"));
    let mut out = vec![TargetCheck {
        what: "capacity search".into(),
        observed: observed.clone(),
        limit: "a passing step".into(),
        judgement: if capacity.is_some() {
            Judgement::Pass
        } else {
            Judgement::Fail
        },
    }];
    for (tier, rps) in tiers(targets) {
        out.push(TargetCheck {
            what: format!("throughput ({tier})"),
            observed: observed.clone(),
            limit: format!(">= {rps} req/s"),
            judgement: match capacity {
                Some(c) if c >= rps => Judgement::Pass,
                _ => Judgement::Fail,
            },
        });
    }
    out.extend(
        checks
            .into_iter()
            .filter(|c| !c.what.starts_with("throughput"))
            .map(|c| TargetCheck {
                judgement: Judgement::NotJudged("judged per step by the search".into()),
                ..c
            }),
    );
    out
}

/// The seed's throughput tiers, named.
fn tiers(targets: &Targets) -> [(&'static str, f64); 3] {
    let t = &targets.throughput;
    [
        ("minimum", t.minimum_rps),
        ("target", t.target_rps),
        ("peak", t.peak_rps),
    ]
}

/// The verdict's word, one rule for the headline and `summary.json`: `FAIL` when a target
/// was missed, `REGRESSED` when none was but a regression against the baseline was found
/// (`--fail-on-regression` exits 98 on it), else `PASS`.
pub fn verdict_word(pass: bool, regressed: bool) -> &'static str {
    match (pass, regressed) {
        (false, _) => "FAIL",
        (true, true) => "REGRESSED",
        (true, false) => "PASS",
    }
}

/// Whether no check failed (checks not judged do not fail).
pub fn all_pass(checks: &[TargetCheck]) -> bool {
    checks.iter().all(|c| c.judgement != Judgement::Fail)
}

/// Milliseconds as a terminal shows them: `850.0 ms`, `1.25 s`.
pub fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms < 1.0 {
        // Inter-token gaps can be a fraction of a millisecond.
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mix one endpoint of which never succeeded was never served in its proportions: the
    /// throughput checks say 0 and which endpoint kept it there.
    #[test]
    fn a_mix_never_served_names_the_endpoint_that_kept_it_at_zero() {
        let run = RunFigures {
            served_rps: 0.0,
            never_served: Some("generate_image".to_string()),
            offered_ceiling_rps: 200.0,
            error_rate: 0.1,
            partial_workers: None,
        };
        let checks = judge(&[], run, &Targets::seed_defaults());
        let minimum = checks
            .iter()
            .find(|c| c.what == "throughput (minimum)")
            .expect("a throughput check");
        assert_eq!(minimum.observed, "0.0 req/s (generate_image: no success)");
        assert!(matches!(minimum.judgement, Judgement::Fail), "{minimum:?}");
    }
}
