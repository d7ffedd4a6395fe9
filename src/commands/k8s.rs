//! `aurax-tool k8s job`: a distributed run as a Kubernetes Indexed Job. Kubernetes gives
//! each pod its index (`JOB_COMPLETION_INDEX`); every pod runs the same `run` with
//! `--shards N --start-at T`, so together they send the one-machine load from T, and each
//! writes its run directory to a shared volume for one exact `analyze` (docs/distributed.md).

use serde_json::{Value, json};

use crate::cli::{K8sCommand, K8sJobArgs};
use crate::exit::{ExitCode, Fail, fail};

/// Where the results volume is mounted in each pod.
pub const RESULTS_DIR: &str = "/results";

/// Flags the manifest sets itself: a run given them would split or place the load twice.
const SET_BY_THE_JOB: [&str; 4] = ["--shard", "--shards", "--start-at", "--out"];

/// `aurax-tool k8s ...`.
pub fn execute(cmd: K8sCommand) -> Result<ExitCode, Fail> {
    match cmd {
        K8sCommand::Job(args) => {
            let manifest = job_manifest(&args)?;
            let text = serde_json::to_string_pretty(&manifest)
                .map_err(|e| fail(ExitCode::Failure, e.to_string()))?;
            say!("{text}");
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
