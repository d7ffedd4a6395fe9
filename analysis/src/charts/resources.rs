//! Resources against load: one panel per sampled resource in its own unit (cores, MiB,
//! requests in flight) per load level, its known limit drawn where there is one, and p95 on
//! the right axis of each panel. Absolute units: a resource scaled to its own maximum would
//! look saturated at any level.

use std::path::Path;

use plotters::prelude::*;

use super::{ChartResult, FONT, canvas, color, log_ms_tick, log_range, tick, titled};
use crate::Analysis;

pub fn resources_vs_load(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let r = &a.resources;
    let title = match &r.constraint {
        Some((name, load, _)) => format!(
            "Resources against load: {name} saturates first, at {load:.0} {}",
            a.source.load_unit()
        ),
        None => "Resources against load: none of the target's saturated".to_string(),
    };
    let root = titled(&root, &title, 24)?;
    let charted: Vec<_> = r
        .series
        .iter()
        .filter(|s| s.charted() && s.per_level.iter().any(Option::is_some))
        .collect();
    let n = charted.len().max(1);
    let cols = if n <= 2 { n } else { 2 };
    let panels = root.split_evenly((n.div_ceil(cols), cols));
    let x_max = a.levels.iter().map(|l| l.load).fold(1.0, f64::max) * 1.05;
    let p95 = log_range(a.levels.iter().map(|l| l.p95_ms).filter(|v| v.is_finite()));
    let dark = RGBColor(90, 90, 90);
    for (i, s) in charted.iter().enumerate() {
        let points: Vec<(f64, f64)> = a
            .levels
            .iter()
            .zip(&s.per_level)
            .filter_map(|(l, v)| Some((l.load, (*v)?)))
            .collect();
        let top = points
            .iter()
            .map(|p| p.1)
            .chain(s.ceiling_known.then_some(s.ceiling))
            .fold(0.0, f64::max)
            .max(1e-6)
            * 1.2;
        let limit = if s.ceiling_known {
            format!(
                "limit {} {}",
                tick((s.ceiling * 100.0).round() / 100.0),
                s.unit
            )
        } else {
            "no known limit".to_string()
        };
        let mut chart = ChartBuilder::on(&panels[i])
            .caption(format!("{} ({limit})", s.name), (FONT, 17))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..top)?
            .set_secondary_coord(0f64..x_max, super::log_axis(p95.clone()));
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc(a.source.load_unit())
            .y_desc(s.unit)
            .x_label_formatter(&|v| super::load_tick(a, *v))
            .y_label_formatter(&|v| tick((v * 100.0).round() / 100.0))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("p95 (dashed)")
            .y_label_formatter(&|v| log_ms_tick(*v))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        if s.ceiling_known {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, s.ceiling), (x_max, s.ceiling)],
                8,
                6,
                RED.stroke_width(2),
            ))?;
        }
        // Red is for limits and misses: the series take the other colours.
        let c = color([0, 1, 2, 4, 5, 6][i % 6]);
        chart.draw_series(LineSeries::new(points.clone(), c.stroke_width(3)))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
        chart.draw_secondary_series(DashedLineSeries::new(
            a.levels
                .iter()
                .filter(|l| l.p95_ms.is_finite())
                .map(|l| (l.load, l.p95_ms)),
            6,
            5,
            dark.stroke_width(1),
        ))?;
    }
    root.present()?;
    Ok(())
}
