//! The report's "Model residency" section: each Ollama model's time in memory, loads, swaps,
//! the requests that waited for a load and the time they lost, and model swapping named as
//! the constraint with what to do about it (docs/analysis.md, "Model residency").

use super::model::{Align, Section, Table, Text};
use crate::Analysis;
use crate::charts::ChartFile;

pub(super) fn residency_section(a: &Analysis, charts: &[ChartFile]) -> Option<Section> {
    let r = a.residency.as_ref()?;
    let mut s = Section::new("Model residency");
    s.para(
        Text::new()
            .plain("Ollama's ")
            .code("/api/ps")
            .plain(format!(
                " sampled {} times, every {:.2} s, from ",
                r.samples, r.interval_s
            ))
            .code(r.source.clone())
            .plain(": which models were in memory when. A model absent at one sample and present at the next was loaded between them; a swap is a load while another model was unloaded."),
    );
    if let Some(c) = &r.constraint {
        s.para(Text::new().strong(format!("Constraint: {c}.")));
    }
    let mut t = Table {
        columns: vec![
            ("model".to_string(), Align::Left),
            ("size GB".to_string(), Align::Right),
            ("in VRAM".to_string(), Align::Right),
            ("in memory".to_string(), Align::Right),
            ("loads".to_string(), Align::Right),
            ("swaps".to_string(), Align::Right),
            ("unloads".to_string(), Align::Right),
            ("requests that waited".to_string(), Align::Right),
            ("time lost s".to_string(), Align::Right),
        ],
        rows: Vec::new(),
    };
    for m in &r.models {
        t.row(vec![
            Text::new().code(m.model.clone()),
            Text::new().plain(format!("{:.1}", m.size_gb)),
            Text::new().plain(
                m.vram_share
                    .map_or("–".into(), |v| format!("{:.0}%", v * 100.0)),
            ),
            Text::new().plain(format!("{:.0}%", m.resident_share * 100.0)),
            Text::new().plain(m.loads.to_string()),
            Text::new().plain(m.swaps.to_string()),
            Text::new().plain(m.unloads.to_string()),
            Text::new().plain(m.waited.to_string()),
            Text::new().plain(m.time_lost_s.map_or("–".into(), |v| format!("{v:.1}"))),
        ]);
    }
    s.table(t);
    let endpoints: Vec<String> = r
        .waited_by_endpoint
        .iter()
        .map(|(e, n)| format!("{n} {e}"))
        .collect();
    let lost = match (r.time_lost_s, r.latency_share) {
        (Some(t), Some(share)) => format!(
            "; they lost {t:.1} s to loads, {:.1}% of all latency ({})",
            share * 100.0,
            if r.exact {
                "Ollama's own load_duration"
            } else {
                "estimated: each one's latency less its model's median without a load"
            }
        ),
        _ => String::new(),
    };
    s.para(format!(
        "{} loads, {} swaps, {} unloads; {} requests waited for their model to load{}{lost}.",
        r.loads,
        r.swaps,
        r.unloads,
        r.waited,
        if endpoints.is_empty() {
            String::new()
        } else {
            format!(" ({})", endpoints.join(", "))
        }
    ));
    let per_level: Vec<String> = a
        .levels
        .iter()
        .zip(&r.swaps_per_minute)
        .filter_map(|(l, v)| {
            Some(format!(
                "{:.1} at {:.0} {}",
                (*v)?,
                l.load,
                a.source.load_unit()
            ))
        })
        .collect();
    if r.swaps > 0 && !per_level.is_empty() {
        s.para(format!(
            "Swaps per minute by load level: {}.",
            per_level.join(", ")
        ));
    }
    s.list(
        false,
        r.advice
            .iter()
            .map(|x| Text::new().plain(x.clone()))
            .collect(),
    );
    s.figure(charts, "residency.png");
    Some(s)
}
