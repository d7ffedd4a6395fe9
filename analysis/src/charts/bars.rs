//! Ranked bar charts: endpoints against their targets, and model usage.

use std::path::Path;

use plotters::prelude::*;

use super::time::format_ms;
use super::{ChartResult, FONT, canvas, color, tick};
use crate::Analysis;

/// Horizontal bars, one row per item, labelled inside the plot (names left, value right).
pub(super) fn ranked_bars(
    path: &Path,
    title: &str,
    x_desc: &str,
    rows: &[(String, f64, String, RGBColor)],
    mark: Option<f64>,
) -> ChartResult {
    let root = canvas(path)?;
    let n = rows.len().max(1) as f64;
    let x_max = rows
        .iter()
        .map(|r| r.1)
        .chain(mark)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.35;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 28))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(10)
        .build_cartesian_2d(0f64..x_max, 0f64..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| tick(*v))
        .x_desc(x_desc)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    for (i, (name, value, label, c)) in rows.iter().enumerate() {
        // First row at the top.
        let y = n - i as f64 - 1.0;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y + 0.15), (*value, y + 0.85)],
            c.mix(0.85).filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{name}   {label}"),
            (x_max * 0.01, y + 0.62),
            (FONT, 20).into_font().color(&BLACK),
        )))?;
    }
    if let Some(m) = mark {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(m, 0.0), (m, n)],
            RED.stroke_width(2),
        )))?;
    }
    root.present()?;
    Ok(())
}

pub fn bottlenecks(a: &Analysis, path: &Path) -> ChartResult {
    let rows: Vec<(String, f64, String, RGBColor)> = a
        .bottlenecks
        .iter()
        .map(|b| {
            let e = a.endpoints.iter().find(|e| e.name == b.name);
            // The bar is the successful responses' percentile against the target; an endpoint
            // with no success to judge is drawn at the chart's cap.
            let p95_over = e.and_then(|e| {
                let t = e.target_ms?;
                Some(e.judged_ms.map_or(f64::INFINITY, |j| j / t))
            });
            let over = (p95_over.unwrap_or(0.0) * 100.0).min(1000.0);
            let missed = e.is_some_and(|e| e.meets_target == Some(false));
            let label = match (e, p95_over) {
                (Some(e), Some(_)) if e.judged_ms.is_none() => {
                    "no successful response to judge".to_string()
                }
                (Some(e), Some(o)) => format!(
                    "p{} {} = {:.0}% of {} target{}",
                    a.source.targets.percentile,
                    format_ms(e.judged_ms.unwrap_or(0.0)),
                    o * 100.0,
                    format_ms(e.target_ms.unwrap_or(0.0)),
                    match (missed, e.attainment) {
                        (true, Some(att)) =>
                            format!("; only {:.1}% of arrivals in target: missed", att * 100.0),
                        _ => String::new(),
                    }
                ),
                (Some(e), None) => match e.p95_ms {
                    Some(p95) => format!("p95 {} (no target)", format_ms(p95)),
                    None => "no successful response (no target)".to_string(),
                },
                _ => String::new(),
            };
            let c = if over >= 100.0 || missed {
                RGBColor(214, 39, 40)
            } else {
                RGBColor(44, 160, 44)
            };
            (b.name.clone(), over, label, c)
        })
        .collect();
    ranked_bars(
        path,
        "Endpoints ranked by latency against target (red line: target)",
        "p95 of successful responses as % of target (red: target missed)",
        &rows,
        Some(100.0),
    )
}

/// Stacked bars, one per endpoint with the model server's durations: mean time in its queue,
/// loading the model, on the prompt, generating, and outside the model server.
pub fn time_split(a: &Analysis, path: &Path) -> ChartResult {
    let rows: Vec<(&str, crate::generation::TimeSplit)> = a
        .generation
        .endpoints
        .iter()
        .filter_map(|e| e.split.map(|s| (e.name.as_str(), s)))
        .collect();
    let root = canvas(path)?;
    let n = rows.len().max(1) as f64;
    let total =
        |s: &crate::generation::TimeSplit| s.parts().iter().map(|p| p.1.max(0.0)).sum::<f64>();
    let x_max = rows
        .iter()
        .map(|(_, s)| total(s))
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.25;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Where the time goes: mean of successful requests, per endpoint",
            (FONT, 28),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(10)
        .build_cartesian_2d(0f64..x_max, 0f64..n + 0.6)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| tick(*v))
        .x_desc("ms (mean)")
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    for (part, name) in crate::generation::TimeSplit::PARTS.iter().enumerate() {
        let c = color(part);
        let bars: Vec<Rectangle<(f64, f64)>> = rows
            .iter()
            .enumerate()
            .map(|(i, (_, s))| {
                let y = n - i as f64 - 1.0;
                let parts = s.parts();
                let from: f64 = parts[..part].iter().map(|p| p.1.max(0.0)).sum();
                let to = from + parts[part].1.max(0.0);
                Rectangle::new([(from, y + 0.15), (to, y + 0.75)], c.mix(0.85).filled())
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
    }
    for (i, (name, s)) in rows.iter().enumerate() {
        let y = n - i as f64 - 1.0;
        let (largest, ms) = s.largest();
        chart.draw_series(std::iter::once(Text::new(
            format!(
                "{name}: {} total, most in {largest} ({})",
                format_ms(total(s)),
                format_ms(ms)
            ),
            (x_max * 0.01, y + 0.95),
            (FONT, 18).into_font().color(&BLACK),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
