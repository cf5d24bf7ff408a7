//! Echo pod: a passive PD serving `echo` on channel 0.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use runtime_checks::{Served, Words, echo};
use tunnelkit_runtime::{Channel, Handler, MessageInfo, protection_domain};
use tunnelkit_tunnel::{CallError, Caller};

protection_domain!(init);

struct Echo {
    calls: u64,
}

fn init() -> Echo {
    Echo { calls: 0 }
}

impl echo::Server for Echo {
    fn reverse(&mut self, _caller: Caller, mut words: Words) -> Result<Words, CallError> {
        self.calls += 1;
        words.w.reverse();
        Ok(words)
    }

    fn served(&mut self, _caller: Caller, _: ()) -> Result<Served, CallError> {
        self.calls += 1;
        Ok(Served { calls: self.calls - 1 })
    }
}

impl Handler for Echo {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(echo::serve(self, channel, msg_info))
    }
}
