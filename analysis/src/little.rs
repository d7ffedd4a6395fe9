//! Little's law per load level: requests in flight ≈ throughput × latency. Where the load
//! generator's own in-flight count contradicts it, the generator, not the target, was the limit.

use serde::Serialize;

use crate::breaking::MIN_LEVEL_REQUESTS;
use crate::windows::LoadLevel;

/// Per-level Little's law check: in flight ≈ throughput × latency.
#[derive(Debug, Clone, Serialize)]
pub struct LittleCheck {
    pub users: f64,
    pub in_flight: f64,
    pub expected: f64,
    pub holds: bool,
}

pub fn little_checks(levels: &[LoadLevel]) -> Vec<LittleCheck> {
    levels
        .iter()
        .filter(|l| l.requests >= MIN_LEVEL_REQUESTS)
        .map(little_check)
        .collect()
}

pub(crate) fn little_check(l: &LoadLevel) -> LittleCheck {
    let expected = l.throughput_rps * l.mean_latency_ms / 1000.0;
    // An arrival counts itself in flight; compare what the others saw. Below one request in
    // flight the ratio is noise.
    let observed = (l.in_flight - 1.0).max(0.0);
    let holds = expected < 1.0 || (observed / expected > 0.5 && observed / expected < 2.0);
    LittleCheck {
        users: l.users,
        in_flight: observed,
        expected,
        holds,
    }
}
