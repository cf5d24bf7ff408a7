//! [`CallError`] and its encoding in reply labels.

use core::fmt;
use tunnelkit_runtime::{
    BUSY_LABEL as RUNTIME_BUSY_LABEL, ChannelError, FAULT_LABEL as RUNTIME_FAULT_LABEL, HELD_LABEL as RUNTIME_HELD_LABEL, MessageInfo,
    OVERRUN_LABEL as RUNTIME_OVERRUN_LABEL, UNHANDLED_PPC_LABEL,
};

use crate::message::MessageRegisters;

/// Why a tunnel call did not produce a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The callee's service has no operation with this id.
    UnknownOperation {
        /// The operation id (message label) sent.
        op: u64,
    },
    /// A request or response had the wrong number of message words.
    BadLength {
        /// Words the receiver expected.
        expected: u64,
        /// Words that arrived.
        got: u64,
    },
    /// The callee serves no such service on the channel the call came in on.
    WrongChannel,
    /// A lent window does not fit in the region lent on the channel.
    BadWindow,
    /// No memory region is lent on the channel (no `tunnel_lend_*` setvars).
    NoLentRegion,
    /// The service refused the request with a service-defined code.
    Refused(u64),
    /// This PD may not call through the channel.
    Channel(ChannelError),
    /// The callee faulted while serving the call; its supervisor restarted
    /// it (fresh state) and it answered this error.
    Fault,
    /// The call ran out of the caller's budget inside the callee; its
    /// supervisor restarted the callee, which answered this error.
    Overrun,
    /// The callee could not take the call now (its async queue is full, or it
    /// was blocked waiting for its own async reply); try again.
    Busy,
    /// The callee is held by its supervisor: it faulted more often than its
    /// restart policy allows and serves no calls any more.
    Held,
    /// The reply carried a label tunnelkit does not define.
    BadReply(u64),
}

/// Reply labels (0 is success), shared with the host tools.
use tunnelkit_abi::reply::service as label;

impl CallError {
    /// Writes the error reply (label plus detail words) a callee sends.
    pub fn encode(self, mrs: &mut impl MessageRegisters) -> MessageInfo {
        let (l, detail): (u64, &[u64]) = match self {
            CallError::UnknownOperation { op } => (label::UNKNOWN_OPERATION, &[op]),
            CallError::BadLength { expected, got } => (label::BAD_LENGTH, &[expected, got]),
            CallError::WrongChannel => (label::WRONG_CHANNEL, &[]),
            CallError::BadWindow => (label::BAD_WINDOW, &[]),
            CallError::NoLentRegion => (label::NO_LENT_REGION, &[]),
            CallError::Refused(code) => (label::REFUSED, &[code]),
            CallError::Busy => (label::BUSY, &[]),
            CallError::Fault => (label::FAULT, &[]),
            CallError::Overrun => (label::OVERRUN, &[]),
            CallError::Held => (label::HELD, &[]),
            // Caller-side conditions never travel; report them as refusals.
            CallError::Channel(_) | CallError::BadReply(_) => (label::REFUSED, &[u64::MAX]),
        };
        for (i, w) in detail.iter().enumerate() {
            mrs.set(i, *w);
        }
        MessageInfo::with_label(l, detail.len())
    }

    /// Decodes an error reply (label ≠ 0) as the caller sees it.
    pub fn decode(info: MessageInfo, mrs: &impl MessageRegisters) -> CallError {
        let word = |i: usize| if info.length() > i { mrs.get(i) } else { 0 };
        match info.label() {
            label::UNKNOWN_OPERATION => CallError::UnknownOperation { op: word(0) },
            label::BAD_LENGTH => CallError::BadLength { expected: word(0), got: word(1) },
            label::WRONG_CHANNEL | UNHANDLED_PPC_LABEL => CallError::WrongChannel,
            label::BAD_WINDOW => CallError::BadWindow,
            label::NO_LENT_REGION => CallError::NoLentRegion,
            label::REFUSED => CallError::Refused(word(0)),
            label::BUSY | RUNTIME_BUSY_LABEL => CallError::Busy,
            label::FAULT | RUNTIME_FAULT_LABEL => CallError::Fault,
            label::OVERRUN | RUNTIME_OVERRUN_LABEL => CallError::Overrun,
            label::HELD | RUNTIME_HELD_LABEL => CallError::Held,
            other => CallError::BadReply(other),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::UnknownOperation { op } => write!(f, "unknown operation {op}"),
            CallError::BadLength { expected, got } => write!(f, "bad message length: expected {expected} words, got {got}"),
            CallError::WrongChannel => write!(f, "the callee serves no such service on this channel"),
            CallError::BadWindow => write!(f, "lent window outside the lent region"),
            CallError::NoLentRegion => write!(f, "no memory region lent on this channel"),
            CallError::Refused(code) => write!(f, "refused by the service (code {code})"),
            CallError::Busy => write!(f, "the callee is busy; try again"),
            CallError::Fault => write!(f, "the callee faulted and was restarted"),
            CallError::Overrun => write!(f, "the call overran the caller's budget; the callee was restarted"),
            CallError::Held => write!(f, "the callee is held by its supervisor (it faulted more often than its restart policy allows)"),
            CallError::Channel(e) => write!(f, "{e}"),
            CallError::BadReply(l) => write!(f, "reply with unknown label {l}"),
        }
    }
}
