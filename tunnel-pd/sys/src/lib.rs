//! Raw seL4 (16.0.0, MCS) and Microkit (2.3.0) ABI for tunnelkit protection
//! domains.
//!
//! This is the only tunnelkit crate that contains `unsafe` code. Everything
//! above it (runtime, tunnel, components) is safe Rust.
//!
//! - [`message_info`]: the `seL4_MessageInfo` word.
//! - [`labels`]: invocation labels per architecture and kernel configuration.
//! - [`board`]: the board / configuration this PD is built for.
//! - [`cap`]: Microkit capability slots.
//! - [`syscall`] (target only): the MCS system calls, with MR0..3 spilled to and
//!   filled from the IPC buffer like libsel4 does.
//! - [`ipc_buffer`] (target only): message registers in the IPC buffer.
//! - [`symbols`]: the symbols the microkit tool patches, `setvar` words.
//! - [`memory`] (target only; host-tested): bounds-checked access to shared memory regions.
//! - [`trace`]: the trace record format; with the `trace` feature, the recorder.
//! - [`account`]: the accounting region; with the `account` feature, the counters.
//! - entry (target only): `_start`, which calls the PD's main.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod account;
pub mod board;
pub mod cap;
pub mod labels;
pub mod message_info;
pub mod supervision;
pub mod symbols;
pub mod sysno;
pub mod trace;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
pub mod ipc_buffer;
// Also built for host tests, so that they (and Miri) run its unsafe accesses
// over host memory.
#[cfg(any(target_os = "none", test))]
pub mod memory;
#[cfg(target_os = "none")]
pub mod syscall;

pub use message_info::MessageInfo;

/// Link address of every tunnelkit PD image; `_start` is its first byte, so
/// it is also the entry point (a parent restarts a child PD here).
pub const IMAGE_BASE: u64 = 0x20_0000;

/// Number of message registers a Microkit protected procedure may carry each way.
pub const MICROKIT_MAX_MESSAGE_WORDS: usize = 64;
/// Number of message registers in the IPC buffer (`seL4_MsgMaxLength`).
pub const SEL4_MSG_MAX_LENGTH: usize = 120;
/// Number of channel ids a Microkit PD may use (0..=61).
pub const MICROKIT_MAX_CHANNELS: usize = tunnelkit_abi::MICROKIT_MAX_CHANNELS;

/// Exports `$main` (a `fn(u64) -> !`) as the function `_start` calls. Its
/// argument is the first argument register at entry: 0 at boot (the
/// initialiser zeroes every register), or the reason a supervisor wrote when
/// it restarted the PD. Used by the runtime's entry macros only.
#[macro_export]
#[doc(hidden)]
macro_rules! __export_main {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn __tunnelkit_main(start_reason: u64) -> ! {
            $crate::trace::boot(start_reason);
            $crate::account::boot();
            $main(start_reason)
        }
    };
}
