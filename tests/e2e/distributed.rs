//! Distributed runs (issue 16): workers with `--shard I/N --start-at T` send, together, exactly
//! the one-machine load; `analyze` merges them exactly and refuses to merge different runs;
//! `k8s job` writes an Indexed Job that validates against the Kubernetes schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::common::{Simulator, aurax, bin, manifest, read_rows, summary, text};

fn start_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs `run ARGS --no-thresholds` in `n` worker processes at once, worker i with `--shard
/// i/n --start-at T` and `--out dir/wi`; waits for all, each to exit 0.
fn workers(n: u32, dir: &Path, args: &[&str]) -> Vec<std::path::PathBuf> {
    let mut args = args.to_vec();
    args.push("--no-thresholds");
    judged_workers(n, dir, &args)
        .into_iter()
        .map(|(out, o)| {
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
            out
        })
        .collect()
}

/// As [`workers`], each worker judging its targets: the outputs, whatever the exit codes.
fn judged_workers(
    n: u32,
    dir: &Path,
    args: &[&str],
) -> Vec<(std::path::PathBuf, std::process::Output)> {
    let at = start_in(3);
    let children: Vec<_> = (0..n)
        .map(|i| {
            let out = dir.join(format!("w{i}"));
            let child = bin()
                .arg("run")
                .args(args)
                .args([
                    "--shard",
                    &format!("{i}/{n}"),
                    "--start-at",
                    &at,
                    "-q",
                    "--out",
                ])
                .arg(&out)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("worker starts");
            (out, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(out, child)| (out, child.wait_with_output().expect("worker ends")))
        .collect()
}

/// Nearest rank, as the analysis and DuckDB's quantile_disc define it.
fn nearest_rank(mut v: Vec<i64>, q: f64) -> i64 {
    v.sort_unstable();
    v[((q * v.len() as f64).ceil() as usize).max(1) - 1]
}

#[test]
fn three_workers_send_the_one_machine_open_load_and_merge_exactly() {
    let sim = Simulator::start(&["--time-scale", "0.02"]);
    let dir = tempfile::tempdir().expect("tmp");
    let args = [
        "--host",
        &sim.url,
        "--user-class",
        "AuraxLoadTestUser",
        "--rate",
        "30/s",
        "-t",
        "4s",
        "--seed",
        "5",
    ];
    let one = dir.path().join("one");
    let mut a = args.to_vec();
    a.extend([
        "-q",
        "--no-thresholds",
        "--out",
        one.to_str().expect("utf8"),
    ]);
    let mut full = vec!["run"];
    full.extend(a);
    let o = aurax(&full);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let outs = workers(3, dir.path(), &args);

    let single = read_rows(&one);
    let merged: Vec<_> = outs.iter().flat_map(|d| read_rows(d)).collect();
    assert_eq!(
        merged.len(),
        single.len(),
        "every arrival once: {} vs {}",
        merged.len(),
        single.len()
    );
    for (i, out) in outs.iter().enumerate() {
        let n = read_rows(out).len();
        assert!(
            n.abs_diff(single.len() / 3) <= 1,
            "worker {i}: {n} of {}",
            single.len()
        );
    }
    // The same endpoint for the same arrival: the mix and every choice are the one machine's.
    let mix = |rows: &[crate::common::Row]| {
        let mut m = BTreeMap::new();
        rows.iter()
            .for_each(|r| *m.entry(r.endpoint.clone()).or_insert(0) += 1);
        m
    };
    assert_eq!(mix(&merged), mix(&single));
    // The same offered rate each second, from the shared start.
    let per_second = |rows: &[crate::common::Row]| {
        let t0 = rows.iter().map(|r| r.intended_us).min().expect("rows");
        let mut m = BTreeMap::new();
        rows.iter()
            .for_each(|r| *m.entry((r.intended_us - t0) / 1_000_000).or_insert(0i64) += 1);
        m
    };
    let (a, b) = (per_second(&single), per_second(&merged));
    for (s, n) in &a {
        let m = b.get(s).copied().unwrap_or(0);
        assert!(
            (n - m).abs() <= 3,
            "second {s}: {n} one machine, {m} merged: {a:?} {b:?}"
        );
    }
    // One run: the workers share its id and say who they are.
    let ids: BTreeSet<String> = outs
        .iter()
        .map(|d| manifest(d)["run_id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    for (i, d) in outs.iter().enumerate() {
        assert_eq!(manifest(d)["shard"], format!("{i}/3"));
        assert!(manifest(d)["start_late_ms"].as_f64().expect("late") < 1000.0);
    }

    // analyze of the three: exact percentiles over the union of their rows.
    let report = dir.path().join("report");
    let mut args: Vec<&str> = vec!["analyze"];
    args.extend(outs.iter().map(|d| d.to_str().expect("utf8")));
    args.extend(["--out", report.to_str().expect("utf8")]);
    let o = aurax(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = summary(&report);
    assert_eq!(s["run"]["requests"].as_u64(), Some(merged.len() as u64));
    for e in s["endpoints"].as_array().expect("endpoints") {
        let name = e["name"].as_str().expect("name");
        let ok: Vec<i64> = merged
            .iter()
            .filter(|r| r.endpoint == name && r.outcome == "ok")
            .map(|r| r.latency_us)
            .collect();
        if ok.is_empty() {
            continue;
        }
        let want = nearest_rank(ok, 0.95) as f64 / 1000.0;
        assert_eq!(e["p95_ms"].as_f64(), Some(want), "{name}");
    }
    assert_eq!(
        s["workers"].as_array().map(Vec::len),
        Some(3),
        "{}",
        s["workers"]
    );
    let md = std::fs::read_to_string(report.join("report.md")).expect("report");
    assert!(md.contains("## Workers"), "report.md");

    // Directories of different runs are not merged unasked.
    let o = aurax(&[
        "analyze",
        one.to_str().expect("utf8"),
        outs[0].to_str().expect("utf8"),
        "--out",
        report.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(15), "{}", text(&o));
    assert!(text(&o).contains("--merge-runs"), "{}", text(&o));
    let o = aurax(&[
        "analyze",
        one.to_str().expect("utf8"),
        outs[0].to_str().expect("utf8"),
        "--merge-runs",
        "--out",
        report.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn closed_model_users_are_split_with_disjoint_ids() {
    let sim = Simulator::start(&["--time-scale", "0.02"]);
    let dir = tempfile::tempdir().expect("tmp");
    let outs = workers(
        3,
        dir.path(),
        &[
            "--host",
            &sim.url,
            "--user-class",
            "AuraxBurstUser",
            "-u",
            "8",
            "-r",
            "100",
            "-t",
            "3s",
            "--seed",
            "2",
        ],
    );
    let mut all = BTreeSet::new();
    for (i, out) in outs.iter().enumerate() {
        let users: BTreeSet<u32> = read_rows(out).iter().map(|r| r.user_id).collect();
        // 8 users over 3 workers: 3, 3, 2, by the global number's remainder.
        let want: BTreeSet<u32> = (0..8).filter(|u| u % 3 == i as u32).collect();
        assert_eq!(users, want, "worker {i}");
        // Rows record the users of all workers together: the one load level.
        let levels: BTreeSet<u32> = read_rows(out).iter().map(|r| r.users_active).collect();
        assert_eq!(levels.iter().max(), Some(&8), "worker {i}: {levels:?}");
        all.extend(users);
    }
    assert_eq!(all, (0..8).collect());
}

/// The check named `what` in a report's summary.json.
fn check(report: &Path, what: &str) -> Value {
    let s = summary(report);
    s["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["what"] == what)
        .cloned()
        .unwrap_or_else(|| panic!("no check {what}: {}", s["checks"]))
}

#[test]
fn a_worker_leaves_the_runs_throughput_to_the_merged_analysis() {
    // 20/s over 2 workers: each offers 10/s, the seed's minimum tier. A worker judging its
    // share against the run's tier would fail a run whose merged throughput passes it.
    let sim = Simulator::start(&["--time-scale", "0.02", "--error-rate", "0"]);
    let dir = tempfile::tempdir().expect("tmp");
    let runs = judged_workers(
        2,
        dir.path(),
        &[
            "--host",
            &sim.url,
            "--user-class",
            "AuraxLoadTestUser",
            "--rate",
            "20/s",
            "-t",
            "4s",
            "--seed",
            "3",
        ],
    );
    for (out, o) in &runs {
        assert_eq!(o.status.code(), Some(0), "{}: {}", out.display(), text(o));
        let report = out.join("report");
        let a = aurax(&[
            "analyze",
            out.to_str().expect("utf8"),
            "--out",
            report.to_str().expect("utf8"),
        ]);
        assert_eq!(a.status.code(), Some(0), "{}", text(&a));
        let tier = check(&report, "throughput (minimum)");
        assert!(
            tier.to_string().contains("1 of 2 workers"),
            "a worker's share is not the run's throughput: {tier}"
        );
    }
    let merged = dir.path().join("merged");
    let mut args = vec!["analyze"];
    args.extend(runs.iter().map(|(out, _)| out.to_str().expect("utf8")));
    args.extend(["--out", merged.to_str().expect("utf8")]);
    let a = aurax(&args);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(check(&merged, "throughput (minimum)")["judgement"], "pass");
}

#[test]
fn a_shard_needs_a_start_time_and_a_valid_index() {
    let o = aurax(&["run", "--shard", "0/3", "-t", "1s"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--start-at"), "{}", text(&o));
    let o = aurax(&["run", "--shard", "3/3", "--start-at", &start_in(1)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("counts from 0"), "{}", text(&o));
    let o = bin()
        .args([
            "run",
            "--shards",
            "3",
            "--start-at",
            &start_in(1),
            "-t",
            "1s",
        ])
        .env_remove("JOB_COMPLETION_INDEX")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("JOB_COMPLETION_INDEX"), "{}", text(&o));
}

/// A JSON Schema check of what the Kubernetes schemas use: `$ref`, `type` (one or several),
/// `enum`, `properties`, `additionalProperties`, `required`, `items`, `oneOf`. Returns every
/// violation with its path.
fn violations(schema: &Value, root: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/definitions/").expect("local ref");
        return violations(&root["definitions"][name], root, value, path, out);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let is = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            out.push(format!("{path}: {value} is not {types:?}"));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(value)
    {
        out.push(format!("{path}: {value} is not one of {values:?}"));
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = options
            .iter()
            .filter(|o| {
                let mut v = Vec::new();
                violations(o, root, value, path, &mut v);
                v.is_empty()
            })
            .count();
        if passing != 1 {
            out.push(format!("{path}: {value} matches {passing} of oneOf"));
        }
    }
    if let Some(object) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = required.as_str().expect("name");
            if !object.contains_key(key) {
                out.push(format!("{path}: `{key}` is required"));
            }
        }
        for (key, v) in object {
            let here = format!("{path}.{key}");
            match props.and_then(|p| p.get(key)) {
                Some(s) => violations(s, root, v, &here, out),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!("{here}: unknown field")),
                    Some(s @ Value::Object(_)) => violations(s, root, v, &here, out),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            violations(items, root, v, &format!("{path}[{i}]"), out);
        }
    }
}

fn job_schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/k8s/job-batch-v1.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("json")
}

const README_JOB: [&str; 16] = [
    "k8s",
    "job",
    "--workers",
    "4",
    "--image",
    "ghcr.io/example/aurax-tool:0.1.0",
    "--pvc",
    "aurax-results",
    "--start-at",
    "2026-12-01T10:00:00Z",
    "--",
    "run",
    "--host",
    "http://aurax.default.svc:8000",
    "--rate",
    "2000/s",
];

#[test]
fn the_k8s_job_validates_against_the_batch_v1_schema_and_is_the_documented_one() {
    let mut args = README_JOB.to_vec();
    args.extend(["-t", "10m"]);
    let o = aurax(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let job: Value = serde_json::from_slice(&o.stdout).expect("JSON (which is YAML)");
    let schema = job_schema();
    let mut found = Vec::new();
    violations(&schema, &schema, &job, "job", &mut found);
    assert!(found.is_empty(), "{found:#?}");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 4);
    assert_eq!(job["spec"]["parallelism"], 4);
    let run: Vec<&str> = job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        run,
        [
            "run",
            "--host",
            "http://aurax.default.svc:8000",
            "--rate",
            "2000/s",
            "-t",
            "10m",
            "--shards",
            "4",
            "--start-at",
            "2026-12-01T10:00:00Z",
            "--out",
            "/results/w$(JOB_COMPLETION_INDEX)",
            "--no-thresholds"
        ]
    );
    // The checker can fail: an unknown field and a wrong type are caught.
    let mut bad = job.clone();
    bad["spec"]["restartPolicy"] = Value::from("Never");
    bad["spec"]["completions"] = Value::from("four");
    let mut found = Vec::new();
    violations(&schema, &schema, &bad, "job", &mut found);
    assert_eq!(found.len(), 2, "{found:#?}");
    // The walkthrough shows this very manifest.
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/distributed.md"))
            .expect("docs/distributed.md");
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        doc.contains(shown.trim()),
        "docs/distributed.md shows another manifest than:\n{shown}"
    );
    assert!(
        !text(&o).contains("note:"),
        "a run with a Service as its host needs no note: {}",
        text(&o)
    );
    // A run the Job would split twice is refused.
    let o = aurax(&[
        "k8s",
        "job",
        "--workers",
        "2",
        "--image",
        "i",
        "--pvc",
        "r",
        "--",
        "run",
        "--shard",
        "0/2",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

/// `k8s job ARGS -- run RUN`, with the README's image and claim.
fn job(extra: &[&str], run: &[&str]) -> std::process::Output {
    let mut args = vec![
        "k8s",
        "job",
        "--workers",
        "2",
        "--image",
        "ghcr.io/example/aurax-tool:0.1.0",
        "--pvc",
        "aurax-results",
    ];
    args.extend(extra);
    args.extend(["--", "run"]);
    args.extend(run);
    aurax(&args)
}

#[test]
fn a_job_whose_pods_would_fail_is_refused_before_it_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("job.yaml");
    let out = out.to_str().expect("utf8");
    for (run, code, says) in [
        (&["--rate", "banana"][..], 2, "banana"),
        (&["--host", "localhost:8000"][..], 2, "no URL"),
        (&["--find-capacity"][..], 2, "--find-capacity"),
        (&["--profile", "nosuch"][..], 3, "unknown profile `nosuch`"),
    ] {
        let o = job(&["-o", out], run);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(code), "{run:?}: {t}");
        assert!(
            t.contains("would fail in every pod") && t.contains(says),
            "{run:?}: {t}"
        );
        assert_eq!(t.lines().count(), 1, "one line: {t}");
        assert!(!Path::new(out).exists(), "{run:?}: no manifest written");
    }
    // An uppercase claim says what it would have to be, and writes nothing.
    let o = aurax(&[
        "k8s",
        "job",
        "--workers",
        "2",
        "--image",
        "i",
        "--pvc",
        "CLAIM",
        "-o",
        out,
        "--",
        "run",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("`claim`"), "{}", text(&o));
    assert!(!Path::new(out).exists());

    // A valid run is written to the file; pods report whether their share ran, the merged
    // analysis judges the run; hosts that mean something else in a pod get a note.
    let o = job(&["-o", out], &["--rate", "20/s", "-t", "1m"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(o.stdout.is_empty(), "the manifest goes to the file");
    assert!(
        text(&o).contains("no --host: every pod loads its own built-in simulator"),
        "{}",
        text(&o)
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(out).expect("job.yaml")).expect("json");
    let args = &written["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(
        args.as_array().expect("args").last(),
        Some(&Value::from("--no-thresholds"))
    );
    let o = job(&[], &["--host", "http://127.0.0.1:8000", "-t", "1m"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("loopback in a pod is the pod itself"),
        "{}",
        text(&o)
    );
}
