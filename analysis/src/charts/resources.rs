//! Resources against load: each sampled resource as a share of its ceiling (cores, or the
//! level it plateaued at) per load level, with p95 on the right axis.

use std::path::Path;

use plotters::prelude::*;

use super::time::format_ms;
use super::{ChartResult, FONT, canvas, color, log_range};
use crate::Analysis;

pub fn resources_vs_load(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let r = &a.resources;
    let x_max = a.levels.iter().map(|l| l.users).fold(1.0, f64::max) * 1.1;
    let p95 = log_range(a.levels.iter().map(|l| l.p95_ms));
    let title = match &r.constraint {
        Some((name, load, _)) => format!(
            "Resources against load — {name} saturates first, at {load:.0} {}",
            a.source.load_unit()
        ),
        None => "Resources against load".to_string(),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .right_y_label_area_size(90)
        .build_cartesian_2d(0f64..x_max, 0f64..115f64)?
        .set_secondary_coord(0f64..x_max, p95.log_scale());
    chart
        .configure_mesh()
        .x_desc(if a.source.open_model {
            "offered load (arrivals per second)"
        } else {
            "offered load (active users)"
        })
        .y_desc("% of the resource's ceiling")
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("p95 latency (log)")
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .y_label_formatter(&|v| format_ms(*v))
        .draw()?;
    for (i, s) in r.series.iter().enumerate() {
        let c = color(i);
        let points: Vec<(f64, f64)> = a
            .levels
            .iter()
            .zip(&s.per_level)
            .filter_map(|(l, v)| Some((l.users, 100.0 * (*v)? / s.ceiling)))
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
            a.levels.iter().map(|l| (l.users, l.p95_ms)),
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
