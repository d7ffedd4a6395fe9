//! `aurax-tool analyze`: the analysis crate behind a command line.

use std::path::{Path, PathBuf};

use aurax_analysis::{baseline, report};

use crate::cli::{AnalyzeArgs, Exports};
use crate::exit::{ExitCode, Fail, fail};

/// `aurax-tool analyze`.
pub fn execute(args: AnalyzeArgs) -> Result<ExitCode, Fail> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_report_dir(&args.runs[0]));
    // The inputs' footers first: files of different runs are not merged unasked.
    let mut found = aurax_analysis::source::discover(&args.runs)?;
    if found.run_ids.len() > 1 && !args.merge_runs {
        return Err(fail(
            ExitCode::DifferentRuns,
            format!(
                "the inputs hold {} different runs ({}): a distributed run's workers share one run id; --merge-runs merges different runs anyway",
                found.run_ids.len(),
                found.run_ids.join(", ")
            ),
        ));
    }
    let (analysis, changes, before) = {
        // An objective must name an endpoint the files hold: a typo is refused, as `run`
        // refuses it, never judged as passing.
        let names = if args.slo.is_empty() {
            Vec::new()
        } else {
            aurax_analysis::source::endpoint_names(&found)?
        };
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        crate::flags::apply_slos(&mut found.targets, &args.slo, None, Some(&known))
            .map_err(|e| fail(ExitCode::BadInput, e))?;
        let analysis = aurax_analysis::analyze_source(found)?;
        let before = if args.baseline.is_empty() {
            None
        } else {
            Some(aurax_analysis::analyze(&args.baseline)?)
        };
        let changes = before.as_ref().map(|b| baseline::compare(&analysis, b));
        (analysis, changes, before)
    };
    let pass = write_and_print(
        &analysis,
        Compared {
            changes: changes.as_deref(),
            before: before.as_ref(),
        },
        &out,
        args.link_base.as_deref(),
        true,
    )?;
    export(&analysis, &args.exports)?;
    if let Some(changes) = &changes {
        for c in changes.iter().filter(|c| c.regression) {
            say!("  regression: {}: {}", c.name, c.verdict);
        }
        if args.fail_on_regression && changes.iter().any(|c| c.regression) {
            return Ok(ExitCode::Regression);
        }
    }
    if args.fail_on_targets && !pass {
        return Ok(ExitCode::TargetsFailed);
    }
    Ok(ExitCode::Success)
}

/// A baseline run the report compares against: the changes found and its analysis.
#[derive(Default, Clone, Copy)]
pub struct Compared<'a> {
    /// Per endpoint, what changed against the baseline.
    pub changes: Option<&'a [baseline::EndpointChange]>,
    /// The baseline's analysis, drawn beside this run's.
    pub before: Option<&'a aurax_analysis::Analysis>,
}

/// Writes the report and prints the short verdict (and the judged targets, unless the caller
/// printed them already); returns whether the targets passed.
pub fn write_and_print(
    analysis: &aurax_analysis::Analysis,
    compared: Compared<'_>,
    out: &Path,
    link_base: Option<&str>,
    print_checks: bool,
) -> Result<bool, Fail> {
    let files = report::write_with(analysis, compared.changes, compared.before, out, link_base)?;
    let mut text = report::terminal(&files.report, print_checks);
    text += &format!(
        "report: {} ({} charts, report.html, summary.png, summary.json)\n",
        files.dir.join("report.md").display(),
        files.charts.len().saturating_sub(1)
    );
    // A closed pipe (`| head`) is no reason to fail: the report is already written.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    Ok(analysis.pass)
}

/// Writes what `--csv` and `--junit` ask for.
pub fn export(analysis: &aurax_analysis::Analysis, exports: &Exports) -> Result<(), Fail> {
    if let Some(prefix) = &exports.csv {
        let files = aurax_analysis::export::write_locust_csv(analysis, prefix)?;
        say!(
            "Locust CSV: {}, {}, {}",
            files.stats.display(),
            files.history.display(),
            files.failures.display()
        );
    }
    if let Some(path) = &exports.junit {
        aurax_analysis::export::write_junit(analysis, path)?;
        say!("JUnit: {}", path.display());
    }
    Ok(())
}

/// `reports/<name of the run directory>`.
pub fn default_report_dir(run: &Path) -> PathBuf {
    let name = run
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| "report".to_string());
    PathBuf::from("reports").join(name)
}
