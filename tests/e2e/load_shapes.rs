//! The seed's five load scenarios, the open model and coordinated omission, end to end:
//! each run's shape is checked from the Parquet it leaves.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{Row, Simulator, aurax, manifest, read_rows, summary, text};

fn run_scenario(dir: &Path, args: &[&str]) -> (Vec<Row>, String, Option<i32>) {
    let out = dir.join("run");
    let mut all = vec![
        "run",
        "--seed",
        "5",
        "--quiet",
        "--no-thresholds",
        "--out",
        out.to_str().expect("utf8"),
    ];
    all.extend_from_slice(args);
    let o = aurax(&all);
    (read_rows(&out), text(&o), o.status.code())
}

fn max_users(rows: &[Row], from_s: f64, to_s: f64) -> u32 {
    let t0 = rows.iter().map(|r| r.actual_us).min().unwrap_or(0);
    rows.iter()
        .filter(|r| {
            let t = (r.actual_us - t0) as f64 / 1e6;
            t >= from_s && t < to_s
        })
        .map(|r| r.users_active)
        .max()
        .unwrap_or(0)
}

#[test]
fn ramp_adds_users_gradually_then_holds() {
    let dir = tempfile::tempdir().expect("tmp");
    // 0 -> 10 users over 6 s, hold 2.4 s.
    let (rows, out, code) = run_scenario(
        dir.path(),
        &[
            "--scenario",
            "ramp",
            "--scale",
            "0.1",
            "--duration-scale",
            "0.02",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let (early, mid, late) = (
        max_users(&rows, 0.0, 2.0),
        max_users(&rows, 2.0, 4.0),
        max_users(&rows, 6.5, 9.0),
    );
    assert!(
        early <= 4 && early < mid && mid < late,
        "{early} {mid} {late}"
    );
    assert_eq!(late, 10);
    assert!(rows.iter().all(|r| r.stage <= 1 && r.stage_target == 10.0));
}

#[test]
fn spike_jumps_and_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    // 2 users, 20 within 0.5 s for 3 s, back to 2: stages 0..=5 over 10.5 s.
    let (rows, out, code) = run_scenario(
        dir.path(),
        &[
            "--scenario",
            "spike",
            "--scale",
            "0.2",
            "--duration-scale",
            "0.05",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let stage = |k: u32| {
        rows.iter()
            .filter(|r| r.stage == k)
            .map(|r| r.users_active)
            .max()
            .unwrap_or(0)
    };
    assert!(stage(1) <= 2, "before the spike: {}", stage(1));
    assert!(stage(3) >= 18, "during the spike: {}", stage(3));
    // Recovery: users stop after their current request, so the last second is back to 2.
    let last = max_users(&rows, 9.5, 11.0);
    assert!(last <= 3, "after the spike: {last}");
    let spike_rate = rows.iter().filter(|r| r.stage == 3).count() as f64 / 3.0;
    let calm_rate = rows.iter().filter(|r| r.stage == 1).count() as f64 / 3.0;
    assert!(spike_rate > 5.0 * calm_rate, "{spike_rate} vs {calm_rate}");
}

#[test]
fn sustained_holds_a_constant_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let (rows, out, code) = run_scenario(
        dir.path(),
        &[
            "--scenario",
            "sustained",
            "--scale",
            "0.1",
            "--duration-scale",
            "0.005",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let hold: Vec<&Row> = rows.iter().filter(|r| r.stage == 1).collect();
    assert!(hold.len() > 10);
    assert!(
        hold.iter()
            .all(|r| r.users_active == 5 && r.stage_target == 5.0)
    );
}

#[test]
fn mixed_runs_the_three_classes_at_70_20_10() {
    let dir = tempfile::tempdir().expect("tmp");
    let (rows, out, code) = run_scenario(
        dir.path(),
        &[
            "--scenario",
            "mixed",
            "--scale",
            "0.3",
            "--duration-scale",
            "0.01",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let users = |class: &str| {
        rows.iter()
            .filter(|r| r.user_class == class)
            .map(|r| r.user_id)
            .collect::<BTreeSet<_>>()
            .len()
    };
    assert_eq!(
        (
            users("AuraxLoadTestUser"),
            users("AuraxBurstUser"),
            users("AuraxPeakHourUser")
        ),
        (21, 6, 3)
    );
}

#[test]
fn exhaustion_stops_itself_past_capacity_and_finds_it() {
    // 4 text slots of 2 s x 0.025 = 50 ms: 80 req/s, queueing past it (the model client
    // gives up after 120 s x 0.025 = 3 s). Steps of 10 req/s every 3 s.
    let sim = Simulator::start(&["--text-slots", "4", "--time-scale", "0.025"]);
    let dir = tempfile::tempdir().expect("tmp");
    let rep = dir.path().join("rep");
    let (rows, out, code) = run_scenario(
        dir.path(),
        &[
            "--host",
            &sim.url,
            "--scenario",
            "exhaustion",
            "--duration-scale",
            "0.1",
            "--report",
            "--report-dir",
            rep.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, Some(0), "--no-thresholds keeps 0: {out}");
    assert!(
        out.contains("stopped by --stop-on 'error_rate>10%'"),
        "{out}"
    );
    assert_eq!(
        manifest(&dir.path().join("run"))["status"],
        "stopped_by_condition"
    );
    let top = rows.iter().map(|r| r.stage_target).fold(0.0, f64::max);
    assert!(
        (90.0..=150.0).contains(&top),
        "stopped at {top} req/s offered"
    );
    let s = summary(&rep);
    let found = s["breaking_point"]["throughput_rps"]
        .as_f64()
        .expect("a breaking point");
    assert!(
        (found - 80.0).abs() / 80.0 <= 0.15,
        "{}",
        s["breaking_point"]
    );
    assert!(
        s["breaking_point"]["verdict"]
            .as_str()
            .is_some_and(|v| v.contains("req/s offered"))
    );
}

#[test]
fn open_model_stall_shows_in_corrected_latency_only() {
    let sim = Simulator::start(&["--time-scale", "0.05", "--stall", "4s+2s"]);
    let dir = tempfile::tempdir().expect("tmp");
    let rep = dir.path().join("rep");
    let (rows, out, code) = run_scenario(
        dir.path(),
        &[
            "--host",
            &sim.url,
            "--user-class",
            "AuraxBurstUser",
            "--rate",
            "50/s",
            "-t",
            "16s",
            "--connections",
            "4",
            "--report",
            "--report-dir",
            rep.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!((790..=801).contains(&rows.len()), "{} arrivals", rows.len());
    assert!(
        out.contains("warning: the load generator fell behind its schedule"),
        "{out}"
    );
    let s = summary(&rep);
    let e = &s["endpoints"][0];
    let (raw, corrected) = (
        e["p99_ms"].as_f64().expect("p99"),
        e["corrected_p99_ms"].as_f64().expect("corrected"),
    );
    assert!(
        raw < 500.0,
        "raw p99 {raw} ms stays low: the stalled sends waited for a connection"
    );
    assert!(
        corrected > 1500.0,
        "corrected p99 {corrected} ms shows the 2 s stall"
    );
}

#[test]
fn open_model_overflow_is_recorded_as_dropped() {
    let sim = Simulator::start(&["--time-scale", "1"]);
    let dir = tempfile::tempdir().expect("tmp");
    let (rows, out, code) = run_scenario(
        dir.path(),
        &[
            "--host",
            &sim.url,
            "--user-class",
            "AuraxBurstUser",
            "--rate",
            "100/s",
            "-t",
            "3s",
            "--max-in-flight",
            "10",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        (295..=301).contains(&rows.len()),
        "every arrival is a row: {}",
        rows.len()
    );
    let dropped = rows.iter().filter(|r| r.outcome == "dropped").count();
    assert!(dropped > 150, "{dropped} dropped");
    assert!(
        rows.iter()
            .filter(|r| r.outcome == "dropped")
            .all(|r| r.status.is_none() && r.latency_us == 0)
    );
}

#[test]
fn stop_on_ends_any_run_early_with_exit_97() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let started = std::time::Instant::now();
    // Generations take far more than 1 ms: the condition fires once the stage has 10 s of data.
    let o = aurax(&[
        "run",
        "--rate",
        "20/s",
        "-t",
        "60s",
        "--stop-on",
        "p50>1ms",
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    // Not 99: CI tells a run stopped by its safety condition from one that missed a target.
    assert_eq!(o.status.code(), Some(97), "{}", text(&o));
    assert!(
        started.elapsed().as_secs() < 30,
        "stopped early: {:?}",
        started.elapsed()
    );
    assert!(
        text(&o).contains("stopped by --stop-on 'p50>1ms' at stage 1 (target 20)"),
        "{}",
        text(&o)
    );
    assert_eq!(manifest(&out)["status"], "stopped_by_condition");
}

#[test]
fn scenario_show_prints_one_load_scenario() {
    let o = aurax(&["scenario", "show", "exhaustion"]);
    assert_eq!(o.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.starts_with("[scenarios.exhaustion]") && shown.contains("stop_on"),
        "{shown}"
    );
    let o = aurax(&["scenario", "show", "tsunami"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("(known: ollama, openai, exhaustion, mixed, ramp, spike, sustained)")
    );
    let o = aurax(&["run", "--scenario", "tsunami"]);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn a_run_cut_by_its_run_time_is_judged_only_on_the_load_it_reached() {
    // Ramps to 10/s over a minute, then to 200/s: 4 s in, the load had reached 0.7/s, so no
    // throughput tier can be judged (judged against the 200/s never offered, each failed).
    let sim = Simulator::start(&["--time-scale", "0.02"]);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let o = aurax(&[
        "run",
        "--host",
        &sim.url,
        "--user-class",
        "AuraxBurstUser",
        "--rate-stages",
        "10/s:1m,200/s:5m",
        "-t",
        "4s",
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(0), "{said}");
    let tiers: Vec<&str> = said
        .lines()
        .filter(|l| l.trim_start().starts_with("throughput ("))
        .collect();
    assert_eq!(tiers.len(), 3, "{said}");
    for t in tiers {
        assert!(
            t.contains("not judged: load offers at most 0.7 req/s"),
            "{t}"
        );
    }
}
