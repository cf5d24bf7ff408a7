//! Runtime checks on seL4: a parent PD that
//! - learns its child's id and channel through setvars,
//! - receives the child's fault and restarts it,
//! - exchanges notifications with it (one of them deferred),
//! - tunnels 64-word messages into the echo pod and checks the errors,
//!
//! then prints `tunnelkit: runtime checks passed`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::fmt;

use runtime_checks::{Served, Words, echo};
use tunnelkit_runtime::{Channel, ChannelSet, Child, Handler, MessageInfo, debug_println, protection_domain, setvar};
use tunnelkit_tunnel::{CallError, IpcBuffer};

/// The echo pod.
const ECHO: Channel = Channel::new(1);
/// seL4 fault type of an undefined instruction.
const USER_EXCEPTION: u64 = 3;

setvar!(
    /// Our channel id towards the child (`<end setvar_id>`).
    static faulty_channel
);
setvar!(
    /// The child's id (child `<protection_domain setvar_id>`).
    static faulty_child_id
);

protection_domain!(init);

struct Supervisor {
    child: Child,
    channel: Channel,
    faults: u32,
    hellos: u32,
}

fn init() -> Supervisor {
    let (child, channel) = (faulty_child_id.get() as u8, faulty_channel.get() as u8);
    debug_println!("supervisor: child id {child} and channel {channel} (from setvars)");
    Supervisor { child: Child::new(child), channel: Channel::new(channel), faults: 0, hellos: 0 }
}

/// Why a check failed.
struct Failed(&'static str, Option<CallError>);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(e) => write!(f, "{}: {e}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Handler for Supervisor {
    type Error = Failed;

    fn fault(&mut self, child: Child, msg_info: MessageInfo) -> Result<Option<MessageInfo>, Failed> {
        if child != self.child || msg_info.label() != USER_EXCEPTION {
            return Err(Failed("unexpected fault", None));
        }
        self.faults += 1;
        debug_println!("supervisor: child {} faulted (user exception), restarting it", child.index());
        child.restart_from_entry().map_err(|_| Failed("TCB_WriteRegisters failed", None))?;
        Ok(None)
    }

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Failed> {
        if !channels.contains(self.channel) {
            return Err(Failed("notification on an unexpected channel", None));
        }
        self.hellos += 1;
        match self.hellos {
            1 if self.faults == 1 => {
                debug_println!("supervisor: restarted child said hello; answering with a deferred notification");
                self.channel.deferred_notify().map_err(|_| Failed("deferred notify refused", None))
            }
            2 => {
                check_echo()?;
                debug_println!("supervisor: 64-word tunnel messages and length errors ok");
                debug_println!("tunnelkit: runtime checks passed");
                Ok(())
            }
            _ => Err(Failed("notifications out of order", None)),
        }
    }
}

fn check_echo() -> Result<(), Failed> {
    let mut pod = echo::Client::on(ECHO);
    let mut words = Words { w: [0; 64] };
    for (i, w) in words.w.iter_mut().enumerate() {
        *w = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    for round in 0..3 {
        let back = pod.reverse(&words).map_err(|e| Failed("reverse", Some(e)))?;
        if back.w.iter().rev().ne(words.w.iter()) {
            return Err(Failed("reverse returned wrong words", None));
        }
        words.w[round] ^= 0xff;
    }
    if pod.served(&()) != Ok(Served { calls: 3 }) {
        return Err(Failed("the pod lost its state between calls", None));
    }
    // The typed API cannot build a message over 64 words (compile-time
    // check); a raw protected call can, and the pod must refuse it.
    let reply = ECHO.pp_call(MessageInfo::with_label(echo::ops::reverse, 70)).map_err(|_| Failed("pp call refused", None))?;
    let error = CallError::decode(reply, &IpcBuffer);
    if reply.label() == 0 || error != (CallError::BadLength { expected: 64, got: 70 }) {
        return Err(Failed("a 70-word request was not refused", Some(error)));
    }
    Ok(())
}
