//! Who and where a run is: its id, seed, share of a distributed load and directory, from
//! the flags and the world around it ([`Environment`], read once, so that resolving the flags
//! is a function of them and it).

use std::path::PathBuf;

use crate::cli::RunArgs;
use crate::exit::{ExitCode, Fail, fail};
use crate::shard::Shard;

/// What a run's plan takes from the world around it, read once by [`Environment::current`]
/// so that `plan::resolve` is a function of the flags and this alone (tests give their own).
#[derive(Debug, Clone)]
pub struct Environment {
    /// The time the run is resolved: its id and default seed.
    pub now: chrono::DateTime<chrono::Utc>,
    /// This process's id: two runs started in the same millisecond get different ids.
    pub process_id: u32,
    /// `JOB_COMPLETION_INDEX`: a Kubernetes Indexed Job pod's index (`--shards N`).
    pub job_completion_index: Option<String>,
}

impl Environment {
    /// The process's own clock, id and environment.
    pub fn current() -> Environment {
        Environment {
            now: chrono::Utc::now(),
            process_id: std::process::id(),
            job_completion_index: std::env::var("JOB_COMPLETION_INDEX").ok(),
        }
    }
}

/// The run's id and seed. Every worker of a distributed run derives the same ones from what
/// they share (the start time, the workers, the seed given), so their directories are known
/// to belong together and they draw the one schedule; a run of its own is unique even beside
/// one started in the same millisecond (the process id and the clock's nanoseconds).
pub(super) fn identity(args: &RunArgs, env: &Environment, shard: Shard) -> (String, u64) {
    match (shard.is_distributed(), args.start_at) {
        (true, Some(at)) => {
            let seed = args.seed.unwrap_or(at.timestamp_micros() as u64);
            let key = at.timestamp_micros() as u64 ^ u64::from(shard.count).rotate_left(40) ^ seed;
            let suffix = crate::runner::splitmix(key) >> 48;
            (
                format!("{}-{suffix:04x}", at.format("%Y%m%dT%H%M%S%.3fZ")),
                seed,
            )
        }
        _ => {
            let now = env.now;
            let suffix = (u64::from(env.process_id) << 32
                ^ u64::from(now.timestamp_subsec_nanos()))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                >> 48;
            let run_id = format!("{}-{suffix:04x}", now.format("%Y%m%dT%H%M%S%.3fZ"));
            (
                run_id,
                args.seed.unwrap_or_else(|| now.timestamp_micros() as u64),
            )
        }
    }
}

/// This worker's share: `--shard I/N`, or `--shards N` with the index Kubernetes gives an
/// Indexed Job's pod (`JOB_COMPLETION_INDEX`); the whole load otherwise.
pub(super) fn shard_of(args: &RunArgs, env: &Environment) -> Result<Shard, Fail> {
    match (args.shard, args.shards) {
        (Some(shard), _) => Ok(shard),
        (None, Some(count)) => {
            let raw = env.job_completion_index.as_deref().ok_or_else(|| {
                fail(
                    ExitCode::BadInput,
                    format!("--shards {count}: JOB_COMPLETION_INDEX is not set (run in a Kubernetes Indexed Job, or give --shard I/{count})"),
                )
            })?;
            crate::shard::parse(&format!("{}/{count}", raw.trim())).map_err(|e| {
                fail(
                    ExitCode::BadInput,
                    format!("--shards {count} with JOB_COMPLETION_INDEX={raw}: {e}"),
                )
            })
        }
        (None, None) => Ok(Shard::WHOLE),
    }
}

/// `--out`, or `runs/<run id>` (with `/w<index>` for a worker of a distributed run).
pub(super) fn out_dir_of(args: &RunArgs, run_id: &str, shard: Shard) -> PathBuf {
    args.out.clone().unwrap_or_else(|| {
        let dir = PathBuf::from("runs").join(run_id);
        if shard.is_distributed() {
            dir.join(format!("w{}", shard.index))
        } else {
            dir
        }
    })
}
