//! The analysis on synthetic runs whose answers are known (request and resource files written
//! to the contract, then analysed), in one test binary so polars is linked once.

mod common;
mod forms;
mod known;
mod resources;
mod tables;
