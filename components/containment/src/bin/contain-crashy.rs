//! An active PD that faults in `init` every time it starts (a VM fault: it
//! reads an unmapped address). Its supervisor's restart policy
//! (`<?tunnelkit restart="hold" …?>`) must stop the crash loop: after its
//! allowed restarts it is held, and does nothing from then on.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{Handler, protection_domain, raise_vm_fault};

protection_domain!(init);

struct Crashy;

fn init() -> Crashy {
    raise_vm_fault()
}

impl Handler for Crashy {
    type Error = Infallible;
}
