//! A ping path with no runtime code in its calls: raw `seL4_Call` on the
//! pod's endpoint cap, each answer checked; then a raw signal to the reporter.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use smp_repro::{CALLS, POD, PROGRESS_EVERY, REPORT, answer};
use tunnelkit_runtime::{debug_println, pd_name, raw_protection_domain};
use tunnelkit_sys::syscall::{call, signal, wait};
use tunnelkit_sys::{MessageInfo, cap};

raw_protection_domain!(main);

fn main() -> ! {
    for i in 1..=CALLS {
        let reply = call(cap::endpoint(POD), MessageInfo::with_label(i, 0));
        assert_eq!(reply.label(), answer(i), "call {i}: wrong answer");
        if i % PROGRESS_EVERY == 0 {
            debug_println!("{}: {i}/{CALLS} calls answered", pd_name().as_str());
        }
    }
    signal(cap::notification(REPORT));
    loop {
        wait(cap::INPUT);
    }
}
