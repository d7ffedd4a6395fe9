//! Ranked bar charts: endpoints against their targets, and model usage.

use std::path::Path;

use plotters::prelude::*;

use super::time::format_ms;
use super::{ChartResult, FONT, canvas, color};
use crate::Analysis;

/// Horizontal bars, one row per item, labelled inside the plot (names left, value right).
fn ranked_bars(
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
            // An endpoint with no success to judge is drawn at the chart's cap.
            let over = (b.over_target.unwrap_or(0.0) * 100.0).min(1000.0);
            let label = match (e, b.over_target) {
                (Some(e), Some(_)) if e.judged_ms.is_none() => {
                    "no successful response to judge".to_string()
                }
                (Some(e), Some(o)) => format!(
                    "p{} {} = {:.0}% of {} target",
                    a.source.targets.percentile,
                    format_ms(e.judged_ms.unwrap_or(0.0)),
                    o * 100.0,
                    format_ms(e.target_ms.unwrap_or(0.0))
                ),
                (Some(e), None) => match e.p95_ms {
                    Some(p95) => format!("p95 {} (no target)", format_ms(p95)),
                    None => "no successful response (no target)".to_string(),
                },
                _ => String::new(),
            };
            let c = if over >= 100.0 {
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
        "judged latency as % of target",
        &rows,
        Some(100.0),
    )
}

pub fn models(a: &Analysis, path: &Path) -> ChartResult {
    let rows: Vec<(String, f64, String, RGBColor)> = a
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            (
                m.model.clone(),
                m.share * 100.0,
                format!(
                    "{:.1}% of generations, p95 {}",
                    m.share * 100.0,
                    format_ms(m.p95_ms)
                ),
                color(i),
            )
        })
        .collect();
    ranked_bars(
        path,
        "Model usage (share of generations served)",
        "% of generations",
        &rows,
        None,
    )
}
