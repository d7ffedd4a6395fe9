//! Load shapes: stages of users (closed model) or of arrival rates (open model), each
//! ramping linearly from the previous stage's target to its own, as k6's stages do. A step is
//! a stage of zero duration.

use std::time::Duration;

use crate::duration::parse_duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Users (closed model) or arrivals per second (open model) at the end of the stage.
    pub target: f64,
    pub duration: Duration,
}

/// How open-model arrivals are spaced (`--arrivals`, a scenario's `arrivals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arrivals {
    /// Exactly 1/rate apart.
    Constant,
    /// Exponential gaps with mean 1/rate: independent arrivals, as real traffic.
    Poisson,
}

/// How replayed requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// At the trace's times (divided by `--speed`).
    Recorded {
        connections: Option<usize>,
        max_in_flight: usize,
    },
    /// `--as-fast-as-possible`: this many users send the trace's requests back to back.
    AsFastAsPossible { users: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoadShape {
    /// Virtual users with wait times; the target is the number of users.
    Closed { stages: Vec<Stage> },
    /// Arrivals at a rate, independent of response times.
    Open {
        stages: Vec<Stage>,
        arrivals: Arrivals,
        /// Client connections: an arrival waits for a free one (its lateness is recorded).
        connections: Option<usize>,
        /// Arrivals beyond this many pending are not sent and recorded as `dropped`.
        max_in_flight: usize,
    },
    /// A recorded mix, replayed at its own times or as fast as possible; no stages.
    Replay { pace: Pace },
}

impl LoadShape {
    pub fn stages(&self) -> &[Stage] {
        match self {
            LoadShape::Closed { stages } | LoadShape::Open { stages, .. } => stages,
            LoadShape::Replay { .. } => &[],
        }
    }

    /// Open: the load is a rate of arrivals (`stage_target` is req/s), not users.
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            LoadShape::Open { .. }
                | LoadShape::Replay {
                    pace: Pace::Recorded { .. }
                }
        )
    }

    pub fn duration(&self) -> Duration {
        self.stages().iter().map(|s| s.duration).sum()
    }

    pub fn peak(&self) -> f64 {
        self.stages().iter().map(|s| s.target).fold(0.0, f64::max)
    }

    /// The stages that begin within the first `t` (the first always): a run cut short by
    /// `-t` runs those alone.
    pub fn stages_before(&self, t: Duration) -> &[Stage] {
        let mut start = Duration::ZERO;
        let begun = self
            .stages()
            .iter()
            .take_while(|stage| {
                let begun = start < t || start.is_zero();
                start += stage.duration;
                begun
            })
            .count();
        &self.stages()[..begun]
    }

    /// The highest load the stages reach in their first `t`: a run cut short by `-t` never
    /// offers the peak of stages it did not reach.
    pub fn peak_before(&self, t: Duration) -> f64 {
        let (mut peak, mut from, mut start) = (0.0f64, 0.0, Duration::ZERO);
        for s in self.stages() {
            let end = start + s.duration;
            if end <= t {
                peak = peak.max(s.target);
            } else {
                let frac = (t - start).as_secs_f64() / s.duration.as_secs_f64();
                return peak.max(from + (s.target - from) * frac);
            }
            from = s.target;
            start = end;
        }
        peak
    }

    /// Stage index and the load wanted `t` into the run.
    pub fn at(&self, t: Duration) -> (u32, f64) {
        target_at(self.stages(), t)
    }

    /// When the load stops holding still, if it holds still at `t`: the end of a stage
    /// whose target is the one before it (a hold), `Duration::MAX` past the last stage; None
    /// during a ramp.
    pub fn hold_until(&self, t: Duration) -> Option<Duration> {
        let mut from = 0.0;
        let mut end = Duration::ZERO;
        for s in self.stages() {
            end += s.duration;
            if t < end {
                return (s.target == from).then_some(end);
            }
            from = s.target;
        }
        Some(Duration::MAX)
    }
}

/// Locust's `-u N -r R -t T`: a linear ramp to N users at R per second, then a hold.
pub fn locust_ramp(users: u32, spawn_rate: f64, run_time: Duration) -> Vec<Stage> {
    // Users arrive at the spawn rate until all have come or the run ends: a ramp that cannot
    // reach `users` within the run time stops where it got to, at the same rate (Locust's
    // meaning), not squeezed into the run time.
    // In seconds first: a tiny spawn rate makes a ramp longer than any Duration.
    let full_s = f64::from(users) / spawn_rate;
    let (ramp, reached) = if full_s <= run_time.as_secs_f64() {
        (Duration::from_secs_f64(full_s), f64::from(users))
    } else {
        (
            run_time,
            (spawn_rate * run_time.as_secs_f64()).floor().max(1.0),
        )
    };
    vec![
        Stage {
            target: reached,
            duration: ramp,
        },
        Stage {
            target: reached,
            duration: run_time.saturating_sub(ramp),
        },
    ]
}

pub fn target_at(stages: &[Stage], t: Duration) -> (u32, f64) {
    let mut from = 0.0;
    let mut start = Duration::ZERO;
    for (i, s) in stages.iter().enumerate() {
        let end = start + s.duration;
        if t < end {
            let frac = (t - start).as_secs_f64() / s.duration.as_secs_f64();
            return (i as u32, from + (s.target - from) * frac);
        }
        from = s.target;
        start = end;
    }
    let last = stages.len().saturating_sub(1) as u32;
    (last, stages.last().map_or(0.0, |s| s.target))
}

/// k6-style `TARGET:DURATION,...`; `rate` accepts `50/s` and `3000/m` targets.
pub fn parse_stages(text: &str, rate: bool) -> Result<Vec<Stage>, String> {
    let stages = text
        .split(',')
        .map(|part| {
            let (target, duration) = part
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("`{part}`: expected TARGET:DURATION such as 50:1m"))?;
            let target = if rate {
                parse_rate(target)?
            } else {
                parse_number(target)?
            };
            Ok(Stage {
                target,
                duration: parse_duration(duration)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    if stages.iter().all(|s| s.duration.is_zero()) {
        return Err("the stages last no time at all".into());
    }
    Ok(stages)
}

/// `50/s`, `3000/m`, `50` (per second).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (n, per) = match t.split_once('/') {
        Some((n, "s")) => (n, 1.0),
        Some((n, "m")) => (n, 60.0),
        Some((_, unit)) => {
            return Err(format!("`{t}`: unknown rate unit `/{unit}` (use /s or /m)"));
        }
        None => (t, 1.0),
    };
    Ok(parse_number(n)? / per)
}

fn parse_number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("`{}` is not a number of 0 or more", text.trim()))
}

#[cfg(test)]
mod tests {

    /// A run cut short by -t runs the stages that began before its end, and no more.
    #[test]
    fn a_cut_run_keeps_the_stages_it_began() {
        let stage = |target: f64, secs: u64| Stage {
            target,
            duration: Duration::from_secs(secs),
        };
        let shape = LoadShape::Closed {
            stages: vec![
                stage(10.0, 5),
                stage(20.0, 5),
                stage(40.0, 5),
                stage(80.0, 5),
            ],
        };
        let cut = shape.stages_before(Duration::from_secs(7));
        assert_eq!(cut.len(), 2);
        assert_eq!(shape.peak_before(Duration::from_secs(7)), 14.0);
        assert_eq!(shape.stages_before(Duration::from_secs(20)).len(), 4);
        assert_eq!(shape.stages_before(Duration::ZERO).len(), 1);
    }
    use super::*;

    #[test]
    fn a_run_cut_short_offers_only_the_load_it_reached() {
        let stages = parse_stages("10/s:1m,200/s:5m", true).expect("parses");
        let shape = LoadShape::Closed { stages };
        // 20 s into a minute's ramp to 10/s.
        assert!((shape.peak_before(Duration::from_secs(20)) - 10.0 / 3.0).abs() < 1e-9);
        // Past the first stage, 1 minute into the ramp from 10 to 200 over 5.
        assert!((shape.peak_before(Duration::from_secs(120)) - 48.0).abs() < 1e-9);
        assert_eq!(shape.peak_before(Duration::MAX), 200.0);
        // A step (zero duration) counts once reached.
        let steps = parse_stages("10:0s,10:30s,20:0s,20:30s", false).expect("parses");
        let shape = LoadShape::Closed { stages: steps };
        assert_eq!(shape.peak_before(Duration::from_secs(10)), 10.0);
        assert_eq!(shape.peak_before(Duration::from_secs(30)), 20.0);
    }

    #[test]
    fn stages_ramp_linearly_and_steps_jump() {
        let s = parse_stages("0:10s,50:1m,50:3m,0:30s", false).expect("parses");
        let at = |secs: f64| target_at(&s, Duration::from_secs_f64(secs));
        assert_eq!(at(5.0), (0, 0.0));
        assert_eq!(at(40.0), (1, 25.0));
        assert_eq!(at(100.0), (2, 50.0));
        assert_eq!(at(265.0), (3, 25.0));
        let steps = parse_stages("10:0s,10:30s,20:0s,20:30s", false).expect("parses");
        assert_eq!(target_at(&steps, Duration::from_secs(10)), (1, 10.0));
        assert_eq!(target_at(&steps, Duration::from_secs(40)), (3, 20.0));
    }

    #[test]
    fn holds_end_where_the_next_ramp_starts() {
        let stages = parse_stages("0:10s,50:1m,50:3m,0:30s", false).expect("parses");
        let shape = LoadShape::Closed { stages };
        let hold = |secs: u64| shape.hold_until(Duration::from_secs(secs));
        assert_eq!(hold(5), Some(Duration::from_secs(10)));
        assert_eq!(hold(40), None);
        assert_eq!(hold(100), Some(Duration::from_secs(250)));
        assert_eq!(hold(265), None);
        assert_eq!(hold(300), Some(Duration::MAX));
        let steps = parse_stages("10:0s,10:30s,20:0s,20:30s", false).expect("parses");
        let shape = LoadShape::Closed { stages: steps };
        assert_eq!(
            shape.hold_until(Duration::from_secs(40)),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn rates_and_bad_stages() {
        assert_eq!(parse_rate("50/s"), Ok(50.0));
        assert_eq!(parse_rate("3000/m"), Ok(50.0));
        let s = parse_stages("10/s:1m,200/s:5m", true).expect("parses");
        assert_eq!(
            s[1],
            Stage {
                target: 200.0,
                duration: Duration::from_secs(300)
            }
        );
        assert!(parse_stages("50-1m", false).is_err());
        assert!(parse_rate("5/h").is_err());
        let ramp = locust_ramp(25, 3.0, Duration::from_secs(300));
        let (stage, users) = target_at(&ramp, Duration::from_secs(3));
        assert!(stage == 0 && (users - 9.0).abs() < 1e-6, "{users}");
        assert_eq!(target_at(&ramp, Duration::from_secs(100)), (1, 25.0));
    }
}
