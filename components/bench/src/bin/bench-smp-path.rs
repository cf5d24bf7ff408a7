//! A path of the two-core crosstalk experiment: as `bench-path` (calls the
//! shared service's `work` as fast as its budget allows during a window of
//! [`WINDOW`] counter cycles, from the start time its core's starter
//! publishes), but it may run on a core whose PDs cannot print (only core 0
//! calls the console pod), so it posts its result line to the reporter
//! through the mailbox lent on channel 2 and notifies it:
//! `bench crosstalk path=<pd> completed=… work_cycles=… window=… samples=… min=… median=… max=…`.
//!
//! Calls: `bench` on channel 1 (tunnel, IPC or async: the system decides).
//! Notifies: channel 2 (the reporter), whose lent region is the mailbox.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::{CROSSTALK_UNITS, Units, bench as svc, mailbox};
use tunnelkit_runtime::{Channel, Handler, SharedMemory, cycles, pd_name, protection_domain, region_setvars};

const SERVICE: Channel = Channel::new(1);
const REPORTER: Channel = Channel::new(2);
/// Measurement window in counter cycles (as `bench-path`).
const WINDOW: u64 = bench::counter_ticks(1_000_000_000);
/// Latency samples kept (the first calls of the window).
const SAMPLES: usize = 2048;

region_setvars!(
    /// This core's start region (read-only).
    static start_vaddr, start_size
);

protection_domain!(init);

struct Path;

fn init() -> Path {
    cycles::enable();
    let name = pd_name();
    let mut service = svc::Client::connect(SERVICE).unwrap_or_else(|e| panic!("cannot connect to the service: {e}"));
    let mail = SharedMemory::lent(REPORTER.index()).expect("the mailbox must be lent on the reporter channel");
    let mut latency = [0u64; SAMPLES];
    let (mut completed, mut work_cycles, mut kept) = (0u64, u64::MAX, 0usize);
    let clock = SharedMemory::from_setvars(&start_vaddr, &start_size).expect("the start region must be mapped");
    let start = loop {
        match clock.load_acquire_u64(0) {
            Ok(0) => {}
            Ok(t) => break t,
            Err(e) => panic!("start region: {e:?}"),
        }
    };
    // Not a tight loop on the counter: on QEMU's AArch64 every read of it
    // takes the emulator's global lock, which the other cores need too.
    while cycles::now() < start {
        core::hint::black_box(bench::spin(1_000));
    }
    loop {
        let t0 = cycles::now();
        let done = service.work(&Units { n: CROSSTALK_UNITS }).unwrap_or_else(|e| panic!("work call failed: {e}"));
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
    let line = mailbox::format(format_args!(
        "bench crosstalk path={} completed={completed} work_cycles={work_cycles} window={window} samples={kept} min={min} median={median} max={max}",
        name.as_str()
    ));
    mailbox::post(&mail, &line);
    REPORTER.notify().expect("the reporter channel notifies");
    Path
}

impl Handler for Path {
    type Error = Infallible;
}
