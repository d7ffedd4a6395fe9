//! Model residency: a lane per Ollama model with the time it was in memory drawn as a bar,
//! each load (▲) and unload (✕) marked where the samples saw it; below, swaps per minute at
//! each load level, so swapping that grows with load shows as a rising line.

use std::path::Path;

use plotters::prelude::*;

use super::{ChartResult, FONT, canvas, color, load_tick, tick, titled};
use crate::Analysis;

pub fn residency(a: &Analysis, path: &Path) -> ChartResult {
    let Some(r) = &a.residency else {
        return Ok(());
    };
    let root = canvas(path)?;
    let title = match &r.constraint {
        Some(_) => format!(
            "Model residency: {} swaps; waiting for loads cost {:.1} s, the run's constraint",
            r.swaps,
            r.time_lost_s.unwrap_or(0.0)
        ),
        None => format!("Model residency: {} loads, {} swaps", r.loads, r.swaps),
    };
    let root = titled(&root, &title, 24)?;
    let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 * 3 / 5);
    let x_max = a.duration_s.max(1.0);
    let lanes = r.models.len().max(1);
    let mut chart = ChartBuilder::on(&top)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(260)
        .build_cartesian_2d(0.0..x_max, 0.0..lanes as f64)?;
    let names: Vec<String> = r
        .models
        .iter()
        .map(|m| {
            let vram = m
                .vram_share
                .filter(|v| *v < 0.995)
                .map_or(String::new(), |v| format!(", {:.0}% in VRAM", v * 100.0));
            format!("{} ({:.1} GB{vram})", m.model, m.size_gb)
        })
        .collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("seconds into the run")
        .x_label_formatter(&|v| tick(*v))
        .y_labels(lanes * 2 + 1)
        .y_label_formatter(&|v| {
            let lane = v.floor() as usize;
            // A label at each lane's middle only.
            if (v - lane as f64 - 0.5).abs() < 0.01 {
                names.get(lanes - 1 - lane).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    for (i, m) in r.models.iter().enumerate() {
        let c = color(i);
        let y = (lanes - 1 - i) as f64;
        chart.draw_series(m.resident.iter().map(|(from, to)| {
            Rectangle::new([(*from, y + 0.25), (*to, y + 0.75)], c.mix(0.55).filled())
        }))?;
        chart.draw_series(
            m.load_times_s
                .iter()
                .map(|t| TriangleMarker::new((*t, y + 0.85), 7, BLACK.filled())),
        )?;
        chart.draw_series(
            m.unload_times_s
                .iter()
                .map(|t| Cross::new((*t, y + 0.15), 6, RGBColor(200, 30, 30).stroke_width(2))),
        )?;
    }
    let points: Vec<(f64, f64)> = a
        .levels
        .iter()
        .zip(&r.swaps_per_minute)
        .filter_map(|(l, s)| Some((l.load, (*s)?)))
        .collect();
    let y_max = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.2;
    let x_load = a.levels.iter().map(|l| l.load).fold(1.0, f64::max) * 1.05;
    let mut lower = ChartBuilder::on(&bottom)
        .margin(12)
        .caption(
            "Swaps per minute at each load level (▲ load, ✕ unload above)",
            (FONT, 17),
        )
        .x_label_area_size(40)
        .y_label_area_size(260)
        .build_cartesian_2d(0.0..x_load, 0.0..y_max)?;
    lower
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc(format!("load ({})", a.source.load_unit()))
        .y_desc("swaps / min")
        .x_label_formatter(&|v| load_tick(a, *v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    let line = RGBColor(60, 60, 60);
    lower.draw_series(LineSeries::new(points.clone(), line.stroke_width(3)))?;
    lower.draw_series(points.iter().map(|p| Circle::new(*p, 5, line.filled())))?;
    root.present()?;
    Ok(())
}
