//! Bad input from users and files: a clear one-line error and exit 3 (exit 2 from clap),
//! never a panic; the input ceilings; one redaction policy in every file and message; run
//! directories that two runs started at once never share.

use std::path::Path;
use std::process::Stdio;

use crate::common::{Simulator, aurax, bin, read_rows, text};

fn one_line_error(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn numbers_past_their_ceilings_are_usage_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = |n: &str| dir.path().join(n).to_str().expect("utf8").to_string();
    for (args, says) in [
        (
            vec!["-t", "99999999999999999h"],
            "over the ceiling of 30 days",
        ),
        (vec!["--timeout", "1e308"], "over the ceiling of 30 days"),
        (vec!["--stop-timeout", "99999999999999999h"], "30 days"),
        (
            vec!["--scenario", "exhaustion", "--duration-scale", "1e308"],
            "over the ceiling of 10000",
        ),
        (
            vec!["--scenario", "ramp", "--scale", "1e308"],
            "over the ceiling",
        ),
        (vec!["-u", "10000000"], "10000000 is not in 1..=100000"),
        (vec!["--rate", "1e9/s"], "over the ceiling of 100000"),
        (
            vec!["--header", "Content-Length: 5"],
            "set by the client itself",
        ),
        (
            vec!["--rate", "5/s", "--stages", "5:1m"],
            "cannot be used with",
        ),
        (vec!["--scale", "2"], "--scenario"),
    ] {
        let mut argv = vec!["run", "--quiet", "--out"];
        let o_dir = out(&args.join("_").replace(['/', ' ', ':'], "-"));
        argv.push(&o_dir);
        argv.extend(args.iter().copied());
        let o = aurax(&argv);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        // Refused before anything was written.
        assert!(!Path::new(&o_dir).exists(), "{args:?}");
    }
    // A spawn rate this low is no error: the ramp reaches what it can, and says so.
    let o_dir = out("slow-spawn");
    let o = aurax(&[
        "run",
        "--quiet",
        "--no-thresholds",
        "-r",
        "1e-300",
        "-u",
        "5",
        "-t",
        "1s",
        "--out",
        &o_dir,
    ]);
    assert!(text(&o).contains("note: at --spawn-rate"), "{}", text(&o));
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
}

#[test]
fn a_spawn_rate_keeps_its_meaning_when_the_run_is_short() {
    // Locust: users arrive at -r per second until -u or the end. 20 users at 1/s in 4 s is 4.
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let o = aurax(&[
        "run",
        "--host",
        &sim.url,
        "-u",
        "20",
        "-r",
        "1",
        "-t",
        "4s",
        "--user-class",
        "AuraxBurstUser",
        "--quiet",
        "--no-thresholds",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("reaches 4 of 20 users"),
        "says so in one line: {}",
        text(&o)
    );
    let users: std::collections::BTreeSet<u32> =
        read_rows(&out).iter().map(|r| r.user_id).collect();
    assert!((3..=5).contains(&users.len()), "{users:?}");
}

#[test]
fn an_empty_class_list_fails_the_check_not_the_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("empty.toml");
    let builtin = aurax(&["scenario", "show"]);
    let text_in = String::from_utf8_lossy(&builtin.stdout).replace(
        "user_classes = [\"AuraxLoadTestUser\"]",
        "user_classes = []",
    );
    std::fs::write(&file, text_in).expect("write");
    let o = aurax(&["scenario", "check", file.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = one_line_error(&o);
    assert!(
        err.contains("empty.toml:") && err.contains("user_classes is empty"),
        "{err}"
    );
}

#[test]
fn trace_rows_past_the_token_ceiling_and_bad_methods_say_file_and_line() {
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let dir = tempfile::tempdir().expect("tmp");
    let azure = dir.path().join("azure.csv");
    std::fs::write(
        &azure,
        "TIMESTAMP,ContextTokens,GeneratedTokens\n\
         2023-11-16 18:15:46.6805900,374,44\n\
         2023-11-16 18:15:46.7805900,2000000000,44\n\
         2023-11-16 18:15:46.8805900,100,44\n",
    )
    .expect("write");
    let trace = azure.to_str().expect("utf8");
    let out = dir.path().join("strict");
    let o = crate::common::replay(trace, &sim.url, &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("azure.csv:3: ContextTokens 2000000000 is over the ceiling"),
        "{}",
        text(&o)
    );
    let lenient = dir.path().join("lenient");
    let o = crate::common::replay(trace, &sim.url, &lenient, &["--lenient", "--no-thresholds"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(read_rows(&lenient).len(), 2, "the bad row skipped");

    // Methods: `post` goes out as POST (no 405), a method that is no token is refused.
    let jsonl = dir.path().join("methods.jsonl");
    std::fs::write(
        &jsonl,
        "{\"offset_ms\": 0, \"method\": \"post\", \"path\": \"/generate\", \"body\": {\"prompt\": \"hi\"}}\n\
         {\"offset_ms\": 5, \"method\": \"get\", \"path\": \"/health\"}\n",
    )
    .expect("write");
    let out = dir.path().join("methods");
    let o = crate::common::replay(
        jsonl.to_str().expect("utf8"),
        &sim.url,
        &out,
        &["--no-thresholds"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = read_rows(&out);
    assert!(rows.iter().all(|r| r.outcome == "ok"), "{rows:?}");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"offset_ms\": 0, \"method\": \"PO ST\", \"path\": \"/generate\"}\n",
    )
    .expect("write");
    let o = crate::common::replay(
        bad.to_str().expect("utf8"),
        &sim.url,
        &dir.path().join("b"),
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("bad.jsonl:1: method \"PO ST\" is not an HTTP method"),
        "{}",
        text(&o)
    );
}

/// Every file under `dir`, as bytes.
fn all_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).expect("read")));
        }
    }
    out
}

#[test]
fn secrets_are_in_no_file_and_no_message() {
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    let rep = dir.path().join("rep");
    let host = sim.url.replace("http://", "http://operator:PASSWORD1@");
    let scrape = format!("{}/metrics?api_key=PASSWORD2", sim.url);
    let o = aurax(&[
        "run",
        "--host",
        &host,
        "--header",
        "X-API-Key: PASSWORD3",
        "--header",
        "Authorization: Bearer PASSWORD4",
        "--scrape",
        &scrape,
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "2s",
        "--quiet",
        "--no-thresholds",
        "--report",
        "--report-dir",
        rep.to_str().expect("utf8"),
        "--out",
        run.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut everything = all_files(dir.path());
    everything.push(("output".into(), text(&o).into_bytes()));
    // A recording of requests carrying the same secrets.
    let trace = dir.path().join("rec.jsonl");
    let mut recorder = bin()
        .args([
            "record",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &sim.url,
            "--out",
            trace.to_str().expect("utf8"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("recorder");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(recorder.stdout.take().expect("stdout")),
        &mut first,
    )
    .expect("url");
    let proxy = first.split_whitespace().last().expect("url").to_string();
    let rec_out = dir.path().join("through-proxy");
    let o = aurax(&[
        "run",
        "--host",
        &proxy,
        "--header",
        "X-API-Key: PASSWORD5",
        "--user-class",
        "AuraxBurstUser",
        "-u",
        "1",
        "-r",
        "1",
        "-t",
        "1s",
        "--quiet",
        "--no-thresholds",
        "--out",
        rec_out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = recorder.kill();
    let _ = recorder.wait();
    let recorded = std::fs::read(&trace).expect("trace written");
    assert!(!recorded.is_empty());
    everything.push(("trace".into(), recorded));
    for (name, bytes) in &everything {
        let text = String::from_utf8_lossy(bytes);
        for secret in [
            "PASSWORD1",
            "PASSWORD2",
            "PASSWORD3",
            "PASSWORD4",
            "PASSWORD5",
        ] {
            assert!(!text.contains(secret), "{secret} in {name}");
        }
    }
    let rows = read_rows(&run);
    assert!(
        rows.iter().all(|r| r.outcome == "ok"),
        "the secrets were sent all the same"
    );
}

#[test]
fn two_runs_started_together_never_share_a_directory() {
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let cwd = tempfile::tempdir().expect("tmp");
    let start = || {
        bin()
            .current_dir(cwd.path())
            .args([
                "run",
                "--host",
                &sim.url,
                "--seed",
                "5",
                "--user-class",
                "AuraxBurstUser",
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "2s",
                "--quiet",
                "--no-thresholds",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts")
    };
    let (a, b) = (start(), start());
    let outputs = [
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    ];
    let dirs: Vec<_> = std::fs::read_dir(cwd.path().join("runs"))
        .expect("runs/")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let total: usize = dirs.iter().map(|d| read_rows(d).len()).sum();
    let reported: u64 = outputs
        .iter()
        .map(|o| {
            assert_eq!(o.status.code(), Some(0), "{}", text(o));
            crate::common::reported_requests(&text(o))
        })
        .sum();
    assert_eq!(total as u64, reported);
}

#[test]
fn the_same_out_twice_is_refused_and_a_failed_start_gives_it_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    // Unreachable host: exit 4, and the directory is not left claimed.
    let o = aurax(&[
        "run",
        "--host",
        "http://127.0.0.1:9",
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(!out.join("run.json").exists());
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let args = |out: &Path| {
        vec![
            "run".to_string(),
            "--host".into(),
            sim.url.clone(),
            "-t".into(),
            "1s".into(),
            "--quiet".into(),
            "--no-thresholds".into(),
            "--out".into(),
            out.to_str().expect("utf8").into(),
        ]
    };
    let o = bin().args(args(&out)).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = bin().args(args(&out)).output().expect("runs");
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("already holds a run"), "{}", text(&o));
}

#[test]
fn targets_out_of_range_fail_the_check_with_their_line() {
    let builtin = aurax(&["scenario", "show"]);
    let builtin = String::from_utf8_lossy(&builtin.stdout).to_string();
    let dir = tempfile::tempdir().expect("tmp");
    // (what the line becomes, what the error says, the 1-based line of the table it names)
    let line_of = |needle: &str| {
        builtin
            .lines()
            .position(|l| l.starts_with(needle))
            .expect("in the built-in scenario")
            + 1
    };
    let cases = [
        (
            ("percentile = 95", "percentile = 150"),
            "targets.percentile = 150: expected a percentile above 0 and at most 100",
            line_of("[targets]"),
        ),
        (
            (
                "error_rate = { normal = 0.01, peak = 0.05, burst = 0.10 }",
                "error_rate = { normal = 1, peak = 0.05, burst = 0.10 }",
            ),
            "targets.error_rate.normal = 1: expected a share of the requests from 0 up to 1",
            line_of("[targets]"),
        ),
        (
            ("target_ms = 50\n", "target_ms = -5\n"),
            "endpoint health: target_ms = -5: expected a positive number of milliseconds",
            line_of("[endpoints.health]"),
        ),
    ];
    for (i, ((from, to), says, line)) in cases.into_iter().enumerate() {
        assert!(builtin.contains(from), "{from}");
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, builtin.replacen(from, to, 1)).expect("write");
        let o = aurax(&["scenario", "check", file.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        let err = one_line_error(&o);
        assert!(
            err.contains(&format!("bad{i}.toml:{line}:")) && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn a_scenario_file_without_the_default_profile_runs_as_its_flags_say() {
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("min.toml");
    std::fs::write(
        &file,
        "[endpoints.ping]\nmethod = \"GET\"\npath = \"/health\"\n\n\
         [user_classes.MyUser]\nwait_s = [0.1, 0.2]\ntasks = { ping = 1 }\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf8");
    let check = aurax(&["scenario", "check", f]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    for load in [
        &["-u", "3", "-r", "3", "-t", "2s"][..],
        &["--rate", "10/s", "-t", "2s"][..],
        &["--stages", "3:1s,3:1s"][..],
    ] {
        let out = dir.path().join(format!("run{}", load[0]));
        let mut args = vec![
            "run",
            "--host",
            &sim.url,
            "--scenario-file",
            f,
            "--user-class",
            "MyUser",
            "--quiet",
            "--no-thresholds",
            "--out",
            out.to_str().expect("utf8"),
        ];
        args.extend_from_slice(load);
        let o = aurax(&args);
        assert_eq!(o.status.code(), Some(0), "{load:?}: {}", text(&o));
        assert!(!read_rows(&out).is_empty(), "{load:?}");
    }
}

#[test]
fn a_yaml_scenario_is_told_that_scenarios_are_toml() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("scenario.yaml");
    std::fs::write(&file, "endpoints:\n  ping:\n    path: /health\n").expect("write");
    let o = aurax(&["scenario", "check", file.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = one_line_error(&o);
    assert!(
        err.contains("scenario.yaml:1:")
            && err.contains(
                "(scenario files are TOML: `aurax-tool scenario show` prints one to start from)"
            ),
        "{err}"
    );
}
