//! The analysis on synthetic runs whose answers are known, checked through summary.json.

mod common;

use std::path::Path;

use aurax_analysis::{AnalysisError, analyze, baseline, report};
use common::{Req, png_facts, saturating_ramp, write_run};
use serde_json::Value;

fn summary_of(run: &Path, out: &Path) -> Value {
    let a = analyze(&[run.to_path_buf()]).expect("analyses");
    report::write(&a, None, out).expect("report written");
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn percentiles_are_nearest_rank_and_apdex_uses_the_target() {
    let dir = tempfile::tempdir().expect("tmp");
    // 1000 requests of 1..=1000 ms, shuffled in time.
    let reqs: Vec<Req> = (1..=1000)
        .map(|i| {
            Req::ok(
                "health",
                f64::from((i * 7919) % 1000) / 50.0,
                f64::from(i),
                1,
            )
        })
        .collect();
    write_run(&dir.path().join("run"), &reqs, "1");
    let s = summary_of(&dir.path().join("run"), &dir.path().join("rep"));
    let e = &s["endpoints"][0];
    assert_eq!(e["name"], "health");
    assert_eq!(e["requests"], 1000);
    for (key, want) in [
        ("p50_ms", 500.0),
        ("p90_ms", 900.0),
        ("p95_ms", 950.0),
        ("p99_ms", 990.0),
        ("p999_ms", 999.0),
        ("max_ms", 1000.0),
    ] {
        assert_eq!(e[key].as_f64(), Some(want), "{key}");
    }
    assert!((e["mean_ms"].as_f64().expect("mean") - 500.5).abs() < 1e-9);
    assert_eq!(e["target_ms"], 50.0);
    assert_eq!(e["meets_target"], false);
    // 50 satisfied (<= 50 ms), 150 tolerating (<= 200 ms): (50 + 75) / 1000.
    assert!((e["apdex"].as_f64().expect("apdex") - 0.125).abs() < 1e-9);
    assert_eq!(s["schema_version"], 1);
    assert_eq!(s["run"]["requests"], 1000);
}

#[test]
fn breaking_point_lands_where_throughput_flattens() {
    let dir = tempfile::tempdir().expect("tmp");
    // 2 req/s per user, capacity 20 req/s: throughput flattens at 10 users.
    write_run(
        &dir.path().join("run"),
        &saturating_ramp(20, 5.0, 2.0, 20.0),
        "1",
    );
    let s = summary_of(&dir.path().join("run"), &dir.path().join("rep"));
    let bp = &s["breaking_point"];
    assert_eq!(bp["found"], true, "{bp}");
    assert_eq!(bp["signal"], "throughput_knee");
    let users = bp["users"].as_f64().expect("users");
    assert!((9.0..=11.0).contains(&users), "{bp}");
    let rps = bp["throughput_rps"].as_f64().expect("rps");
    assert!((rps - 20.0).abs() / 20.0 <= 0.15, "{bp}");
    let at = bp["at_s"].as_f64().expect("at_s");
    assert!((40.0..=55.0).contains(&at), "{bp}");
    let scaling = &s["scaling"];
    assert!((scaling["scale_out_at_rps"].as_f64().expect("trigger") - 0.7 * rps).abs() < 1e-6);
    assert_eq!(scaling["capacity_is_lower_bound"], false);
    let usl = &s["usl"];
    assert!(
        usl["peak_throughput_rps"]
            .as_f64()
            .is_some_and(|p| (p - 20.0).abs() / 20.0 < 0.2),
        "{usl}"
    );
}

#[test]
fn linear_growth_says_no_breaking_point_up_to_the_top() {
    let dir = tempfile::tempdir().expect("tmp");
    write_run(
        &dir.path().join("run"),
        &saturating_ramp(12, 5.0, 2.0, 1000.0),
        "1",
    );
    // One request in progress throughout: flat, but the load never limited the target, so
    // it is no constraint (the README's 30 s light run once named it one, at 1 user).
    let samples: Vec<(f64, &str, &str, f64)> = (0..=60)
        .map(|t| {
            (
                f64::from(t),
                "scrape:http://t/metrics",
                "aurax_inprogress",
                1.0,
            )
        })
        .collect();
    common::write_resources(&dir.path().join("run"), "resources.parquet", &samples);
    let s = summary_of(&dir.path().join("run"), &dir.path().join("rep"));
    assert!(s["resources"]["constraint"].is_null(), "{}", s["resources"]);
    assert!(s["resources"]["trigger"].is_null(), "{}", s["resources"]);
    assert_eq!(s["breaking_point"]["found"], false);
    let verdict = s["breaking_point"]["verdict"].as_str().expect("verdict");
    assert!(verdict.starts_with("no breaking point up to "), "{verdict}");
    // Windows that straddle two user counts smooth the top level a little: within 10% of 24.
    let max = s["scaling"]["max_throughput_rps"].as_f64().expect("max");
    assert!((max - 24.0).abs() / 24.0 < 0.1, "{max}");
    assert_eq!(s["scaling"]["capacity_is_lower_bound"], true);
}

#[test]
fn errors_injected_at_known_times_are_grouped_and_found_as_a_burst() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut reqs = Vec::new();
    for i in 0..600 {
        let t = f64::from(i) / 10.0; // 10 req/s for 60 s
        let mut r = Req::ok("generate_text", t, 100.0, 5);
        r.model = Some("mistral");
        if (30.0..35.0).contains(&t) && i % 2 == 0 {
            r.outcome = "app_error";
            r.error = Some(format!(
                "Model mistral is overloaded: {} requests queued",
                10 + i % 17
            ));
        }
        reqs.push(r);
    }
    write_run(&dir.path().join("run"), &reqs, "1");
    let s = summary_of(&dir.path().join("run"), &dir.path().join("rep"));
    let errors = s["errors"].as_array().expect("errors");
    assert_eq!(
        errors.len(),
        1,
        "one pattern once numbers are stripped: {errors:?}"
    );
    let e = &errors[0];
    assert_eq!(
        e["message"],
        "Model mistral is overloaded: <n> requests queued"
    );
    assert_eq!(
        (
            e["count"].as_u64(),
            e["outcome"].as_str(),
            e["status"].as_i64()
        ),
        (Some(25), Some("app_error"), Some(200))
    );
    assert!((e["first_s"].as_f64().expect("first") - 30.0).abs() < 0.01);
    assert!(e["last_s"].as_f64().expect("last") < 35.0);
    assert_eq!(s["hidden_app_errors"], 25);
    let bursts = s["error_bursts"].as_array().expect("bursts");
    assert_eq!(bursts.len(), 1, "{bursts:?}");
    assert!((bursts[0]["start_s"].as_f64().expect("start") - 30.0).abs() <= 1.0);
    assert!(bursts[0]["end_s"].as_f64().expect("end") <= 36.0);
    assert_eq!(s["models"][0]["model"], "mistral");
    assert_eq!(s["models"][0]["share"], 1.0);
}

#[test]
fn charts_are_real_pictures_and_the_report_links_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut reqs = saturating_ramp(16, 4.0, 2.0, 16.0);
    for r in reqs.iter_mut().step_by(9) {
        r.outcome = "http_error";
        r.status = Some(503);
        r.error = Some("Service Unavailable".into());
    }
    for r in reqs.iter_mut().step_by(3) {
        r.model = Some("mistral");
    }
    write_run(&dir.path().join("run"), &reqs, "1");
    let out = dir.path().join("rep");
    let a = analyze(&[dir.path().join("run")]).expect("analyses");
    let files = report::write(&a, None, &out).expect("report");
    assert_eq!(files.charts.len(), 7, "{:?}", files.charts);
    let md = std::fs::read_to_string(out.join("report.md")).expect("md");
    assert!(
        md.starts_with("# Load test report: synthetic\n\n**FAIL"),
        "{}",
        &md[..200]
    );
    for chart in &files.charts {
        let (w, h, ink) = png_facts(&out.join(&chart.file));
        assert_eq!((w, h), (1400, 800), "{}", chart.file);
        assert!(ink > 0.01, "{} is nearly blank ({ink})", chart.file);
        assert!(
            md.contains(&format!("]({})", chart.file)),
            "report links {}",
            chart.file
        );
    }
}

#[test]
fn a_tiny_single_endpoint_run_still_gets_a_report_that_says_what_it_cannot_tell() {
    let dir = tempfile::tempdir().expect("tmp");
    let reqs: Vec<Req> = (0..12)
        .map(|i| Req::ok("health", f64::from(i), 5.0, 1))
        .collect();
    write_run(&dir.path().join("run"), &reqs, "1");
    let s = summary_of(&dir.path().join("run"), &dir.path().join("rep"));
    let notes = s["notes"].as_array().expect("notes");
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.starts_with("Only 12 requests"))),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| {
        n.as_str()
            .is_some_and(|n| n.starts_with("One endpoint only"))
    }));
    assert_eq!(s["breaking_point"]["found"], false);
}

#[test]
fn bad_inputs_get_distinct_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let code = |p: &Path| {
        analyze(&[p.to_path_buf()])
            .expect_err("must fail")
            .exit_code()
    };
    assert_eq!(code(&empty), 10);
    assert_eq!(code(&dir.path().join("absent")), 10);

    let text = dir.path().join("text");
    std::fs::create_dir_all(&text).expect("mkdir");
    std::fs::write(text.join("requests-00001.parquet"), "not parquet at all").expect("write");
    assert!(matches!(
        analyze(std::slice::from_ref(&text)),
        Err(AnalysisError::NotParquet { .. })
    ));
    assert_eq!(code(&text), 11);

    let newer = dir.path().join("newer");
    write_run(&newer, &[Req::ok("health", 0.0, 1.0, 1)], "99");
    let err = analyze(std::slice::from_ref(&newer)).expect_err("newer");
    assert_eq!(err.exit_code(), 13);
    assert!(
        err.to_string().contains("schema version 99 is newer"),
        "{err}"
    );

    let none = dir.path().join("none");
    write_run(&none, &[], "1");
    assert_eq!(code(&none), 14);

    // A valid Parquet file that is not ours.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("x", arrow::datatypes::DataType::Int64, false),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![std::sync::Arc::new(arrow::array::Int64Array::from(vec![
            1, 2,
        ]))],
    )
    .expect("batch");
    let file = std::fs::File::create(other.join("requests-00001.parquet")).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    assert_eq!(code(&other), 12);
}

#[test]
fn baseline_comparison_flags_a_real_slowdown_and_not_noise() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = |name: &str, latency: f64| {
        let reqs: Vec<Req> = (0..1200)
            .map(|i| {
                Req::ok(
                    "generate_text",
                    f64::from(i) / 20.0,
                    latency + f64::from(i % 13),
                    5,
                )
            })
            .collect();
        let p = dir.path().join(name);
        write_run(&p, &reqs, "1");
        analyze(&[p]).expect("analyses")
    };
    let (old, same, slow) = (run("old", 100.0), run("same", 100.0), run("slow", 160.0));
    let changes = baseline::compare(&slow, &old);
    assert!(changes[0].regression, "{:?}", changes[0]);
    assert!(changes[0].p_value.is_some_and(|p| p < 0.001));
    let changes = baseline::compare(&same, &old);
    assert!(!changes[0].regression, "{:?}", changes[0]);
}

#[test]
fn a_saturated_generator_is_named_and_a_saturating_target_cpu_is_the_constraint() {
    // 10 levels of 10 s, 20 req/s per user up to 100 req/s of capacity (5 users).
    let reqs = saturating_ramp(10, 10.0, 20.0, 100.0);
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    write_run(&run, &reqs, "2");
    let mut samples = Vec::new();
    for t in 0..=100 {
        let t = f64::from(t);
        // Target: 0.8 cores per user, up to 4 cores at 5 users, then flat (its ceiling).
        let target_cpu: f64 = (0..t as i32)
            .map(|s| (0.8 * ((f64::from(s) / 10.0).floor() + 1.0)).min(4.0))
            .sum();
        samples.push((
            t,
            "scrape:http://t/metrics",
            "process_cpu_seconds_total",
            target_cpu,
        ));
        samples.push((
            t,
            "scrape:http://t/metrics",
            "aurax_simulated_cpu_cores",
            16.0,
        ));
        // Its requests in progress pile up to 20 at the same level as its CPU: the CPU is
        // the cause and is named (in-progress sorts first, so a tie must be broken on purpose).
        samples.push((
            t,
            "scrape:http://t/metrics",
            "aurax_inprogress",
            (4.0 * ((t / 10.0).floor() + 1.0)).min(20.0),
        ));
        // A watched process that levels off at 0.06 cores from the third level: a plateau far
        // below one core is no CPU limit (CI once named such a process the constraint).
        let pid_cpu: f64 = (0..t as i32)
            .map(|s| (0.02 * ((f64::from(s) / 10.0).floor() + 1.0)).min(0.06))
            .sum();
        samples.push((t, "pid:77", "process_cpu_seconds_total", pid_cpu));
        // Its disk writes grow by 1 MiB/s per level and it never reads (no line for reads).
        let pid_writes: f64 = (0..t as i32)
            .map(|s| 1048576.0 * ((f64::from(s) / 10.0).floor() + 1.0))
            .sum();
        samples.push((t, "pid:77", "process_io_write_bytes_total", pid_writes));
        samples.push((t, "pid:77", "process_io_read_bytes_total", 0.0));
        // Generator: 1.9 of 2 cores from the start.
        samples.push((t, "generator", "process_cpu_seconds_total", 1.9 * t));
        samples.push((t, "generator", "machine_cpu_cores", 2.0));
        samples.push((t, "generator", "process_resident_memory_bytes", 80e6));
    }
    // A long run seals its older samples: the first 30 s are in a segment of their own.
    let (sealed, newest): (Vec<_>, Vec<_>) = samples.iter().partition(|s| s.0 < 30.0);
    common::write_resources(&run, "resources-00001.parquet", &sealed);
    common::write_resources(&run, "resources.parquet", &newest);
    let a = analyze(std::slice::from_ref(&run)).expect("analysis");
    let r = &a.resources;
    let (name, load, value) = r.constraint.clone().expect("a constraint");
    assert_eq!(name, "target CPU");
    assert_eq!(load, 5.0, "saturates at 5 users");
    // The level mean: 90% of the 4-core plateau or more.
    assert!((3.6..=4.0).contains(&value), "{value}");
    let names: Vec<&str> = r.series.iter().map(|s| s.name.as_str()).collect();
    assert!(!names.contains(&"pid:77 disk read"), "{names:?}");
    let writes = r
        .series
        .iter()
        .find(|s| s.name == "pid:77 disk write")
        .expect("disk writes shown");
    assert_eq!(writes.unit, "MiB/s");
    // Level 3 (samples at 21..=29 s, rates of seconds 20..28): 3 MiB/s throughout.
    let level3 = writes.per_level[2].expect("level 3");
    assert!((level3 - 3.0).abs() < 0.35, "{level3}");
    let trigger = r.trigger.clone().expect("trigger");
    assert!(
        trigger.contains("(2.8 cores)") && trigger.contains("reached at ~"),
        "{trigger}"
    );
    let g = r
        .generator_saturated
        .clone()
        .expect("the generator saturated");
    assert!(g.contains("1.90 of its 2 cores"), "{g}");
    let out = dir.path().join("rep");
    aurax_analysis::report::write(&a, None, &out).expect("report");
    let md = std::fs::read_to_string(out.join("report.md")).expect("md");
    assert!(
        md.contains("**The load generator was the bottleneck.**"),
        "{md}"
    );
    let (w, h, ink) = png_facts(&out.join("resources.png"));
    assert_eq!((w, h), (1400, 800));
    assert!(ink > 0.01, "{ink}");
}
