//! The witness: a spinner at the lowest priority with a long budget (its
//! core enters the kernel only when that budget runs out) that, after
//! spinning a while, asks the kernel to print the scheduler state of its
//! core (`seL4_DebugDumpScheduler`, debug configs). Once the pings are stuck
//! the dump shows the pod runnable on this core's ready queue while the core
//! runs this spinner instead (docs/smp.md).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tunnelkit_runtime::{debug_println, pd_name, raw_protection_domain};
use tunnelkit_sys::syscall::debug_dump_scheduler;

raw_protection_domain!(main);

/// Busy iterations before each dump.
const PAUSE: u64 = 30_000_000;
/// Dumps before it only spins.
const DUMPS: u32 = 2;

fn main() -> ! {
    let mut x: u64 = 0;
    for n in 1..=DUMPS {
        for _ in 0..PAUSE {
            x = core::hint::black_box(x.wrapping_add(1));
        }
        debug_println!("{}: scheduler state of my core, dump {n}:", pd_name().as_str());
        debug_dump_scheduler();
    }
    loop {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}
