//! The reproducer's reporter: once every ping path on its channels has
//! notified, prints `tunnelkit: smp-repro passed`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tunnelkit_runtime::{PassReporter, protection_domain};

protection_domain!(init);

fn init() -> PassReporter {
    PassReporter::new("smp-repro")
}
