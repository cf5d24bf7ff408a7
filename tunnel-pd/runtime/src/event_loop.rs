//! The Microkit event loop (libmicrokit 2.3 semantics, §6.6 of the ABI notes).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tunnelkit_sys::supervision::{CallState, call_state_cell, set_nested_flag, watch_call_state};

use crate::channel::{Channel, ChannelSet, Child};
use crate::deferred;
use crate::handler::Handler;
use tunnelkit_sys::labels::LABELS;
use tunnelkit_sys::syscall::{self, Received};
use tunnelkit_sys::{MessageInfo, cap, symbols};

/// Notification bits that arrived while [`wait_for`] blocked for another
/// channel; the loop delivers them to `notified` before receiving again.
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Set once the loop has started: a later start is a restart by a supervisor.
static STARTED: AtomicBool = AtomicBool::new(false);
fn call_state() -> CallState {
    CallState(call_state_cell().load(Ordering::Relaxed))
}

fn in_call() -> bool {
    call_state().in_call()
}

/// Whether this PD is serving a protected call now (a call it makes is
/// then nested; traced as its depth).
pub(crate) fn serving() -> bool {
    in_call()
}

/// Publishes the call state ([`CallState`]: odd sequence while a protected
/// call is being served). It lives in the PD's call-state page when the
/// system maps one (the supervisor's watchdog reads it there), else in a
/// static; either way it survives a restart, which reads it.
#[inline(always)]
fn publish(state: CallState) {
    call_state_cell().store(state.0, Ordering::Release);
}

/// The event loop's copy of the call state: starting and ending a call cost
/// one add (and the channel's or) and one store each ([`CallState::base`]).
/// Where it is published is read each time (one load): on x86_64 a register
/// held across the system call costs more in moves.
struct CallTracker {
    /// The idle state before the call being served or the next one (see
    /// [`CallState::base`]).
    base: u64,
}

impl CallTracker {
    fn new() -> Self {
        Self { base: call_state().base() }
    }

    /// A protected call on `channel` starts being served (from idle).
    #[inline(always)]
    fn begin(&mut self, channel: u64) {
        tunnelkit_sys::account::serve_begin(channel);
        publish(CallState((self.base + CallState::SEQ_UNIT) | channel));
    }

    /// The answer to the call being served is decided and about to be
    /// sent: the call is over for the watchdog (between here and the send
    /// the PD can neither fault nor overrun: it only makes the system call).
    #[inline(always)]
    fn end(&mut self, answer: MessageInfo) {
        crate::trace::event!(Answer, call_state().channel(), 0, 0, answer.label());
        tunnelkit_sys::account::serve_end();
        self.base = self.base.wrapping_add(2 * CallState::SEQ_UNIT);
        publish(CallState(self.base));
    }
}

use tunnelkit_abi::reply::{FAULT_LABEL, HELD_LABEL, OVERRUN_LABEL, RESTART_AFTER_OVERRUN, RESTART_HELD};

/// Why this start happened (0: boot).
static START_REASON: AtomicU64 = AtomicU64::new(0);

/// Why this start happened: 0 at boot, else the reason the supervisor gave
/// when it restarted this PD ([`RESTART_AFTER_FAULT`], [`RESTART_AFTER_OVERRUN`],
/// with [`RESTART_HELD`] when it holds the PD).
pub fn start_reason() -> u64 {
    START_REASON.load(Ordering::Relaxed)
}

/// Whether the supervisor holds this PD ([`RESTART_HELD`]).
pub fn held() -> bool {
    start_reason() & RESTART_HELD != 0
}

/// Records why this start happened, before `init` runs: the first restart
/// during a call fixes what its caller is told.
#[doc(hidden)]
pub fn set_start_reason(reason: u64) {
    START_REASON.store(reason, Ordering::Relaxed);
    watch_call_state();
    set_nested_flag(false);
    let state = call_state();
    let first = reason & !RESTART_HELD;
    if first != 0 && state.in_call() {
        publish(state.interrupted_by(first));
    }
}

/// The answer to the call a restart interrupted: the error of its first
/// interruption.
fn interrupted_answer() -> Option<MessageInfo> {
    in_call().then(|| {
        let label = if call_state().interrupted() == RESTART_AFTER_OVERRUN { OVERRUN_LABEL } else { FAULT_LABEL };
        MessageInfo::with_label(label, 0)
    })
}

/// The event loop of a held PD (its `init` is not run): answers the call
/// the last restart interrupted, then every protected call with
/// [`HELD_LABEL`]; notifications and its own children's faults are ignored.
#[doc(hidden)]
pub fn run_held() -> ! {
    // A PD that never got through its first `init` (it faulted there every
    // time) still owes a passive PD's handshake with the monitor.
    let mut handshake = !STARTED.swap(true, Ordering::Relaxed) && symbols::is_passive();
    deferred::drop_pending();
    crate::trace::event!(Restart, call_state().channel(), u8::from(in_call()), start_reason() as u32, 0);
    let mut reply = interrupted_answer();
    let mut calls = CallTracker::new();
    loop {
        let Received { badge, .. } = match reply.take() {
            Some(r) => {
                calls.end(r);
                syscall::reply_recv(cap::INPUT, r, cap::REPLY)
            }
            None if core::mem::take(&mut handshake) => {
                syscall::nb_send_recv(cap::MONITOR_EP, MessageInfo::with_label(0, 0), cap::INPUT, cap::REPLY)
            }
            None => syscall::recv(cap::INPUT, cap::REPLY),
        };
        if badge & cap::BADGE_PPC != 0 {
            calls.begin(badge & 0x3f);
            reply = Some(MessageInfo::with_label(HELD_LABEL, 0));
        }
    }
}

use tunnelkit_abi::reply::BUSY_LABEL;

/// Blocks until `channel` is notified (used by the async transport). Other
/// notifications are kept for the event loop; a protected call that arrives
/// meanwhile is answered at once with [`BUSY_LABEL`].
pub fn wait_for(channel: Channel) {
    let bit = 1u64 << channel.index();
    loop {
        if PENDING.fetch_and(!bit, Ordering::Relaxed) & bit != 0 {
            return;
        }
        let Received { badge, info } = syscall::recv(cap::INPUT, cap::REPLY);
        if badge & cap::BADGE_PPC != 0 {
            crate::trace::event!(Serve, (badge & 0x3f) as u8, 0, 0, info.label());
            crate::trace::event!(Answer, (badge & 0x3f) as u8, 0, 0, BUSY_LABEL);
            tunnelkit_sys::account::serve_begin(badge & 0x3f);
            tunnelkit_sys::account::serve_end();
            syscall::send(cap::REPLY, MessageInfo::with_label(BUSY_LABEL, 0));
        } else if badge & cap::BADGE_FAULT == 0 {
            PENDING.fetch_or(ChannelSet::from_badge(badge).bits(), Ordering::Relaxed);
            deferred::take_slow_path();
        }
    }
}

/// Runs the event loop for `handler` for ever (called by `protection_domain!`
/// after `init`).
pub fn run<H: Handler>(mut handler: H) -> ! {
    // The answer to the protected call being served, sent with the next
    // receive (a fault handler's reply to a child is sent at once instead).
    let mut reply: Option<MessageInfo> = None;
    if STARTED.swap(true, Ordering::Relaxed) {
        // Restarted by a supervisor after a fault (`init` has rebuilt the
        // state). If a call was being served, its caller still waits on our
        // reply object: answer it with a fault. The monitor handshake and the
        // IRQ set-up were done by the first start.
        // The call state stays "in call" until the answer is about to be
        // sent, so a restart during this restart still answers.
        // A signal the interrupted call deferred is dropped with its work.
        deferred::drop_pending();
        crate::trace::event!(Restart, call_state().channel(), u8::from(in_call()), start_reason() as u32, 0);
        reply = interrupted_answer();
    } else {
        if symbols::is_passive() {
            // Readiness message to the monitor: label 0, no reply expected, so
            // it is sent without blocking (never `Call`).
            deferred::defer(cap::MONITOR_EP, MessageInfo::with_label(0, 0));
        }
        // seL4 issue #1536: IRQs set up by the initialiser may start masked.
        let irqs = symbols::irqs();
        for id in (0..62u8).filter(|i| irqs & (1 << i) != 0) {
            syscall::call(cap::irq_handler(id), MessageInfo::with_label(LABELS.irq_ack_irq, 0));
        }
    }

    let mut calls = CallTracker::new();
    loop {
        deferred::clear_slow_path();
        let pending = if PENDING.load(Ordering::Relaxed) == 0 { 0 } else { PENDING.swap(0, Ordering::Relaxed) };
        if pending != 0 {
            if let Some(r) = reply.take() {
                calls.end(r);
                syscall::send(cap::REPLY, r);
            }
            crate::trace::event!(Notified, 0, 0, 0, ChannelSet::from_badge(pending).bits());
            check(handler.notified(ChannelSet::from_badge(pending)));
            continue;
        }
        let Received { badge, info } = match (reply.take(), deferred::take()) {
            (Some(r), deferred) => {
                calls.end(r);
                if let Some((cap, msg)) = deferred {
                    deferred::trace(cap);
                    syscall::send(cap, msg);
                }
                syscall::reply_recv(cap::INPUT, r, cap::REPLY)
            }
            (None, Some((cap, msg))) => {
                deferred::trace(cap);
                syscall::nb_send_recv(cap, msg, cap::INPUT, cap::REPLY)
            }
            (None, None) => syscall::recv(cap::INPUT, cap::REPLY),
        };
        reply = serve(&mut handler, &mut calls, badge, info);
    }
}

/// Handles what arrived; returns the answer still to send when it was a
/// protected call. The fast path: while what arrives is a protected call and
/// nothing else waits (no notification kept by [`wait_for`], no deferred
/// signal), the answer goes out with the next receive in one system call
/// without leaving this loop.
#[inline(always)]
fn serve<H: Handler>(handler: &mut H, calls: &mut CallTracker, mut badge: u64, mut info: MessageInfo) -> Option<MessageInfo> {
    loop {
        if badge & cap::BADGE_PPC == 0 {
            dispatch_other(handler, badge, info);
            return None;
        }
        let id = badge & 0x3f;
        calls.begin(id);
        let channel = Channel::new(id as u8);
        crate::trace::event!(Serve, channel.index(), 0, 0, info.label());
        let answer = check(handler.protected(channel, info));
        if deferred::slow_path() {
            return Some(answer);
        }
        calls.end(answer);
        Received { badge, info } = syscall::reply_recv(cap::INPUT, answer, cap::REPLY);
    }
}

/// A fault of a child or a notification.
fn dispatch_other<H: Handler>(handler: &mut H, badge: u64, info: MessageInfo) {
    if badge & cap::BADGE_FAULT != 0 {
        // Resuming the child is not the end of a call this PD serves: reply
        // now (libmicrokit folds it into the next ReplyRecv; same effect).
        crate::trace::event!(ChildFault, (badge & 0xff) as u8, 0, 0, info.label());
        if let Some(r) = check(handler.fault(Child::new((badge & 0xff) as u8), info)) {
            syscall::send(cap::REPLY, r);
        }
    } else {
        crate::trace::event!(Notified, 0, 0, 0, ChannelSet::from_badge(badge).bits());
        check(handler.notified(ChannelSet::from_badge(badge)));
    }
}

fn check<T, E: core::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("handler error: {e}"),
    }
}
