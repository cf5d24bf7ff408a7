//! The model's state: threads, scheduling contexts, endpoint queues, reply objects, clocks.

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
        /// Whether the nested call came back with an error (propagated to the caller).
        err: bool,
    },
    /// A pod that faulted with no supervisor to restart it (plain Microkit): stopped for good.
    Faulted,
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
    /// Pod faults the checker may still inject.
    pub faults_left: u8,
    /// Latched: some reply's result did not match (Ok after a fault, or Err without one).
    pub wrong_answer: bool,
}
