//! The performance targets recorded with a run (metadata key `aurax.targets`), so the
//! analysis judges a run against the targets it was run with, not against a copy of them.

use serde::{Deserialize, Serialize};

/// Response-time, throughput and error-rate targets of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Which latency percentile the response-time targets are judged on (the seed: p95).
    pub percentile: f64,
    /// Response-time targets, per endpoint.
    pub endpoints: Vec<EndpointTarget>,
    /// The seed's throughput tiers.
    pub throughput: ThroughputTiers,
    /// The error-rate tier that applies to this run and its limit (a share, 0.01 = 1%).
    pub error_rate: ErrorRateTier,
    /// Targets on streamed generations (time to first token, inter-token latency), per
    /// endpoint; absent from files written before version 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generation: Vec<GenerationTarget>,
}

/// A target on a streamed generation: the `percentile` of `metric` over an endpoint's
/// successful responses, strictly under `limit_ms`. Goodput counts the responses that meet
/// every such target of their endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationTarget {
    /// The endpoint's name.
    pub endpoint: String,
    /// What is held to the limit.
    pub metric: GenerationMetric,
    /// Which percentile (95 = p95).
    pub percentile: f64,
    /// The limit in milliseconds.
    pub limit_ms: f64,
}

/// A per-request figure of a streamed generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenerationMetric {
    /// Time to first token (`ttft_us`).
    Ttft,
    /// A request's mean inter-token latency (`itl_mean_us`).
    Itl,
}

impl GenerationMetric {
    /// The name users write (`ttft`, `itl`).
    pub fn name(self) -> &'static str {
        match self {
            GenerationMetric::Ttft => "ttft",
            GenerationMetric::Itl => "itl",
        }
    }

    /// The request-file column holding it.
    pub fn column(self) -> crate::Column {
        match self {
            GenerationMetric::Ttft => crate::Column::TtftUs,
            GenerationMetric::Itl => crate::Column::ItlMeanUs,
        }
    }
}

/// One endpoint's response-time target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointTarget {
    /// The endpoint's name.
    pub endpoint: String,
    /// Response-time target in milliseconds.
    pub target_ms: f64,
}

/// The seed's throughput tiers in requests per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputTiers {
    /// The minimum (the seed: 10 req/s).
    pub minimum_rps: f64,
    /// The target (the seed: 50 req/s).
    pub target_rps: f64,
    /// Peak (the seed: 100+ req/s).
    pub peak_rps: f64,
}

/// The error-rate target of a run: the loosest tier among the classes run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRateTier {
    /// `normal`, `peak` or `burst` in the seed's terms.
    pub tier: String,
    /// The error rate must stay under this share (0.01 = 1%).
    pub max_error_rate: f64,
}

impl Targets {
    /// An endpoint's response-time target in milliseconds, when it has one.
    pub fn endpoint_target_ms(&self, endpoint: &str) -> Option<f64> {
        self.endpoints
            .iter()
            .find(|t| t.endpoint == endpoint)
            .map(|t| t.target_ms)
    }
}

impl Targets {
    /// The seed's targets, for request files that do not carry their own.
    pub fn seed_defaults() -> Targets {
        let endpoints = [
            ("health", 50.0),
            ("system_status", 200.0),
            ("generate_text", 5000.0),
            ("generate_code", 8000.0),
            ("generate_image", 15000.0),
            ("test_routing", 100.0),
            ("burst_request", 5000.0),
        ];
        Targets {
            percentile: 95.0,
            endpoints: endpoints
                .iter()
                .map(|(e, t)| EndpointTarget {
                    endpoint: (*e).to_string(),
                    target_ms: *t,
                })
                .collect(),
            throughput: ThroughputTiers {
                minimum_rps: 10.0,
                target_rps: 50.0,
                peak_rps: 100.0,
            },
            error_rate: ErrorRateTier {
                tier: "normal".into(),
                max_error_rate: 0.01,
            },
            generation: Vec::new(),
        }
    }
}
