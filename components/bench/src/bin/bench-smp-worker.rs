//! A worker of the multicore throughput experiment: `worker<k>`, pinned to
//! core k. For each phase the conductor starts (design and number of
//! workers N in the shared `ctl` region), workers 0..N-1 warm up, meet at a
//! barrier in `ctl`, then each calls `work` ([`THROUGHPUT_UNITS`] per call)
//! through the phase's design for [`window`] cycles of its own core's
//! counter (counters of different cores are not comparable, but run at the
//! same rate), leaves how many calls completed in its slot and notifies the
//! conductor.
//!
//! `ctl` layout (words): 0 phase sequence number, 8 design (0 per-core pod,
//! 1 shared active server, 2 async server), 16 N; worker k's slot at
//! 64 + 64·k: ready (phase), done (phase), completed, window, work cycles.
//!
//! Calls: `bench` on channel 1 (its core's instance of the per-core pod), 2
//! (the shared active server), 3 (the async server, rings).
//! Notified by / notifies: channel 0 (the conductor).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::{THROUGHPUT_UNITS, Units, bench as svc};
use tunnelkit_runtime::{Arch, BOARD, Channel, Handler, SharedMemory, cycles, pd_name, protection_domain, region_setvars, wait_for};
use tunnelkit_tunnel::{CallError, Connection};

const CONDUCTOR: Channel = Channel::new(0);
const DESIGNS: [Channel; 3] = [Channel::new(1), Channel::new(2), Channel::new(3)];
/// Calls before the barrier of each phase.
const WARMUP: u64 = 5;

/// Measurement window in counter cycles: 300 ms of QEMU's virtual clock on
/// AArch64 (`PMCCNTR_EL0` counts nanoseconds without icount); on x86_64 the
/// TSC follows the host's (2.6 GHz here), so about 300 ms too; on RISC-V
/// the `time` CSR counts at the board's timer rate (10 MHz on QEMU).
fn window() -> u64 {
    match BOARD.arch() {
        Arch::Aarch64 => 300_000_000,
        Arch::X86_64 => 800_000_000,
        Arch::Riscv64 => BOARD.timer_hz().unwrap_or(10_000_000) * 3 / 10,
    }
}

region_setvars!(
    /// The conductor's control region (read-write).
    static ctl_vaddr, ctl_size
);

protection_domain!(init);

struct Worker;

fn slot(k: usize, word: u64) -> u64 {
    64 + 64 * k as u64 + 8 * word
}

fn init() -> Worker {
    cycles::enable();
    let me = bench::index_from_name(pd_name().as_str()).expect("a worker's name ends with its core");
    let ctl = SharedMemory::from_setvars(&ctl_vaddr, &ctl_size).expect("the control region must be mapped");
    let mut clients: [svc::Client<Connection>; 3] =
        DESIGNS.map(|c| svc::Client::connect(c).unwrap_or_else(|e| panic!("channel {}: {e}", c.index())));
    let window = window();
    loop {
        wait_for(CONDUCTOR);
        let phase = ctl.load_acquire_u64(0).expect("ctl");
        let design = ctl.read_u64(8).expect("ctl") as usize;
        let n = ctl.read_u64(16).expect("ctl") as usize;
        let client = &mut clients[design.min(2)];
        let mut call = || client.work(&Units { n: THROUGHPUT_UNITS });
        for _ in 0..WARMUP {
            check(call());
        }
        ctl.store_release_u64(slot(me, 0), phase).expect("ctl");
        while (0..n).any(|k| ctl.load_acquire_u64(slot(k, 0)) != Ok(phase)) {
            core::hint::spin_loop();
        }
        let (start, mut completed, mut work_cycles) = (cycles::now(), 0u64, u64::MAX);
        let end = loop {
            let done = check(call());
            completed += 1;
            work_cycles = work_cycles.min(done.cycles);
            let now = cycles::now();
            if now - start >= window {
                break now;
            }
        };
        ctl.write_u64(slot(me, 2), completed).expect("ctl");
        ctl.write_u64(slot(me, 3), end - start).expect("ctl");
        ctl.write_u64(slot(me, 4), work_cycles).expect("ctl");
        ctl.store_release_u64(slot(me, 1), phase).expect("ctl");
        CONDUCTOR.notify().expect("the conductor channel notifies");
    }
}

fn check(r: Result<bench::Done, CallError>) -> bench::Done {
    r.unwrap_or_else(|e| panic!("work call failed: {e}"))
}

impl Handler for Worker {
    type Error = Infallible;
}
