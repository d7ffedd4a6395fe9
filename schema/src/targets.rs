//! The performance targets recorded with a run (metadata key `aurax.targets`), so the
//! analysis judges a run against the targets it was run with, not against a copy of them.

use serde::{Deserialize, Serialize};

/// Response-time, throughput and error-rate targets of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Which latency percentile the response-time targets are judged on (the seed: p95).
    pub percentile: f64,
    pub endpoints: Vec<EndpointTarget>,
    pub throughput: ThroughputTiers,
    /// The error-rate tier that applies to this run and its limit (a share, 0.01 = 1%).
    pub error_rate: ErrorRateTier,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointTarget {
    pub endpoint: String,
    /// Response-time target in milliseconds.
    pub target_ms: f64,
}

/// The seed's throughput tiers in requests per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputTiers {
    pub minimum_rps: f64,
    pub target_rps: f64,
    pub peak_rps: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRateTier {
    /// `normal`, `peak` or `burst` in the seed's terms.
    pub tier: String,
    pub max_error_rate: f64,
}

impl Targets {
    pub fn endpoint_target_ms(&self, endpoint: &str) -> Option<f64> {
        self.endpoints
            .iter()
            .find(|t| t.endpoint == endpoint)
            .map(|t| t.target_ms)
    }
}
