//! Outputs other tools read: Locust's CSV files (`--csv PREFIX`), so dashboards and scripts
//! built on Locust keep working, and a JUnit report of the judged targets (`--junit FILE`)
//! for CI systems.
//!
//! The CSV files have Locust's names and columns; the numbers follow aurax-tool's
//! definitions (docs/analysis.md): response times are those of successful requests, exact
//! (nearest rank), and a request counts when it completes; dropped arrivals are failures.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::frame::{CollectStreaming, f64s, quantile_of, strs};
use crate::judge::Judgement;
use crate::{Analysis, AnalysisError, source, windows};

/// Locust's percentile columns.
const PERCENTILES: [(f64, &str); 11] = [
    (0.50, "50%"),
    (0.66, "66%"),
    (0.75, "75%"),
    (0.80, "80%"),
    (0.90, "90%"),
    (0.95, "95%"),
    (0.98, "98%"),
    (0.99, "99%"),
    (0.999, "99.9%"),
    (0.9999, "99.99%"),
    (1.0, "100%"),
];

/// The files written.
pub struct CsvFiles {
    /// `PREFIX_stats.csv`.
    pub stats: PathBuf,
    /// `PREFIX_stats_history.csv`.
    pub history: PathBuf,
    /// `PREFIX_failures.csv`.
    pub failures: PathBuf,
}

/// Writes `PREFIX_stats.csv`, `PREFIX_stats_history.csv` and `PREFIX_failures.csv`.
pub fn write_locust_csv(a: &Analysis, prefix: &Path) -> Result<CsvFiles, AnalysisError> {
    let path = |suffix: &str| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let files = CsvFiles {
        stats: path("_stats.csv"),
        history: path("_stats_history.csv"),
        failures: path("_failures.csv"),
    };
    if let Some(dir) = files.stats.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    }
    let grid = crate::grid::Grid {
        start_us: a.start_us,
        width_us: (a.window_s * 1e6) as i64,
        count: a.windows.len().max(1),
    };
    let lf = windows::with_window(&source::scan(&a.source)?, &grid);
    let methods = methods(&lf)?;
    write(&files.stats, &stats_csv(a, &lf, &methods)?)?;
    write(&files.history, &history_csv(a, &lf)?)?;
    write(&files.failures, &failures_csv(a, &methods))?;
    Ok(files)
}

/// Each endpoint's HTTP method (Locust's "Type").
fn methods(lf: &LazyFrame) -> Result<Vec<(String, String)>, AnalysisError> {
    let df = lf
        .clone()
        .group_by([col("endpoint")])
        .agg([col("method").first().alias("method")])
        .collect_streaming()?;
    let (e, m) = (strs(&df, "endpoint")?, strs(&df, "method")?);
    Ok(e.into_iter()
        .zip(m)
        .map(|(e, m)| (e.unwrap_or_default(), m.unwrap_or_default()))
        .collect())
}

fn method_of<'a>(methods: &'a [(String, String)], endpoint: &str) -> &'a str {
    methods
        .iter()
        .find(|(e, _)| e == endpoint)
        .map_or("", |(_, m)| m.as_str())
}

/// A value as Locust writes it: an integer when whole, else two decimals; `N/A` unknown.
fn num(v: f64) -> String {
    if !v.is_finite() {
        "N/A".to_string()
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A CSV field: quoted, with quotes doubled (Locust quotes every text field).
fn text(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Per group (endpoint, or the whole run): counts, times and Locust's percentiles.
fn summaries(lf: &LazyFrame, by: Option<&str>) -> PolarsResult<DataFrame> {
    let ms = |e: Expr| e.cast(DataType::Float64) / lit(1000.0);
    let ok = || col("latency_us").filter(col("ok"));
    let mut aggs = vec![
        col("sent").cast(DataType::Float64).sum().alias("requests"),
        col("failed")
            .cast(DataType::Float64)
            .sum()
            .alias("failures"),
        ms(ok().mean()).alias("mean"),
        ms(ok().min()).alias("min"),
        ms(ok().max()).alias("max"),
        col("bytes_received")
            .filter(col("sent"))
            .mean()
            .alias("size"),
    ];
    for (i, (q, _)) in PERCENTILES.iter().enumerate() {
        aggs.push(ms(quantile_of(ok(), *q)).alias(format!("p{i}")));
    }
    let lf = lf.clone();
    match by {
        Some(key) => lf
            .group_by([col(key)])
            .agg(aggs)
            .sort([key], SortMultipleOptions::default())
            .collect_streaming(),
        None => lf.select(aggs).collect_streaming(),
    }
}

/// The columns of [`summaries`], read out.
struct Columns {
    requests: Vec<f64>,
    failures: Vec<f64>,
    mean: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
    size: Vec<f64>,
    /// One column per Locust percentile.
    p: Vec<Vec<f64>>,
}

impl Columns {
    fn of(df: &DataFrame) -> PolarsResult<Columns> {
        let c = |n: &str| f64s(df, n);
        Ok(Columns {
            requests: c("requests")?,
            failures: c("failures")?,
            mean: c("mean")?,
            min: c("min")?,
            max: c("max")?,
            size: c("size")?,
            p: (0..PERCENTILES.len())
                .map(|i| c(&format!("p{i}")))
                .collect::<PolarsResult<_>>()?,
        })
    }
}

fn stats_csv(
    a: &Analysis,
    lf: &LazyFrame,
    methods: &[(String, String)],
) -> Result<String, AnalysisError> {
    let mut out = String::from(
        "\"Type\",\"Name\",\"Request Count\",\"Failure Count\",\"Median Response Time\",\"Average Response Time\",\"Min Response Time\",\"Max Response Time\",\"Average Content Size\",\"Requests/s\",\"Failures/s\"",
    );
    for (_, name) in PERCENTILES {
        let _ = write!(out, ",\"{name}\"");
    }
    out.push('\n');
    let secs = a.duration_s.max(1e-9);
    let mut rows = |df: &DataFrame, names: Vec<(String, String)>| -> PolarsResult<()> {
        let Columns {
            requests,
            failures,
            mean,
            min,
            max,
            size,
            p,
        } = Columns::of(df)?;
        for (i, (kind, name)) in names.iter().enumerate() {
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{}",
                text(kind),
                text(name),
                num(requests[i]),
                num(failures[i]),
                num(p[0][i]),
                num(mean[i]),
                num(min[i]),
                num(max[i]),
                num(size[i]),
                num(requests[i] / secs),
                num(failures[i] / secs),
            );
            for q in &p {
                let _ = write!(out, ",{}", num(q[i]));
            }
            out.push('\n');
        }
        Ok(())
    };
    let per = summaries(lf, Some("endpoint"))?;
    let endpoints = strs(&per, "endpoint")?;
    let names = endpoints
        .iter()
        .map(|e| {
            let e = e.clone().unwrap_or_default();
            (method_of(methods, &e).to_string(), e)
        })
        .collect();
    rows(&per, names)?;
    let all = summaries(lf, None)?;
    rows(&all, vec![(String::new(), "Aggregated".to_string())])?;
    Ok(out)
}

fn history_csv(a: &Analysis, lf: &LazyFrame) -> Result<String, AnalysisError> {
    let mut out = String::from(
        "\"Timestamp\",\"User Count\",\"Type\",\"Name\",\"Requests/s\",\"Failures/s\"",
    );
    for (_, name) in PERCENTILES {
        let _ = write!(out, ",\"{name}\"");
    }
    out.push_str(",\"Total Request Count\",\"Total Failure Count\",\"Total Median Response Time\",\"Total Average Response Time\",\"Total Min Response Time\",\"Total Max Response Time\",\"Total Average Content Size\"\n");
    let per = summaries(lf, Some("win"))?;
    let win = f64s(&per, "win")?;
    let Columns {
        requests,
        failures,
        mean,
        min,
        max,
        size,
        p,
    } = Columns::of(&per)?;
    // The totals up to each window, exact: counts and sums add up, min and max fold, and the
    // median of everything so far comes from one ordered pass over the successful latencies.
    let ok = lf
        .clone()
        .filter(col("ok"))
        .select([col("win"), col("latency_us")])
        .sort(["win"], SortMultipleOptions::default())
        .collect_streaming()?;
    let (ok_win, ok_lat) = (f64s(&ok, "win")?, f64s(&ok, "latency_us")?);
    let mut medians = RunningMedian::default();
    let mut next = 0;
    let w_us = (a.window_s * 1e6) as i64;
    let (mut n, mut n_failed, mut n_ok, mut sum_ok, mut lo, mut hi, mut sum_size) =
        (0.0, 0.0, 0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for (i, w) in win.iter().enumerate() {
        while next < ok_win.len() && ok_win[next] <= *w {
            medians.push(ok_lat[next] / 1000.0);
            next += 1;
        }
        let window_ok = medians.len() as f64 - n_ok;
        n += requests[i];
        n_failed += failures[i];
        if window_ok > 0.0 {
            sum_ok += mean[i] * window_ok;
            lo = lo.min(min[i]);
            hi = hi.max(max[i]);
        }
        n_ok = medians.len() as f64;
        if size[i].is_finite() {
            sum_size += size[i] * requests[i];
        }
        let Some(window) = a.windows.iter().find(|x| x.index as f64 == *w) else {
            continue;
        };
        let timestamp = (a.start_us + (*w as i64) * w_us) / 1_000_000;
        let users = if a.source.open_model {
            0.0
        } else {
            window.load
        };
        let _ = write!(
            out,
            "{timestamp},{},\"\",\"Aggregated\",{},{}",
            num(users),
            num(window.served_rps()),
            num(window.failures / window.seconds),
        );
        for q in &p {
            let _ = write!(out, ",{}", num(q[i]));
        }
        let _ = writeln!(
            out,
            ",{},{},{},{},{},{},{}",
            num(n),
            num(n_failed),
            num(medians.median()),
            num(if n_ok > 0.0 { sum_ok / n_ok } else { f64::NAN }),
            num(if lo.is_finite() { lo } else { f64::NAN }),
            num(if hi.is_finite() { hi } else { f64::NAN }),
            num(if n > 0.0 { sum_size / n } else { f64::NAN }),
        );
    }
    Ok(out)
}

/// The nearest-rank median of the values pushed so far (two heaps: the lower half, a max
/// heap, holds the median).
#[derive(Default)]
struct RunningMedian {
    lower: std::collections::BinaryHeap<OrderedMs>,
    upper: std::collections::BinaryHeap<std::cmp::Reverse<OrderedMs>>,
}

/// Milliseconds ordered totally (latencies are never NaN; `total_cmp` says so anyway).
struct OrderedMs(f64);
impl PartialEq for OrderedMs {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for OrderedMs {}
impl PartialOrd for OrderedMs {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderedMs {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl RunningMedian {
    fn push(&mut self, v: f64) {
        if self.lower.peek().is_none_or(|m| v <= m.0) {
            self.lower.push(OrderedMs(v));
        } else {
            self.upper.push(std::cmp::Reverse(OrderedMs(v)));
        }
        // The lower half holds ceil(n / 2): its top is the value at index ceil(0.5 n) − 1.
        if self.lower.len() > self.upper.len() + 1 {
            if let Some(x) = self.lower.pop() {
                self.upper.push(std::cmp::Reverse(x));
            }
        } else if self.upper.len() > self.lower.len()
            && let Some(std::cmp::Reverse(x)) = self.upper.pop()
        {
            self.lower.push(x);
        }
    }

    fn len(&self) -> usize {
        self.lower.len() + self.upper.len()
    }

    fn median(&self) -> f64 {
        self.lower.peek().map_or(f64::NAN, |m| m.0)
    }
}

fn failures_csv(a: &Analysis, methods: &[(String, String)]) -> String {
    let mut out = String::from("\"Method\",\"Name\",\"Error\",\"Occurrences\"\n");
    for e in &a.errors {
        let method = method_of(methods, &e.endpoint);
        let error = match e.status {
            Some(s) => format!("{} (HTTP {s}): {}", e.outcome, e.message),
            None => format!("{}: {}", e.outcome, e.message),
        };
        let _ = writeln!(
            out,
            "{},{},{},{}",
            text(method),
            text(&e.endpoint),
            text(&error),
            e.count
        );
    }
    out
}

/// A JUnit XML report: one test case per judged target, failed or skipped (not judged) as
/// the judge said, so a CI system shows which target a run missed.
pub fn write_junit(a: &Analysis, path: &Path) -> Result<(), AnalysisError> {
    let xml = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = a
        .checks
        .iter()
        .filter(|c| c.judgement == Judgement::Fail)
        .count();
    let skipped = a
        .checks
        .iter()
        .filter(|c| matches!(c.judgement, Judgement::NotJudged(_)))
        .count();
    let run = a.source.run_ids.join(", ");
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"aurax-tool\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        a.checks.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"targets of {}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        xml(&run),
        a.checks.len(),
        a.duration_s
    );
    for c in &a.checks {
        let name = xml(&format!("{} {}", c.what, c.limit));
        let _ = write!(
            out,
            "    <testcase classname=\"aurax-tool.targets\" name=\"{name}\">"
        );
        match &c.judgement {
            Judgement::Pass => {}
            Judgement::Fail => {
                let _ = write!(
                    out,
                    "<failure message=\"observed {}\" type=\"target missed\"/>",
                    xml(&c.observed)
                );
            }
            Judgement::NotJudged(why) => {
                let _ = write!(out, "<skipped message=\"{}\"/>", xml(why));
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    write(path, &out)
}

fn write(path: &Path, text: &str) -> Result<(), AnalysisError> {
    std::fs::write(path, text).map_err(|e| write_error(path, e))
}

fn write_error(path: &Path, e: std::io::Error) -> AnalysisError {
    AnalysisError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::RunningMedian;

    #[test]
    fn the_running_median_is_the_nearest_rank_one() {
        let mut m = RunningMedian::default();
        let values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0];
        let mut seen = Vec::new();
        for v in values {
            m.push(v);
            seen.push(v);
            let mut sorted = seen.clone();
            sorted.sort_by(f64::total_cmp);
            let rank = (0.5 * sorted.len() as f64).ceil() as usize - 1;
            assert_eq!(m.median(), sorted[rank], "{seen:?}");
        }
    }
}
