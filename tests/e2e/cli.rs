//! The command line as a contract: every flag value typed (a bad one is clap's usage error,
//! exit 2), every flag documented, completions and the man page generated from the same
//! definition.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{aurax, text};

/// Every relation between `run`'s flags is clap's (exit 2, the flag named), checked before
/// any file is read: a trace-only flag without `--trace`, a synthetic flag with it,
/// `--as-fast-as-possible` without `-u`, two load shapes, a search split over workers.
#[test]
fn flag_relations_are_usage_errors_with_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--speed", "2"], "--trace"),
        (&["--window", "0s..10s"], "--trace"),
        (&["--trace-format", "jsonl"], "--trace"),
        (&["--trace-endpoint", "generate_text"], "--trace"),
        (&["--lenient"], "--trace"),
        (&["--loop", "2"], "--trace"),
        (&["--max-rate", "5/s"], "--trace"),
        (&["--as-fast-as-possible", "--trace", "t.jsonl"], "-u"),
        (&["--trace", "t.jsonl", "--user-class", "A"], "--user-class"),
        (&["--rate", "5/s", "--stages", "5:10s"], "--stages"),
        (&["--find-capacity", "--shards", "2"], "--shards"),
        (&["--report-dir", "rep"], "--report"),
        // The search's settings without the search (they have defaults, which clap's
        // `requires` does not see: they must not).
        (&["--budget", "1m", "-t", "1s"], "--find-capacity"),
        (&["--step-time", "5s"], "--find-capacity"),
        (&["--start-rate", "5/s"], "--find-capacity"),
        (&["--precision", "2%"], "--find-capacity"),
    ];
    for (flags, names) in cases {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        let o = aurax(&args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", text(&o));
        assert!(text(&o).contains(names), "{flags:?}: {}", text(&o));
    }
}

/// A negative count or rate is a bad value of its flag, named, not an unknown argument.
#[test]
fn a_negative_user_count_or_spawn_rate_names_its_flag() {
    for (flags, name) in [(["-u", "-5"], "--users"), (["-r", "-1"], "--spawn-rate")] {
        let mut args = vec!["run"];
        args.extend_from_slice(&flags);
        let o = aurax(&args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", text(&o));
        assert!(text(&o).contains(name), "{flags:?}: {}", text(&o));
    }
}

/// A bad value for every flag that takes a number, a duration, a rate, a URL or an enum:
/// exit 2 with clap's message naming the flag, before anything runs or is written.
#[test]
fn every_typed_flag_refuses_a_bad_value_with_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["run"], "-u"),
        (&["run"], "--spawn-rate"),
        (&["run"], "--run-time"),
        (&["run", "--scenario", "ramp"], "--scale"),
        (&["run", "--scenario", "ramp"], "--duration-scale"),
        (&["run"], "--stages"),
        (&["run"], "--rate"),
        (&["run"], "--rate-stages"),
        (&["run", "--rate", "5/s"], "--arrivals"),
        (&["run", "--rate", "5/s"], "--connections"),
        (&["run", "--rate", "5/s"], "--max-in-flight"),
        (&["run", "--trace", "t.jsonl"], "--max-rate"),
        (&["run"], "--speed"),
        (&["run"], "--window"),
        (&["run"], "--metrics-listen"),
        (&["run"], "--metrics-hold"),
        (&["run"], "--scrape"),
        (&["run"], "--sample-interval"),
        (&["run"], "--stop-on"),
        (&["run"], "--seed"),
        (&["run"], "--threads"),
        (&["run"], "--header"),
        (&["run"], "--timeout"),
        (&["run"], "--max-body-bytes"),
        (&["run"], "--stop-timeout"),
        (&["run"], "--target-percentile"),
        (&["run"], "--host"),
        (&["serve"], "--port"),
        (&["serve"], "--time-scale"),
        (&["serve"], "--text-slots"),
        (&["serve"], "--queue"),
        (&["serve"], "--overload"),
        (&["serve"], "--model-timeout"),
        (&["serve"], "--backend"),
        (&["serve"], "--metrics"),
        (&["serve"], "--error-rate"),
        (&["serve"], "--slow"),
        (&["serve"], "--stall"),
        (&["record", "--out", "x.jsonl"], "--listen"),
        (&["record", "--out", "x.jsonl"], "--upstream"),
        (
            &[
                "record",
                "--out",
                "x.jsonl",
                "--upstream",
                "http://127.0.0.1:9",
            ],
            "--timeout",
        ),
        (&["completions"], "zsh2"),
    ];
    for (base, flag) in cases {
        let mut argv: Vec<&str> = base.to_vec();
        if flag.starts_with('-') {
            argv.extend([flag, "nonsense"]);
        } else {
            argv.push(flag);
        }
        let o = aurax(&argv);
        assert_eq!(o.status.code(), Some(2), "{argv:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("nonsense") || err.contains(flag),
            "{argv:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{argv:?}: {err}");
    }
}

/// Flags a `--help` lists: every `--long` name.
fn flags_in_help(args: &[&str]) -> BTreeSet<String> {
    let o = aurax(&[args, &["--help"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .split(|c: char| c.is_whitespace() || ",[='(".contains(c))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .filter(|w| w != "--help" && w != "--version")
        .collect()
}

#[test]
fn every_flag_in_help_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = std::fs::read_to_string(root.join("README.md")).expect("README");
    for e in std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
    {
        docs += &std::fs::read_to_string(e.path()).expect("doc");
    }
    let mut missing = Vec::new();
    for cmd in [
        &["run"][..],
        &["serve"],
        &["analyze"],
        &["record"],
        &["trace", "stats"],
        &["scenario", "check"],
    ] {
        let flags = flags_in_help(cmd);
        assert!(
            flags.len() >= 3 || cmd[0] == "scenario",
            "{cmd:?}: {flags:?}"
        );
        for f in flags {
            if !docs.contains(&f) {
                missing.push(format!("{} {f}", cmd.join(" ")));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags in --help but in no doc: {missing:?}"
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definition() {
    let o = aurax(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    let script = String::from_utf8_lossy(&o.stdout);
    for f in [
        "--rate-stages",
        "--max-in-flight",
        "--overload",
        "--fail-on-targets",
    ] {
        assert!(script.contains(f), "{f} missing from the bash completion");
    }
    // A subcommand's flags complete: bash asked for `aurax-tool run --prof<TAB>` answers
    // --profile (clap_complete's case labels once never matched a subcommand).
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("aurax-tool.bash");
    std::fs::write(&file, script.as_bytes()).expect("write");
    let asked = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(aurax-tool run --prof); COMP_CWORD=2; _aurax__tool aurax-tool --prof run; echo \"${{COMPREPLY[@]}}\"",
            file.display()
        ))
        .output()
        .expect("bash runs");
    assert_eq!(String::from_utf8_lossy(&asked.stdout).trim(), "--profile");
    let o = aurax(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(
        page.starts_with(".ie") && page.contains(".TH aurax-tool 1"),
        "{page}"
    );
    // The pages the top one refers to exist.
    assert!(page.contains("aurax\\-tool\\-run(1)"), "{page}");
    let o = aurax(&["man", "run"]);
    assert_eq!(o.status.code(), Some(0));
    let run_page = String::from_utf8_lossy(&o.stdout);
    assert!(run_page.contains(".TH aurax-tool-run 1"), "{run_page}");
    assert!(run_page.contains("rate\\-stages"), "{run_page}");
    assert_eq!(aurax(&["man", "nope"]).status.code(), Some(2));
}
