//! The Microkit protection-domain runtime of tunnelkit, in safe Rust.
//!
//! A PD is a [`Handler`] built by an `init` function and handed to
//! [`protection_domain!`]:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! #![forbid(unsafe_code)]
//! use tunnelkit_runtime::{protection_domain, Channel, Handler, debug_println};
//!
//! protection_domain!(init);
//!
//! fn init() -> Pinger {
//!     debug_println!("hello");
//!     Pinger
//! }
//! ```
//!
//! The event loop follows libmicrokit 2.3: `init`, the passive handshake with
//! the monitor, an initial ack of every IRQ, then receive → dispatch to
//! `notified` / `protected` / `fault` → reply.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod account;
mod channel;
pub mod checked_line;
pub mod console;
pub mod cycles;
mod handler;
mod pass_report;
pub mod printing;

#[cfg(target_os = "none")]
mod deferred;
#[cfg(target_os = "none")]
mod event_loop;
#[cfg(target_os = "none")]
mod panicking;
pub mod supervision;
pub mod trace;

#[cfg(target_os = "none")]
pub use channel::IoPort;
pub use channel::{Callable, Channel, ChannelError, ChannelSet, Child};
pub use handler::{Handler, UNHANDLED_PPC_LABEL};
pub use pass_report::PassReporter;
pub use tunnelkit_sys::MessageInfo;
pub use tunnelkit_sys::board::{Arch, BOARD, Board, CONFIG, KernelConfig};

#[cfg(target_os = "none")]
pub use event_loop::{held, run, start_reason, wait_for};
pub use tunnelkit_abi::error::Sel4Error;
pub use tunnelkit_abi::reply::{
    BUSY_LABEL, FAULT_LABEL, HELD_LABEL, OVERRUN_LABEL, RESTART_AFTER_FAULT, RESTART_AFTER_OVERRUN, RESTART_HELD,
};
pub use tunnelkit_abi::uart;
#[cfg(target_os = "none")]
pub use tunnelkit_sys::memory::{DeviceMemory, OutOfBounds, SharedMemory};

/// Message registers in the IPC buffer (MR0..MR119), for code that speaks a
/// raw protocol instead of a tunnel service.
#[cfg(target_os = "none")]
pub mod mr {
    pub use tunnelkit_sys::ipc_buffer::{get_mr as get, set_mr as set};
}
#[cfg(target_os = "none")]
pub use tunnelkit_sys::syscall::cycle_counter;

/// The PD's name from the system description.
pub fn pd_name() -> tunnelkit_sys::symbols::PdName {
    tunnelkit_sys::symbols::pd_name()
}

/// The channels this PD may notify through (ends with `notify="true"`),
/// not counting a traced build's channel to the trace dumper.
pub fn notifiable_channels() -> ChannelSet {
    let dumper = tunnelkit_sys::trace::channel().map_or(0, |c| 1u64 << c);
    ChannelSet::from_badge(tunnelkit_sys::symbols::notifications() & !dumper)
}

/// Stops this PD with a fault (an undefined instruction) that its fault
/// handler receives: the monitor for a top-level PD, the parent for a child.
/// For fault-injection tests; nothing is printed.
#[cfg(target_os = "none")]
pub fn raise_fault() -> ! {
    tunnelkit_sys::syscall::fault_now()
}

/// Stops this PD with a VM fault (a read of an unmapped address), for
/// fault-injection tests; nothing is printed.
#[cfg(target_os = "none")]
pub fn raise_vm_fault() -> ! {
    tunnelkit_sys::syscall::vm_fault_now()
}

/// Whether this PD is passive (a pod).
pub fn is_passive() -> bool {
    tunnelkit_sys::symbols::is_passive()
}

/// A word (or bytes) the microkit tool patches; what [`setvar!`] defines.
pub use tunnelkit_sys::symbols::Patched;

/// Defines a word the microkit tool patches through an SDF `setvar_*`
/// attribute; the identifier is the symbol name. Read it with `.get()`.
pub use tunnelkit_sys::setvar;

/// Defines a mapped region's address and size setvars in one go (see
/// [`SharedMemory::from_setvars`] on the target).
pub use tunnelkit_sys::region_setvars;

#[doc(hidden)]
pub mod __private {
    #[cfg(target_os = "none")]
    pub use crate::event_loop::{run_held, set_start_reason};
    pub use tunnelkit_sys::__export_main;
}

/// Declares a PD entry that runs `main` (a `fn() -> !`) with no event loop
/// at all: for measurement floors and raw protocols. The panic handler and
/// printing still work.
#[macro_export]
macro_rules! raw_protection_domain {
    ($main:path) => {
        fn __tunnelkit_raw_main(_start_reason: u64) -> ! {
            $main()
        }
        $crate::__private::__export_main!(__tunnelkit_raw_main);
    };
}

/// Declares the PD's entry: `init` (a `fn() -> impl Handler`) runs once, then
/// the Microkit event loop drives the handler it returns.
#[macro_export]
macro_rules! protection_domain {
    ($init:path) => {
        fn __tunnelkit_pd_main(start_reason: u64) -> ! {
            $crate::__private::set_start_reason(start_reason);
            if $crate::held() {
                $crate::__private::run_held()
            }
            $crate::run($init())
        }
        $crate::__private::__export_main!(__tunnelkit_pd_main);
    };
}
