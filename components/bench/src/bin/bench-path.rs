//! A path of the crosstalk experiment: during a fixed window of the shared
//! cycle counter (the same for every path: from the start time the starter PD
//! publishes in the `start` region, for [`WINDOW`] cycles)
//! it calls the shared service's `work` as fast as its budget allows, then
//! prints how much work completed, what one uninterrupted work call costs the
//! service, and its call latency:
//! `bench crosstalk path=<pd> completed=… work_cycles=… window=… min=… median=… max=…`.
//!
//! Calls: `bench` on channel 1 (tunnel, IPC or async: system.xml decides).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::{Units, bench as svc};
use tunnelkit_runtime::{Channel, Handler, SharedMemory, cycles, debug_println, pd_name, protection_domain, region_setvars};

const SERVICE: Channel = Channel::new(1);
/// Measurement window in counter cycles (instructions under icount: one
/// second of virtual time, 100 periods, so that where the window cuts the
/// paths' refill schedules moves a share by at most a period's budget / 100;
/// in the board's counter ticks, [`bench::counter_ticks`]).
const WINDOW: u64 = bench::counter_ticks(1_000_000_000);
/// Work loop iterations per call.
const UNITS: u64 = 20_000;
/// Latency samples kept (the first calls of the window).
const SAMPLES: usize = 2048;

region_setvars!(
    /// Where the starter's region is mapped (read-only).
    static start_vaddr, start_size
);

protection_domain!(init);

struct Path;

fn init() -> Path {
    cycles::enable();
    let name = pd_name();
    let mut service = svc::Client::connect(SERVICE).unwrap_or_else(|e| panic!("cannot connect to the service: {e}"));
    let mut latency = [0u64; SAMPLES];
    // The service times each batch; the smallest time is the batch's cost
    // when nothing preempts it (later ones may include preemption).
    let (mut completed, mut work_cycles, mut kept) = (0u64, u64::MAX, 0usize);
    let clock = SharedMemory::from_setvars(&start_vaddr, &start_size).expect("the start region must be mapped");
    let start = loop {
        match clock.load_acquire_u64(0) {
            Ok(0) => {}
            Ok(t) => break t,
            Err(e) => panic!("start region: {e:?}"),
        }
    };
    while cycles::now() < start {}
    loop {
        let t0 = cycles::now();
        let done = service.work(&Units { n: UNITS }).unwrap_or_else(|e| panic!("work call failed: {e}"));
        let t1 = cycles::now();
        completed += 1;
        work_cycles = work_cycles.min(done.cycles);
        if kept < SAMPLES {
            latency[kept] = t1 - t0;
            kept += 1;
        }
        if t1 - start >= WINDOW {
            break;
        }
    }
    let window = cycles::now() - start;
    let (min, median, max) = cycles::summarize(&mut latency[..kept]);
    debug_println!(
        "bench crosstalk path={} completed={completed} work_cycles={work_cycles} window={window} samples={kept} min={min} median={median} max={max}",
        name.as_str()
    );
    // A traced run (`tunnelkit run --trace`) ends with the first path's report.
    tunnelkit_runtime::trace::finish();
    Path
}

impl Handler for Path {
    type Error = Infallible;
}
