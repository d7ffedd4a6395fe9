//! The capacity search: per step, what was offered and served (top) and each endpoint's
//! judged percentile against its target (bottom), the passing and failing steps marked and the
//! band between the capacity and the lowest failing rate shaded: where the boundary lies.

use std::path::Path;

use plotters::prelude::*;

use super::{ChartResult, FONT, canvas, color, log_range};
use crate::Analysis;
use crate::capacity::StepOutcome;

pub fn capacity_steps(a: &Analysis, path: &Path) -> ChartResult {
    let Some(c) = &a.capacity else {
        return Ok(());
    };
    let root = canvas(path)?;
    let (top, bottom) = root.split_vertically(crate::charts::HEIGHT / 2);
    let x_max = c.steps.iter().map(|s| s.rate_rps).fold(1.0, f64::max) * 1.15;
    let y_max = c
        .steps
        .iter()
        .flat_map(|s| [s.offered_rps, s.served_rps])
        .fold(1.0, f64::max)
        * 1.2;
    let band = |lo: f64, hi: f64| {
        (
            c.capacity_rps.unwrap_or(0.0).max(lo),
            c.failing_rps.unwrap_or(x_max).min(hi),
        )
    };
    let mut served = ChartBuilder::on(&top)
        .caption(
            format!("Capacity search: {}", short(&c.sentence)),
            (FONT, 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    served
        .configure_mesh()
        .x_desc("step rate (arrivals per second of the mix)")
        .y_desc("requests per second")
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| super::tick(*v))
        .y_label_formatter(&|v| super::tick(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    let (lo, hi) = band(0.0, x_max);
    if c.capacity_rps.is_some() || c.failing_rps.is_some() {
        served.draw_series(std::iter::once(Rectangle::new(
            [(lo, 0.0), (hi, y_max)],
            RGBColor(214, 39, 40).mix(0.12).filled(),
        )))?;
    }
    served
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (x_max, x_max)],
            color(7).stroke_width(1),
        ))?
        .label("served = offered")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color(7)));
    let mark = |pass: bool| {
        if pass {
            RGBColor(44, 160, 44)
        } else {
            RGBColor(214, 39, 40)
        }
    };
    served
        .draw_series(
            c.steps
                .iter()
                .filter(|s| !matches!(s.outcome, StepOutcome::NotJudged(_)))
                .map(|s| Circle::new((s.rate_rps, s.served_rps), 7, mark(s.passed()).filled())),
        )?
        .label("served (offered − growth in flight): green pass, red fail")
        .legend(|(x, y)| Circle::new((x + 10, y), 6, RGBColor(44, 160, 44).filled()));
    if let Some(cap) = c.capacity_rps {
        served
            .draw_series(std::iter::once(PathElement::new(
                vec![(cap, 0.0), (cap, y_max)],
                BLACK.stroke_width(2),
            )))?
            .label(format!("capacity {cap:.1} req/s"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    draw_legend!(served, SeriesLabelPosition::UpperLeft, 14)?;

    // Bottom: each endpoint's judged percentile per step, its target dashed.
    let mut names: Vec<&str> = c
        .steps
        .iter()
        .flat_map(|s| s.endpoints.iter().map(|e| e.endpoint.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let range = log_range(c.steps.iter().flat_map(|s| {
        s.endpoints
            .iter()
            .flat_map(|e| [e.judged_ms, e.target_ms])
            .flatten()
    }));
    let percentile = a.source.targets.percentile;
    let mut latency = ChartBuilder::on(&bottom)
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, super::log_axis(range.clone()))?;
    latency
        .configure_mesh()
        .x_desc("step rate (arrivals per second of the mix)")
        .y_desc(format!("p{percentile} of successful (log)"))
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| super::tick(*v))
        .y_label_formatter(&|v| super::log_ms_tick(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    if c.capacity_rps.is_some() || c.failing_rps.is_some() {
        latency.draw_series(std::iter::once(Rectangle::new(
            [(lo, range.start), (hi, range.end)],
            RGBColor(214, 39, 40).mix(0.12).filled(),
        )))?;
    }
    for (i, name) in names.iter().enumerate() {
        let col = color(i);
        let mut pts: Vec<(f64, f64)> = c
            .steps
            .iter()
            .filter_map(|s| {
                s.endpoints
                    .iter()
                    .find(|e| e.endpoint == *name)
                    .and_then(|e| e.judged_ms)
                    .map(|ms| (s.rate_rps, ms))
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        latency
            .draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))?
            .label(format!("{name} (its target dashed)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
        latency.draw_series(pts.iter().map(|p| Circle::new(*p, 4, col.filled())))?;
        if let Some(target) = a.source.targets.endpoint_target_ms(name) {
            let dashes: Vec<PathElement<(f64, f64)>> = (0..40)
                .map(|k| {
                    let x0 = x_max * f64::from(k) / 40.0;
                    PathElement::new(vec![(x0, target), (x0 + x_max / 80.0, target)], col)
                })
                .collect();
            latency.draw_series(dashes)?;
        }
    }
    draw_legend!(latency, SeriesLabelPosition::UpperLeft, 14)?;
    root.present()?;
    Ok(())
}

fn short(s: &str) -> String {
    let first = s.split(':').next().unwrap_or(s);
    first.chars().take(90).collect()
}
