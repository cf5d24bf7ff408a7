//! The reporter of a multicore benchmark system, on core 0 (the only core
//! whose PDs call the console pod). Each of its channels has a mailbox lent
//! on it; once every channel has notified, it prints their lines in channel
//! order, then `bench: reports done`. It waits for all before printing so
//! that the console pod never runs while a path on core 0 still measures.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::mailbox;
use tunnelkit_runtime::{ChannelSet, Handler, SharedMemory, debug_println, notifiable_channels, protection_domain};

protection_domain!(init);

struct Reporter {
    expected: u64,
    seen: u64,
}

fn init() -> Reporter {
    Reporter { expected: notifiable_channels().bits(), seen: 0 }
}

impl Handler for Reporter {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        self.seen |= channels.bits();
        if self.expected == 0 || self.seen & self.expected != self.expected {
            return Ok(());
        }
        for c in ChannelSet::from_badge(self.expected).iter() {
            match SharedMemory::lent(c.index()).as_ref().and_then(mailbox::take) {
                Some(line) => debug_println!("{}", line.as_str()),
                None => debug_println!("bench: no report on channel {}", c.index()),
            }
        }
        debug_println!("bench: reports done");
        self.expected = 0;
        Ok(())
    }
}
