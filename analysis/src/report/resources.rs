//! The report's "Resource constraints" section: resources per load level beside p95, the
//! constraint, the scaling trigger and the generator's own CPU.

use std::fmt::Write;

use aurax_schema::metrics;

use super::{chart, code, md};
use crate::Analysis;
use crate::charts::ChartFile;

pub(super) fn resources_section(o: &mut String, a: &Analysis, charts: &[ChartFile]) {
    let _ = writeln!(o, "## Resource constraints\n");
    let r = &a.resources;
    if r.series.is_empty() {
        let _ = writeln!(
            o,
            "No resource samples were recorded with this run (CPU and memory of the target and of the load generator), so resource constraints cannot be judged. `aurax-tool run --scrape URL/metrics` samples the target.\n"
        );
        return;
    }
    let sources: Vec<&str> = {
        let mut s: Vec<&str> = r.series.iter().map(|s| s.source.as_str()).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let _ = writeln!(
        o,
        "Sampled from {}; CPU as cores used (a counter's rate), memory resident, disk I/O as MiB/s read and written (shown, not judged), means per load level.\n",
        sources
            .iter()
            .map(|s| format!("`{}`", code(s)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = write!(o, "| load ({}) | p95 ms |", a.source.load_unit());
    for s in &r.series {
        let _ = write!(o, " {} ({}) |", md(&s.name), s.unit);
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "|---:|---:|{}", "---:|".repeat(r.series.len()));
    for (i, l) in a.levels.iter().enumerate() {
        let _ = write!(o, "| {:.0} | {:.0} |", l.load, l.p95_ms);
        for s in &r.series {
            let cell = s.per_level[i].map_or("–".to_string(), |v| format!("{v:.2}"));
            let _ = write!(o, " {cell} |");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o);
    for (source, answered) in &r.answered {
        let recorded = a.responses as f64;
        let gap = (answered - recorded) / recorded.max(1.0);
        let _ = writeln!(
            o,
            "`{}` counted {answered:.0} requests answered while it was sampled (`{}`, its scrapes left out); the load generator recorded {recorded:.0} responses{}.\n",
            code(source),
            metrics::SERVED_REQUESTS,
            if gap.abs() > 0.05 {
                format!(
                    ": {:+.0}% apart, so the target also served other clients, something in between answered for it, or it did not count every request",
                    100.0 * gap
                )
            } else {
                String::new()
            }
        );
    }
    match &r.constraint {
        Some((name, load, value)) => {
            let _ = writeln!(
                o,
                "**Constraint: {} saturates first, at {load:.0} {} ({value:.2}); {}.**\n",
                md(name),
                a.source.load_unit(),
                md(a.breaking.verdict.trim_end_matches('.'))
            );
        }
        None => {
            let _ = writeln!(
                o,
                "No sampled resource of the target saturated, so no resource-based scaling trigger is set.\n"
            );
        }
    }
    if let Some(t) = &r.trigger {
        let _ = writeln!(o, "**Scaling trigger:** {}.\n", md(t));
    }
    match (
        &r.generator_saturated,
        r.series.iter().find(|s| s.generator && s.is_cpu()),
    ) {
        (Some(g), _) => {
            let _ = writeln!(o, "**The load generator was the bottleneck.** {}\n", md(g));
        }
        (None, Some(g)) => {
            let peak = g
                .per_level
                .iter()
                .flatten()
                .fold(0.0, |m: f64, v| m.max(*v));
            let _ = writeln!(
                o,
                "The load generator's own CPU peaked at {peak:.2} cores{}: the client was not the bottleneck.\n",
                if g.ceiling_known {
                    format!(" of {:.0}", g.ceiling)
                } else {
                    String::new()
                }
            );
        }
        (None, None) => {}
    }
    chart(o, charts, "resources.png");
}
