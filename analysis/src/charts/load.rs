//! Charts against load and against percentile.

use std::path::Path;

use plotters::chart::DualCoordChartContext;
use plotters::coord::Shift;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{
    ChartResult, FONT, Key, canvas, color, legend_strip, log_axis, log_ms_tick, log_range, tick,
    titled,
};
use crate::Analysis;

/// Offered load on x, a linear left axis and p95 (log) on the right: the frame of every
/// chart against load.
pub type LoadAxes<'a> = DualCoordChartContext<
    'a,
    BitMapBackend<'a>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
    Cartesian2d<RangedCoordf64, WithKeyPoints<LogCoord<f64>>>,
>;

pub fn load_axes<'a>(
    root: &DrawingArea<BitMapBackend<'a>, Shift>,
    a: &Analysis,
    y_max: f64,
) -> Result<LoadAxes<'a>, Box<dyn std::error::Error>> {
    let x_max = a.levels.iter().map(|l| l.load).fold(1.0, f64::max) * 1.1;
    let p95 = log_range(a.levels.iter().map(|l| l.p95_ms).filter(|v| v.is_finite()));
    let mut chart = ChartBuilder::on(root)
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .right_y_label_area_size(90)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?
        .set_secondary_coord(0f64..x_max, log_axis(p95));
    chart
        .configure_mesh()
        .x_desc(if a.source.open_model {
            "offered load (arrivals per second)"
        } else {
            "offered load (active users)"
        })
        .y_desc("requests per second")
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .x_label_formatter(&|v| super::load_tick(a, *v))
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("p95 latency (log)")
        .y_labels(40)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .y_label_formatter(&|v| log_ms_tick(*v))
        .draw()?;
    Ok(chart)
}

/// The load curve's title: what binds the mix and where, else the breaking point.
fn load_curve_title(a: &Analysis) -> String {
    let s = &a.scaling;
    match (&s.limiting, s.scale_out_at_rps, &a.breaking.point) {
        (Some(l), Some(_), _) => format!(
            "Throughput and p95 against load: {} binds the mix at {} req/s",
            l.endpoint,
            crate::units::rps(s.capacity_rps)
        ),
        (None, _, Some(p)) => format!(
            "Throughput and p95 against load: breaking point at {:.0} {}",
            p.load,
            a.source.load_unit()
        ),
        _ => "Throughput and p95 against load: no breaking point".to_string(),
    }
}

/// Per load level: offered, served and successful served throughput, p95 of successful
/// requests, the USL fit, the breaking point, the capacity and the scale-out trigger, each
/// labelled in a legend strip above the plot.
pub fn load_curve(a: &Analysis, before: Option<&Analysis>, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let s = &a.scaling;
    let root = titled(&root, &load_curve_title(a), 24)?;
    let (strip, body) = root.split_vertically(56);
    let x_max = a.levels.iter().map(|l| l.load).fold(1.0, f64::max) * 1.1;
    let y_max = a
        .levels
        .iter()
        .chain(before.iter().flat_map(|b| &b.levels))
        .flat_map(|l| [l.offered_rps, l.served_rps])
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = load_axes(&body, a, y_max)?;
    let (c_offered, c_served, c_ok, c_p95, c_usl) =
        (color(7), color(0), color(2), RGBColor(60, 60, 60), color(4));
    let (c_capacity, c_trigger) = (RED, RGBColor(230, 140, 0));
    let mut legend = vec![
        ("offered".to_string(), c_offered, Key::Line),
        ("served".to_string(), c_served, Key::Line),
        ("served successfully".to_string(), c_ok, Key::Line),
        ("p95 (right axis)".to_string(), c_p95, Key::Dashed),
    ];
    let series = |f: &dyn Fn(&crate::levels::LoadLevel) -> f64| -> Vec<(f64, f64)> {
        a.levels.iter().map(|l| (l.load, f(l))).collect()
    };
    chart.draw_series(LineSeries::new(
        series(&|l| l.offered_rps),
        c_offered.stroke_width(2),
    ))?;
    chart.draw_series(LineSeries::new(
        series(&|l| l.served_rps),
        c_served.stroke_width(3),
    ))?;
    let ok = series(&|l| l.succeeded_rps);
    chart.draw_series(LineSeries::new(ok.clone(), c_ok.stroke_width(3)))?;
    chart.draw_series(ok.iter().map(|p| Circle::new(*p, 5, c_ok.filled())))?;
    if let Some(fit) = &a.usl {
        let curve: Vec<(f64, f64)> = (1..=200)
            .map(|i| x_max * f64::from(i) / 200.0)
            .map(|n| (n, fit.predict(n)))
            .filter(|p| p.1 < y_max)
            .collect();
        chart.draw_series(LineSeries::new(curve, c_usl.stroke_width(2)))?;
        legend.push((
            format!("USL fit (R² {:.2})", fit.r_squared),
            c_usl,
            Key::Line,
        ));
    }
    chart.draw_secondary_series(DashedLineSeries::new(
        a.levels
            .iter()
            .filter(|l| l.p95_ms.is_finite())
            .map(|l| (l.load, l.p95_ms)),
        7,
        5,
        c_p95.stroke_width(2),
    ))?;
    if let Some(b) = before {
        // The baseline's curve, thin and grey: where this run serves less, it shows.
        let c_base = RGBColor(150, 150, 150);
        chart.draw_series(DashedLineSeries::new(
            b.levels.iter().map(|l| (l.load, l.succeeded_rps)),
            5,
            4,
            c_base.stroke_width(2),
        ))?;
        legend.push((
            "baseline served successfully".to_string(),
            c_base,
            Key::Dashed,
        ));
    }
    if let Some(p) = &a.breaking.point {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(p.load, 0.0), (p.load, y_max)],
            BLACK.stroke_width(2),
        )))?;
        legend.push((
            format!("breaking point {:.0} {}", p.load, a.source.load_unit()),
            BLACK,
            Key::Mark,
        ));
    }
    if let Some(trigger) = s.scale_out_at_rps {
        for (y, c) in [(s.capacity_rps, c_capacity), (trigger, c_trigger)] {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, y), (x_max, y)],
                12,
                6,
                c.stroke_width(3),
            ))?;
        }
        legend.push((
            format!("capacity {} req/s", crate::units::rps(s.capacity_rps)),
            c_capacity,
            Key::Dashed,
        ));
        legend.push((
            format!("scale out at {} req/s", crate::units::rps(trigger)),
            c_trigger,
            Key::Dashed,
        ));
    }
    legend_strip(&strip, &legend)?;
    root.present()?;
    Ok(())
}

/// HdrHistogram-style: latency against percentile, the x axis stretched towards the tail.
pub fn percentile_distribution(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    // x = -log10(1 - q): 0 → p0, 1 → p90, 2 → p99, 3 → p99.9, 4 → p99.99; the max at 4.5.
    let x_of = |q: f64| if q >= 1.0 { 4.5 } else { -(1.0 - q).log10() };
    let y = log_range(
        a.percentile_curves
            .iter()
            .flat_map(|(_, pts)| pts.iter().map(|p| p.1)),
    );
    let root = titled(
        &root,
        "Latency by percentile per endpoint (log scales, HdrHistogram style)",
        24,
    )?;
    let (strip, body) = root.split_vertically(56);
    let mut chart = ChartBuilder::on(&body)
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..4.6, log_axis(y))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency")
        .x_labels(10)
        .x_label_formatter(&|x| match (x * 2.0).round() as i64 {
            0 => "0%".into(),
            2 => "90%".into(),
            4 => "99%".into(),
            6 => "99.9%".into(),
            8 => "99.99%".into(),
            9 => "max".into(),
            _ => String::new(),
        })
        .y_label_formatter(&|v| log_ms_tick(*v))
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    let mut legend = Vec::new();
    for (name, pts) in &a.percentile_curves {
        let c = super::endpoint_color(a, name);
        // A percentile needs a sample beyond it: 99.9% of 65 responses is the slowest one,
        // so the line stops where n does, and the legend says n. The max is joined to the
        // line only where every percentile before it was drawn; else it is a mark alone.
        let n = a
            .endpoints
            .iter()
            .find(|e| &e.name == name)
            .map_or(0, |e| e.requests.saturating_sub(e.failures));
        let drawn = || pts.iter().filter(|p| p.1 > 0.0);
        let quantiles: Vec<&(f64, f64)> = drawn().filter(|p| p.0 < 1.0).collect();
        let max = drawn().find(|p| p.0 >= 1.0).map(|(q, v)| (x_of(*q), *v));
        let mut line: Vec<(f64, f64)> = quantiles
            .iter()
            .filter(|p| (1.0 - p.0) * n as f64 >= 1.0)
            .map(|(q, v)| (x_of(*q), *v))
            .collect();
        let resolved = line.len() == quantiles.len();
        if let (Some(max), true) = (max, resolved) {
            line.push(max);
        }
        chart.draw_series(LineSeries::new(line, c.stroke_width(3)))?;
        if let (Some(max), false) = (max, resolved) {
            chart.draw_series(std::iter::once(Circle::new(max, 5, c.filled())))?;
        }
        legend.push((format!("{name} (n = {n})"), c, Key::Line));
    }
    legend_strip(&strip, &legend)?;
    root.present()?;
    Ok(())
}
