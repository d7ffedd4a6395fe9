//! `run --find-capacity` against simulators whose capacity follows from their flags (slots /
//! service time): a queueing target (the real stack), a mix where one model saturates first,
//! a target that refuses (errors before latency), and a budget too short for the precision.
//! Each answer is checked against first principles, and the runner's in-memory verdicts
//! against the analysis of the files.

use std::path::Path;

use crate::common::{Simulator, aurax, png_facts, read_rows, summary, text};
use serde_json::Value;

/// Text (and burst_request) take 2 s at real-world speed; at 0.04, 80 ms.
const TIME_SCALE: &str = "0.04";

/// `run --find-capacity` against `sim`; returns (summary.json, output, run dir).
fn search(sim: &Simulator, dir: &Path, args: &[&str]) -> (Value, String) {
    let (run, rep) = (dir.join("run"), dir.join("rep"));
    let mut all = vec![
        "run",
        "--find-capacity",
        "--host",
        &sim.url,
        "--seed",
        "7",
        "--step-time",
        "3s",
        "--no-thresholds",
        "--report",
        "--report-dir",
        rep.to_str().expect("utf8"),
        "--out",
        run.to_str().expect("utf8"),
    ];
    all.extend_from_slice(args);
    let o = aurax(&all);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    (summary(&rep), text(&o))
}

fn rate(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The runner's own verdicts (from memory, as it searched) name the same bracket as the
/// analysis of the files.
fn assert_runner_agrees(c: &Value, out: &str) {
    let pass = rate(&c["capacity_rps"]);
    assert!(
        out.contains(&format!("passes at {pass:.2} req/s")),
        "the runner's bracket differs from the files': {pass}\n{out}"
    );
}

#[test]
fn a_queueing_text_target_has_its_capacity_found_within_5_percent() {
    // 4 text slots x 80 ms = 50 req/s; past it the simulator queues (FIFO), as Ollama does.
    let sim = Simulator::start(&["--text-slots", "4", "--time-scale", TIME_SCALE]);
    let dir = tempfile::tempdir().expect("tmp");
    let (s, out) = search(
        &sim,
        dir.path(),
        &[
            "--user-class",
            "AuraxBurstUser",
            "--start-rate",
            "8/s",
            "--budget",
            "3m",
        ],
    );
    let c = &s["capacity"];
    let capacity = rate(&c["capacity_rps"]);
    assert!(
        (capacity - 50.0).abs() / 50.0 <= 0.05,
        "capacity {capacity} req/s, known 50: {}\n{out}",
        c["sentence"]
    );
    assert_eq!(c["converged"], true, "{c}");
    assert_eq!(c["limiting"]["signal"], "queue", "{}", c["limiting"]);
    assert_runner_agrees(c, &out);
    // Every step's rows are in the files, one stage per step at its rate.
    let steps = c["steps"].as_array().expect("steps");
    let rows = read_rows(&dir.path().join("run"));
    // The simulator answers every request: no failure of the tool's own (a step reusing the
    // previous step's idle connections, whose runtime had shut down, once made 10-15% of
    // each later step fail at once with "A Tokio 1.x context was found, but it is being
    // shutdown").
    let own: Vec<_> = rows.iter().filter(|r| r.outcome == "other").collect();
    assert_eq!(own.len(), 0, "{:?}", own.first());
    for step in steps {
        let n = step["step"].as_u64().expect("step") as u32;
        let at: Vec<_> = rows.iter().filter(|r| r.stage == n).collect();
        assert!(!at.is_empty(), "no rows for step {n}");
        assert!(at.iter().all(|r| r.stage_target == rate(&step["rate_rps"])));
    }
    // Doubling from 8: 8, 16, 32 pass, 64 fails; then bisection.
    let rates: Vec<f64> = steps.iter().map(|s| rate(&s["rate_rps"])).collect();
    assert_eq!(&rates[..4], &[8.0, 16.0, 32.0, 64.0], "{rates:?}");
    // The load levels are the steps: each level offered its step's rate (the pauses between
    // steps and the windows where one step gave way to the next belong to none; a step of
    // 80 req/s had read 44.6 offered, its pause counted as seconds at its rate).
    let levels = s["levels"].as_array().expect("levels");
    let trusted: Vec<&Value> = levels
        .iter()
        .filter(|l| rate(&l["arrivals"]) >= 20.0)
        .collect();
    assert!(trusted.len() >= 4, "{levels:?}");
    for level in trusted {
        let (load, offered) = (rate(&level["load"]), rate(&level["offered_rps"]));
        assert!(
            (offered - load).abs() <= 0.1 * load + 1.0,
            "a level labelled {load} offered {offered}: {level}"
        );
    }
    // Scaling comes from the capacity found.
    assert!((rate(&s["scaling"]["capacity_rps"]) - capacity).abs() < 1e-9);
    let report = std::fs::read_to_string(dir.path().join("rep/report.md")).expect("report");
    assert!(report.contains("## Capacity search"), "{report}");
    let (w, h, ink) = png_facts(&dir.path().join("rep/capacity.png"));
    assert_eq!((w, h), (1400, 800));
    assert!(ink > 0.02, "a blank chart: {ink}");
    assert!(out.contains("capacity search"), "{out}");
}

#[test]
fn a_mix_names_the_model_that_saturates_first() {
    // 2 text slots x 80 ms = 25 text req/s; AuraxPeakHourUser sends 80% text, 20% code (8
    // code slots x 160 ms = 50 code req/s): the mix saturates at 25 / 0.8 = 31.25 req/s, on text.
    let sim = Simulator::start(&["--text-slots", "2", "--time-scale", TIME_SCALE]);
    let dir = tempfile::tempdir().expect("tmp");
    let (s, out) = search(
        &sim,
        dir.path(),
        &[
            "--user-class",
            "AuraxPeakHourUser",
            "--start-rate",
            "8/s",
            "--budget",
            "3m",
        ],
    );
    let c = &s["capacity"];
    let capacity = rate(&c["capacity_rps"]);
    assert!(
        (capacity - 31.25).abs() / 31.25 <= 0.10,
        "capacity {capacity} req/s, known 31.25: {}\n{out}",
        c["sentence"]
    );
    assert_eq!(
        c["limiting"]["endpoint"], "generate_text",
        "{}",
        c["limiting"]
    );
    assert!(
        c["sentence"]
            .as_str()
            .is_some_and(|t| t.contains("generate_text")),
        "{}",
        c["sentence"]
    );
    assert_runner_agrees(c, &out);
}

#[test]
fn a_target_that_refuses_is_limited_by_its_errors() {
    // With every slot busy the simulator refuses at once (no queue): errors rise, latency
    // does not.
    let sim = Simulator::start(&[
        "--text-slots",
        "4",
        "--time-scale",
        TIME_SCALE,
        "--overload",
        "refuse",
    ]);
    let dir = tempfile::tempdir().expect("tmp");
    let (s, out) = search(
        &sim,
        dir.path(),
        &[
            "--user-class",
            "AuraxBurstUser",
            "--start-rate",
            "8/s",
            "--budget",
            "3m",
            "--slo",
            "error_rate<1%",
        ],
    );
    let c = &s["capacity"];
    assert_eq!(
        c["limiting"]["signal"], "errors",
        "{}\n{out}",
        c["limiting"]
    );
    // Refusal starts before the slots are all busy on average (service times vary ±20%), so
    // with 1% allowed the capacity is below 4 / 80 ms = 50 req/s, never above it.
    let capacity = rate(&c["capacity_rps"]);
    assert!(
        (30.0..=52.5).contains(&capacity),
        "capacity {capacity} req/s, at most 50: {}",
        c["sentence"]
    );
    assert_runner_agrees(c, &out);
}

#[test]
fn a_budget_too_short_gives_the_bracket_it_proved() {
    // The mix is a recorded one (an Azure trace's requests, all text), sent at each step's rate.
    let sim = Simulator::start(&["--text-slots", "4", "--time-scale", TIME_SCALE]);
    let dir = tempfile::tempdir().expect("tmp");
    let trace = format!(
        "{}:generate_text",
        crate::common::fixture("azure-code-2023.csv").display()
    );
    let (s, out) = search(
        &sim,
        dir.path(),
        &["--trace", &trace, "--start-rate", "40/s", "--budget", "10s"],
    );
    let rows = read_rows(&dir.path().join("run"));
    assert!(
        rows.iter().all(|r| r.user_class == "replay"
            && r.trace_line.is_some()
            && r.endpoint == "generate_text"),
        "rows not of the recorded mix"
    );
    let c = &s["capacity"];
    assert_eq!(c["converged"], false, "{c}");
    let (pass, fail) = (rate(&c["capacity_rps"]), rate(&c["failing_rps"]));
    assert!(pass <= 50.0 && fail > 50.0, "bracket [{pass}, {fail})");
    assert!((fail - pass) / pass > 0.05, "bracket [{pass}, {fail})");
    let sentence = c["sentence"].as_str().expect("sentence");
    assert!(
        sentence.contains("lower bound")
            && sentence.contains(&format!("between {pass:.1} and {fail:.1}")),
        "{sentence}"
    );
    assert!(out.contains("the budget is spent"), "{out}");
    assert_eq!(s["scaling"]["capacity_is_lower_bound"], true);
    assert!(s["scaling"]["capacity_rps"].is_null(), "{}", s["scaling"]);
}

#[test]
fn ctrl_c_keeps_the_steps_done_and_the_bound_they_prove() {
    let sim = Simulator::start(&["--text-slots", "4", "--time-scale", TIME_SCALE]);
    let dir = tempfile::tempdir().expect("tmp");
    let (run, rep) = (dir.path().join("run"), dir.path().join("rep"));
    let mut child = crate::common::bin()
        .args([
            "run",
            "--find-capacity",
            "--host",
            &sim.url,
            "--user-class",
            "AuraxBurstUser",
        ])
        .args(["--start-rate", "4/s", "--step-time", "3s", "--budget", "3m"])
        .args(["--report", "--report-dir", rep.to_str().expect("utf8")])
        .args(["--out", run.to_str().expect("utf8")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run starts");
    // Steps 0 (4/s) and 1 (8/s) take 3 s each: the signal goes once step 2's requests are on
    // disk (a segment a second), so it lands in step 2 or later, however loaded the machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !(run.exists() && read_rows(&run).iter().any(|r| r.stage >= 2)) {
        assert!(std::time::Instant::now() < deadline, "step 2 never began");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(started.elapsed().as_secs() < 40, "the search did not stop");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("output");
    let out = text(&output);
    assert_eq!(output.status.code(), Some(130), "{out}");
    let c = &summary(&rep)["capacity"];
    let pass = rate(&c["capacity_rps"]);
    assert!(pass >= 8.0, "the steps done prove at least 8 req/s: {c}");
    assert_eq!(c["converged"], false);
    assert!(
        c["sentence"]
            .as_str()
            .is_some_and(|s| s.contains("at least")),
        "{}",
        c["sentence"]
    );
    assert!(out.contains(&format!("passes at {pass:.2} req/s")), "{out}");
}
