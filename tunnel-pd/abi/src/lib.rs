//! What tunnelkit's protection domains and its host tools share, as data
//! only: no system calls, no patched symbols, no `unsafe`. The PD side
//! (`tunnelkit-sys`, the runtime) and the tools (`tunnelkit`) both depend on
//! this crate, so the tools do not link the PD symbol layer.
//!
//! - [`board`]: boards, kernel configurations, their memory layout facts.
//! - [`error`]: seL4's error codes as a type.
//! - [`supervision`]: the supervision table, restart policies, the call-state word.
//! - [`reply`]: the runtime's reply labels and a supervisor's restart reasons.
//! - [`trace`]: the trace record, region layout and dump line.
//! - [`account`]: the accounting region's layout and dump lines.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod account;
pub mod board;
pub mod error;
pub mod reply;
pub mod supervision;
pub mod trace;
pub mod uart;

/// Number of channel ids a Microkit PD may use (0..=61).
pub const MICROKIT_MAX_CHANNELS: usize = 62;
