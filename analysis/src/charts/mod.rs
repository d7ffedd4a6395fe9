//! PNG charts drawn with plotters. Text uses DejaVu Sans embedded in the binary (see
//! `assets/DejaVuSans.LICENSE`), so charts render on a headless machine with no fonts.

/// The legend every chart uses: framed, on a translucent white background. A macro because
/// plotters' single- and dual-axis charts configure their legends through different types.
macro_rules! draw_legend {
    ($chart:expr, $position:expr, $size:expr) => {
        $chart
            .configure_series_labels()
            .position($position)
            .label_font((crate::charts::FONT, $size))
            .background_style(plotters::style::colors::WHITE.mix(0.85))
            .border_style(plotters::style::colors::BLACK)
            .draw()
    };
}

mod bars;
mod capacity;
mod load;
mod residency;
mod resources;
mod saturation;
mod time;

use std::path::Path;
use std::sync::Once;

use plotters::coord::combinators::WithKeyPoints;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::Analysis;

pub const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

pub const WIDTH: u32 = 1400;
pub const HEIGHT: u32 = 800;

pub type ChartResult = Result<(), Box<dyn std::error::Error>>;

/// One chart written: file name and what it shows.
#[derive(Debug, Clone)]
pub struct ChartFile {
    pub file: String,
    pub title: String,
}

pub(crate) fn register() {
    REGISTER.call_once(|| {
        // The font is a fixed, valid asset; registering it cannot fail at run time.
        let _ = register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// Draws every chart the analysis has data for into `dir`; with `before` (a `--baseline`
/// run's analysis), the load curve and the latency charts carry it too.
pub fn draw_all(
    a: &Analysis,
    before: Option<&Analysis>,
    dir: &Path,
) -> Result<Vec<ChartFile>, String> {
    register();
    let mut out = Vec::new();
    let mut draw = |file: &str,
                    title: &str,
                    f: &dyn Fn(&Analysis, &Path) -> ChartResult|
     -> Result<(), String> {
        f(a, &dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        out.push(ChartFile {
            file: file.to_string(),
            title: title.to_string(),
        });
        Ok(())
    };
    draw(
        "latency_over_time.png",
        "Latency over time (p50/p95/p99 per endpoint, target dashed)",
        &|a, p| time::latency_over_time(a, before, p),
    )?;
    draw(
        "throughput_users.png",
        "Offered, served and successful requests/s and requests in flight over time",
        &time::throughput_and_users,
    )?;
    if a.failures > 0 {
        draw(
            "errors_over_time.png",
            "Failures over time by outcome (error bursts shaded)",
            &time::errors_over_time,
        )?;
    }
    if a.capacity.is_some() {
        draw(
            "capacity.png",
            "Capacity search: offered and served per step, each endpoint's judged percentile against its target, the boundary shaded",
            &capacity::capacity_steps,
        )?;
    }
    draw(
        "load_curve.png",
        "Throughput and p95 against load, breaking point and USL fit",
        &|a, p| load::load_curve(a, before, p),
    )?;
    if a.scaling.by_endpoint.len() > 1
        && a.scaling
            .by_endpoint
            .iter()
            .any(|c| !c.capacity_is_lower_bound)
    {
        draw(
            "capacity_by_endpoint.png",
            "Where each endpoint binds the mix: its capacity over its share",
            &saturation::capacity_by_endpoint,
        )?;
    }
    // For a mix: one endpoint's curves are the load curve's.
    if a.groups
        .endpoints
        .iter()
        .filter(|g| g.levels.len() >= 2)
        .count()
        > 1
    {
        draw(
            "endpoint_load.png",
            "Each endpoint against the mix's load: attainment and goodput",
            &saturation::endpoint_load,
        )?;
    }
    draw(
        "latency_percentiles.png",
        "Latency percentile distribution per endpoint",
        &load::percentile_distribution,
    )?;
    draw(
        "bottlenecks.png",
        "Endpoints ranked: judged latency as a share of target",
        &bars::bottlenecks,
    )?;
    if a.generation.endpoints.iter().any(|e| e.split.is_some()) {
        draw(
            "time_split.png",
            "Where a request's time goes, per endpoint: the model server's queue, model load, prompt and generation, and the time outside it",
            &bars::time_split,
        )?;
    }
    if a.resources
        .series
        .iter()
        .any(|s| s.per_level.iter().any(Option::is_some))
    {
        draw(
            "resources.png",
            "Resources against load, each in its own unit with its limit, and p95",
            &resources::resources_vs_load,
        )?;
    }
    if a.residency.as_ref().is_some_and(|r| !r.models.is_empty()) {
        draw(
            "residency.png",
            "Model residency: each Ollama model's time in memory, its loads and unloads, and swaps per minute against load",
            &residency::residency,
        )?;
    }
    Ok(out)
}

/// How a legend item is drawn: a line, a dashed line or a vertical mark.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Line,
    Dashed,
    Mark,
}

/// A legend of its own, in a strip above the plot, wrapping to a second row when full: the
/// data stays uncovered.
pub fn legend_strip(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    items: &[(String, RGBColor, Key)],
) -> ChartResult {
    let (width, _) = area.dim_in_pixel();
    let (mut x, mut y) = (20i32, 14i32);
    for (label, c, key) in items {
        let advance = 44 + 9 * label.chars().count() as i32;
        if x + advance > width as i32 - 10 && x > 20 {
            (x, y) = (20, y + 24);
        }
        let style = c.stroke_width(3);
        match key {
            Key::Line => area.draw(&PathElement::new(vec![(x, y), (x + 26, y)], style))?,
            Key::Dashed => {
                area.draw(&PathElement::new(vec![(x, y), (x + 10, y)], style))?;
                area.draw(&PathElement::new(vec![(x + 16, y), (x + 26, y)], style))?;
            }
            Key::Mark => area.draw(&PathElement::new(
                vec![(x + 13, y - 8), (x + 13, y + 8)],
                style,
            ))?,
        }
        area.draw(&Text::new(
            label.clone(),
            (x + 34, y - 9),
            (FONT, 16).into_font(),
        ))?;
        x += advance;
    }
    Ok(())
}

/// A white canvas of the standard size.
pub fn canvas(
    path: &Path,
) -> Result<DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>, Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    Ok(root)
}

/// `area` under a chart title of `size` px: the title 8 px below the top edge (plotters'
/// `titled` draws it against the edge).
pub fn titled<'a>(
    area: &DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>,
    title: &str,
    size: u32,
) -> Result<DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>, Box<dyn std::error::Error>> {
    Ok(area.margin(8, 0, 0, 0).titled(title, (FONT, size))?)
}

/// The palette every chart draws from (matplotlib's tab10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A stable colour per series index.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % 8]
}

/// One colour per endpoint, the same in every chart: its place among the run's endpoints
/// (sorted by name), so a reader who learnt "generate_image is orange" once can trust it.
/// Red is left out: it marks targets, limits and misses in every chart.
pub fn endpoint_color(a: &Analysis, name: &str) -> RGBColor {
    const NOT_RED: [usize; 9] = [0, 1, 2, 4, 5, 6, 7, 8, 9];
    let i = a.endpoints.iter().position(|e| e.name == name);
    PALETTE[i.map_or(7, |i| NOT_RED[i % NOT_RED.len()])]
}

/// A linear axis's tick label: whole numbers without a decimal ("10", not "10.0"), others
/// with the digits they need.
pub fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A load axis's tick label: users are whole, so a closed model's axis labels no "2.5";
/// arrival rates may be fractional.
pub fn load_tick(a: &Analysis, v: f64) -> String {
    if !a.source.open_model && (v - v.round()).abs() > 1e-9 {
        String::new()
    } else {
        tick(v)
    }
}

/// A latency axis's tick label on a log scale: only 1, 2 and 5 times a power of ten, in ms
/// below a second and in s above, so the decades are labelled (below 1 s too) and the axis is
/// never crowded.
pub fn log_ms_tick(v: f64) -> String {
    if log_tick(v).is_empty() {
        return String::new();
    }
    if v >= 1000.0 {
        format!("{} s", tick(v / 1000.0))
    } else {
        format!("{} ms", tick(v))
    }
}

/// A log axis over `range` whose ticks are 1, 2 and 5 times the powers of ten inside it.
/// (plotters' own log ticks start from the first power of ten in the range: an axis from
/// 150 ms to 1.4 s had one label, `1 s`.)
pub fn log_axis(range: std::ops::Range<f64>) -> WithKeyPoints<LogCoord<f64>> {
    let points = one_two_five(&range);
    range.log_scale().with_key_points(points)
}

/// 1, 2 and 5 times each power of ten within `range` (positive), lowest first.
fn one_two_five(range: &std::ops::Range<f64>) -> Vec<f64> {
    let (lo, hi) = (range.start.max(f64::MIN_POSITIVE), range.end);
    if !(hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    (first..=last)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .filter(|v| (lo..=hi).contains(v))
        .collect()
}

/// A log-axis range that holds every positive value with some margin.
pub fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 0.1..10.0;
    }
    (lo / 1.6).max(0.01)..(hi * 1.6).max(lo * 2.0)
}

/// A log axis's tick label: only 1, 2 and 5 times a power of ten are written (the others
/// crowd the axis), without a decimal where none is needed.
pub fn log_tick(v: f64) -> String {
    if v.is_nan() || v <= 0.0 {
        return String::new();
    }
    let scale = 10f64.powf(v.log10().floor());
    let lead = v / scale;
    if [1.0, 2.0, 5.0].iter().any(|m| (lead - m).abs() < 1e-6) {
        if v >= 1.0 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        }
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An axis of less than a decade still has its 1-2-5 ticks below the first power of ten.
    #[test]
    fn a_log_axis_ticks_every_one_two_five_in_range() {
        assert_eq!(one_two_five(&(110.0..1416.0)), [200.0, 500.0, 1000.0]);
        assert_eq!(one_two_five(&(0.15..0.6)), [0.2, 0.5]);
        assert_eq!(one_two_five(&(3.0..4.0)), Vec::<f64>::new());
    }

    #[test]
    fn ticks_read_as_a_person_writes_them() {
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(log_ms_tick(1000.0), "1 s");
        assert_eq!(log_ms_tick(20_000.0), "20 s");
        assert_eq!(log_ms_tick(500.0), "500 ms");
        assert_eq!(log_ms_tick(0.1), "0.1 ms");
        assert_eq!(log_ms_tick(3000.0), "");
        assert_eq!(log_ms_tick(7.0), "");
    }
}
