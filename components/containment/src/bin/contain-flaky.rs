//! An active PD that faults once: at its first start it reads an unmapped
//! address (`raise_vm_fault`: a VM fault its supervisor logs with its name before restarting
//! it). Restarted, it records that in the shared page and idles.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use containment::page;
use tunnelkit_runtime::{
    Handler, RESTART_AFTER_FAULT, SharedMemory, debug_println, protection_domain, raise_vm_fault, region_setvars, start_reason,
};

region_setvars!(
    /// The shared measurement page.
    static containment_page, containment_page_size
);

protection_domain!(init);

struct Flaky;

fn init() -> Flaky {
    let shared = SharedMemory::from_setvars(&containment_page, &containment_page_size).expect("the containment page is mapped");
    if start_reason() == RESTART_AFTER_FAULT {
        debug_println!("flaky: restarted by its supervisor after a fault; running again");
        let _ = shared.store_release_u64(page::FLAKY_RESTARTED, 1);
    } else {
        raise_vm_fault();
    }
    Flaky
}

impl Handler for Flaky {
    type Error = Infallible;
}
