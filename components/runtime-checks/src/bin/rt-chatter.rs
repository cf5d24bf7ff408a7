//! Prints [`LINES`] long lines as fast as it can, each self-checking
//! (`chatter <pd> <i> <payload> <sum>`: the payload is derived from the PD's
//! name and `i`, the sum from both), then notifies its reporter on channel 0.
//! Several of these at once, preempted by their budgets and on several cores,
//! show whether lines stay whole (`tests/qemu.rs`).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;
use core::fmt;

use tunnelkit_runtime::{Channel, Handler, debug_println, pd_name, protection_domain};

/// Lines printed.
const LINES: u64 = 150;
/// Payload characters per line.
const PAYLOAD: usize = 96;
const REPORTER: Channel = Channel::new(0);

protection_domain!(init);

struct Chatter;

/// The payload of line `i` of the PD whose name's bytes sum to `seed`.
struct Payload {
    seed: u64,
    i: u64,
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for k in 0..PAYLOAD as u64 {
            let c = b'a' + ((self.seed + self.i * 7 + k * 13) % 26) as u8;
            fmt::Write::write_char(f, char::from(c))?;
        }
        Ok(())
    }
}

fn init() -> Chatter {
    let name = pd_name();
    let seed: u64 = name.as_str().bytes().map(u64::from).sum();
    for i in 0..LINES {
        debug_println!("chatter {} {i} {} {}", name.as_str(), Payload { seed, i }, (seed * 31 + i) % 9973);
    }
    REPORTER.notify().unwrap_or_else(|e| panic!("cannot notify the reporter: {e}"));
    Chatter
}

impl Handler for Chatter {
    type Error = Infallible;
}
