//! The migration experiment (multicore): two callers, `mig0` on core 0 and
//! `mig1` on core 1, call one shared passive pod in strict alternation. Each
//! turn a caller makes one call into its own pod (which never moves: the
//! control, "first call after being woken"), then [`CALLS_PER_TURN`] null
//! tunnel calls into the shared pod: the first of them follows a call from
//! the other core, so the pod migrates to this core with it; the others come
//! from the same core as the call before. Then it hands the turn to the other
//! caller by notification and waits for it back. The two cores never call
//! the pod at the same time, so seL4 16's cross-core pod hang (a pod handed a
//! caller of another core while it serves one) cannot happen.
//!
//! `mig1` leaves its samples in the shared `samples` region; `mig0` prints,
//! per core and pooled, `bench migrate core=<0|1|all> kind=<wake|first|same>
//! samples=… min=… median=… max=…` (counter cycles per round trip), then
//! `bench: migration done`.
//!
//! Calls: `bench` on channel 1 (the shared pod) and 2 (this caller's own pod).
//! Notifies: channel 3 (the other caller).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::bench as svc;
use tunnelkit_runtime::{Channel, Handler, SharedMemory, cycles, debug_println, pd_name, protection_domain, region_setvars, wait_for};
use tunnelkit_tunnel::CallError;

const SHARED: Channel = Channel::new(1);
const OWN: Channel = Channel::new(2);
const HANDOVER: Channel = Channel::new(3);
/// Turns per caller that are kept.
const TURNS: usize = 300;
/// Turns per caller before those (warm-up, not kept).
const WARMUP_TURNS: usize = 20;
/// Calls into the shared pod per turn (the first one migrates it).
const CALLS_PER_TURN: usize = 3;
/// Same-core samples per caller.
const SAME: usize = TURNS * (CALLS_PER_TURN - 1);

/// Where each sample array of `mig1` lies in the `samples` region (bytes).
const WAKE_AT: u64 = 0;
const FIRST_AT: u64 = WAKE_AT + 8 * TURNS as u64;
const SAME_AT: u64 = FIRST_AT + 8 * TURNS as u64;

region_setvars!(
    /// The region `mig1` leaves its samples in (read-write in both callers).
    static samples_vaddr, samples_size
);

protection_domain!(init);

struct Migrate;

/// One caller's samples.
struct Samples {
    wake: [u64; TURNS],
    first: [u64; TURNS],
    same: [u64; SAME],
}

fn init() -> Migrate {
    cycles::enable();
    let name = pd_name();
    let leader = bench::index_from_name(name.as_str()) == Some(0);
    let region = SharedMemory::from_setvars(&samples_vaddr, &samples_size).expect("the samples region must be mapped");
    let mut shared = svc::Client::connect(SHARED).unwrap_or_else(|e| panic!("shared pod: {e}"));
    let mut own = svc::Client::connect(OWN).unwrap_or_else(|e| panic!("own pod: {e}"));
    let mut mine = Samples { wake: [0; TURNS], first: [0; TURNS], same: [0; SAME] };
    for turn in 0..WARMUP_TURNS + TURNS {
        if !leader {
            wait_for(HANDOVER);
        }
        let wake = time(|| own.null(&()));
        let first = time(|| shared.null(&()));
        let mut same = [0u64; CALLS_PER_TURN - 1];
        for s in same.iter_mut() {
            *s = time(|| shared.null(&()));
        }
        if let Some(t) = turn.checked_sub(WARMUP_TURNS) {
            mine.wake[t] = wake;
            mine.first[t] = first;
            mine.same[t * (CALLS_PER_TURN - 1)..(t + 1) * (CALLS_PER_TURN - 1)].copy_from_slice(&same);
        }
        if !leader && turn + 1 == WARMUP_TURNS + TURNS {
            store(&region, WAKE_AT, &mine.wake);
            store(&region, FIRST_AT, &mine.first);
            store(&region, SAME_AT, &mine.same);
        }
        HANDOVER.notify().expect("the handover channel notifies");
        if leader {
            wait_for(HANDOVER);
        }
    }
    if leader {
        // The last handover from mig1 came after it stored its samples.
        let mut other = Samples { wake: [0; TURNS], first: [0; TURNS], same: [0; SAME] };
        load(&region, WAKE_AT, &mut other.wake);
        load(&region, FIRST_AT, &mut other.first);
        load(&region, SAME_AT, &mut other.same);
        report("0", &mut mine.wake, &mut mine.first, &mut mine.same);
        report("1", &mut other.wake, &mut other.first, &mut other.same);
        let mut wake = [0u64; 2 * TURNS];
        let mut first = [0u64; 2 * TURNS];
        let mut same = [0u64; 2 * SAME];
        wake[..TURNS].copy_from_slice(&mine.wake);
        wake[TURNS..].copy_from_slice(&other.wake);
        first[..TURNS].copy_from_slice(&mine.first);
        first[TURNS..].copy_from_slice(&other.first);
        same[..SAME].copy_from_slice(&mine.same);
        same[SAME..].copy_from_slice(&other.same);
        report("all", &mut wake, &mut first, &mut same);
        debug_println!("bench: migration done");
    }
    Migrate
}

impl Handler for Migrate {
    type Error = Infallible;
}

/// Round-trip cycles of one call.
fn time(call: impl FnOnce() -> Result<(), CallError>) -> u64 {
    let start = cycles::now();
    call().unwrap_or_else(|e| panic!("call failed: {e}"));
    cycles::now() - start
}

fn store(region: &SharedMemory, at: u64, samples: &[u64]) {
    for (i, s) in samples.iter().enumerate() {
        region.write_u64(at + 8 * i as u64, *s).expect("the samples region is large enough");
    }
    region.store_release_u64(at, samples[0]).expect("the samples region is large enough");
}

fn load(region: &SharedMemory, at: u64, samples: &mut [u64]) {
    let _ = region.load_acquire_u64(at);
    for (i, s) in samples.iter_mut().enumerate() {
        *s = region.read_u64(at + 8 * i as u64).expect("the samples region is large enough");
    }
}

fn report(core: &str, wake: &mut [u64], first: &mut [u64], same: &mut [u64]) {
    for (kind, samples) in [("wake", wake), ("first", first), ("same", same)] {
        let n = samples.len();
        let (min, median, max) = cycles::summarize(samples);
        debug_println!("bench migrate core={core} kind={kind} samples={n} min={min} median={median} max={max}");
    }
}
