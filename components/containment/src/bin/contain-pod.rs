//! A pod with fault-injection operations. Its state (a counter) lives in its
//! handler, so a restart gives it fresh state.
//!
//! Serves: `inject` on any channel. Calls: `inject` on channel 1 (the next
//! pod), for `forward_fault`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use containment::{Count, Work, inject};
use tunnelkit_runtime::{Channel, Handler, MessageInfo, protection_domain, raise_fault, raise_vm_fault};
use tunnelkit_tunnel::{CallError, Caller, Connection};

const NEXT: Channel = Channel::new(1);

protection_domain!(init);

struct Pod {
    count: u64,
    next: Option<inject::Client<Connection>>,
}

fn init() -> Pod {
    Pod { count: 0, next: inject::Client::connect(NEXT).ok() }
}

impl inject::Server for Pod {
    fn bump(&mut self, _: Caller, _: ()) -> Result<Count, CallError> {
        self.count += 1;
        Ok(Count { value: self.count })
    }

    fn fault(&mut self, _: Caller, _: ()) -> Result<(), CallError> {
        self.count = u64::MAX; // state a restart must throw away
        raise_fault()
    }

    fn panic(&mut self, _: Caller, _: ()) -> Result<(), CallError> {
        self.count = u64::MAX;
        panic!("injected panic")
    }

    fn spin(&mut self, _: Caller, _: ()) -> Result<(), CallError> {
        self.count = u64::MAX;
        let mut x = 1u64;
        loop {
            x = core::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
        }
    }

    fn vm_fault(&mut self, _: Caller, _: ()) -> Result<(), CallError> {
        self.count = u64::MAX;
        raise_vm_fault()
    }

    fn work(&mut self, _: Caller, w: Work) -> Result<Count, CallError> {
        let mut x = self.count;
        for i in 0..w.rounds {
            x = core::hint::black_box(x.rotate_left(7) ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        Ok(Count { value: x })
    }

    fn forward_fault(&mut self, _: Caller, _: ()) -> Result<(), CallError> {
        self.next.as_mut().ok_or(CallError::Refused(1))?.fault(&())
    }
}

impl Handler for Pod {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(inject::serve(self, channel, msg_info))
    }
}
