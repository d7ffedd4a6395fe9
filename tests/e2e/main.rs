//! End-to-end tests: the real binary against servers on 127.0.0.1 (the simulator, hostile
//! servers, a recording proxy), the Parquet read back, reports and PNGs checked. One test
//! binary with a module per area, so the tool (and polars) is linked once. The pinned-core
//! test that takes both cores on purpose has a binary of its own
//! (`tests/client_bottleneck_e2e.rs`), so nothing timing-sensitive runs beside it.

mod analyze;
mod bad_input;
mod capacity;
mod capacity_search;
mod cli;
mod common;
mod distributed;
mod hostile;
mod load_shapes;
mod mix_capacity;
mod monitoring;
mod replay;
mod replay_input;
mod residency;
mod resources;
mod run;
mod run_stops;
mod streaming;
mod wire;
