//! Starter of the crosstalk experiment: runs before the paths (higher
//! priority) and publishes one common start time, a little ahead of now, in
//! the `start` region every path maps. Counter values are global on the core.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{Handler, SharedMemory, cycles, protection_domain, region_setvars};

/// Lead time before the window opens, in counter ticks: 20 ms, room for
/// every path's init.
const LEAD: u64 = bench::counter_ticks(20_000_000);

region_setvars!(
    /// Where the start region is mapped (read-write).
    static start_vaddr, start_size
);

protection_domain!(init);

struct Starter;

fn init() -> Starter {
    cycles::enable();
    let region = SharedMemory::from_setvars(&start_vaddr, &start_size).expect("the start region must be mapped");
    region.store_release_u64(0, cycles::now() + LEAD).expect("the start region holds a word");
    Starter
}

impl Handler for Starter {
    type Error = Infallible;
}
