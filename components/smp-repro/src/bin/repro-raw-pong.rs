//! The pod with no runtime code: after the passive handshake with the
//! monitor it answers every call with label + 1, straight from
//! `seL4_ReplyRecv`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use smp_repro::answer;
use tunnelkit_runtime::raw_protection_domain;
use tunnelkit_sys::syscall::{nb_send_recv, reply_recv};
use tunnelkit_sys::{MessageInfo, cap};

raw_protection_domain!(main);

fn main() -> ! {
    // Tell the monitor we are ready to become passive, and wait for the first call.
    let mut got = nb_send_recv(cap::MONITOR_EP, MessageInfo::with_label(0, 0), cap::INPUT, cap::REPLY);
    loop {
        got = reply_recv(cap::INPUT, MessageInfo::with_label(answer(got.info.label()), 0), cap::REPLY);
    }
}
