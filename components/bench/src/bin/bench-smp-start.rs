//! Starter of the two-core crosstalk experiment, one per core (`starter0`,
//! `starter1`, each pinned to its core and above the paths' priority). The
//! cycle counters of different cores are not comparable, so the starters
//! first meet in the shared `barrier` region (each raises its flag and waits
//! for every other), then each publishes a start time a little ahead of its
//! own core's counter in its core's `start` region, which the paths of that
//! core map. The windows of the two cores thus open together, up to the
//! barrier's skew.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::CROSSTALK_CORES;
use tunnelkit_runtime::{Handler, SharedMemory, cycles, pd_name, protection_domain, region_setvars};

/// Lead time before the window opens, in counter cycles: room for every
/// path's init.
const LEAD: u64 = bench::counter_ticks(20_000_000);

region_setvars!(
    /// The barrier every starter maps (read-write): one flag word per core.
    static barrier_vaddr, barrier_size
);
region_setvars!(
    /// This core's start region (read-write): the start time at 0.
    static start_vaddr, start_size
);

protection_domain!(init);

struct Starter;

fn init() -> Starter {
    cycles::enable();
    let me = bench::index_from_name(pd_name().as_str()).expect("a starter's name ends with its core");
    let barrier = SharedMemory::from_setvars(&barrier_vaddr, &barrier_size).expect("the barrier region must be mapped");
    let start = SharedMemory::from_setvars(&start_vaddr, &start_size).expect("the start region must be mapped");
    barrier.store_release_u64(8 * me as u64, 1).expect("the barrier holds a word per core");
    while (0..CROSSTALK_CORES).any(|k| barrier.load_acquire_u64(8 * k as u64) != Ok(1)) {
        core::hint::spin_loop();
    }
    start.store_release_u64(0, cycles::now() + LEAD).expect("the start region holds a word");
    Starter
}

impl Handler for Starter {
    type Error = Infallible;
}
