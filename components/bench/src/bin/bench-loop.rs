//! The event loop alone: a passive pod on the runtime whose every protected
//! call is answered with an empty reply, without a service's dispatch. What
//! a raw call into it costs above the raw floor is the event loop and its
//! call-state bookkeeping (the crossing split of `bench-client`).
//!
//! Serves: any protected call, on any channel.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{Channel, Handler, MessageInfo, protection_domain};

protection_domain!(init);

struct Loop;

fn init() -> Loop {
    Loop
}

impl Handler for Loop {
    type Error = Infallible;

    fn protected(&mut self, _: Channel, _: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(MessageInfo::with_label(0, 0))
    }
}
