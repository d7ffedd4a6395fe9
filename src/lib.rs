#![warn(missing_docs)]
//! aurax-tool: load testing for the AURAX AI platform API.
//!
//! The data path of a run: [`scenario`] → [`runner`] (virtual users, HTTP client) →
//! [`outcome::RequestOutcome`] → [`sink`] (its own thread, bounded channel, Parquet segments).
//! [`simulator`] is a faithful AURAX on loopback. The analysis lives in the `aurax-analysis`
//! crate and reads only the Parquet contract of `aurax-schema`.

pub mod cli;
pub mod commands;
mod duration;
pub mod exit;
mod flags;
mod http;
mod limits;
mod monitor;
mod outcome;
mod prom;
mod record;
mod redact;
mod runner;
mod scenario;
mod shape;
mod shard;
mod simulator;
mod sink;
mod stats;
mod trace;
