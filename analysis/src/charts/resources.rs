//! Resources against load: each sampled resource as a share of its ceiling (cores, or the
//! level it plateaued at) per load level, with p95 on the right axis.

use std::path::Path;

use plotters::prelude::*;

use super::load::load_axes;
use super::{ChartResult, canvas, color};
use crate::Analysis;

pub fn resources_vs_load(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let r = &a.resources;
    let x_max = a.levels.iter().map(|l| l.load).fold(1.0, f64::max) * 1.1;
    let title = match &r.constraint {
        Some((name, load, _)) => format!(
            "Resources against load — {name} saturates first, at {load:.0} {}",
            a.source.load_unit()
        ),
        None => "Resources against load".to_string(),
    };
    let mut chart = load_axes(&root, a, title, 0.0..115.0, "% of the resource's ceiling")?;
    let charted = r.series.iter().filter(|s| s.charted());
    for (i, s) in charted.enumerate() {
        let c = color(i);
        let points: Vec<(f64, f64)> = a
            .levels
            .iter()
            .zip(&s.per_level)
            .filter_map(|(l, v)| Some((l.load, 100.0 * (*v)? / s.ceiling)))
            .collect();
        if points.is_empty() {
            continue;
        }
        let style = if s.generator {
            c.stroke_width(2)
        } else {
            c.stroke_width(3)
        };
        let ceiling = if s.ceiling_known {
            format!("{:.0} {}", s.ceiling, s.unit)
        } else {
            format!("max {:.1} {}", s.ceiling, s.unit)
        };
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label(format!("{} (100% = {ceiling})", s.name))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 70.0), (x_max, 70.0)],
            BLACK.mix(0.4).stroke_width(1),
        )))?
        .label("70%: scale-out trigger")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4)));
    let dark = RGBColor(40, 40, 40);
    chart
        .draw_secondary_series(DashedLineSeries::new(
            a.levels
                .iter()
                .filter(|l| l.p95_ms.is_finite())
                .map(|l| (l.load, l.p95_ms)),
            8,
            6,
            dark.stroke_width(2),
        ))?
        .label("p95 latency (right axis)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], dark.stroke_width(2)));
    draw_legend!(chart, SeriesLabelPosition::UpperLeft, 15)?;
    root.present()?;
    Ok(())
}
