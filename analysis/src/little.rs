//! Little's law per load level: requests in flight ≈ served throughput × latency. The load
//! generator counts its own requests in flight at every send; where that count contradicts
//! the law, the generator's measurements (not the target) are suspect.

use serde::Serialize;

use crate::levels::LoadLevel;

/// Per-level Little's law check: in flight ≈ served throughput × mean latency.
#[derive(Debug, Clone, Serialize)]
pub struct LittleCheck {
    pub load: f64,
    /// What the generator counted in flight (others than the request being sent).
    pub in_flight: f64,
    /// Served throughput × mean latency.
    pub expected: f64,
    pub holds: bool,
}

pub fn little_checks(levels: &[LoadLevel]) -> Vec<LittleCheck> {
    levels
        .iter()
        .filter(|l| l.trusted())
        .map(little_check)
        .collect()
}

pub(crate) fn little_check(l: &LoadLevel) -> LittleCheck {
    let expected = l.served_rps * l.mean_latency_ms / 1000.0;
    // An arrival counts itself in flight; compare what the others saw. Below one request in
    // flight the ratio is noise.
    let observed = (l.seen_in_flight - 1.0).max(0.0);
    let holds = expected < 1.0 || (observed / expected > 0.5 && observed / expected < 2.0);
    LittleCheck {
        load: l.load,
        in_flight: observed,
        expected,
        holds,
    }
}
