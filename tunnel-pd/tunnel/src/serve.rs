//! The two halves of one operation: [`call`] on the caller's side,
//! [`serve_operation`] on the callee's.

use tunnelkit_runtime::{Channel, MessageInfo};

use crate::error::CallError;
use crate::message::{Message, MessageRegisters, decode, encode};
use crate::transport::Transport;

/// Who made a call: the channel (this PD's end) it arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    channel: Channel,
}

impl Caller {
    /// A call that arrived on `channel`.
    pub const fn new(channel: Channel) -> Self {
        Self { channel }
    }

    /// The channel the call arrived on.
    pub const fn channel(&self) -> Channel {
        self.channel
    }

    /// The region the caller lends on this channel.
    #[cfg(target_os = "none")]
    pub fn lent(&self) -> Result<crate::lend::LentRegion, CallError> {
        crate::lend::LentRegion::on(self.channel)
    }
}

/// Calls operation `op` with `request` and decodes the response. Always
/// inlined: in a caller's code the request's size, the reply check and the
/// decode fold into a few instructions around the trap.
#[inline(always)]
pub fn call<Req: Message, Resp: Message>(transport: &mut impl Transport, op: u64, request: &Req) -> Result<Resp, CallError> {
    let words = encode(request, transport.registers());
    let reply = transport.call(MessageInfo::with_label(op, words))?;
    let mrs = transport.registers();
    // The usual answer (label 0, no caps, the response's length) is one
    // comparison of the whole info word.
    let expected = crate::message::words_of::<Resp>();
    if reply.into_word() == expected as u64 {
        return decode(expected, mrs);
    }
    match reply.label() {
        0 => decode(reply.length(), mrs),
        _ => Err(CallError::decode(reply, mrs)),
    }
}

/// Decodes a request, runs `handler` on it and encodes its response or error
/// as the reply. Never panics on bad input.
pub fn serve_operation<Req: Message, Resp: Message>(
    info: MessageInfo,
    mrs: &mut impl MessageRegisters,
    handler: impl FnOnce(Req) -> Result<Resp, CallError>,
) -> MessageInfo {
    let result = decode::<Req>(info.length(), mrs).and_then(handler);
    match result {
        Ok(response) => MessageInfo::with_label(0, encode(&response, mrs)),
        Err(e) => e.encode(mrs),
    }
}
