//! `summary.png`, the card for the review: one image with the verdict in its colour, the
//! cause, the capacity with its limiting endpoint, the trigger, each endpoint's judged
//! latency against its target (with `--baseline`, the change of its p95) and a small load
//! curve. Drawn from the report model, so it says what the report says.

use std::path::Path;

use plotters::element::Text as Label;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::Report;
use crate::Analysis;
use crate::baseline::EndpointChange;
use crate::charts::{ChartFile, FONT};
use crate::insights::pct;

/// The card's size: the 1.91:1 of a link preview, legible when a review shrinks it.
pub const CARD: (u32, u32) = (1200, 630);

const INK: RGBColor = RGBColor(31, 35, 40);
const MUTED: RGBColor = RGBColor(89, 99, 110);
const PASS: RGBColor = RGBColor(26, 127, 55);
const FAIL: RGBColor = RGBColor(207, 34, 46);

/// Lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// At most `n` lines, the last ending in `…` when text was left out.
fn first_lines(mut lines: Vec<String>, n: usize) -> Vec<String> {
    if lines.len() > n {
        lines.truncate(n);
        if let Some(last) = lines.last_mut() {
            last.push_str(" …");
        }
    }
    lines
}

/// Draws `summary.png` into `dir`.
pub fn draw(
    a: &Analysis,
    r: &Report,
    baseline: Option<&[EndpointChange]>,
    before: Option<&Analysis>,
    dir: &Path,
) -> Result<ChartFile, Box<dyn std::error::Error>> {
    crate::charts::register();
    let file = "summary.png";
    let path = dir.join(file);
    let root = BitMapBackend::new(&path, CARD).into_drawing_area();
    root.fill(&WHITE)?;
    let (w, _) = CARD;
    let (red, green, blue) = r.headline.verdict.rgb();
    let band = RGBColor(red, green, blue);
    let w = w as i32;
    root.draw(&Rectangle::new([(0, 0), (w, 96)], band.filled()))?;
    root.draw(&Label::new(
        r.headline.verdict.word(),
        (28, 20),
        (FONT, 52).into_font().color(&WHITE),
    ))?;
    let word_width = 40 + 34 * r.headline.verdict.word().len() as i32;
    root.draw(&Label::new(
        format!("load test {}", r.title),
        (word_width, 26),
        (FONT, 22).into_font().color(&WHITE),
    ))?;
    let when: Vec<String> = r
        .header
        .fields
        .iter()
        .filter(|(k, _)| k == "target" || k == "duration")
        .map(|(_, v)| v.clone())
        .collect();
    root.draw(&Label::new(
        first_lines(wrap(&when.join(" · "), 90), 1).concat(),
        (word_width, 58),
        (FONT, 18).into_font().color(&WHITE),
    ))?;
    // The cause, then the capacity and the trigger.
    let mut y = 112;
    for line in first_lines(wrap(&r.headline.brief_cause, 100), 3) {
        root.draw(&Label::new(
            line,
            (28, y),
            (FONT, 21).into_font().color(&INK),
        ))?;
        y += 27;
    }
    y += 8;
    let mut figures = vec![r.headline.capacity.clone()];
    figures.extend(r.headline.trigger.clone());
    figures.push(format!(
        "Error rate {} (target < {}) · {} requests sent, {} failed{}",
        pct(a.error_rate),
        pct(a.source.targets.error_rate.max_error_rate),
        a.requests,
        a.failures,
        if a.dropped > 0 {
            format!(", {} arrivals dropped unsent", a.dropped)
        } else {
            String::new()
        }
    ));
    // Without a trigger the capacity line says what load would find one: room for it.
    let room = if r.headline.trigger.is_some() { 2 } else { 6 };
    for f in figures {
        for line in first_lines(wrap(&f, 68), room) {
            root.draw(&Label::new(
                line,
                (28, y),
                (FONT, 20).into_font().color(&MUTED),
            ))?;
            y += 25;
        }
    }
    endpoint_rows(&root, a, baseline, y + 10)?;
    let curve = root.clone().shrink((740, 250), (440, 370));
    load_curve(&curve, a, before)?;
    root.present()?;
    Ok(ChartFile {
        file: file.to_string(),
        title: "The card for the review: verdict, cause, capacity, trigger, endpoints".to_string(),
    })
}

/// Each endpoint with a target: its share of arrivals in target against the percentile, in
/// green or red; with a baseline, the change of its p95.
fn endpoint_rows(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    a: &Analysis,
    baseline: Option<&[EndpointChange]>,
    top: i32,
) -> Result<(), Box<dyn std::error::Error>> {
    let head = (FONT, 17).into_font().color(&MUTED);
    let cell = |c: &RGBColor| (FONT, 18).into_font().color(c);
    let right = |x: i32, y: i32, s: String, c: &RGBColor| {
        Label::new(s, (x, y), cell(c).pos(Pos::new(HPos::Right, VPos::Top)))
    };
    root.draw(&Label::new("endpoint", (28, top), head.clone()))?;
    for (x, h) in [(370, "p95 ms"), (460, "target"), (570, "in target")] {
        root.draw(&Label::new(
            h,
            (x, top),
            head.clone().pos(Pos::new(HPos::Right, VPos::Top)),
        ))?;
    }
    if baseline.is_some() {
        root.draw(&Label::new(
            "p95 vs base",
            (690, top),
            head.clone().pos(Pos::new(HPos::Right, VPos::Top)),
        ))?;
    }
    let mut y = top + 24;
    let judged: Vec<_> = a
        .endpoints
        .iter()
        .filter(|e| e.target_ms.is_some())
        .collect();
    let shown = judged.len().min(7);
    for e in judged.iter().take(shown) {
        let colour = match e.meets_target {
            Some(true) => PASS,
            Some(false) => FAIL,
            None => MUTED,
        };
        let mark = match e.meets_target {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "–",
        };
        root.draw(&Label::new(
            format!("{mark} {}", e.name),
            (28, y),
            cell(&colour),
        ))?;
        root.draw(&right(
            370,
            y,
            e.p95_ms.map_or("–".into(), crate::units::ms),
            &INK,
        ))?;
        root.draw(&right(
            460,
            y,
            e.target_ms.map_or("–".into(), |v| format!("{v:.0}")),
            &MUTED,
        ))?;
        root.draw(&right(
            570,
            y,
            e.attainment.map_or("–".into(), pct),
            &colour,
        ))?;
        if let Some(c) = baseline.and_then(|b| b.iter().find(|c| c.name == e.name)) {
            let change = (c.p95_ms.1 - c.p95_ms.0) / c.p95_ms.0.max(1e-9);
            root.draw(&right(
                690,
                y,
                format!("{:+.0}%", change * 100.0),
                if c.regression { &FAIL } else { &INK },
            ))?;
        }
        y += 23;
    }
    if judged.len() > shown {
        root.draw(&Label::new(
            format!("… and {} more in the report", judged.len() - shown),
            (28, y),
            head,
        ))?;
    }
    Ok(())
}

/// Served successfully and offered against load, the capacity dashed.
fn load_curve(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    a: &Analysis,
    before: Option<&Analysis>,
) -> Result<(), Box<dyn std::error::Error>> {
    // The trusted levels; a run too short to have two shows every level it has.
    let trusted: Vec<_> = a.levels.iter().filter(|l| l.trusted()).collect();
    let levels: Vec<_> = if trusted.len() >= 2 {
        trusted
    } else {
        a.levels.iter().collect()
    };
    let x_max = levels.iter().map(|l| l.load).fold(1.0, f64::max) * 1.05;
    let y_max = levels
        .iter()
        .flat_map(|l| [l.offered_rps, l.succeeded_rps])
        .chain([a.scaling.capacity_rps])
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("the load curve", (FONT, 18))
        .margin(6)
        .x_label_area_size(34)
        .y_label_area_size(46)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(a.source.load_unit())
        .y_desc("req/s")
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|v| crate::charts::load_tick(a, *v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 14))
        .draw()?;
    let key = |c: RGBColor| {
        move |(x, y): (i32, i32)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
    };
    chart
        .draw_series(LineSeries::new(
            levels.iter().map(|l| (l.load, l.offered_rps)),
            RGBColor(150, 150, 150).stroke_width(2),
        ))?
        .label("offered")
        .legend(key(RGBColor(150, 150, 150)));
    chart
        .draw_series(LineSeries::new(
            levels.iter().map(|l| (l.load, l.succeeded_rps)),
            RGBColor(31, 119, 180).stroke_width(3),
        ))?
        .label("served successfully")
        .legend(key(RGBColor(31, 119, 180)));
    // A level alone is a dot, not nothing.
    chart.draw_series(levels.iter().map(|l| {
        Circle::new(
            (l.load, l.succeeded_rps),
            4,
            RGBColor(31, 119, 180).filled(),
        )
    }))?;
    if let Some(b) = before {
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(DashedLineSeries::new(
                b.levels
                    .iter()
                    .filter(|l| l.trusted())
                    .map(|l| (l.load, l.succeeded_rps)),
                5,
                4,
                grey.stroke_width(2),
            ))?
            .label("baseline, served successfully")
            .legend(key(grey));
    }
    if a.scaling.scale_out_at_rps.is_some() {
        let c = a.scaling.capacity_rps;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, c), (x_max, c)],
                8,
                5,
                FAIL.stroke_width(2),
            ))?
            .label(match &a.scaling.limiting {
                Some(l) => format!("capacity ({} binds)", l.endpoint),
                None => "capacity".to_string(),
            })
            .legend(key(FAIL));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_wraps_at_spaces_and_says_when_it_was_cut() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(first_lines(wrap("a bb ccc dddd", 6), 2), ["a bb", "ccc …"]);
    }
}
