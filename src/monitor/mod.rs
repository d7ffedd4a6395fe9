//! Monitoring during a run: the live Prometheus exporter of the load test itself, and the
//! resource sampler that records the target's, a local process's and the generator's own
//! CPU and memory beside the request files.

pub mod exporter;
pub mod ollama;
pub mod procfs;
pub mod sampler;

pub use sampler::{SamplerConfig, SamplerReport};
