//! Classifier pod: parses a frame the caller lends (Ethernet, ARP, IPv4,
//! ICMP, UDP; every length and checksum checked) and says what it is. Runs
//! on the caller's budget (the driver's receive path).
//!
//! Serves: `classifier` on any channel whose caller lends a region.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use net_pods::{BATCH, FrameBatch, FrameRef, GUEST_IP, Verdict, Verdicts, classifier};
use netstack::respond::{Drop, Host, MAX_FRAME, classify};
use tunnelkit_runtime::{Channel, ChannelSet, Handler, MessageInfo, protection_domain};
use tunnelkit_tunnel::{CallError, Caller};

protection_domain!(init);

struct Classifier {
    frame: [u8; MAX_FRAME],
}

fn init() -> Classifier {
    Classifier { frame: [0; MAX_FRAME] }
}

impl classifier::Server for Classifier {
    fn classify(&mut self, caller: Caller, request: FrameRef) -> Result<Verdict, CallError> {
        let len = request.window.len as usize;
        if len > MAX_FRAME {
            return Ok(Verdict::of(Err(Drop::Oversized)));
        }
        caller.lent()?.read(request.window, 0, &mut self.frame[..len])?;
        Ok(Verdict::of(classify(&Host { mac: request.mac, ip: GUEST_IP }, &self.frame[..len])))
    }

    fn classify_batch(&mut self, caller: Caller, request: FrameBatch) -> Result<Verdicts, CallError> {
        let count = (request.count as usize).min(BATCH);
        let lent = caller.lent()?;
        let host = Host { mac: request.mac, ip: GUEST_IP };
        let mut out = Verdicts::empty();
        out.count = count as u32;
        for (window, verdict) in request.windows[..count].iter().zip(&mut out.verdicts) {
            let len = window.len as usize;
            *verdict = if len > MAX_FRAME {
                Verdict::of(Err(Drop::Oversized))
            } else {
                lent.read(*window, 0, &mut self.frame[..len])?;
                Verdict::of(classify(&host, &self.frame[..len]))
            };
        }
        Ok(out)
    }
}

impl Handler for Classifier {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(classifier::serve(self, channel, msg_info))
    }

    /// Async callers: answer what they queued.
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        classifier::serve_notified(self, channels);
        Ok(())
    }
}
