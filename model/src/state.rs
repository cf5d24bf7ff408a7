//! The model's state: threads, scheduling contexts, endpoint queues, reply objects, clocks, and
//! the containment supervisor's bookkeeping (fault messages, watchdog accounts).

/// Index of a thread: paths first (`0..paths`), then servers (`paths..paths + servers`).
pub type ThreadId = u8;
/// Index of a scheduling context: one per path (same index), then one per active server.
pub type ScId = u8;

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Run {
    /// A path doing client-side work (`left` ticks) before its next Call or Send.
    Working {
        /// Ticks of client work left.
        left: u8,
    },
    /// Blocked: in an endpoint's queue, or waiting for the reply to a delivered Call.
    Blocked,
    /// A server blocked in `Recv`/`ReplyRecv` on its endpoint, ready for the next message.
    Recv,
    /// A server working on a received message.
    Serving {
        /// Ticks of work left.
        left: u8,
        /// Whether its nested call (if any) has been made.
        nested_done: bool,
        /// The error its nested call came back with, if any (propagated to the caller).
        err: Option<Reason>,
    },
    /// A pod spinning for ever inside a call (injected by the checker): it runs, and is charged,
    /// whenever its SC has budget, and never replies on its own.
    Spinning,
    /// A pod that faulted while serving a call and is blocked on its fault message to tunnelkit's
    /// supervisor (it keeps the donated SC and its reply object until the supervisor acts).
    FaultWait,
    /// A pod restarted by the supervisor (registers rewritten to its entry point): it
    /// re-initialises on the still-donated SC, then answers the interrupted caller with
    /// `Err(reason)` and returns the SC with the reply.
    Restarting {
        /// Ticks of re-initialisation left.
        left: u8,
        /// The error the caller will get: the reason of the *first* interruption of the call.
        reason: Reason,
    },
    /// A pod that faulted with no supervisor to restart it (plain Microkit): stopped for good.
    Faulted,
}

/// Why a call was interrupted: the error its caller gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The pod faulted (VM fault, undefined instruction, panic): `Err(Fault)`.
    Fault,
    /// The supervisor's watchdog found the call over its bound: `Err(Overrun)`.
    Overrun,
}

/// One thread (TCB) of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thread {
    /// Its run state.
    pub run: Run,
    /// The SC bound to it now: its own, one donated to it along a call chain, or none.
    pub sc: Option<ScId>,
    /// Servers only: the caller held by its MCS reply object (who the next reply goes to).
    pub reply: Option<ThreadId>,
}

/// A message waiting in an endpoint queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Queued {
    /// The sender.
    pub from: ThreadId,
    /// Ticks of work the message asks for.
    pub work: u8,
    /// `true` for `Call` (expects a reply, donates the SC to a passive receiver), `false` for `Send`.
    pub call: bool,
}

/// The whole system state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct State {
    /// Global time modulo the hyperperiod (refills happen at multiples of each SC's period).
    pub time: u8,
    /// Budget left in the current period, per SC.
    pub budget: Vec<u8>,
    /// Every thread.
    pub threads: Vec<Thread>,
    /// Per server: its endpoint's queue, priority-ordered and FIFO within a priority.
    pub queues: Vec<Vec<Queued>>,
    /// Per server: whether its notification holds its SC (the SC is idle, waiting for a signal).
    pub ntfn_holds: Vec<bool>,
    /// Per server: whether its notification has a signal pending.
    pub pending: Vec<bool>,
    /// Per path: ticks since its outstanding Call was issued (`None` when it has none); saturates.
    pub age: Vec<Option<u8>>,
    /// Per path: whether a pod faulted while working for its outstanding call.
    pub faulted: Vec<bool>,
    /// Per path: ticks charged to its SC minus ticks of work done on its behalf (clamped to ±2).
    pub debt: Vec<i8>,
    /// Per path: whether a pod spun for ever while working for its outstanding call.
    pub spun: Vec<bool>,
    /// Per path: whether its outstanding call is within the bound of the pod it calls: the pod work
    /// it asks for, nested calls included, is at most that pod's bound; always `true` without a
    /// watchdog. (A nested call's size is fixed by the scenario, so whether it is within the inner
    /// pod's bound needs no state.)
    pub legit: Vec<bool>,
    /// Pod faults the checker may still inject.
    pub faults_left: u8,
    /// Pod spins the checker may still inject.
    pub spins_left: u8,
    /// Watchdog: a supervisor check is due now (time just reached a multiple of `tick`).
    pub check_due: bool,
    /// Watchdog, per path: ticks charged to the path's SC since the last check (what
    /// `seL4_SchedContext_Consumed` returns), saturating at `tick`.
    pub consumed: Vec<u8>,
    /// Watchdog, per server: the supervisor's account of the pod's current call (saturates at
    /// `bound + 1`; 0 while the pod is idle at a check).
    pub account: Vec<u8>,
    /// Watchdog, per server: the pod published a new call (`in call since seq n`) since the last check.
    pub fresh: Vec<bool>,
    /// Watchdog, per server: the current call was already stopped for overrun (kept only with
    /// `stop_once`).
    pub stopped: Vec<bool>,
    /// Latched: some reply's result did not match (see [`Run::Restarting`] and `right-answer`).
    pub wrong_answer: bool,
    /// Several cores only (empty on one core), per thread: a pod that migrated to another core in
    /// the receive half of its `ReplyRecv` and was put on that core's ready queue without waking
    /// it ([`KernelSmp::LostWakeup`](crate::config::KernelSmp)). It runs only once its core is
    /// awake: when some thread there that is not stranded is runnable (woken by its refill
    /// timer); the core then notices it.
    pub stranded: Vec<bool>,
    /// Latched: the watchdog stopped a pod in a call within that pod's bound that did not spin.
    pub false_overrun: bool,
    /// Transient (cleared by every step): the step into this state answered a path's call with an
    /// error, or should have (a fault or spin happened in the call) — the antecedent of
    /// `right-answer`.
    pub answered: bool,
}
