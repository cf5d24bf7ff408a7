//! Benchmark results: the data model written by `tunnelkit bench` and the
//! reports (JSON, markdown tables, SVG plots, README section) made from it;
//! and the multicore measurements (`--config smp-benchmark`, [`smp`]).

pub mod guard;
pub mod model;
pub mod net;
pub mod net_load;
pub mod report;
pub mod run;
pub mod smp;
pub mod smp_report;
pub mod smp_systems;
pub mod systems;
