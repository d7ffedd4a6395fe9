//! Charts over the run's time axis.

use std::path::Path;

use plotters::prelude::*;

use super::{ChartResult, FONT, canvas, color, log_range, outcome_color};
use crate::Analysis;

/// Small multiples: one panel per endpoint with p50/p95/p99 and the target line.
pub fn latency_over_time(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let root = root.titled(
        "Latency over time per endpoint (log scale; dashed: target)",
        (FONT, 26),
    )?;
    let n = a.endpoints.len().max(1);
    let cols = if n <= 2 {
        n
    } else if n <= 4 {
        2
    } else {
        3
    };
    let rows = n.div_ceil(cols);
    let panels = root.split_evenly((rows, cols));
    let t_max = a.duration_s.max(1.0);
    for (i, e) in a.endpoints.iter().enumerate() {
        let w: Vec<_> = a
            .endpoint_windows
            .iter()
            .filter(|w| w.endpoint == e.name)
            .collect();
        let y = log_range(
            w.iter()
                .flat_map(|w| [w.p50_ms, w.p99_ms])
                .chain(e.target_ms),
        );
        let mut chart = ChartBuilder::on(&panels[i])
            .caption(&e.name, (FONT, 20))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..t_max, y.log_scale())?;
        chart
            .configure_mesh()
            .x_desc("time into run (s)")
            .y_desc("latency (ms)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .y_label_formatter(&|v| format_ms(*v))
            .draw()?;
        // p99 first so p95 and p50 stay visible where they coincide with it.
        for (label, pick) in [("p99", 2usize), ("p95", 1), ("p50", 0)] {
            let c = color(pick);
            let points: Vec<(f64, f64)> = w
                .iter()
                .map(|w| {
                    (
                        w.start_s + a.window_s / 2.0,
                        [w.p50_ms, w.p95_ms, w.p99_ms][pick],
                    )
                })
                .filter(|p| p.1 > 0.0)
                .collect();
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        if let Some(t) = e.target_ms {
            let dashes = (0..40).map(|k| {
                let x0 = t_max * f64::from(k) / 40.0;
                PathElement::new(vec![(x0, t), (x0 + t_max / 80.0, t)], RED.stroke_width(2))
            });
            chart.draw_series(dashes)?;
        }
        draw_legend!(chart, SeriesLabelPosition::UpperLeft, 13)?;
    }
    root.present()?;
    Ok(())
}

/// Offered, served and successful requests per second (served and succeeded by completion
/// time) on the left; requests in flight (exact) and, for a closed model, active users on the
/// right. A target that queues shows served flat under offered and in flight climbing.
pub fn throughput_and_users(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let t_max = a.duration_s.max(1.0);
    let rps_max = a
        .windows
        .iter()
        .flat_map(|w| [w.offered_rps(), w.served_rps()])
        .fold(1.0, f64::max)
        * 1.15;
    let closed = !a.source.open_model;
    let count_max = a
        .windows
        .iter()
        .flat_map(|w| [w.in_flight_mean, if closed { w.load } else { 0.0 }])
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption("Throughput and requests in flight over time", (FONT, 28))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .right_y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..rps_max)?
        .set_secondary_coord(0f64..t_max, 0f64..count_max);
    chart
        .configure_mesh()
        .x_desc("time into run (s)")
        .y_desc("requests per second")
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc(if closed {
            "requests in flight, active users"
        } else {
            "requests in flight"
        })
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    let mid = |s: f64| s + a.window_s / 2.0;
    let (c_offered, c_served, c_ok, c_flight, c_users) =
        (color(7), color(0), color(2), color(3), color(1));
    chart
        .draw_series(LineSeries::new(
            a.windows.iter().map(|w| (mid(w.start_s), w.offered_rps())),
            c_offered.stroke_width(2),
        ))?
        .label("offered (arrivals/s)")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], c_offered.stroke_width(2))
        });
    chart
        .draw_series(LineSeries::new(
            a.windows.iter().map(|w| (mid(w.start_s), w.served_rps())),
            c_served.stroke_width(3),
        ))?
        .label("served (completions/s)")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], c_served.stroke_width(3))
        });
    chart
        .draw_series(LineSeries::new(
            a.windows
                .iter()
                .map(|w| (mid(w.start_s), w.succeeded_rps())),
            c_ok.stroke_width(2),
        ))?
        .label("succeeded/s")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c_ok.stroke_width(2)));
    chart
        .draw_secondary_series(LineSeries::new(
            a.windows.iter().map(|w| (mid(w.start_s), w.in_flight_mean)),
            c_flight.stroke_width(2),
        ))?
        .label("requests in flight (right axis)")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], c_flight.stroke_width(2))
        });
    if closed {
        chart
            .draw_secondary_series(LineSeries::new(
                a.windows
                    .iter()
                    .filter(|w| w.load.is_finite())
                    .map(|w| (mid(w.start_s), w.load)),
                c_users.stroke_width(2),
            ))?
            .label("active users (right axis)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], c_users.stroke_width(2))
            });
    }
    draw_legend!(chart, SeriesLabelPosition::UpperLeft, 16)?;
    root.present()?;
    Ok(())
}

/// Failures per second stacked by outcome, with the error bursts shaded.
pub fn errors_over_time(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let t_max = a.duration_s.max(1.0);
    let mut outcomes: Vec<&str> = a
        .outcome_windows
        .iter()
        .map(|o| o.outcome.as_str())
        .collect();
    outcomes.sort();
    outcomes.dedup();
    let mut stacks: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for o in &a.outcome_windows {
        *stacks
            .entry((o.start_s / a.window_s).round() as i64)
            .or_default() += o.count / a.window_s;
    }
    let y_max = stacks.values().copied().fold(1.0, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Failures over time by outcome ({} failures, {:.2}%)",
                a.failures,
                a.error_rate * 100.0
            ),
            (FONT, 28),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time into run (s)")
        .y_desc("failures per second")
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    let shade = RGBColor(214, 39, 40).mix(0.12);
    chart
        .draw_series(
            a.bursts
                .iter()
                .map(|b| Rectangle::new([(b.start_s, 0.0), (b.end_s, y_max)], shade.filled())),
        )?
        .label("error burst")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], shade.filled()));
    let mut base: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for outcome in outcomes {
        let c = outcome_color(outcome);
        let bars: Vec<Rectangle<(f64, f64)>> = a
            .outcome_windows
            .iter()
            .filter(|o| o.outcome == outcome)
            .map(|o| {
                let key = (o.start_s / a.window_s).round() as i64;
                let y0 = base.get(&key).copied().unwrap_or(0.0);
                let y1 = y0 + o.count / a.window_s;
                base.insert(key, y1);
                Rectangle::new(
                    [(o.start_s, y0), (o.start_s + a.window_s * 0.9, y1)],
                    c.filled(),
                )
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(outcome.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()));
    }
    draw_legend!(chart, SeriesLabelPosition::UpperRight, 16)?;
    root.present()?;
    Ok(())
}

pub fn format_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1} s", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}
