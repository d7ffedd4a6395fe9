//! The report folder: one report model ([`model::Report`], built by [`document`]) written
//! as `report.md` (to paste into a pull request), a self-contained `report.html` and
//! `summary.png` (the card for the review), beside the PNG charts and `summary.json`.

use std::path::{Path, PathBuf};

use crate::baseline::EndpointChange;
use crate::charts::{self, ChartFile};
use crate::{Analysis, AnalysisError, summary};

mod card;
mod cells;
mod document;
mod generation;
mod header;
mod load;
pub mod model;
mod render;
mod residency;
mod resources;

pub use document::{checks_caption, checks_table, document, endpoint_summary_table, headline};
pub use load::steps_table;
pub use render::{html_page, markdown, terminal, text_table};

/// What was written.
#[derive(Debug)]
pub struct ReportFiles {
    /// The report folder.
    pub dir: PathBuf,
    /// The charts written into it.
    pub charts: Vec<ChartFile>,
    /// The report model every file was rendered from.
    pub report: model::Report,
}

/// The headline in one line, and whether the targets passed: `FAIL` when a target was
/// missed, `REGRESSED` when none was but the baseline comparison found a regression, else
/// `PASS`; then the cause, the capacity, the trigger and what passed.
pub fn verdict(a: &Analysis, baseline: Option<&[EndpointChange]>) -> (bool, String) {
    (a.pass, headline(a, baseline).line())
}

/// Writes `report.md`, `report.html`, `summary.png`, the charts and `summary.json` into
/// `dir`. `link_base` prefixes the chart links of `report.md` (where the folder will be
/// served); without it they are relative to the folder.
pub fn write(
    a: &Analysis,
    baseline: Option<&[EndpointChange]>,
    dir: &Path,
) -> Result<ReportFiles, AnalysisError> {
    write_with(a, baseline, None, dir, None)
}

/// [`write`] with the baseline run's analysis (`before`, drawn beside this run on the load
/// curve and the latency charts) and chart links under `link_base`.
pub fn write_with(
    a: &Analysis,
    baseline: Option<&[EndpointChange]>,
    before: Option<&Analysis>,
    dir: &Path,
    link_base: Option<&str>,
) -> Result<ReportFiles, AnalysisError> {
    let err = |path: &Path, e: &dyn std::fmt::Display| AnalysisError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, &e))?;
    let mut charts = charts::draw_all(a, before, dir).map_err(|e| err(dir, &e))?;
    let mut report = document(a, baseline, &charts);
    let card = card::draw(a, &report, baseline, before, dir).map_err(|e| err(dir, &e))?;
    report.card = Some(card.file.clone());
    charts.push(card);
    let json_path = dir.join("summary.json");
    let json = serde_json::to_string_pretty(&summary::build(a, baseline, &report))
        .map_err(|e| err(&json_path, &e))?;
    std::fs::write(&json_path, json + "\n").map_err(|e| err(&json_path, &e))?;
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, markdown(&report, link_base)).map_err(|e| err(&md_path, &e))?;
    let html_path = dir.join("report.html");
    std::fs::write(&html_path, html_page(&report, dir)).map_err(|e| err(&html_path, &e))?;
    Ok(ReportFiles {
        dir: dir.to_path_buf(),
        charts,
        report,
    })
}
