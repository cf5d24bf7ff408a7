//! The floor: a passive server with no runtime in its path. After the
//! passive handshake with the monitor it answers every call with an empty
//! reply, straight from `seL4_ReplyRecv`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tunnelkit_runtime::raw_protection_domain;
use tunnelkit_sys::syscall::{nb_send_recv, reply_recv};
use tunnelkit_sys::{MessageInfo, cap};

raw_protection_domain!(main);

fn main() -> ! {
    // Tell the monitor we are ready to become passive, and wait for the first call.
    nb_send_recv(cap::MONITOR_EP, MessageInfo::with_label(0, 0), cap::INPUT, cap::REPLY);
    loop {
        reply_recv(cap::INPUT, MessageInfo::with_label(0, 0), cap::REPLY);
    }
}
