//! Stop conditions (`--stop-on 'error_rate>10%'`, `--stop-on 'p95>15s'`), like k6's
//! abortOnFail thresholds: judged per load stage, over the stage's own requests, once it has
//! enough of them, so a run stops at the first step the target cannot hold.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Shared, StopReason};
use crate::duration::parse_duration;
use crate::stats::RunStats;

/// A stage is judged once it has this many requests and has lasted this long (or is over).
const MIN_REQUESTS: u64 = 20;
const MIN_SPAN_S: f64 = 10.0;

#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    ErrorRate,
    /// A latency percentile, 0..100.
    Percentile(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StopCondition {
    pub text: String,
    pub metric: Metric,
    /// A share for the error rate, milliseconds for a percentile.
    pub limit: f64,
}

impl StopCondition {
    pub fn parse(text: &str) -> Result<StopCondition, String> {
        let bad =
            || format!("--stop-on `{text}`: expected error_rate>N% or pNN>DURATION (e.g. p95>15s)");
        let (metric, value) = text.split_once('>').ok_or_else(bad)?;
        let (metric, value) = (metric.trim(), value.trim());
        if metric == "error_rate" {
            let pct: f64 = value
                .strip_suffix('%')
                .unwrap_or(value)
                .trim()
                .parse()
                .map_err(|_| bad())?;
            return Ok(StopCondition {
                text: text.to_string(),
                metric: Metric::ErrorRate,
                limit: pct / 100.0,
            });
        }
        let p: f64 = metric
            .strip_prefix('p')
            .and_then(|p| p.parse().ok())
            .filter(|p| *p > 0.0 && *p < 100.0)
            .ok_or_else(bad)?;
        let limit = parse_duration(value).map_err(|e| format!("--stop-on `{text}`: {e}"))?;
        Ok(StopCondition {
            text: text.to_string(),
            metric: Metric::Percentile(p),
            limit: limit.as_secs_f64() * 1000.0,
        })
    }
}

/// Resolves with a reason when a condition fires on a stage; never resolves otherwise.
pub async fn watch_conditions(
    conditions: Vec<StopCondition>,
    stats: Arc<Mutex<RunStats>>,
    shared: Arc<Shared>,
) -> StopReason {
    if conditions.is_empty() {
        return std::future::pending().await;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let (current, _) = shared.stage();
        let Ok(stats) = stats.lock() else { continue };
        for (index, s) in stats.stages.iter() {
            let over = *index < current;
            if s.all.arrivals < MIN_REQUESTS || !(over || s.span_s() >= MIN_SPAN_S) {
                continue;
            }
            for c in &conditions {
                let (value, shown) = match c.metric {
                    Metric::ErrorRate => {
                        let v = s.all.error_rate();
                        (v, format!("error rate {:.1}%", v * 100.0))
                    }
                    Metric::Percentile(p) => {
                        let v = s.all.latency.value_at_quantile(p / 100.0) as f64 / 1000.0;
                        (v, format!("p{p} {v:.0} ms"))
                    }
                };
                if value > c.limit {
                    return StopReason::Condition(format!(
                        // Judged on the stage's requests that have completed, as k6's
                        // thresholds are: the slow ones of a queue are still out (an
                        // exhaustion stage read 100% here, 13.5% once it drained).
                        "stopped by --stop-on '{}' at stage {} (target {}): {shown} over the {} requests of the stage completed so far",
                        c.text, index, s.target, s.all.arrivals
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k6_like_conditions() {
        let c = StopCondition::parse("error_rate>10%").expect("parses");
        assert_eq!((c.metric, c.limit), (Metric::ErrorRate, 0.10));
        let c = StopCondition::parse("p95>15s").expect("parses");
        assert_eq!((c.metric, c.limit), (Metric::Percentile(95.0), 15000.0));
        let c = StopCondition::parse("p99 > 250ms").expect("parses");
        assert_eq!(c.limit, 250.0);
        assert!(StopCondition::parse("latency>1s").is_err());
        assert!(StopCondition::parse("p95<1s").is_err());
    }
}
