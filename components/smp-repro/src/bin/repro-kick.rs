//! The kicker: an active PD on a core of its own that sends the kernel's
//! reschedule IPI (SGI 1, through the debug syscall `seL4_DebugSendIPI`) to
//! cores 0 and 1 over and over. The control experiment of docs/smp.md: it
//! adds exactly the IPI the kernel leaves out, and nothing else the pings'
//! cores could notice. AArch64 smp-debug only (the syscall exists nowhere
//! else).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tunnelkit_runtime::{debug_println, pd_name, raw_protection_domain};
use tunnelkit_sys::syscall::debug_send_ipi;

raw_protection_domain!(main);

/// The kernel's reschedule IPI on ARM (`irq_reschedule_ipi`).
const RESCHEDULE_SGI: u64 = 1;
/// Busy iterations between two rounds of IPIs.
const PAUSE: u64 = 200_000;

fn main() -> ! {
    if !debug_send_ipi(0, RESCHEDULE_SGI) {
        panic!("{}: seL4_DebugSendIPI exists only in the smp-debug config on AArch64", pd_name().as_str());
    }
    debug_println!("{}: sending a reschedule IPI to cores 0 and 1 every {PAUSE} iterations", pd_name().as_str());
    let mut x: u64 = 0;
    loop {
        for core in 0..2 {
            debug_send_ipi(core, RESCHEDULE_SGI);
        }
        for _ in 0..PAUSE {
            x = core::hint::black_box(x.wrapping_add(1));
        }
    }
}
