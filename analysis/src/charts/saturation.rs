//! Which part of the mix binds: each endpoint's capacity as the mix's rate at which it
//! saturates, and each endpoint's attainment and goodput against the mix's load.

use std::path::Path;

use plotters::prelude::*;

use super::bars::ranked_bars;
use super::{ChartResult, FONT, canvas, endpoint_color, log_range};
use crate::Analysis;
use crate::saturation::{Group, GroupLevel};

/// One bar per endpoint: the mix's offered rate at which it binds (its capacity over its
/// share), the first to bind in red, a line at the mix's capacity.
pub fn capacity_by_endpoint(a: &Analysis, path: &Path) -> ChartResult {
    let s = &a.scaling;
    let limiting = s.limiting.as_ref().map(|l| l.endpoint.as_str());
    let rows: Vec<(String, f64, String, RGBColor)> = s
        .by_endpoint
        .iter()
        .filter(|c| c.mix_capacity_rps.is_finite())
        .map(|c| {
            let (own, share, mix) = (
                crate::units::rps(c.capacity_rps),
                c.share * 100.0,
                crate::units::rps(c.mix_capacity_rps),
            );
            // A lower bound's mix rate is capped at the most the mix was offered: no quotient
            // of the two figures before it (15.9 / 5% read "= 191.0").
            let label = if c.capacity_is_lower_bound {
                format!("≥ {own} req/s of its own, {share:.1}% of the mix: never saturated up to {mix} req/s of the mix")
            } else {
                format!("{own} req/s of its own / {share:.1}% of the mix = {mix} req/s")
            };
            let label = format!(
                "{label}{}",
                if Some(c.name.as_str()) == limiting {
                    "  (binds first)".to_string()
                } else if c.capacity_is_lower_bound {
                    String::new()
                } else if c.headroom.is_finite() {
                    format!("  ({:.1}x headroom)", c.headroom)
                } else {
                    String::new()
                }
            );
            let colour = if Some(c.name.as_str()) == limiting {
                RGBColor(214, 39, 40)
            } else if c.capacity_is_lower_bound {
                RGBColor(190, 190, 190)
            } else {
                RGBColor(255, 160, 60)
            };
            (c.name.clone(), c.mix_capacity_rps, label, colour)
        })
        .collect();
    ranked_bars(
        path,
        &format!(
            "Where each endpoint binds the mix (capacity of the mix {:.1} req/s, red line)",
            s.capacity_rps
        ),
        "mix offered, requests per second, at which the endpoint saturates",
        &rows,
        Some(s.capacity_rps),
    )
}

/// Two panels against the mix's load: each endpoint's attainment (share of its arrivals
/// that succeeded under its target, the target percentile dashed), and its goodput against
/// its own offered rate (log scale, so a 10% endpoint reads beside a 50% one).
pub fn endpoint_load(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let (top, bottom) = root.split_vertically(super::HEIGHT / 2);
    let frame = Frame {
        x_max: a.levels.iter().map(|l| l.load).fold(1.0, f64::max) * 1.05,
        x_desc: if a.source.open_model {
            "mix offered (arrivals per second)"
        } else {
            "offered load (active users)"
        },
        groups: a
            .groups
            .endpoints
            .iter()
            .filter(|g| g.levels.len() >= 2)
            .collect(),
    };
    attainment_panel(a, &top, &frame)?;
    goodput_panel(a, &bottom, &frame)?;
    root.present()?;
    Ok(())
}

/// What both panels share: the x axis and the endpoints drawn.
struct Frame<'a> {
    x_max: f64,
    x_desc: &'static str,
    groups: Vec<&'a Group>,
}

type Panel<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn attainment_panel(a: &Analysis, area: &Panel, f: &Frame) -> ChartResult {
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Each endpoint against the mix's load: share of its arrivals in target",
            (FONT, 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..f.x_max, 0f64..105.0)?;
    chart
        .configure_mesh()
        .x_desc(f.x_desc)
        .y_desc("in target (%)")
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| super::load_tick(a, *v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    let target = a.source.targets.percentile;
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, target), (f.x_max, target)],
            8,
            6,
            BLACK.stroke_width(2),
        ))?
        .label(format!("target: {target}% of arrivals"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    for g in &f.groups {
        let c = endpoint_color(a, &g.name);
        let pts: Vec<(f64, f64)> = g
            .levels
            .iter()
            .filter_map(|l| Some((l.own.load, l.attainment? * 100.0)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(3)))?
            .label(g.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    draw_legend!(chart, SeriesLabelPosition::LowerLeft, 15)?;
    Ok(())
}

fn goodput_panel(a: &Analysis, area: &Panel, f: &Frame) -> ChartResult {
    let y = log_range(
        f.groups
            .iter()
            .flat_map(|g| g.levels.iter())
            .flat_map(|l| [l.own.goodput_rps, l.own.offered_rps]),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(
            "… its goodput (solid) against its own offered rate (dashed), req/s (log)",
            (FONT, 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..f.x_max, super::log_axis(y))?;
    chart
        .configure_mesh()
        .x_desc(f.x_desc)
        .y_desc("requests per second")
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| super::load_tick(a, *v))
        .y_label_formatter(&|v| super::log_tick(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    for g in &f.groups {
        let c = endpoint_color(a, &g.name);
        let series = |f: &dyn Fn(&GroupLevel) -> f64| -> Vec<(f64, f64)> {
            g.levels
                .iter()
                .map(|l| (l.own.load, f(l)))
                .filter(|p| p.1 > 0.0)
                .collect()
        };
        chart.draw_series(DashedLineSeries::new(
            series(&|l| l.own.offered_rps),
            6,
            5,
            c.stroke_width(2),
        ))?;
        chart
            .draw_series(LineSeries::new(
                series(&|l| l.own.goodput_rps),
                c.stroke_width(3),
            ))?
            .label(g.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        // Where it saturated: a cross on its goodput.
        if let Some(level) = g.saturated_at().and_then(|p| g.level_of(p))
            && level.own.goodput_rps > 0.0
        {
            chart.draw_series(std::iter::once(Cross::new(
                (level.own.load, level.own.goodput_rps),
                9,
                c.stroke_width(3),
            )))?;
        }
    }
    draw_legend!(chart, SeriesLabelPosition::UpperLeft, 15)?;
    Ok(())
}
