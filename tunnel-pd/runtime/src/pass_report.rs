//! The pass-line reporter: a PD with one channel per client path (its end
//! keeps the default `notify="true"`, which is how it knows the channels:
//! Microkit patches in the channels a PD may notify through) that waits until
//! each has notified it once — a client notifies after its checks passed —
//! and then prints `tunnelkit: <what> passed`, the line `tunnelkit run`
//! passes on.

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
    /// channel this PD may notify through has notified it (with none: once
    /// any channel has).
    pub fn new(what: &'static str) -> Self {
        let expected = notifiable_channels().bits();
        debug_println!("{}: waiting for {} client paths", crate::pd_name().as_str(), expected.count_ones());
        Self { what, expected, seen: 0 }
    }
}

impl PassReporter {
    /// Every expected channel has notified (with none expected: any one has).
    fn done(&self) -> bool {
        if self.expected == 0 { self.seen != 0 } else { self.seen & self.expected == self.expected }
    }
}

impl Handler for PassReporter {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        let before = self.done();
        self.seen |= channels.bits();
        if !before && self.done() {
            debug_println!("tunnelkit: {} passed", self.what);
        }
        Ok(())
    }
}
