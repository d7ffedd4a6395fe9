//! Charts over the run's time axis.

use std::path::Path;

use plotters::prelude::*;

use super::{
    ChartResult, FONT, Key, canvas, color, endpoint_color, legend_strip, log_ms_tick, log_range,
    tick, titled,
};
use crate::Analysis;

/// Runs of points with no window missing between neighbours: a line never joins across
/// windows without data (an endpoint that went quiet, a run that paused).
fn contiguous(points: Vec<(f64, f64)>, window_s: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    for p in points {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|l| p.0 - l.0 <= window_s * 1.5) => run.push(p),
            _ => runs.push(vec![p]),
        }
    }
    runs
}

/// Small multiples: one panel per endpoint with p50, p95, p99 (dashed, on top so it shows
/// where it meets p95) and the target, a legend strip above the panels.
pub fn latency_over_time(a: &Analysis, before: Option<&Analysis>, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let root = titled(&root, "Latency over time per endpoint (log scale)", 26)?;
    let (strip, root) = root.split_vertically(30);
    let (c50, c95, c99) = (color(0), color(1), RGBColor(60, 60, 60));
    let c_base = RGBColor(150, 150, 150);
    let mut legend = vec![
        ("p50".to_string(), c50, Key::Line),
        ("p95".to_string(), c95, Key::Line),
        ("p99".to_string(), c99, Key::Dashed),
        ("target".to_string(), RED, Key::Dashed),
    ];
    if before.is_some() {
        legend.push(("baseline p95 (whole run)".to_string(), c_base, Key::Dashed));
    }
    legend_strip(&strip, &legend)?;
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
        let base_p95 = before
            .and_then(|b| b.endpoints.iter().find(|x| x.name == e.name))
            .and_then(|x| x.p95_ms);
        let y = log_range(
            w.iter()
                .flat_map(|w| [w.p50_ms, w.p99_ms])
                .chain(e.target_ms)
                .chain(base_p95),
        );
        let mut chart = ChartBuilder::on(&panels[i])
            .caption(
                &e.name,
                (FONT, 20).into_font().color(&endpoint_color(a, &e.name)),
            )
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..t_max, super::log_axis(y))?;
        chart
            .configure_mesh()
            .x_desc("time into run (s)")
            .y_desc("latency")
            .light_line_style(TRANSPARENT)
            .disable_y_mesh()
            .y_labels(40)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| log_ms_tick(*v))
            .draw()?;
        let series = |pick: usize| {
            let points = w
                .iter()
                .map(|w| {
                    (
                        w.start_s + a.window_s / 2.0,
                        [w.p50_ms, w.p95_ms, w.p99_ms][pick],
                    )
                })
                .filter(|p| p.1 > 0.0)
                .collect();
            contiguous(points, a.window_s)
        };
        for (pick, c) in [(0usize, c50), (1, c95)] {
            for run in series(pick) {
                // A window alone between gaps is a dot, not nothing.
                if let [p] = run[..] {
                    chart.draw_series(std::iter::once(Circle::new(p, 2, c.filled())))?;
                }
                chart.draw_series(LineSeries::new(run, c.stroke_width(2)))?;
            }
        }
        for run in series(2) {
            chart.draw_series(DashedLineSeries::new(run, 6, 4, c99.stroke_width(2)))?;
        }
        if let Some(t) = e.target_ms {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, t), (t_max, t)],
                8,
                6,
                RED.stroke_width(2),
            ))?;
        }
        if let Some(b) = base_p95 {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, b), (t_max, b)],
                4,
                4,
                c_base.stroke_width(2),
            ))?;
        }
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
    let root = titled(&root, "Throughput and requests in flight over time", 26)?;
    let (strip, root) = root.split_vertically(34);
    let mut chart = ChartBuilder::on(&root)
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
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
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
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    let mid = |s: f64| s + a.window_s / 2.0;
    let (c_offered, c_served, c_ok, c_flight, c_users) =
        (color(7), color(0), color(2), color(4), color(1));
    chart.draw_series(LineSeries::new(
        a.windows.iter().map(|w| (mid(w.start_s), w.offered_rps())),
        c_offered.stroke_width(2),
    ))?;
    chart.draw_series(LineSeries::new(
        a.windows.iter().map(|w| (mid(w.start_s), w.served_rps())),
        c_served.stroke_width(3),
    ))?;
    chart.draw_series(LineSeries::new(
        a.windows
            .iter()
            .map(|w| (mid(w.start_s), w.succeeded_rps())),
        c_ok.stroke_width(2),
    ))?;
    chart.draw_secondary_series(LineSeries::new(
        a.windows.iter().map(|w| (mid(w.start_s), w.in_flight_mean)),
        c_flight.stroke_width(2),
    ))?;
    if closed {
        chart.draw_secondary_series(LineSeries::new(
            a.windows
                .iter()
                .filter(|w| w.load.is_finite())
                .map(|w| (mid(w.start_s), w.load)),
            c_users.stroke_width(2),
        ))?;
    }
    let mut legend = vec![
        ("offered (arrivals/s)".to_string(), c_offered, Key::Line),
        ("served (completions/s)".to_string(), c_served, Key::Line),
        ("succeeded/s".to_string(), c_ok, Key::Line),
        (
            "requests in flight (right axis)".to_string(),
            c_flight,
            Key::Line,
        ),
    ];
    if closed {
        legend.push(("active users (right axis)".to_string(), c_users, Key::Line));
    }
    legend_strip(&strip, &legend)?;
    root.present()?;
    Ok(())
}

/// Failures per second stacked by endpoint (each in its colour), the error bursts shaded,
/// and the error rate of each window against its target on the right axis.
pub fn errors_over_time(a: &Analysis, path: &Path) -> ChartResult {
    let root = canvas(path)?;
    let t_max = a.duration_s.max(1.0);
    let key = |start_s: f64| (start_s / a.window_s).round() as i64;
    // A window's own length: the last may run past a window's width to the last send.
    let seconds = |start_s: f64| {
        usize::try_from(key(start_s))
            .ok()
            .and_then(|i| a.windows.get(i))
            .map_or(a.window_s, |w| w.seconds)
    };
    let mut stacks: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    let mut by_endpoint: std::collections::BTreeMap<&str, f64> = Default::default();
    for o in &a.failure_windows {
        *stacks.entry(key(o.start_s)).or_default() += o.count / seconds(o.start_s);
        *by_endpoint.entry(o.endpoint.as_str()).or_default() += o.count;
    }
    let y_max = stacks.values().copied().fold(0.5, f64::max) * 1.25;
    let target = a.source.targets.error_rate.max_error_rate * 100.0;
    let rates: Vec<(f64, f64)> = a
        .windows
        .iter()
        .filter(|w| w.offered_rps() > 0.0)
        .map(|w| {
            let failures = stacks.get(&key(w.start_s)).copied().unwrap_or(0.0);
            (
                w.start_s + a.window_s / 2.0,
                100.0 * failures / w.offered_rps(),
            )
        })
        .collect();
    let rate_max = rates
        .iter()
        .map(|r| r.1)
        .chain([target])
        .fold(1.0, f64::max)
        .min(100.0)
        * 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Failures over time by endpoint ({} failures, {:.2}% against a {}% target)",
                a.failures,
                a.error_rate * 100.0,
                tick(target)
            ),
            (FONT, 26),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .right_y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)?
        .set_secondary_coord(0f64..t_max, 0f64..rate_max);
    chart
        .configure_mesh()
        .x_desc("time into run (s)")
        .y_desc("failures per second")
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("error rate of the window (%)")
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .y_label_formatter(&|v| tick(*v))
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
    for (endpoint, total) in &by_endpoint {
        let c = endpoint_color(a, endpoint);
        let bars: Vec<Rectangle<(f64, f64)>> = a
            .failure_windows
            .iter()
            .filter(|o| o.endpoint == *endpoint)
            .map(|o| {
                let y0 = base.get(&key(o.start_s)).copied().unwrap_or(0.0);
                let y1 = y0 + o.count / seconds(o.start_s);
                base.insert(key(o.start_s), y1);
                Rectangle::new(
                    [(o.start_s, y0), (o.start_s + a.window_s * 0.9, y1)],
                    c.filled(),
                )
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(format!("{endpoint} ({total:.0})"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()));
    }
    chart
        .draw_secondary_series(LineSeries::new(rates, BLACK.stroke_width(2)))?
        .label("error rate (right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
    chart
        .draw_secondary_series(DashedLineSeries::new(
            [(0.0, target), (t_max, target)],
            8,
            6,
            RED.stroke_width(2),
        ))?
        .label(format!("error rate target ({}%)", tick(target)))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
    draw_legend!(chart, SeriesLabelPosition::UpperLeft, 16)?;
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
