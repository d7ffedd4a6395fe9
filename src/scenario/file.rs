//! The TOML form of a scenario file, exactly as written by a user (see `aurax.toml`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub monitoring: MonitoringDef,
    pub targets: Option<Spanned<TargetsDef>>,
    pub endpoints: BTreeMap<String, Spanned<EndpointDef>>,
    pub user_classes: BTreeMap<String, Spanned<UserClassDef>>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Spanned<ProfileDef>>,
    #[serde(default)]
    pub scenarios: BTreeMap<String, Spanned<LoadScenarioDef>>,
}

/// What a run samples beside the load.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringDef {
    /// Ollama's base URL: its `/api/ps` is sampled (as `run --ollama`).
    pub ollama: Option<Spanned<String>>,
}

/// A load shape: stages of users or rates, or steps, with the classes and stop conditions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadScenarioDef {
    pub description: Option<String>,
    pub user_classes: Vec<String>,
    /// `closed` (default) or `open`.
    pub model: Option<String>,
    pub stages: Option<Vec<StageDef>>,
    pub steps: Option<StepsDef>,
    /// `constant` (default) or `poisson`, for the open model.
    pub arrivals: Option<String>,
    pub max_in_flight: Option<usize>,
    pub connections: Option<usize>,
    #[serde(default)]
    pub stop_on: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageDef {
    pub users: Option<f64>,
    pub rate: Option<f64>,
    pub duration: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepsDef {
    pub start: f64,
    pub step: f64,
    pub every: String,
    pub max: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub base_path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsDef {
    pub percentile: Option<f64>,
    pub throughput_rps: Option<ThroughputDef>,
    pub error_rate: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputDef {
    pub minimum: f64,
    pub target: f64,
    pub peak: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDef {
    pub method: String,
    pub path: String,
    pub target_ms: Option<f64>,
    pub body: Option<toml::Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub check: CheckDef,
    /// The answer is a token stream: `ndjson` (Ollama) or `sse` (OpenAI-compatible).
    pub stream: Option<super::StreamFormat>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    pub status: Option<Vec<u16>>,
    #[serde(default)]
    pub equals: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub present: Vec<String>,
    pub error_field: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserClassDef {
    pub wait_s: [f64; 2],
    #[serde(default)]
    pub on_start: Vec<String>,
    pub tasks: BTreeMap<String, u32>,
    pub error_rate_tier: Option<String>,
    /// Locust's class weight: share of the users this class gets when several run together.
    pub weight: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    pub users: u32,
    pub spawn_rate: f64,
    pub run_time: String,
    pub user_classes: Vec<String>,
}
