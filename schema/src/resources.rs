//! Columns of `resources.parquet`: one row per sampled value of a resource, beside the
//! request files of a run. Sources are the target's own `/metrics` (scraped), a local process
//! (by pid) and the load generator itself, so a saturated client is never mistaken for a
//! saturated server.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// Every column of the resources file, in file order. The README documents each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceColumn {
    /// When the sample was taken.
    Time,
    /// `generator`, `pid:<N>` or `scrape:<URL>`.
    Source,
    /// Prometheus metric name as exposed (`process_cpu_seconds_total`, …); histogram buckets
    /// as `<name>_bucket` with an `le` label.
    Metric,
    /// The sample's labels, `k="v"` pairs sorted by key and joined by commas ("" for none).
    Labels,
    /// The value; counters are cumulative (the analysis turns them into rates).
    Value,
}

impl ResourceColumn {
    /// Every column, in file order.
    pub const ALL: [ResourceColumn; 5] = [
        ResourceColumn::Time,
        ResourceColumn::Source,
        ResourceColumn::Metric,
        ResourceColumn::Labels,
        ResourceColumn::Value,
    ];

    /// The column's name in the file.
    pub const fn name(self) -> &'static str {
        match self {
            ResourceColumn::Time => "time",
            ResourceColumn::Source => "source",
            ResourceColumn::Metric => "metric",
            ResourceColumn::Labels => "labels",
            ResourceColumn::Value => "value",
        }
    }

    /// The column's Arrow type.
    pub fn data_type(self) -> DataType {
        match self {
            ResourceColumn::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ResourceColumn::Source | ResourceColumn::Metric | ResourceColumn::Labels => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
            ResourceColumn::Value => DataType::Float64,
        }
    }
}

/// The Arrow schema of a resources file, with the given key-value metadata.
pub fn resource_schema(metadata: HashMap<String, String>) -> Arc<Schema> {
    let fields: Vec<Field> = ResourceColumn::ALL
        .iter()
        .map(|c| Field::new(c.name(), c.data_type(), false))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// Well-known metric names the analysis looks for.
pub mod metrics {
    /// Counter: CPU seconds used by a process (the target's, a watched pid's, the generator's).
    pub const CPU_SECONDS: &str = "process_cpu_seconds_total";
    /// Gauge: resident memory of a process.
    pub const RESIDENT_BYTES: &str = "process_resident_memory_bytes";
    /// Gauge: AURAX's requests in progress.
    pub const IN_PROGRESS: &str = "aurax_inprogress";
    /// Gauge: CPU cores of the machine a local process runs on (generator, pid sources).
    pub const MACHINE_CORES: &str = "machine_cpu_cores";
    /// Gauge: CPU cores of the host the AURAX simulator models (one per model slot).
    pub const SIMULATED_CORES: &str = "aurax_simulated_cpu_cores";
    /// Counters: bytes a local process read from and wrote to storage.
    pub const IO_READ_BYTES: &str = "process_io_read_bytes_total";
    /// Bytes a process wrote to storage (from /proc/PID/io).
    pub const IO_WRITE_BYTES: &str = "process_io_write_bytes_total";
    /// Counter, labelled by method, handler and status_code: requests the AURAX backend
    /// answered (prometheus-fastapi-instrumentator). The analysis sums it over its labels,
    /// leaving out `handler="/metrics"` (the scrapes themselves).
    pub const SERVED_REQUESTS: &str = "fastapi_requests_total";
    /// Gauge, from Ollama's `GET /api/ps` (`--ollama`): the models in memory (loaded or
    /// being loaded) at the sample, no labels. Written only when `/api/ps` answered, so a
    /// sample without it is unknown, never "none loaded".
    pub const OLLAMA_MODELS_LOADED: &str = "ollama_models_loaded";
    /// Gauge, labelled `model`: the memory a loaded model takes (`size`, bytes). A model
    /// present at a sample and absent at the one before was loaded between them.
    pub const OLLAMA_MODEL_SIZE: &str = "ollama_model_size_bytes";
    /// Gauge, labelled `model`: the part of it in GPU memory (`size_vram`, bytes).
    pub const OLLAMA_MODEL_VRAM: &str = "ollama_model_vram_bytes";
    /// Gauge, labelled `model`: when it will be unloaded if idle (`expires_at`, Unix
    /// seconds).
    pub const OLLAMA_MODEL_EXPIRES_AT: &str = "ollama_model_expires_at_seconds";
    /// Gauge, labelled `model`: its context window (`context_length`, tokens).
    pub const OLLAMA_MODEL_CONTEXT: &str = "ollama_model_context_length";
    /// The label value of the scrapes' own handler.
    pub const METRICS_HANDLER_LABEL: &str = "handler=\"/metrics\"";
}

/// Source names.
pub mod sources {
    /// The load generator itself.
    pub const GENERATOR: &str = "generator";
    /// A local process watched with `--watch-pid`: `pid:<N>`.
    pub const PID_PREFIX: &str = "pid:";
    /// A target's `/metrics` sampled with `--scrape`: `scrape:<URL>`.
    pub const SCRAPE_PREFIX: &str = "scrape:";
    /// Ollama's `/api/ps` sampled with `--ollama`: `ollama:<URL>`.
    pub const OLLAMA_PREFIX: &str = "ollama:";
}
