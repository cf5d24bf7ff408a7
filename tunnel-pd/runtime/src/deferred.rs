//! The one deferred action of a PD: a signal (a notification, an IRQ
//! acknowledgement, the passive handshake with the monitor) queued during an
//! entry point and sent with the event loop's next system call, folded into
//! it as libmicrokit does (`seL4_NBSendRecv`), or sent before the reply
//! where the loop must answer a call first. One is kept; the last one wins.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tunnelkit_sys::{MessageInfo, cap};

/// The deferred signal: a cap (0 = none) and the message sent on it.
static CAP: AtomicU64 = AtomicU64::new(0);
static INFO: AtomicU64 = AtomicU64::new(0);

/// Set when the event loop has more to do than answer and receive: a
/// deferred signal here, or notifications `wait_for` kept. The loop's fast
/// path tests only this; its slow path clears it and looks at each.
static SLOW_PATH: AtomicBool = AtomicBool::new(false);

/// Sends the event loop through its slow path next time.
pub(crate) fn take_slow_path() {
    SLOW_PATH.store(true, Ordering::Relaxed);
}

/// Whether the event loop must take its slow path.
#[inline(always)]
pub(crate) fn slow_path() -> bool {
    SLOW_PATH.load(Ordering::Relaxed)
}

/// Clears [`slow_path`] (the slow path then looks at every kind of work).
pub(crate) fn clear_slow_path() {
    SLOW_PATH.store(false, Ordering::Relaxed);
}

/// Queues a signal to send with the loop's next system call (last one wins).
pub(crate) fn defer(cap: u64, info: MessageInfo) {
    CAP.store(cap, Ordering::Relaxed);
    INFO.store(info.into_word(), Ordering::Relaxed);
    take_slow_path();
}

/// Drops what is queued (a restart drops the interrupted call's signal with its work).
pub(crate) fn drop_pending() {
    CAP.store(0, Ordering::Relaxed);
}

/// Takes what is queued.
pub(crate) fn take() -> Option<(u64, MessageInfo)> {
    // A plain load first: the common case (nothing deferred) needs no
    // read-modify-write (single-threaded PD; atomics only to stay safe Rust).
    if CAP.load(Ordering::Relaxed) == 0 {
        return None;
    }
    match CAP.swap(0, Ordering::Relaxed) {
        0 => None,
        cap => Some((cap, MessageInfo::from_word(INFO.load(Ordering::Relaxed)))),
    }
}

/// Traces a deferred signal as it is sent, if it is a notification.
pub(crate) fn trace(cap: u64) {
    if crate::trace::ENABLED && (cap::notification(0)..=cap::notification(61)).contains(&cap) {
        crate::trace::event!(Notify, (cap - cap::notification(0)) as u8, 0, 0, 0);
    }
}
