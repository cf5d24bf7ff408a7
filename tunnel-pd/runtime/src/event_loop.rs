//! The Microkit event loop (libmicrokit 2.3 semantics, §6.6 of the ABI notes).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tunnelkit_sys::memory::SharedMemory;
use tunnelkit_sys::supervision::{CallState, call_state_page};

use crate::channel::{Channel, ChannelSet, Child};
use crate::handler::Handler;
use tunnelkit_sys::labels::LABELS;
use tunnelkit_sys::syscall::{self, Received};
use tunnelkit_sys::{MessageInfo, cap, symbols};

/// The one deferred signal: a cap (0 = none) and the message sent on it.
static DEFERRED_CAP: AtomicU64 = AtomicU64::new(0);
static DEFERRED_INFO: AtomicU64 = AtomicU64::new(0);

/// Queues a signal to send with the loop's next system call (last one wins).
pub(crate) fn defer(cap: u64, info: MessageInfo) {
    DEFERRED_CAP.store(cap, Ordering::Relaxed);
    DEFERRED_INFO.store(info.into_word(), Ordering::Relaxed);
}

/// Notification bits that arrived while [`wait_for`] blocked for another
/// channel; the loop delivers them to `notified` before receiving again.
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Set once the loop has started: a later start is a restart by a supervisor.
static STARTED: AtomicBool = AtomicBool::new(false);
/// The call-state word ([`CallState`]): odd sequence while a protected call
/// is being served (its caller waits for a reply). Kept across restarts, and
/// mirrored to the call-state page when the system maps one, for the
/// supervisor's watchdog.
static CALL: AtomicU64 = AtomicU64::new(0);

fn in_call() -> bool {
    CallState(CALL.load(Ordering::Relaxed)).in_call()
}

/// Publishes the call state: in [`CALL`] (which a restart reads) and, when
/// the system maps a call-state page, there for the supervisor's watchdog.
fn publish(state: CallState, page: Option<SharedMemory>) {
    CALL.store(state.0, Ordering::Relaxed);
    if let Some(page) = page {
        // The page is 8-byte aligned and at least 8 bytes: cannot fail.
        let _ = page.store_release_u64(0, state.0);
    }
}

/// The event loop's copy of the call state, kept in registers: starting
/// and ending a call cost a few instructions and one store (two when
/// watched).
struct CallTracker {
    state: CallState,
    page: Option<SharedMemory>,
}

impl CallTracker {
    fn new() -> Self {
        Self { state: CallState(CALL.load(Ordering::Relaxed)), page: call_page() }
    }

    /// A protected call on `channel` starts being served.
    #[inline(always)]
    fn begin(&mut self, channel: u8) {
        self.state = self.state.begin(channel);
        publish(self.state, self.page);
    }

    /// The answer to the call being served is decided and about to be
    /// sent: the call is over for the watchdog (between here and the send
    /// the PD can neither fault nor overrun: it only makes the system call).
    #[inline(always)]
    fn end(&mut self) {
        self.state = self.state.end();
        publish(self.state, self.page);
    }
}

/// The call-state page (`tunnelkit_call_state` setvar), if mapped.
fn call_page() -> Option<SharedMemory> {
    call_state_page()
}

/// Whether this PD publishes its call state (a watched pod), read from its
/// setvar at start: only then does it mark its own nested calls.
static WATCHED: AtomicBool = AtomicBool::new(false);

/// Whether this PD is watched. A watched PD marks (around a protected call
/// it makes, [`watched_pp_call`]) that it waits on a call of its own while
/// serving one: its supervisor must not restart it then (a thread blocked on
/// a reply holds no scheduling context). Other PDs pay one load and a branch.
#[inline(always)]
pub(crate) fn watched() -> bool {
    WATCHED.load(Ordering::Relaxed)
}

/// A protected call made by a watched PD: marked nested around it.
#[cold]
#[inline(never)]
pub(crate) fn watched_pp_call(endpoint: u64, msg_info: MessageInfo) -> MessageInfo {
    mark_nested_watched(true);
    let reply = syscall::call(endpoint, msg_info);
    mark_nested_watched(false);
    reply
}

fn mark_nested_watched(nested: bool) {
    let state = CallState(CALL.load(Ordering::Relaxed));
    if state.in_call() {
        publish(state.with_nested(nested), call_page());
    }
}

/// Label of the reply a restarted PD sends to the caller whose call it was
/// serving when it faulted (the tunnel layer reports it as a fault).
pub const FAULT_LABEL: u64 = 0xF_FFFD;
/// Label of that reply when the call overran its bound (the supervisor's
/// watchdog stopped it).
pub const OVERRUN_LABEL: u64 = 0xF_FFFC;

/// Start reason a supervisor writes when it restarts a PD after a fault.
pub const RESTART_AFTER_FAULT: u64 = 1;
/// Start reason a supervisor writes when it restarts a PD whose call overran
/// its bound.
pub const RESTART_AFTER_OVERRUN: u64 = 2;

/// Why this start happened (0: boot).
static START_REASON: AtomicU64 = AtomicU64::new(0);

/// Why this start happened: 0 at boot, else the reason the supervisor gave
/// when it restarted this PD ([`RESTART_AFTER_FAULT`], [`RESTART_AFTER_OVERRUN`]).
pub fn start_reason() -> u64 {
    START_REASON.load(Ordering::Relaxed)
}

/// Records why this start happened, before `init` runs: the first restart
/// during a call fixes what its caller is told.
#[doc(hidden)]
pub fn set_start_reason(reason: u64) {
    START_REASON.store(reason, Ordering::Relaxed);
    WATCHED.store(call_page().is_some(), Ordering::Relaxed);
    let state = CallState(CALL.load(Ordering::Relaxed));
    if reason != 0 && state.in_call() {
        publish(state.interrupted_by(reason), call_page());
    }
}

/// Label of the reply to a protected call that arrives while the PD blocks in
/// [`wait_for`] (the caller gets an error instead of waiting).
pub const BUSY_LABEL: u64 = 0xF_FFFE;

/// Blocks until `channel` is notified (used by the async transport). Other
/// notifications are kept for the event loop; a protected call that arrives
/// meanwhile is answered at once with [`BUSY_LABEL`].
pub fn wait_for(channel: Channel) {
    let bit = 1u64 << channel.index();
    loop {
        if PENDING.fetch_and(!bit, Ordering::Relaxed) & bit != 0 {
            return;
        }
        let Received { badge, .. } = syscall::recv(cap::INPUT, cap::REPLY);
        if badge & cap::BADGE_PPC != 0 {
            syscall::send(cap::REPLY, MessageInfo::with_label(BUSY_LABEL, 0));
        } else if badge & cap::BADGE_FAULT == 0 {
            PENDING.fetch_or(ChannelSet::from_badge(badge).bits(), Ordering::Relaxed);
        }
    }
}

fn take_deferred() -> Option<(u64, MessageInfo)> {
    // A plain load first: the common case (nothing deferred) needs no
    // read-modify-write (single-threaded PD; atomics only to stay safe Rust).
    if DEFERRED_CAP.load(Ordering::Relaxed) == 0 {
        return None;
    }
    match DEFERRED_CAP.swap(0, Ordering::Relaxed) {
        0 => None,
        cap => Some((cap, MessageInfo::from_word(DEFERRED_INFO.load(Ordering::Relaxed)))),
    }
}

/// Runs the event loop for `handler` for ever (called by `protection_domain!`
/// after `init`).
pub fn run<H: Handler>(mut handler: H) -> ! {
    // The reply to send, and whether it answers a protected call (a fault
    // handler's reply resumes a child instead).
    let mut reply: Option<(MessageInfo, bool)> = None;
    if STARTED.swap(true, Ordering::Relaxed) {
        // Restarted by a supervisor after a fault (`init` has rebuilt the
        // state). If a call was being served, its caller still waits on our
        // reply object: answer it with a fault. The monitor handshake and the
        // IRQ set-up were done by the first start.
        // The call state stays "in call" until the answer is about to be
        // sent, so a restart during this restart still answers.
        // A signal the interrupted call deferred is dropped with its work.
        DEFERRED_CAP.store(0, Ordering::Relaxed);
        if in_call() {
            let first = CallState(CALL.load(Ordering::Relaxed)).interrupted();
            let label = if first == RESTART_AFTER_OVERRUN { OVERRUN_LABEL } else { FAULT_LABEL };
            reply = Some((MessageInfo::with_label(label, 0), true));
        }
    } else {
        if symbols::is_passive() {
            // Readiness message to the monitor: label 0, no reply expected, so
            // it is sent without blocking (never `Call`).
            defer(cap::MONITOR_EP, MessageInfo::with_label(0, 0));
        }
        // seL4 issue #1536: IRQs set up by the initialiser may start masked.
        let irqs = symbols::irqs();
        for id in (0..62u8).filter(|i| irqs & (1 << i) != 0) {
            syscall::call(cap::irq_handler(id), MessageInfo::with_label(LABELS.irq_ack_irq, 0));
        }
    }

    let mut calls = CallTracker::new();
    loop {
        let pending = if PENDING.load(Ordering::Relaxed) == 0 { 0 } else { PENDING.swap(0, Ordering::Relaxed) };
        if pending != 0 {
            if let Some((r, answers_call)) = reply.take() {
                if answers_call {
                    calls.end();
                }
                syscall::send(cap::REPLY, r);
            }
            check(handler.notified(ChannelSet::from_badge(pending)));
            continue;
        }
        let Received { badge, info } = match (reply.take(), take_deferred()) {
            (Some((r, answers_call)), deferred) => {
                if answers_call {
                    calls.end();
                }
                if let Some((cap, msg)) = deferred {
                    syscall::send(cap, msg);
                }
                syscall::reply_recv(cap::INPUT, r, cap::REPLY)
            }
            (None, Some((cap, msg))) => syscall::nb_send_recv(cap, msg, cap::INPUT, cap::REPLY),
            (None, None) => syscall::recv(cap::INPUT, cap::REPLY),
        };
        reply = dispatch(&mut handler, &mut calls, badge, info);
    }
}

fn dispatch<H: Handler>(handler: &mut H, calls: &mut CallTracker, badge: u64, info: MessageInfo) -> Option<(MessageInfo, bool)> {
    if badge & cap::BADGE_PPC != 0 {
        let channel = Channel::new((badge & 0x3f) as u8);
        calls.begin(channel.index());
        Some((check(handler.protected(channel, info)), true))
    } else if badge & cap::BADGE_FAULT != 0 {
        check(handler.fault(Child::new((badge & 0xff) as u8), info)).map(|r| (r, false))
    } else {
        check(handler.notified(ChannelSet::from_badge(badge)));
        None
    }
}

fn check<T, E: core::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("handler error: {e}"),
    }
}
