//! `aurax-tool run --report` and `aurax-tool analyze` end to end against the simulator.

use crate::common::{Simulator, aurax, summary, text};

#[test]
fn light_run_with_report_writes_markdown_charts_and_summary() {
    let dir = tempfile::tempdir().expect("tmp");
    let (run, rep) = (dir.path().join("run"), dir.path().join("rep"));
    let o = aurax(&[
        "run",
        "--profile",
        "light",
        "-t",
        "8s",
        "--seed",
        "1",
        "--quiet",
        "--report",
        "--report-dir",
        rep.to_str().expect("utf8"),
        "--out",
        run.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("PASS: all"), "{}", text(&o));
    let md = std::fs::read_to_string(rep.join("report.md")).expect("report.md");
    assert!(md.contains("![") && md.contains("latency_over_time.png"));
    for png in [
        "latency_over_time.png",
        "throughput_users.png",
        "load_curve.png",
        "latency_percentiles.png",
        "bottlenecks.png",
        "summary.png",
    ] {
        assert!(
            std::fs::metadata(rep.join(png)).is_ok_and(|m| m.len() > 10_000),
            "{png}"
        );
    }
    let s = summary(&rep);
    for key in [
        "schema_version",
        "run",
        "endpoints",
        "bottlenecks",
        "errors",
        "breaking_point",
        "scaling",
        "models",
    ] {
        assert!(s.get(key).is_some(), "summary.json lacks {key}");
    }
    let rows = crate::common::read_rows(&run);
    assert_eq!(s["run"]["requests"].as_u64(), Some(rows.len() as u64));
    // Five users far below the simulator's capacity: no breaking point may be invented.
    assert_eq!(
        s["breaking_point"]["found"], false,
        "{}",
        s["breaking_point"]
    );
}

#[test]
fn baseline_regression_exits_98_only_when_asked_and_real() {
    let fast = Simulator::start(&["--time-scale", "0.03"]);
    let slow = Simulator::start(&["--time-scale", "0.09"]);
    let dir = tempfile::tempdir().expect("tmp");
    let mut runs = Vec::new();
    for (name, sim) in [("before", &fast), ("after", &slow)] {
        let out = dir.path().join(name);
        let o = aurax(&[
            "run",
            "--host",
            &sim.url,
            "--user-class",
            "AuraxPeakHourUser",
            "-u",
            "20",
            "-r",
            "20",
            "-t",
            "10s",
            "--seed",
            "3",
            "--quiet",
            "--out",
            out.to_str().expect("utf8"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        runs.push(out);
    }
    let rep = dir.path().join("rep");
    let args = |fail: bool| {
        let mut v = vec![
            "analyze",
            runs[1].to_str().expect("utf8"),
            "--baseline",
            runs[0].to_str().expect("utf8"),
            "--out",
            rep.to_str().expect("utf8"),
        ];
        if fail {
            v.push("--fail-on-regression");
        }
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let o = aurax(&args(false).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("regression: generate_text"),
        "{}",
        text(&o)
    );
    let o = aurax(&args(true).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(98), "{}", text(&o));
    // The headline says what the exit code says.
    let headline = text(&o).lines().next().unwrap_or_default().to_string();
    assert!(
        headline.starts_with("REGRESSED: ")
            && headline.contains("regression(s) against the baseline (")
            && headline.contains("generate_text")
            && headline.ends_with("judged targets met."),
        "{headline}"
    );
    assert_eq!(summary(&rep)["run"]["verdict"], "REGRESSED");
    let md = std::fs::read_to_string(rep.join("report.md")).expect("md");
    assert!(md.contains("## Against the baseline"));
    // The same run against itself is no regression.
    let o = aurax(&[
        "analyze",
        runs[0].to_str().expect("utf8"),
        "--baseline",
        runs[0].to_str().expect("utf8"),
        "--fail-on-regression",
        "--out",
        rep.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn analyze_bad_input_is_one_line_with_its_own_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = aurax(&["analyze", dir.path().to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(10));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("holds no requests-*.parquet files"), "{err}");
    let bogus = dir.path().join("requests-00001.parquet");
    std::fs::write(&bogus, "nope").expect("write");
    let o = aurax(&["analyze", bogus.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(11), "{}", text(&o));
}

#[test]
fn locust_csv_and_junit_for_other_tools() {
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    let prefix = dir.path().join("csv/run");
    let junit = dir.path().join("targets.xml");
    let o = aurax(&[
        "run",
        "--host",
        &sim.url,
        "-u",
        "6",
        "-r",
        "6",
        "-t",
        "4s",
        "--seed",
        "2",
        "--quiet",
        "--no-thresholds",
        "--csv",
        prefix.to_str().expect("utf8"),
        "--junit",
        junit.to_str().expect("utf8"),
        "--out",
        run.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = crate::common::read_rows(&run);
    let stats = std::fs::read_to_string(dir.path().join("csv/run_stats.csv")).expect("stats");
    let mut lines = stats.lines();
    assert_eq!(
        lines.next(),
        Some(
            "\"Type\",\"Name\",\"Request Count\",\"Failure Count\",\"Median Response Time\",\"Average Response Time\",\"Min Response Time\",\"Max Response Time\",\"Average Content Size\",\"Requests/s\",\"Failures/s\",\"50%\",\"66%\",\"75%\",\"80%\",\"90%\",\"95%\",\"98%\",\"99%\",\"99.9%\",\"99.99%\",\"100%\""
        )
    );
    let aggregated = stats
        .lines()
        .find(|l| l.starts_with("\"\",\"Aggregated\""))
        .expect("Aggregated row");
    let count: usize = aggregated
        .split(',')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert_eq!(count, rows.len(), "{aggregated}");
    let endpoints: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.endpoint.as_str()).collect();
    assert_eq!(stats.lines().count(), endpoints.len() + 2, "{stats}");
    let history =
        std::fs::read_to_string(dir.path().join("csv/run_stats_history.csv")).expect("history");
    assert!(
        history.starts_with("\"Timestamp\",\"User Count\""),
        "{history}"
    );
    let last = history.lines().last().expect("a row");
    let total: usize = last
        .split(',')
        .nth(17)
        .and_then(|n| n.parse().ok())
        .expect("total");
    assert_eq!(total, rows.len(), "the last total is every request: {last}");
    assert!(dir.path().join("csv/run_failures.csv").is_file());
    let xml = std::fs::read_to_string(&junit).expect("junit");
    let s = summary_of_run(&run, dir.path());
    let checks = s["checks"].as_array().expect("checks").len();
    assert_eq!(xml.matches("<testcase ").count(), checks, "{xml}");
    assert!(xml.contains("<testsuites name=\"aurax-tool\""), "{xml}");
}

/// `analyze RUN --out DIR/rep` and its summary.json.
fn summary_of_run(run: &std::path::Path, dir: &std::path::Path) -> serde_json::Value {
    let rep = dir.join("rep");
    let o = aurax(&[
        "analyze",
        run.to_str().expect("utf8"),
        "--out",
        rep.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    summary(&rep)
}

#[test]
fn an_objective_naming_no_endpoint_of_the_run_is_refused_as_run_refuses_it() {
    // The shipped example run: generate_text is there, generate_txt (a typo) is not.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example-run");
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("rep");
    let o = aurax(&[
        "analyze",
        example.to_str().expect("utf8"),
        "--slo",
        "generate_txt:p95<3s",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("no endpoint `generate_txt` (known: generate_code, generate_image, generate_text, health, system_status, test_routing)"),
        "{said}"
    );
    assert!(!out.exists(), "no report for a refused objective");
    // The right name is judged.
    let o = aurax(&[
        "analyze",
        example.to_str().expect("utf8"),
        "--slo",
        "generate_text:p95<3s",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("generate_text p95"), "{}", text(&o));
}
