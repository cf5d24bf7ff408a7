//! The labels of the runtime's own replies, and the reasons a supervisor
//! gives when it restarts a PD (the first argument register at its entry).

/// The reply a restarted PD sends to the caller whose call it was serving
/// when it faulted (`CallError::Fault` to a tunnel caller).
pub const FAULT_LABEL: u64 = 0xF_FFFD;
/// That reply when the call overran its bound (`CallError::Overrun`).
pub const OVERRUN_LABEL: u64 = 0xF_FFFC;
/// The reply to a protected call that arrives while the PD blocks waiting
/// for an async reply (`CallError::Busy`).
pub const BUSY_LABEL: u64 = 0xF_FFFE;
/// The reply a held PD gives to every call (`CallError::Held`).
pub const HELD_LABEL: u64 = 0xF_FFFB;
/// The reply to a protected call a handler does not take (libmicrokit's
/// default; `CallError::WrongChannel`).
pub const UNHANDLED_PPC_LABEL: u64 = 0xF_FFFF;

/// Start reason a supervisor writes when it restarts a PD after a fault.
pub const RESTART_AFTER_FAULT: u64 = 1;
/// Start reason a supervisor writes when it restarts a PD whose call overran
/// its bound.
pub const RESTART_AFTER_OVERRUN: u64 = 2;
/// Flag a supervisor adds to the start reason when it *holds* the PD (its
/// restart policy is used up): the PD does not run `init` again; it answers
/// the interrupted call, if any, then every later call with [`HELD_LABEL`].
pub const RESTART_HELD: u64 = 0x100;

/// A start reason's name as traces and logs spell it (`boot`, `fault`,
/// `overrun`, `held_after_fault`, …; `unspecified`: none was given).
pub fn reason_name(r: u64) -> Option<&'static str> {
    Some(match r {
        0 => "boot",
        RESTART_AFTER_FAULT => "fault",
        RESTART_AFTER_OVERRUN => "overrun",
        0x101 => "held_after_fault",
        0x102 => "held_after_overrun",
        0xFFFF_FFFF => "unspecified",
        _ => return None,
    })
}

/// The labels of a tunnel service's error replies (`CallError` in `tunnelkit-tunnel`; 0 is
/// success).
pub mod service {
    /// The callee's service has no such operation.
    pub const UNKNOWN_OPERATION: u64 = 1;
    /// A request or response had the wrong number of words.
    pub const BAD_LENGTH: u64 = 2;
    /// No such service on this channel.
    pub const WRONG_CHANNEL: u64 = 3;
    /// A lent window outside the lent region.
    pub const BAD_WINDOW: u64 = 4;
    /// No region lent on the channel.
    pub const NO_LENT_REGION: u64 = 5;
    /// Refused with a service-defined code.
    pub const REFUSED: u64 = 6;
    /// The callee is busy.
    pub const BUSY: u64 = 7;
    /// The callee (or a pod it called) faulted.
    pub const FAULT: u64 = 8;
    /// The call overran its bound.
    pub const OVERRUN: u64 = 9;
    /// The callee is held by its supervisor.
    pub const HELD: u64 = 10;
}
