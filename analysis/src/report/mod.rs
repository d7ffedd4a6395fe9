//! The report folder: `report.md` (verdict first, tables, charts by relative link, ready to
//! paste into a pull request), the PNG charts and `summary.json`.

use std::path::{Path, PathBuf};

use crate::baseline::EndpointChange;
use crate::charts::{self, ChartFile};
use crate::judge::Judgement;
use crate::{Analysis, AnalysisError, summary};

mod generation;
mod markdown;
mod resources;

pub use markdown::markdown;

/// A chart by relative link, when it was drawn.
fn chart(out: &mut String, charts: &[ChartFile], file: &str) {
    if let Some(c) = charts.iter().find(|c| c.file == file) {
        let _ = std::fmt::Write::write_fmt(out, format_args!("\n![{}]({})\n\n", c.title, c.file));
    }
}

/// Text from a target or a file as Markdown that shows it, never runs it: the characters
/// Markdown and HTML act on are escaped, so a server's `<script>` or `|` is text in a table
/// cell (control characters were dropped when the text was read, see `frame::clean`).
pub(crate) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a Markdown code span: backticks (which would end it) become quotes.
pub(crate) fn code(text: &str) -> String {
    text.replace('`', "'")
}

/// What was written.
#[derive(Debug)]
pub struct ReportFiles {
    /// The report folder.
    pub dir: PathBuf,
    /// The charts written into it.
    pub charts: Vec<ChartFile>,
}

/// The headline: pass or fail on the run's targets (the one judge's checks), each missed
/// target named with what was measured, regressions against a baseline, and the breaking
/// point, in one line. `FAIL` when a target was missed, `REGRESSED` when none was but the
/// baseline comparison found a regression, else `PASS`.
pub fn verdict(a: &Analysis, baseline: Option<&[EndpointChange]>) -> (bool, String) {
    // A search's headline is its answer: its steps failed on purpose.
    if let Some(c) = &a.capacity {
        return (
            a.pass,
            format!(
                "{}: {}.",
                if a.pass { "PASS" } else { "FAIL" },
                capitalise_first(&c.sentence)
            ),
        );
    }
    let missed: Vec<String> = a
        .checks
        .iter()
        .filter(|c| c.judgement == Judgement::Fail)
        .map(|c| format!("{} {} (target {})", c.what, c.observed, c.limit))
        .collect();
    let judged = a
        .checks
        .iter()
        .filter(|c| !matches!(c.judgement, Judgement::NotJudged(_)))
        .count();
    let regressions: Vec<&str> = baseline
        .unwrap_or_default()
        .iter()
        .filter(|c| c.regression)
        .map(|c| c.name.as_str())
        .collect();
    let targets = if missed.is_empty() {
        format!("all {judged} judged targets met")
    } else {
        format!(
            "{} of {judged} targets missed: {}",
            missed.len(),
            missed.join(", ")
        )
    };
    let regressed = if regressions.is_empty() {
        String::new()
    } else {
        format!(
            "; {} regression(s) against the baseline ({})",
            regressions.len(),
            regressions.join(", ")
        )
    };
    let word = crate::judge::verdict_word(a.pass, !regressions.is_empty());
    (
        a.pass,
        format!("{word}: {targets}{regressed}; {}.", a.breaking.verdict),
    )
}

fn capitalise_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Writes `report.md`, the charts and `summary.json` into `dir`.
pub fn write(
    a: &Analysis,
    baseline: Option<&[EndpointChange]>,
    dir: &Path,
) -> Result<ReportFiles, AnalysisError> {
    let err = |path: &Path, e: &dyn std::fmt::Display| AnalysisError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, &e))?;
    let charts = charts::draw_all(a, dir).map_err(|e| err(dir, &e))?;
    let json_path = dir.join("summary.json");
    let json = serde_json::to_string_pretty(&summary::build(a, baseline))
        .map_err(|e| err(&json_path, &e))?;
    std::fs::write(&json_path, json + "\n").map_err(|e| err(&json_path, &e))?;
    let md_path = dir.join("report.md");
    std::fs::write(&md_path, markdown(a, baseline, &charts)).map_err(|e| err(&md_path, &e))?;
    Ok(ReportFiles {
        dir: dir.to_path_buf(),
        charts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::clean;

    #[test]
    fn hostile_text_is_shown_never_run() {
        let server = "boom\n| x | <script>alert(1)</script> **bold** \u{1b}[31mred\u{7}";
        let shown = md(&clean(server));
        assert_eq!(
            shown,
            "boom \\| x \\| &lt;script&gt;alert(1)&lt;/script&gt; \\*\\*bold\\*\\* \\[31mred"
        );
        assert!(!shown.contains('\n') && !shown.contains('\u{1b}'));
        assert_eq!(code("a`b"), "a'b");
    }
}
