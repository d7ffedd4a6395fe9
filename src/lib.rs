//! aurax-tool: load testing for the AURAX AI platform API.
//!
//! The data path of a run: [`scenario`] → [`runner`] (virtual users, HTTP client) →
//! [`outcome::RequestOutcome`] → [`sink`] (its own thread, bounded channel, Parquet segments).
//! [`simulator`] is a faithful AURAX on loopback. The analysis lives in the `aurax-analysis`
//! crate and reads only the Parquet contract of `aurax-schema`.

pub mod cli;
pub mod commands;
pub mod duration;
pub mod exit;
pub mod limits;
pub mod monitor;
pub mod outcome;
pub mod record;
pub mod redact;
pub mod runner;
pub mod scenario;
pub mod simulator;
pub mod sink;
pub mod stats;
pub mod trace;
