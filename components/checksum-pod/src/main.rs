//! Checksum pod: a passive PD computing CRC-32 over windows its callers lend.
//!
//! Serves: `checksum` on channels 0 (encryption pod) and 1 (its active twin);
//! a call on any other channel gets `WrongChannel`.
//! Calls: nothing.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use demo_services::cipher::Crc32;
use demo_services::{ChecksumReply, checksum};
use tunnelkit_runtime::{Channel, Handler, MessageInfo, debug_println, pd_name, protection_domain};
use tunnelkit_tunnel::{CallError, Caller, Window};

/// Channels whose callers may use the service (see system.xml).
const CALLERS: [Channel; 2] = [Channel::new(0), Channel::new(1)];
/// Bytes hashed per copy out of the lent region.
const CHUNK: usize = 256;

protection_domain!(init);

struct ChecksumPod;

fn init() -> ChecksumPod {
    debug_println!("{}: ready", pd_name().as_str());
    ChecksumPod
}

impl checksum::Server for ChecksumPod {
    fn crc32(&mut self, caller: Caller, window: Window) -> Result<ChecksumReply, CallError> {
        let lent = caller.lent()?;
        let mut crc = Crc32::default();
        let mut buf = [0u8; CHUNK];
        let mut at = 0;
        while at < window.len {
            let n = CHUNK.min((window.len - at) as usize);
            lent.read(window, at, &mut buf[..n])?;
            crc.update(&buf[..n]);
            at += n as u32;
        }
        Ok(ChecksumReply { crc32: crc.finish(), len: window.len })
    }
}

impl Handler for ChecksumPod {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(checksum::serve_on(self, &CALLERS, channel, msg_info))
    }
}
