//! The analysis on synthetic runs whose answers are known, checked through summary.json.

use std::path::Path;

use crate::common::{Req, png_facts, saturating_ramp, write_run, write_run_with};
use aurax_analysis::{AnalysisError, analyze, baseline, report};
use aurax_schema::meta;
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
    assert_eq!(s["schema_version"], 4);
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
    let capacity = scaling["capacity_rps"].as_f64().expect("capacity");
    assert!((capacity - 20.0).abs() / 20.0 <= 0.1, "{scaling}");
    assert!((scaling["scale_out_at_rps"].as_f64().expect("trigger") - 0.7 * capacity).abs() < 1e-6);
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
    crate::common::write_resources(&dir.path().join("run"), "resources.parquet", &samples);
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
    assert!(s["scaling"]["capacity_rps"].is_null(), "{}", s["scaling"]);
    // Nothing saturated: no capacity to give, so no trigger, no instances, no autoscaler;
    // what load would find one instead.
    let scaling = &s["scaling"];
    assert!(scaling["scale_out_at_rps"].is_null(), "{scaling}");
    assert!(scaling["scale_out_at_in_flight"].is_null(), "{scaling}");
    assert_eq!(scaling["instances"].as_array().map(Vec::len), Some(0));
    // Its lone endpoint's headroom was its lower bound over the mix's (0.959 on the
    // simulator's light profile): no headroom against a capacity nobody found.
    let by_endpoint = scaling["by_endpoint"].as_array().expect("by_endpoint");
    assert_eq!(by_endpoint.len(), 1, "{scaling}");
    assert_eq!(by_endpoint[0]["capacity_is_lower_bound"], true);
    assert!(by_endpoint[0]["headroom"].is_null(), "{scaling}");
    let advice = scaling["to_find_capacity"].as_str().expect("advice");
    assert!(
        advice.contains("--rate-stages '12/s:10s,95/s:3m'"),
        "{advice}"
    );
    assert!(advice.contains("run --find-capacity"), "{advice}");
    let md = std::fs::read_to_string(dir.path().join("rep/report.md")).expect("report");
    assert!(
        md.contains("**No capacity and no scale-out trigger**"),
        "{md}"
    );
    assert!(!md.contains("HorizontalPodAutoscaler"), "{md}");
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
        let size = if chart.file == "summary.png" {
            (1200, 630)
        } else {
            (1400, 800)
        };
        assert_eq!((w, h), size, "{}", chart.file);
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
    // 12 requests make no load level of 20 arrivals: too short to tell, not "up to 0 req/s".
    let verdict = s["breaking_point"]["verdict"].as_str().expect("verdict");
    assert!(
        verdict.starts_with("no breaking point to find: no load level had 20 arrivals"),
        "{verdict}"
    );
    assert!(s["scaling"]["scale_out_at_rps"].is_null());
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
    // A run directory whose run recorded nothing: its run.json, no request file.
    let nothing = dir.path().join("nothing");
    std::fs::create_dir_all(&nothing).expect("mkdir");
    std::fs::write(nothing.join("run.json"), r#"{"status": "completed"}"#).expect("manifest");
    assert_eq!(code(&nothing), 14);

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
fn a_negative_latency_is_refused_with_its_file_and_row() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut reqs: Vec<Req> = (0..10)
        .map(|i| Req::ok("health", f64::from(i), 5.0, 1))
        .collect();
    reqs[7].latency_ms = -3.0;
    write_run(&dir.path().join("run"), &reqs, "2");
    let err = analyze(&[dir.path().join("run")]).expect_err("refused");
    let text = err.to_string();
    assert!(
        matches!(err, AnalysisError::WrongSchema { .. }) && text.contains("requests-00001.parquet"),
        "{text}"
    );
    assert!(
        text.contains("row 7: latency_us is negative (-3000)"),
        "{text}"
    );
}

#[test]
fn a_run_that_ended_early_is_said_to_have() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    let reqs: Vec<Req> = (0..50)
        .map(|i| Req::ok("health", f64::from(i) / 10.0, 5.0, 1))
        .collect();
    write_run(&run, &reqs, "2");
    std::fs::write(run.join("run.json"), r#"{"status": "running"}"#).expect("manifest");
    let a = analyze(std::slice::from_ref(&run)).expect("analyses");
    assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
    assert!(
        a.warnings[0].contains("still says `running`"),
        "{:?}",
        a.warnings
    );
    std::fs::write(run.join("run.json"), r#"{"status": "completed"}"#).expect("manifest");
    assert!(analyze(&[run]).expect("analyses").warnings.is_empty());
}

#[test]
fn a_mix_whose_generations_fail_is_not_carried_by_its_cheap_calls() {
    // 60 s: 100 status checks a second, all fine; 10 generations a second, one in ten fine.
    // The mix in its proportions was served at 1 / (10/110) = 11 req/s, not the 101 of the
    // total: the target tier (50) and the peak (100) fail, the minimum (10) holds.
    let dir = tempfile::tempdir().expect("tmp");
    let mut reqs = Vec::new();
    for i in 0..6000 {
        reqs.push(Req::ok("system_status", f64::from(i) / 100.0, 5.0, 20));
    }
    for i in 0..600 {
        let mut r = Req::ok("generate_text", f64::from(i) / 10.0, 500.0, 20);
        if i % 10 != 0 {
            r.outcome = "app_error";
            r.error = Some("Failed to generate response from LLM".into());
        }
        reqs.push(r);
    }
    write_run(&dir.path().join("run"), &reqs, "3");
    let s = summary_of(&dir.path().join("run"), &dir.path().join("rep"));
    let check = |what: &str| {
        s["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["what"] == what)
            .cloned()
            .unwrap_or_else(|| panic!("no {what}"))
    };
    let target = check("throughput (target)");
    assert_eq!(target["judgement"], "fail", "{target}");
    let observed: f64 = target["observed"]
        .as_str()
        .and_then(|o| o.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a rate");
    assert!((observed - 11.0).abs() < 0.3, "{target}");
    assert_eq!(check("throughput (peak)")["judgement"], "fail");
    assert_eq!(check("throughput (minimum)")["judgement"], "pass");
}

/// A file from another writer (pandas, Spark) may hold the contract's dictionary strings as
/// plain strings: the answers are the same, percentiles included (the one sort keys its rows
/// by category, so the analysis makes them categorical as it reads).
#[test]
fn plain_string_columns_give_the_same_answers_as_dictionary_ones() {
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tmp");
    let mut reqs = saturating_ramp(6, 4.0, 3.0, 12.0);
    for (i, r) in reqs.iter_mut().enumerate() {
        r.endpoint = ["generate_text", "health"][i % 2];
        r.model = (i % 2 == 0).then_some("mistral");
        if i % 9 == 0 {
            r.outcome = "http_error";
            r.status = Some(503);
            r.error = Some(format!("overloaded {i}"));
        }
    }
    let dict_run = dir.path().join("dict");
    write_run(&dict_run, &reqs, "1");
    // The same rows, every dictionary column cast to a plain string, the footer kept.
    let plain_run = dir.path().join("plain");
    std::fs::create_dir_all(&plain_run).expect("mkdir");
    let file = std::fs::File::open(dict_run.join("requests-00001.parquet")).expect("open");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("reader");
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned();
    let batches: Vec<_> = reader
        .build()
        .expect("batches")
        .map(|b| b.expect("batch"))
        .collect();
    let schema = batches[0].schema();
    let plain_schema = Arc::new(Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Dictionary(..) => Field::new(f.name(), DataType::Utf8, true),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    ));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(kv)
        .build();
    let out = std::fs::File::create(plain_run.join("requests-00001.parquet")).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(out, plain_schema.clone(), Some(props))
        .expect("writer");
    for b in &batches {
        let columns = b
            .columns()
            .iter()
            .zip(plain_schema.fields())
            .map(|(c, f)| cast(c, f.data_type()).expect("cast"))
            .collect();
        w.write(
            &arrow::record_batch::RecordBatch::try_new(plain_schema.clone(), columns)
                .expect("batch"),
        )
        .expect("write");
    }
    w.close().expect("close");
    let dict = summary_of(&dict_run, &dir.path().join("dict-rep"));
    let plain = summary_of(&plain_run, &dir.path().join("plain-rep"));
    assert_eq!(dict["endpoints"].as_array().map(Vec::len), Some(2));
    assert_eq!(dict["endpoints"], plain["endpoints"]);
    assert_eq!(dict["errors"], plain["errors"]);
    // Levels alike, in flight to the last bits (a sum of time offsets, in any order).
    let (d, p) = (&dict["levels"], &plain["levels"]);
    assert_eq!(d.as_array().map(Vec::len), Some(6));
    for (d, p) in d
        .as_array()
        .into_iter()
        .flatten()
        .zip(p.as_array().into_iter().flatten())
    {
        for (key, dv) in d.as_object().into_iter().flatten() {
            match (dv.as_f64(), p[key].as_f64()) {
                (Some(a), Some(b)) if key.starts_with("in_flight") => {
                    assert!(
                        (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                        "{key}: {a} against {b}"
                    )
                }
                _ => assert_eq!(dv, &p[key], "{key}"),
            }
        }
    }
    assert!(
        dict["endpoints"][0]["p95_ms"]
            .as_f64()
            .is_some_and(|v| v > 0.0)
    );
}

/// A model's own levels are its endpoints' requests, whatever model each response named: one
/// endpoint answering from two models (70% fast, 30% slow) is one model group whose p95 at
/// each level is the endpoint's, slow answers included.
#[test]
fn a_models_levels_rank_all_of_its_endpoints_requests() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut reqs = saturating_ramp(8, 6.0, 5.0, 1000.0);
    for (i, r) in reqs.iter_mut().enumerate() {
        r.endpoint = "generate_text";
        let slow = i % 10 >= 7;
        r.model = Some(if slow { "big" } else { "small" });
        r.latency_ms = if slow { 900.0 } else { 100.0 + (i % 7) as f64 };
    }
    let run = dir.path().join("run");
    write_run(&run, &reqs, "1");
    let s = summary_of(&run, &dir.path().join("rep"));
    let endpoint = &s["endpoint_levels"][0];
    let models = s["model_levels"].as_array().expect("model levels");
    assert_eq!(
        models.len(),
        1,
        "one model group: the endpoint's dominant model"
    );
    assert_eq!(models[0]["name"], "small");
    let (mine, theirs) = (
        endpoint["levels"].as_array().expect("levels"),
        models[0]["levels"].as_array().expect("levels"),
    );
    assert!(mine.len() >= 4, "{} levels", mine.len());
    assert_eq!(mine.len(), theirs.len());
    for (e, m) in mine.iter().zip(theirs) {
        // 30% of the answers took 900 ms: the p95 of all of them is 900 ms.
        assert_eq!(e["p95_ms"], 900.0);
        assert_eq!(m["p95_ms"], e["p95_ms"]);
        assert_eq!(m["arrivals"], e["arrivals"]);
    }
}

/// 100 requests a second for 10 s, the last one sent 0.3 ms past the tenth second (as a real
/// 10 s run's last send falls): the level spans the run to its last send and its rates are the
/// run's. The sliver, a window of its own counted as a quarter of one, had drawn a collapse at
/// the end of the throughput chart and taken 2.4% off the level's rates (`grid.rs` tests the
/// windows themselves).
#[test]
fn a_last_send_just_past_a_window_does_not_make_a_window_of_its_own() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    let mut reqs: Vec<Req> = (0..1000)
        .map(|i| Req::ok("health", f64::from(i) / 100.0, 2.0, 4))
        .collect();
    reqs.push(Req::ok("health", 10.0003, 2.0, 4));
    write_run(&run, &reqs, "2");
    let a = analyze(&[run]).expect("analyses");
    assert_eq!(a.levels.len(), 1);
    let level = &a.levels[0];
    assert!((level.seconds - 10.0003).abs() < 1e-9, "{}", level.seconds);
    assert!(
        (level.offered_rps - 1001.0 / 10.0003).abs() < 1e-6,
        "offered {} for {}",
        level.offered_rps,
        1001.0 / 10.0003
    );
    assert!(
        (level.served_rps - a.throughput_rps).abs() / a.throughput_rps < 0.01,
        "served {} against the run's {}",
        level.served_rps,
        a.throughput_rps
    );
}

/// An open-model ramp whose schedule targets 10·t + 5 req/s at t seconds, sent exactly at
/// that rate for 20 s: each 1 s window offers the mean of what its arrivals were scheduled at.
/// `stage_target` is what each arrival was scheduled at, or (`lag_s`) what it was that many
/// seconds before, as a replay's trailing rate lags its trace.
fn open_ramp(lag_s: f64) -> Vec<Req> {
    // N(t) = 5t² + 5t arrivals by t: the k-th at N(t) = k + ½.
    (0..2100)
        .map(|k| {
            let t = (-5.0 + (25.0 + 20.0 * (f64::from(k) + 0.5)).sqrt()) / 10.0;
            let mut r = Req::ok("generate_text", t, 10.0, 0);
            r.stage_target = (10.0 * (t - lag_s) + 5.0).max(1.0);
            r
        })
        .collect()
}

/// Each full window's load against the arrivals a second it measured (the schedule's rate,
/// which these arrivals follow exactly); each trusted level's within half a binning step of
/// what it offered; at most 20 levels.
fn assert_loads_are_what_was_offered(a: &aurax_analysis::Analysis, what: &str) {
    let full: Vec<_> = a.windows().iter().filter(|w| w.seconds == 1.0).collect();
    assert!(full.len() >= 19, "{what}: {} full windows", full.len());
    for w in full {
        let offered = w.arrivals / w.seconds;
        assert!(
            (w.load - offered).abs() <= 1.0,
            "{what}: the window at {} s read {:.1} req/s, offered {offered:.1}",
            w.start_s,
            w.load
        );
    }
    let step = (a.windows().iter().map(|w| w.load).fold(0.0, f64::max) / 20.0).ceil();
    let trusted: Vec<_> = a.levels.iter().filter(|l| l.trusted()).collect();
    assert!(
        trusted.len() >= 15,
        "{what}: {} trusted levels",
        trusted.len()
    );
    for l in trusted {
        assert!(
            (l.load - l.offered_rps).abs() <= step / 2.0 + 1.0,
            "{what}: the level labelled {} req/s offered {:.1}",
            l.load,
            l.offered_rps
        );
    }
    assert!(a.levels.len() <= 20, "{what}: {} levels", a.levels.len());
}

/// A ramp's window was labelled by the highest rate its arrivals met, its end: a 1 s window
/// of a ramp climbing 10 req/s a second read 10 req/s above what it offered (the built-in
/// simulator's `--rate-stages 10/s:10s,200/s:20s`: "70 req/s" beside 63.0 offered), and a
/// ramp from 0/s made a level of each of its first windows (25 levels, five of 1 s).
#[test]
fn an_open_ramps_levels_are_labelled_by_the_rate_they_offered() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    write_run_with(&run, &open_ramp(0.0), "4", &[(meta::LOAD_MODEL, "open")]);
    let a = analyze(&[run]).expect("analyses");
    assert_loads_are_what_was_offered(&a, "open ramp");
}

/// A replay's `stage_target` is the trace's rate over the last 5 s, which lags a rising
/// trace: its levels follow its arrivals instead (a replay of that ramp read "45 req/s
/// offered" on a level that offered 63).
#[test]
fn a_replays_levels_are_labelled_by_its_arrivals() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    let trace = r#"{"sources":["ramp.jsonl"],"speed":1.0}"#;
    write_run_with(
        &run,
        &open_ramp(5.0),
        "4",
        &[(meta::LOAD_MODEL, "open"), (meta::TRACE, trace)],
    );
    let a = analyze(&[run]).expect("analyses");
    assert_eq!(
        a.source.trace_line().as_deref(),
        Some("a replay of `ramp.jsonl` at 1x the recorded speed")
    );
    assert_loads_are_what_was_offered(&a, "replay");
}

/// A steady 60 req/s for 40 s, a tenth of it to a model that serves 5 req/s (one slot of
/// 200 ms, first come first served): its queue grows by one a second from the start. One load
/// level, so no knee; its own queue is the signal. The report had said "No capacity found".
#[test]
fn a_steady_rate_past_one_models_capacity_is_found_on_its_one_level() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    let mut free_at = 0.0_f64;
    let mut reqs: Vec<Req> = (0..2400)
        .map(|k| {
            let sent = f64::from(k) / 60.0;
            let mut r = if k % 10 == 0 {
                free_at = free_at.max(sent) + 0.2;
                Req::ok("generate_image", sent, (free_at - sent) * 1000.0, 0)
            } else {
                Req::ok("generate_text", sent, 10.0, 0)
            };
            r.stage_target = 60.0;
            r
        })
        .collect();
    // The generator's own count in flight at each send, itself included (Little's law).
    let ends: Vec<f64> = reqs
        .iter()
        .map(|r| r.sent_s + r.latency_ms / 1000.0)
        .collect();
    for (k, r) in reqs.iter_mut().enumerate() {
        r.in_flight = 1 + ends[..k].iter().filter(|&&e| e > r.sent_s).count() as u32;
    }
    write_run_with(&run, &reqs, "4", &[(meta::LOAD_MODEL, "open")]);
    let s = summary_of(&run, &dir.path().join("rep"));
    let scaling = &s["scaling"];
    assert_eq!(
        scaling["limiting"]["endpoint"], "generate_image",
        "{scaling}"
    );
    assert_eq!(scaling["capacity_is_lower_bound"], false, "{scaling}");
    // 5 req/s of its own over its 10% of the mix, less the queue's first fraction of a second.
    let capacity = scaling["capacity_rps"].as_f64().expect("capacity");
    assert!((capacity - 50.0).abs() <= 1.5, "{capacity}: {scaling}");
    assert_eq!(
        s["breaking_point"]["found"], true,
        "{}",
        s["breaking_point"]
    );
    assert_eq!(s["breaking_point"]["signal"], "served_below_offered");
}

/// The load suggested where nothing saturated sends the run's own mix: a run of
/// AuraxPeakHourUser was told `--rate-stages '34/s:10s,270/s:3m'`, which runs the light
/// profile's classes instead.
#[test]
fn the_suggested_ramp_keeps_the_runs_user_classes() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    let config = r#"{"user_classes":[{"name":"AuraxPeakHourUser","weight":3},{"name":"AuraxBurstUser","weight":1}]}"#;
    write_run_with(
        &run,
        &saturating_ramp(12, 5.0, 2.0, 1000.0),
        "1",
        &[(meta::RUN_CONFIG, config)],
    );
    let s = summary_of(&run, &dir.path().join("rep"));
    let advice = s["scaling"]["to_find_capacity"].as_str().expect("advice");
    assert!(
        advice.contains(
            "--rate-stages '12/s:10s,95/s:3m' --user-class AuraxPeakHourUser:3 --user-class AuraxBurstUser:1,"
        ),
        "{advice}"
    );
    assert!(
        advice.contains("run --find-capacity --user-class AuraxPeakHourUser:3 --user-class AuraxBurstUser:1 search"),
        "{advice}"
    );
}
