//! The board / configuration this PD is built for (its types: `tunnelkit-abi`).

pub use tunnelkit_abi::board::{Arch, Board, KernelConfig};

include!(concat!(env!("OUT_DIR"), "/board.rs"));

/// The kernel configuration this PD is built for.
#[cfg(tk_config = "debug")]
pub const CONFIG: KernelConfig = KernelConfig::Debug;
/// The kernel configuration this PD is built for.
#[cfg(tk_config = "release")]
pub const CONFIG: KernelConfig = KernelConfig::Release;
/// The kernel configuration this PD is built for.
#[cfg(tk_config = "benchmark")]
pub const CONFIG: KernelConfig = KernelConfig::Benchmark;
/// The kernel configuration this PD is built for.
#[cfg(tk_config = "smp-debug")]
pub const CONFIG: KernelConfig = KernelConfig::SmpDebug;
/// The kernel configuration this PD is built for.
#[cfg(tk_config = "smp-release")]
pub const CONFIG: KernelConfig = KernelConfig::SmpRelease;
/// The kernel configuration this PD is built for.
#[cfg(tk_config = "smp-benchmark")]
pub const CONFIG: KernelConfig = KernelConfig::SmpBenchmark;
