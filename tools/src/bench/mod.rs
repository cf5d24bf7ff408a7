//! Benchmark results: the data model written by `tunnelkit bench` and the
//! reports (JSON, markdown tables, SVG plots, README section) made from it.

pub mod model;
pub mod net;
pub mod report;
pub mod run;
pub mod systems;
