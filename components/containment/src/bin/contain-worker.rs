//! Another path: calls its own pod instance in a loop and counts the work
//! units it completes in each measurement phase of the injector, in its slot
//! of the shared page (its slot is its pod's channel id).
//!
//! Calls: `inject` on the channel its `<end setvar_id="pod_channel">` names.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use containment::{Phase, Work, inject, page};
use tunnelkit_runtime::{Channel, Handler, SharedMemory, protection_domain, region_setvars, setvar};

/// Rounds of one work unit (a few tens of microseconds).
const ROUNDS: u64 = 2000;

setvar!(
    /// The channel to this path's pod (`<end setvar_id="pod_channel">`).
    static pod_channel
);
region_setvars!(
    /// The shared measurement page.
    static containment_page, containment_page_size
);

protection_domain!(init);

struct Worker;

fn init() -> Worker {
    let shared = SharedMemory::from_setvars(&containment_page, &containment_page_size).expect("the containment page is mapped");
    let slot = pod_channel.get();
    let mut pod = inject::Client::on(Channel::new(slot as u8));
    let mut completed = [0u64; 4];
    loop {
        if let Err(e) = pod.work(&Work { rounds: ROUNDS }) {
            panic!("work call failed: {e}");
        }
        let phase = Phase::from_word(shared.load_acquire_u64(page::PHASE).unwrap_or(0));
        if matches!(phase, Phase::Baseline | Phase::Injecting) {
            completed[phase as usize] += 1;
            let _ = shared.store_release_u64(page::completed(slot, phase as u64), completed[phase as usize]);
        }
    }
}

impl Handler for Worker {
    type Error = Infallible;
}
