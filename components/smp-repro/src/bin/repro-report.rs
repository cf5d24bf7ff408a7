//! The reproducer's reporter: once every ping path on its channels has
//! notified, prints `tunnelkit: smp-repro passed`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{ChannelSet, Handler, debug_println, notifiable_channels, protection_domain};

protection_domain!(init);

struct Reporter {
    expected: u64,
    seen: u64,
}

fn init() -> Reporter {
    let expected = notifiable_channels().iter().fold(0u64, |m, c| m | 1 << c.index());
    Reporter { expected, seen: 0 }
}

impl Handler for Reporter {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        for c in channels.iter() {
            self.seen |= 1 << c.index();
        }
        if self.seen & self.expected == self.expected {
            debug_println!("tunnelkit: smp-repro passed");
        }
        Ok(())
    }
}
