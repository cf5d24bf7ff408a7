//! A child PD that faults on its first run. Once its parent has restarted it,
//! it says hello, and answers the parent's (deferred) notification.
//!
//! Notifies: the parent on channel 0.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;
use core::sync::atomic::{AtomicU32, Ordering};

use tunnelkit_runtime::{Channel, ChannelSet, Handler, debug_println, pd_name, protection_domain, raise_fault};

const PARENT: Channel = Channel::new(0);

/// Runs so far; memory survives a restart, which only resets the registers.
static RUNS: AtomicU32 = AtomicU32::new(0);

protection_domain!(init);

struct Faulty;

fn init() -> Faulty {
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    if run == 0 {
        debug_println!("{}: first run, raising a fault", pd_name().as_str());
        raise_fault();
    }
    debug_println!("{}: restarted (run {})", pd_name().as_str(), run + 1);
    PARENT.notify().expect("channel 0 to the parent");
    Faulty
}

impl Handler for Faulty {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        if channels.contains(PARENT) {
            debug_println!("{}: parent's deferred notification arrived", pd_name().as_str());
            PARENT.notify().expect("channel 0 to the parent");
        }
        Ok(())
    }
}
