//! The conductor of the multicore throughput experiment, on core 0 below the
//! workers' priority. For each design (per-core pods, one shared active
//! server, one async server) and each N = 1 .. workers, it publishes the
//! phase in the shared `ctl` region (layout: `bench-smp-worker`), notifies
//! workers N-1 .. 0 (worker 0, on its own core, last: it preempts the
//! conductor), waits for each to report, and prints one line per worker:
//! `bench throughput design=<tunnel|ipc|async> n=N worker=k completed=… window=… work_cycles=…`;
//! at the end `bench: throughput done`.
//!
//! Notifies / notified by: channel k (worker k).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::THROUGHPUT_UNITS;
use tunnelkit_runtime::{Channel, Handler, SharedMemory, debug_println, notifiable_channels, protection_domain, region_setvars, wait_for};

const DESIGNS: [&str; 3] = ["tunnel", "ipc", "async"];

region_setvars!(
    /// The control region (read-write).
    static ctl_vaddr, ctl_size
);

protection_domain!(init);

struct Conductor;

fn slot(k: usize, word: u64) -> u64 {
    64 + 64 * k as u64 + 8 * word
}

fn init() -> Conductor {
    let ctl = SharedMemory::from_setvars(&ctl_vaddr, &ctl_size).expect("the control region must be mapped");
    let workers = notifiable_channels().iter().count();
    let mut phase = 0u64;
    for (d, design) in DESIGNS.iter().enumerate() {
        for n in 1..=workers {
            phase += 1;
            ctl.write_u64(8, d as u64).expect("ctl");
            ctl.write_u64(16, n as u64).expect("ctl");
            ctl.store_release_u64(0, phase).expect("ctl");
            for k in (0..n).rev() {
                Channel::new(k as u8).notify().expect("a worker channel notifies");
            }
            for k in 0..n {
                while ctl.load_acquire_u64(slot(k, 1)) != Ok(phase) {
                    wait_for(Channel::new(k as u8));
                }
            }
            for k in 0..n {
                let word = |w| ctl.read_u64(slot(k, w)).expect("ctl");
                debug_println!(
                    "bench throughput design={design} n={n} worker={k} units={THROUGHPUT_UNITS} completed={} window={} work_cycles={}",
                    word(2),
                    word(3),
                    word(4)
                );
            }
        }
    }
    debug_println!("bench: throughput done");
    Conductor
}

impl Handler for Conductor {
    type Error = Infallible;
}
