//! Named load scenarios (`[scenarios.NAME]`): a load shape with its classes and stop
//! conditions, compiled from the scenario file.

use std::time::Duration;

use super::file::LoadScenarioDef;
use crate::duration::parse_duration;
use crate::shape::{Arrivals, LoadShape, Stage};

/// Arrivals beyond this many in flight are dropped unless a scenario or flag says otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

#[derive(Debug, Clone)]
pub struct LoadScenario {
    pub name: String,
    pub description: String,
    /// Class names with optional weights.
    pub classes: Vec<String>,
    pub shape: LoadShape,
    pub stop_on: Vec<String>,
}

impl LoadScenario {
    /// The shape with loads times `load` and durations times `time`.
    pub fn scaled(&self, load: f64, time: f64) -> LoadShape {
        let scale = |stages: &[Stage]| -> Vec<Stage> {
            stages
                .iter()
                .map(|s| Stage {
                    target: s.target * load,
                    duration: s.duration.mul_f64(time),
                })
                .collect()
        };
        match &self.shape {
            LoadShape::Closed { stages } => LoadShape::Closed {
                stages: scale(stages),
            },
            LoadShape::Open {
                stages,
                arrivals,
                connections,
                max_in_flight,
            } => LoadShape::Open {
                stages: scale(stages),
                arrivals: *arrivals,
                connections: *connections,
                max_in_flight: *max_in_flight,
            },
            replay @ LoadShape::Replay { .. } => replay.clone(),
        }
    }
}

pub fn compile(name: &str, def: &LoadScenarioDef) -> Result<LoadScenario, String> {
    let open = match def.model.as_deref() {
        None | Some("closed") => false,
        Some("open") => true,
        Some(other) => {
            return Err(format!(
                "scenario {name}: model `{other}` is neither closed nor open"
            ));
        }
    };
    if def.user_classes.is_empty() {
        return Err(format!(
            "scenario {name}: user_classes is empty: name at least one class"
        ));
    }
    let stages = match (&def.stages, &def.steps) {
        (Some(stages), None) => stages
            .iter()
            .map(|s| {
                let target = match (s.users, s.rate, open) {
                    (Some(u), None, false) => u,
                    (None, Some(r), true) => r,
                    _ => return Err(format!("scenario {name}: each stage needs `{}` (and only that) in the {} model", if open { "rate" } else { "users" }, if open { "open" } else { "closed" })),
                };
                Ok(Stage { target, duration: parse_duration(&s.duration).map_err(|e| format!("scenario {name}: {e}"))? })
            })
            .collect::<Result<Vec<_>, String>>()?,
        (None, Some(steps)) => {
            let every = parse_duration(&steps.every).map_err(|e| format!("scenario {name}: steps.every: {e}"))?;
            if !(steps.step > 0.0 && steps.start >= 0.0 && steps.max >= steps.start) || every.is_zero() {
                return Err(format!("scenario {name}: steps need start >= 0, step > 0, max >= start and a duration"));
            }
            if (steps.max - steps.start) / steps.step > MAX_STEPS {
                return Err(format!("scenario {name}: steps from {} to {} by {} make over {MAX_STEPS} steps", steps.start, steps.max, steps.step));
            }
            let mut out = Vec::new();
            let mut level = steps.start;
            while level <= steps.max + 1e-9 {
                out.push(Stage { target: level, duration: Duration::ZERO });
                out.push(Stage { target: level, duration: every });
                level += steps.step;
            }
            out
        }
        _ => return Err(format!("scenario {name}: give either `stages` or `steps`")),
    };
    // One reading of an arrivals name, the flag's (`--arrivals`).
    let arrivals = match def.arrivals.as_deref() {
        None => Arrivals::Constant,
        Some(text) => <Arrivals as clap::ValueEnum>::from_str(text, false).map_err(|_| {
            format!("scenario {name}: arrivals `{text}` is neither constant nor poisson")
        })?,
    };
    let shape = if open {
        LoadShape::Open {
            stages,
            arrivals,
            connections: def.connections,
            max_in_flight: def.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        }
    } else {
        LoadShape::Closed { stages }
    };
    Ok(LoadScenario {
        name: name.to_string(),
        description: def.description.clone().unwrap_or_default(),
        classes: def.user_classes.clone(),
        shape,
        stop_on: def.stop_on.clone(),
    })
}

/// Most load steps a `steps` scenario may make (each a stage).
const MAX_STEPS: f64 = 10_000.0;

/// The `[scenarios.NAME]` section of a scenario file's text, for `scenario show NAME`.
pub fn section<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let header = format!("[scenarios.{name}]");
    let start = text.find(&header)?;
    let rest = &text[start + header.len()..];
    let end = rest
        .find("\n[")
        .map_or(text.len(), |i| start + header.len() + i + 1);
    Some(text[start..end].trim_end())
}
