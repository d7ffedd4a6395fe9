//! The report's "Resource constraints" section: resources per load level beside p95, the
//! constraint, the scaling trigger and the generator's own CPU.

use aurax_schema::metrics;

use super::model::{Align, Section, Table, Text};
use crate::Analysis;
use crate::charts::ChartFile;

pub(super) fn resources_section(a: &Analysis, charts: &[ChartFile]) -> Section {
    let mut s = Section::new("Resource constraints");
    let r = &a.resources;
    if r.series.is_empty() {
        s.para(
            Text::new()
                .plain("No resource samples were recorded with this run (CPU and memory of the target and of the load generator), so resource constraints cannot be judged. ")
                .code("aurax-tool run --scrape URL/metrics")
                .plain(" samples the target."),
        );
        return s;
    }
    let mut sources: Vec<&str> = r.series.iter().map(|s| s.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    let mut intro = Text::new().plain("Sampled from ");
    for (i, source) in sources.iter().enumerate() {
        if i > 0 {
            intro = intro.plain(", ");
        }
        intro = intro.code(*source);
    }
    s.para(intro.plain("; CPU as cores used (a counter's rate), memory resident, disk I/O as MiB/s read and written (shown, not judged), means per load level."));
    let mut columns = vec![
        (format!("load ({})", a.source.load_unit()), Align::Right),
        ("p95 ms".to_string(), Align::Right),
    ];
    columns.extend(
        r.series
            .iter()
            .map(|s| (format!("{} ({})", s.name, s.unit), Align::Right)),
    );
    let mut t = Table {
        columns,
        rows: Vec::new(),
    };
    for (i, l) in a.levels.iter().enumerate() {
        let mut row = vec![format!("{:.0}", l.load), format!("{:.0}", l.p95_ms)];
        row.extend(
            r.series
                .iter()
                .map(|s| s.per_level[i].map_or("–".to_string(), |v| format!("{v:.2}"))),
        );
        t.plain_row(row);
    }
    s.table(t);
    for (source, answered) in &r.answered {
        let recorded = a.responses as f64;
        let gap = (answered - recorded) / recorded.max(1.0);
        s.para(
            Text::new()
                .code(source.clone())
                .plain(format!(
                    " counted {answered:.0} requests answered while it was sampled ("
                ))
                .code(metrics::SERVED_REQUESTS)
                .plain(format!(
                    ", its scrapes left out); the load generator recorded {recorded:.0} responses{}.",
                    if gap.abs() > 0.05 {
                        format!(
                            ": {:+.0}% apart, so the target also served other clients, something in between answered for it, or it did not count every request",
                            100.0 * gap
                        )
                    } else {
                        String::new()
                    }
                )),
        );
    }
    match &r.constraint {
        Some((name, load, value)) => s.para(Text::new().strong(format!(
            "Constraint: {name} saturates first, at {load:.0} {} ({value:.2}); {}.",
            a.source.load_unit(),
            a.breaking.verdict.trim_end_matches('.')
        ))),
        None if a.residency.as_ref().is_some_and(|r| r.constraint.is_some()) => s.para(
            "No sampled resource of the target saturated: the constraint is model swapping (Model residency, below).",
        ),
        None => s.para("No sampled resource of the target saturated, so no resource-based scaling trigger is set."),
    }
    if let Some(t) = &r.trigger {
        s.para(
            Text::new()
                .strong("For a CPU-based autoscaler")
                .plain(format!(
                    " (the same trigger read on a resource instead of the request rate): {t}."
                )),
        );
    }
    match (
        &r.generator_saturated,
        r.series.iter().find(|s| s.generator && s.is_cpu()),
    ) {
        (Some(g), _) => s.para(
            Text::new()
                .strong("The load generator was the bottleneck.")
                .plain(format!(" {g}")),
        ),
        (None, Some(g)) => {
            let peak = g
                .per_level
                .iter()
                .flatten()
                .fold(0.0, |m: f64, v| m.max(*v));
            s.para(format!(
                "The load generator's own CPU peaked at {peak:.2} cores{}: the client was not the bottleneck.",
                if g.ceiling_known {
                    format!(" of {:.0}", g.ceiling)
                } else {
                    String::new()
                }
            ));
        }
        (None, None) => {}
    }
    s.figure(charts, "resources.png");
    s
}
