//! Ceilings on every number a user gives, in flags, scenario files and traces. A value past
//! one is a clear one-line error (exit 3), never a panic, an allocation of gigabytes or a run
//! that cannot end. The README's "What the tool guarantees" lists them.

use std::time::Duration;

/// Any duration: run time, timeouts, stage lengths, waits (30 days).
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// Concurrent virtual users (closed model), after `--scale`.
pub const MAX_USERS: u32 = 100_000;
/// Users started per second.
pub const MAX_SPAWN_RATE: f64 = 10_000.0;
/// Arrivals per second (open model), after `--scale`.
pub const MAX_RATE: f64 = 100_000.0;
/// `--scale`, `--duration-scale` and the replay `--speed`.
pub const MAX_SCALE: f64 = 10_000.0;
/// Tokens of a trace row (Azure `ContextTokens`, `GeneratedTokens`): the largest context
/// windows are 128k tokens; a prompt is built of about that many words.
pub const MAX_TRACE_TOKENS: u64 = 131_072;
/// `--max-body-bytes`.
pub const MAX_BODY_BYTES: u64 = 1 << 30;
/// `--connections`.
pub const MAX_CONNECTIONS: u64 = 100_000;
/// `--max-in-flight`.
pub const MAX_IN_FLIGHT: u64 = 1_000_000;
/// `--threads` (the pool of idle connections keeps a slot for each of 64 lanes).
pub const MAX_THREADS: u64 = 64;

/// A number that must be above 0 and at most `max`: `name` says which, in the error.
pub fn positive_at_most(name: &str, value: f64, max: f64) -> Result<f64, String> {
    match (value.partial_cmp(&0.0), value.partial_cmp(&max)) {
        (
            Some(std::cmp::Ordering::Greater),
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal),
        ) => Ok(value),
        (Some(std::cmp::Ordering::Greater), Some(std::cmp::Ordering::Greater)) => {
            Err(format!("{name} {value}: over the ceiling of {max}"))
        }
        _ => Err(format!("{name} {value}: must be a number above 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_say_which_value_and_why() {
        assert_eq!(positive_at_most("--scale", 2.0, MAX_SCALE), Ok(2.0));
        assert!(
            positive_at_most("--scale", 1e308, MAX_SCALE)
                .unwrap_err()
                .contains("over the ceiling of 10000")
        );
        assert!(positive_at_most("--scale", f64::NAN, MAX_SCALE).is_err());
        assert!(positive_at_most("--scale", f64::INFINITY, MAX_SCALE).is_err());
        assert!(positive_at_most("--scale", 0.0, MAX_SCALE).is_err());
    }
}
