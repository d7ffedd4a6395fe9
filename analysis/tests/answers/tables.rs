//! Every Markdown table of a report has as many cells in each row as its header has columns:
//! a row one cell short shifts every value under the wrong heading (the failure table once
//! showed 12 s timeouts as "dropped unsent 12002").

use std::path::Path;

use crate::common::{Req, saturating_ramp, write_run};
use aurax_analysis::{analyze, report};

/// The cells of a table row: split on the pipes Markdown sees (not `\|`), edges dropped.
fn cells(row: &str) -> usize {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut n = 1;
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    n
}

/// Checks every table of `report.md` in `dir`; returns how many tables it checked.
fn check_tables(dir: &Path) -> usize {
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    let lines: Vec<&str> = md.lines().collect();
    let mut tables = 0;
    let mut i = 0;
    while i + 1 < lines.len() {
        let is_rule =
            |l: &str| l.starts_with('|') && l.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
        if lines[i].starts_with('|') && is_rule(lines[i + 1]) {
            tables += 1;
            let header = cells(lines[i]);
            assert_eq!(cells(lines[i + 1]), header, "rule of {}", lines[i]);
            let mut j = i + 2;
            while j < lines.len() && lines[j].starts_with('|') {
                assert_eq!(
                    cells(lines[j]),
                    header,
                    "row {} of the table under\n{}\nhas {} cells, its header {}:\n{}",
                    j - i - 1,
                    lines[i],
                    cells(lines[j]),
                    header,
                    lines[j]
                );
                j += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    tables
}

#[test]
fn the_cell_counter_sees_what_markdown_sees() {
    assert_eq!(cells("| a | b |"), 2);
    assert_eq!(cells("| a \\| b | c |"), 2);
    assert_eq!(cells("|---|---:|:---:|"), 3);
}

#[test]
fn every_table_of_the_example_report_has_a_cell_per_column() {
    // The shipped example: timeouts, app errors, a saturating model, resources.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/example-run");
    let dir = tempfile::tempdir().expect("tmp");
    let a = analyze(&[example]).expect("analyses");
    report::write(&a, None, dir.path()).expect("report");
    let tables = check_tables(dir.path());
    assert!(tables >= 10, "only {tables} tables");
}

#[test]
fn every_table_of_a_report_with_every_kind_of_failure_has_a_cell_per_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut reqs = saturating_ramp(16, 4.0, 2.0, 16.0);
    for (i, r) in reqs.iter_mut().enumerate() {
        match i % 11 {
            0 => {
                r.outcome = "timeout";
                r.status = None;
                r.error = Some("timed out | after 12 s".into());
            }
            3 => {
                r.outcome = "cancelled";
                r.status = None;
            }
            5 => {
                r.outcome = "http_error";
                r.status = Some(503);
            }
            7 => r.outcome = "dropped",
            _ => {}
        }
        if i % 2 == 0 {
            r.model = Some("mistral");
        }
    }
    reqs.push(Req::ok("health", 1.0, 2.0, 1));
    write_run(&dir.path().join("run"), &reqs, "3");
    let a = analyze(&[dir.path().join("run")]).expect("analyses");
    report::write(&a, None, &dir.path().join("rep")).expect("report");
    let tables = check_tables(&dir.path().join("rep"));
    assert!(tables >= 6, "only {tables} tables");
}
