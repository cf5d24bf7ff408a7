//! The tick PD: wakes once per period of its scheduling context (it gives up
//! the rest of each budget with MCS `Yield`), counts the tick in its tick
//! page (if the system maps one, for PDs that need a clock in every config)
//! and notifies its supervisor, whose watchdog runs on each tick. Its SDF
//! `period` is the tick; give it budget < period (with room for a
//! wake-up and its kernel entries: about 100 µs on QEMU in the debug config;
//! a budget it overruns makes ticks late) and the highest priority below
//! the monitor.
//!
//! Notifies: channel 0 (the supervisor).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tunnelkit_runtime::supervision::yield_budget;
use tunnelkit_runtime::{Channel, SharedMemory, raw_protection_domain, region_setvars};

const SUPERVISOR: Channel = Channel::new(0);

region_setvars!(
    /// The tick page (`<map setvar_vaddr="tick_page">`): word 0 counts ticks.
    static tick_page, tick_page_size
);

raw_protection_domain!(main);

fn main() -> ! {
    let page = SharedMemory::from_setvars(&tick_page, &tick_page_size);
    let mut ticks = 0u64;
    loop {
        yield_budget();
        ticks += 1;
        if let Some(p) = page {
            let _ = p.store_release_u64(0, ticks);
        }
        if let Err(e) = SUPERVISOR.notify() {
            panic!("cannot notify the supervisor: {e}");
        }
    }
}
