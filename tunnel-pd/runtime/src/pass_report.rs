//! The pass-line reporter: a PD that waits until every channel it may be
//! notified on has notified once (each client path notifies after its
//! checks passed) and then prints `tunnelkit: <what> passed`, the line
//! `tunnelkit run` passes on.

use core::convert::Infallible;

use crate::{ChannelSet, Handler, debug_println, notifiable_channels};

/// The reporter's state: which of its channels have notified.
pub struct PassReporter {
    what: &'static str,
    expected: u64,
    seen: u64,
}

impl PassReporter {
    /// A reporter that prints `tunnelkit: {what} passed` once every
    /// notifiable channel of this PD has notified.
    pub fn new(what: &'static str) -> Self {
        let expected = notifiable_channels().bits();
        debug_println!("{}: waiting for {} client paths", crate::pd_name().as_str(), expected.count_ones());
        Self { what, expected, seen: 0 }
    }
}

impl Handler for PassReporter {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        let before = self.seen & self.expected == self.expected;
        self.seen |= channels.bits();
        if !before && self.seen & self.expected == self.expected {
            debug_println!("tunnelkit: {} passed", self.what);
        }
        Ok(())
    }
}
