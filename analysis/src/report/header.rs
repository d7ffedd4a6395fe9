//! The run header every form opens with: what was run (the command, redacted), against
//! what (and whether it was the built-in simulator), the load's shape, when, the seed, the
//! tool that ran it and the load machine. Read from the files' run configuration
//! (`aurax.run_config`); a field a file does not carry (an older run) is left out.

use serde_json::Value;

use super::model::RunHeader;
use crate::Analysis;

/// The header of the analysed run.
pub fn run_header(a: &Analysis) -> RunHeader {
    let config = a.source.config.as_ref();
    let get = |k: &str| config.and_then(|c| c.get(k)).filter(|v| !v.is_null());
    let mut fields = Vec::new();
    if let Some(cmd) = get("command").and_then(Value::as_str) {
        fields.push(("command", cmd.to_string()));
    }
    let hosts = if a.source.hosts.is_empty() {
        "(unknown host)".to_string()
    } else {
        a.source.hosts.join(", ")
    };
    fields.push((
        "target",
        match get("simulator") {
            Some(_) => format!("{hosts}, the built-in AURAX simulator"),
            None => hosts,
        },
    ));
    fields.push(("load", load_shape(a, config)));
    let start = chrono::DateTime::from_timestamp_micros(a.start_us);
    let end =
        chrono::DateTime::from_timestamp_micros(a.start_us + (a.duration_s * 1e6).round() as i64);
    fields.push((
        "duration",
        format!(
            "{:.0} s, {} requests sent{}",
            a.duration_s,
            a.requests,
            if a.dropped > 0 {
                format!(" and {} arrivals dropped unsent", a.dropped)
            } else {
                String::new()
            }
        ),
    ));
    if let (Some(start), Some(end)) = (start, end) {
        fields.push((
            "UTC",
            format!(
                "{} to {}",
                start.format("%Y-%m-%d %H:%M:%S"),
                end.format(if start.date_naive() == end.date_naive() {
                    "%H:%M:%S"
                } else {
                    "%Y-%m-%d %H:%M:%S"
                })
            ),
        ));
    }
    if let Some(seed) = get("seed").and_then(Value::as_u64) {
        fields.push(("seed", seed.to_string()));
    }
    let commit = get("tool_commit")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    fields.push((
        "tool",
        format!(
            "run by aurax-tool {}{}, analysed by {}",
            a.source.tool_version.as_deref().unwrap_or("(unknown)"),
            commit.map_or(String::new(), |c| format!(" ({c})")),
            env!("CARGO_PKG_VERSION")
        ),
    ));
    if let Some(cores) = get("load_cores").and_then(Value::as_u64).filter(|&c| c > 0) {
        fields.push(("load machine", format!("{cores} cores")));
    }
    RunHeader {
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), crate::frame::clean(&v)))
            .collect(),
    }
}

/// The load in words: the model, its stages or profile, the classes.
fn load_shape(a: &Analysis, config: Option<&Value>) -> String {
    if let Some(search) = &a.source.capacity_search {
        return format!(
            "capacity search (open model) from {:.1} req/s, steps of {:.0}-{:.0} s, budget {:.0} s",
            search.start_rps, search.step_min_s, search.step_max_s, search.budget_s
        );
    }
    if let Some(trace) = a.source.trace_line() {
        return trace;
    }
    let Some(c) = config else {
        return if a.source.open_model {
            "open model".to_string()
        } else {
            "closed model".to_string()
        };
    };
    let open = a.source.open_model;
    let unit = if open { "/s" } else { " users" };
    // Stages as k6 reads them: each moves the load to its target over its duration.
    let mut before = 0.0;
    let stages: Vec<String> = c["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let target = s["target"].as_f64().unwrap_or(0.0);
            let over = seconds(s["duration_s"].as_f64().unwrap_or(0.0));
            let step = if target == before {
                format!("hold {}{unit} for {over}", number(target))
            } else {
                format!("to {}{unit} in {over}", number(target))
            };
            before = target;
            step
        })
        .collect();
    let shown = if stages.len() > 5 {
        format!("{} … ({} stages)", stages[..4].join(", "), stages.len())
    } else {
        stages.join(", ")
    };
    let classes: Vec<&str> = c["user_classes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["name"].as_str())
        .collect();
    let what = match (c["load_scenario"].as_str(), c["profile"].as_str()) {
        (Some(s), _) => format!("scenario {s}"),
        (None, Some(p)) if !open => format!("profile {p}"),
        _ => String::new(),
    };
    let mut parts = vec![if open { "open model" } else { "closed model" }.to_string()];
    parts.extend((!what.is_empty()).then_some(what));
    parts.extend((!shown.is_empty()).then_some(shown));
    parts.extend((!classes.is_empty()).then(|| classes.join(", ")));
    parts.join(", ")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn seconds(s: f64) -> String {
    if s >= 120.0 && s % 60.0 == 0.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{} s", number(s))
    }
}
