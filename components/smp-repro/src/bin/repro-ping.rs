//! A ping path on tunnelkit's runtime: [`smp_repro::CALLS`] protected calls
//! into the pod through `Channel::pp_call`, each answer checked.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use smp_repro::{CALLS, POD, PROGRESS_EVERY, REPORT, answer};
use tunnelkit_runtime::{Channel, Handler, MessageInfo, debug_println, pd_name, protection_domain};

protection_domain!(init);

struct Ping;

fn init() -> Ping {
    let name = pd_name();
    for i in 1..=CALLS {
        let reply = Channel::new(POD).pp_call(MessageInfo::with_label(i, 0)).expect("the pod channel is a pp channel");
        assert_eq!(reply.label(), answer(i), "call {i}: wrong answer");
        if i % PROGRESS_EVERY == 0 {
            debug_println!("{}: {i}/{CALLS} calls answered", name.as_str());
        }
    }
    Channel::new(REPORT).notify().expect("the report channel notifies");
    Ping
}

impl Handler for Ping {
    type Error = Infallible;
}
