//! The pod on tunnelkit's runtime: answers every protected call with its
//! label + 1.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use smp_repro::answer;
use tunnelkit_runtime::{Channel, Handler, MessageInfo, protection_domain};

protection_domain!(init);

struct Pong;

fn init() -> Pong {
    Pong
}

impl Handler for Pong {
    type Error = Infallible;

    fn protected(&mut self, _channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(MessageInfo::with_label(answer(msg_info.label()), 0))
    }
}
