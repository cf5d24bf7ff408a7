//! Prints `tunnelkit: chatter passed` once every chatter PD has notified it.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tunnelkit_runtime::{PassReporter, protection_domain};

protection_domain!(init);

fn init() -> PassReporter {
    PassReporter::new("chatter")
}
