//! The benchmark server. The same image is the tunnel pod (passive), the
//! plain-IPC server (active, pp channel) and the async server (active, ring
//! channel), and the further pods of a nested chain; system.xml decides.
//!
//! Serves: `bench` on every channel, by protected call or async ring.
//! Calls: `bench` on channel 5 (the next pod) for nested calls.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::{Depth, Done, Units, bench as svc, spin};
use tunnelkit_runtime::{Channel, ChannelSet, Handler, MessageInfo, cycles, protection_domain};
use tunnelkit_tunnel::{CallError, Caller, Connection, Window};

/// The next pod of a nested chain.
const NEXT: Channel = Channel::new(5);
/// Bytes read per copy out of a lent window.
const CHUNK: usize = 256;

protection_domain!(init);

struct Pod {
    next: Option<svc::Client<Connection>>,
}

fn init() -> Pod {
    cycles::enable();
    Pod { next: svc::Client::connect(NEXT).ok() }
}

impl svc::Server for Pod {
    fn null(&mut self, _: Caller, _: ()) -> Result<(), CallError> {
        Ok(())
    }
    fn echo1(&mut self, _: Caller, w: [u64; 1]) -> Result<[u64; 1], CallError> {
        Ok(w)
    }
    fn echo2(&mut self, _: Caller, w: [u64; 2]) -> Result<[u64; 2], CallError> {
        Ok(w)
    }
    fn echo4(&mut self, _: Caller, w: [u64; 4]) -> Result<[u64; 4], CallError> {
        Ok(w)
    }
    fn echo8(&mut self, _: Caller, w: [u64; 8]) -> Result<[u64; 8], CallError> {
        Ok(w)
    }
    fn echo16(&mut self, _: Caller, w: [u64; 16]) -> Result<[u64; 16], CallError> {
        Ok(w)
    }
    fn echo32(&mut self, _: Caller, w: [u64; 32]) -> Result<[u64; 32], CallError> {
        Ok(w)
    }
    fn echo64(&mut self, _: Caller, w: [u64; 64]) -> Result<[u64; 64], CallError> {
        Ok(w)
    }

    fn lent(&mut self, caller: Caller, window: Window) -> Result<u64, CallError> {
        let region = caller.lent()?.window(window)?;
        let mut buf = [0u8; CHUNK];
        let (mut sum, mut at) = (0u64, 0u32);
        while at < window.len {
            let n = CHUNK.min((window.len - at) as usize);
            region.read(at, &mut buf[..n])?;
            sum = buf[..n].chunks(8).fold(sum, |s, c| s.wrapping_add(c.iter().fold(0u64, |w, b| w << 8 | u64::from(*b))));
            at += n as u32;
        }
        Ok(sum)
    }

    fn nested(&mut self, _: Caller, depth: Depth) -> Result<(), CallError> {
        if depth.remaining <= 1 {
            return Ok(());
        }
        let next = self.next.as_mut().ok_or(CallError::Refused(depth.remaining))?;
        next.nested(&Depth { remaining: depth.remaining - 1 })
    }

    fn work(&mut self, _: Caller, units: Units) -> Result<Done, CallError> {
        let start = cycles::now();
        let value = spin(units.n);
        Ok(Done { value, cycles: cycles::now() - start })
    }
}

impl Handler for Pod {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(svc::serve(self, channel, msg_info))
    }

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        svc::serve_notified(self, channels);
        Ok(())
    }
}
