//! `aurax-tool k8s job`: a distributed run as a Kubernetes Indexed Job. Kubernetes gives
//! each pod its index (`JOB_COMPLETION_INDEX`); every pod runs the same `run` with
//! `--shards N --start-at T`, so together they send the one-machine load from T, and each
//! writes its run directory to a shared volume for one exact `analyze` (docs/distributed.md).

use clap::Parser;
use serde_json::{Value, json};

use crate::cli::{Cli, Command, K8sCommand, K8sJobArgs, RunArgs};
use crate::exit::{ExitCode, Fail, OrExit, fail};

/// Where the results volume is mounted in each pod.
pub const RESULTS_DIR: &str = "/results";

/// Flags the manifest sets itself: a run given them would split or place the load twice.
const SET_BY_THE_JOB: [&str; 4] = ["--shard", "--shards", "--start-at", "--out"];

/// `aurax-tool k8s ...`.
pub fn execute(cmd: K8sCommand) -> Result<ExitCode, Fail> {
    match cmd {
        K8sCommand::Job(args) => {
            let manifest = job_manifest(&args)?;
            for note in pod_notes(&pod_run(&manifest)?) {
                eprintln!("note: {note}");
            }
            let text = serde_json::to_string_pretty(&manifest)
                .map_err(|e| fail(ExitCode::Failure, e.to_string()))?;
            match &args.output {
                // Written only once the Job is known good: never an empty or half manifest.
                Some(path) => std::fs::write(path, format!("{text}\n"))
                    .or_exit(ExitCode::Output)
                    .map_err(|e| fail(e.code, format!("{}: {:#}", path.display(), e.error)))?,
                None => say!("{text}"),
            }
            Ok(ExitCode::Success)
        }
    }
}

/// The Indexed Job: completions = parallelism = workers, one pod per index, no retries (a
/// worker run twice would send its share twice), the run's arguments with the shard, the
/// start time and the output directory added.
pub fn job_manifest(args: &K8sJobArgs) -> Result<Value, Fail> {
    let Some((first, rest)) = args.run.split_first() else {
        return Err(fail(
            ExitCode::BadInput,
            "nothing to run: give `-- run ARGS...`",
        ));
    };
    if first != "run" {
        return Err(fail(
            ExitCode::BadInput,
            format!("`-- {first} ...`: the Job runs `aurax-tool run`; give `-- run ARGS...`"),
        ));
    }
    if let Some(flag) = rest.iter().find(|a| {
        SET_BY_THE_JOB
            .iter()
            .any(|f| *a == f || a.starts_with(&format!("{f}=")))
    }) {
        return Err(fail(
            ExitCode::BadInput,
            format!(
                "`{flag}` in the run: the Job sets --shards, --start-at and --out itself (one share and directory per pod)"
            ),
        ));
    }
    let start_at = args.start_at.unwrap_or_else(|| {
        let soon = chrono::Utc::now() + chrono::Duration::minutes(2);
        chrono::DateTime::from_timestamp(soon.timestamp(), 0).unwrap_or(soon)
    });
    let workers = args.workers.to_string();
    let start = start_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // Kubernetes expands $(JOB_COMPLETION_INDEX) in args from the container's environment.
    let out = format!("{RESULTS_DIR}/w$(JOB_COMPLETION_INDEX)");
    let mut container_args: Vec<String> = vec!["run".into()];
    container_args.extend(rest.iter().cloned());
    container_args.extend(
        ["--shards", &workers, "--start-at", &start, "--out", &out]
            .iter()
            .map(|s| s.to_string()),
    );
    // A pod's exit code says whether its share ran: a worker judges only its share, and
    // one failed pod fails the Job (no retries) and keeps `kubectl wait
    // --for=condition=complete` waiting, for a run the merged `analyze --fail-on-targets`
    // may pass. The run's verdict is that merged analysis.
    if !rest.iter().any(|a| a == "--no-thresholds") {
        container_args.push("--no-thresholds".into());
    }
    let labels = json!({
        "app.kubernetes.io/name": "aurax-tool",
        "app.kubernetes.io/component": "load-worker",
        "aurax-tool/job": args.name,
    });
    let mut metadata = json!({"name": args.name, "labels": labels});
    if let Some(ns) = &args.namespace {
        metadata["namespace"] = json!(ns);
    }
    Ok(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "completionMode": "Indexed",
            "completions": args.workers,
            "parallelism": args.workers,
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "worker",
                        "image": args.image,
                        "args": container_args,
                        "env": [{
                            "name": "JOB_COMPLETION_INDEX",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
                        }],
                        "resources": {
                            "requests": {"cpu": args.cpu, "memory": args.memory},
                            "limits": {"memory": args.memory}
                        },
                        "volumeMounts": [{"name": "results", "mountPath": RESULTS_DIR}]
                    }],
                    "volumes": [{"name": "results", "persistentVolumeClaim": {"claimName": args.pvc}}]
                }
            }
        }
    }))
}

/// The run one pod makes, parsed and resolved as the pod would (its index 0 standing for
/// every index): a run a pod would refuse is refused here, before a Job is written whose
/// pods all fail. Bad flags are usage errors (exit 2), bad input keeps its own code.
fn pod_run(manifest: &Value) -> Result<RunArgs, Fail> {
    let container = &manifest["spec"]["template"]["spec"]["containers"][0]["args"];
    let mut argv = vec!["aurax-tool".to_string()];
    for a in container.as_array().into_iter().flatten() {
        argv.extend(a.as_str().map(str::to_string));
    }
    let cli = Cli::try_parse_from(&argv).map_err(|e| {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        fail(
            ExitCode::Usage,
            format!(
                "the run after `--` would fail in every pod: {}",
                first.trim_start_matches("error: ")
            ),
        )
    })?;
    let Command::Run(run) = cli.command else {
        return Err(fail(ExitCode::Failure, "the Job's command is not `run`"));
    };
    if run.scenario_file.is_none() && run.trace.is_empty() {
        // Files named in the run are read in the pod, not here: resolved only without them.
        // As pod 0 sees it: its index from the Job, nothing bound.
        let pod = super::run::Environment {
            job_completion_index: Some("0".into()),
            ..super::run::Environment::current()
        };
        super::run::resolve(RunArgs::clone(&run), &pod).map_err(|e| {
            fail(
                e.code,
                format!("the run after `--` would fail in every pod: {:#}", e.error),
            )
        })?;
    }
    Ok(*run)
}

/// What a valid run may still do unlike what the user meant once it runs in a pod.
fn pod_notes(run: &RunArgs) -> Vec<String> {
    let mut notes = Vec::new();
    match run.host.as_deref() {
        None => notes.push(
            "the run has no --host: every pod loads its own built-in simulator, not AURAX".into(),
        ),
        Some(host) if names_loopback(host) => notes.push(format!(
            "--host {host}: loopback in a pod is the pod itself; give AURAX's Service, e.g. http://aurax.default.svc:8000"
        )),
        Some(_) => {}
    }
    let files = run
        .scenario_file
        .iter()
        .map(|p| p.display().to_string())
        .chain(run.trace.iter().cloned());
    for file in files {
        notes.push(format!(
            "{file} is read in the pod: it must be in the image or under {RESULTS_DIR} (the claim)"
        ));
    }
    notes
}

/// Whether a URL (`flags::url` checked its scheme) names this machine: `localhost`,
/// 127.0.0.0/8 or `[::1]`.
fn names_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::names_loopback;

    #[test]
    fn loopback_hosts_are_told_from_services() {
        for url in [
            "http://localhost:8000",
            "http://LOCALHOST",
            "http://127.0.0.1:8000/api",
            "http://127.3.4.5",
            "http://user:pw@127.0.0.1:1",
            "http://[::1]:8000",
        ] {
            assert!(names_loopback(url), "{url}");
        }
        for url in [
            "http://aurax.default.svc:8000",
            "https://10.0.0.1",
            "http://localhost.example.com",
            "http://[2001:db8::1]:80",
        ] {
            assert!(!names_loopback(url), "{url}");
        }
    }
}
