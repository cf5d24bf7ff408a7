//! Trace conformance: a real run's observable events (from `tunnelkit run --trace`, converted by
//! the host tool) replayed as a behaviour of the model.
//!
//! The model's actions are ticks of time (hidden: a trace shows no ticks, budgets or refills) and
//! zero-time steps. Every observable event is one transition of the model, made with the model's
//! own transition functions (`deliver`, `receive`, `reply`, `recv`, `signal`, `fault`,
//! `restart`): a `call` delivers a message to the callee's endpoint, an `answer` is the
//! `ReplyRecv` that returns the SC and takes the next queued caller, and so on (the mapping is
//! written down in `docs/model.md`). Between two events any number of hidden steps may happen:
//! ticks, which change only the model's counters (time, budgets, ages, watchdog accounts), never
//! which thread waits where or holds which SC; and the kernel half of a system call whose event
//! was recorded just before it (`call`, `answer`, `notify` are recorded before the system call,
//! which may run later: the caller can be preempted in between), and the end of a notification
//! handler. The replay follows every state the events allow (a set: the hidden steps may happen
//! in any order, at any point) and stops at the first event that no state allows, reporting it
//! with the model state.
//!
//! After a gap (a PD's events that fell out of its trace ring) the state cannot be followed:
//! the replay skips from the first gap to the point where every PD's events resume, infers each
//! thread's state there from its next events ([`Replay::resync`]), and checks strictly again.

mod resync;
mod track;

use crate::state::Reason;
use track::Replay;

/// One PD of the traced system.
#[derive(Clone, Debug)]
pub struct TracePd {
    /// Its name.
    pub name: String,
    /// Passive (a pod: no SC of its own).
    pub passive: bool,
    /// Its priority.
    pub priority: u8,
    /// The core it is placed on.
    pub cpu: u8,
    /// Whether a parent handles its faults (tunnelkit's supervisor).
    pub supervised: bool,
    /// Whether a watchdog bounds its calls.
    pub bounded: bool,
}

/// The traced system's shape: its PDs and who may call or notify whom.
#[derive(Clone, Debug, Default)]
pub struct TraceSystem {
    /// Every PD.
    pub pds: Vec<TracePd>,
    /// `(caller, callee)` for every channel end with `pp` (indices into `pds`).
    pub calls: Vec<(usize, usize)>,
    /// `(sender, receiver)` for every channel end that may notify.
    pub notifies: Vec<(usize, usize)>,
}

/// What an answer or reply says: the model tells `Ok`, `Err(Fault)` and `Err(Overrun)` apart;
/// any other label is an answer of the pod's own (`Ok` to the model: the call completed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Label 0.
    Ok,
    /// tunnelkit's fault or overrun error.
    Err(Reason),
    /// Another label (the pod's own error).
    Other(u64),
}

impl Answer {
    /// The model's view: `Some(reason)` for tunnelkit's errors, `None` otherwise.
    pub fn reason(self) -> Option<Reason> {
        match self {
            Answer::Err(r) => Some(r),
            _ => None,
        }
    }
}

/// An observable event (fields as in `docs/trace.md`; PDs are indices into [`TraceSystem::pds`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The PD's entry ran: at boot (`None`) or after a restart.
    Init(Option<Reason>),
    /// The event loop started again after a restart.
    Restart {
        /// The restart's reason.
        reason: Reason,
        /// Whether a call was being served.
        in_call: bool,
    },
    /// A call into `to`.
    Call(usize),
    /// A call from `from` arrived.
    Serve(usize),
    /// The answer to `to`'s call.
    Answer(usize, Answer),
    /// The reply from `from` arrived.
    Reply(usize, Answer),
    /// A notification to `to`.
    Notify(usize),
    /// Notifications from these PDs were delivered.
    Notified(Vec<usize>),
    /// A child's fault reached its parent.
    ChildFault(usize),
    /// The watchdog decided that the child's call overran.
    ChildOverrun {
        /// The child.
        child: usize,
        /// CPU time the call used (µs).
        used_us: u64,
        /// Its bound (µs).
        bound_us: u64,
    },
    /// The parent restarted the child (`None`: no reason given).
    ChildRestart(usize, Option<Reason>),
    /// Events of this PD were dropped here.
    Gap,
    /// The run's end.
    End,
}

/// One event of the trace.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its line in the trace file (1-based).
    pub line: usize,
    /// The PD that recorded it.
    pub pd: usize,
    /// What it records.
    pub what: Observed,
    /// The PD whose SC it ran on, where the trace says.
    pub sc: Option<usize>,
    /// The core it ran on, where the trace says.
    pub core: Option<u8>,
}

/// The first step the model does not allow.
#[derive(Clone, Debug)]
pub struct Violation {
    /// Index of the step among the trace's events (0-based).
    pub index: usize,
    /// Its line in the trace file.
    pub line: usize,
    /// Which rule of the model it breaks.
    pub rule: String,
    /// The model state before the step.
    pub state: String,
}

/// The outcome of a replay.
#[derive(Clone, Debug)]
pub struct ConformanceReport {
    /// PDs in the model as paths (active callers), in order.
    pub paths: Vec<String>,
    /// PDs in the model as servers (pods and active servers).
    pub servers: Vec<String>,
    /// Events in the trace.
    pub events: usize,
    /// Events replayed as model transitions.
    pub checked: usize,
    /// Events of PDs or channels outside the model (not checked), e.g. a timer's notifications.
    pub outside: usize,
    /// Events skipped between the first gap and the point where every PD's events resume
    /// (`(first index, count)`), if the trace has gaps.
    pub skipped: Option<(usize, usize)>,
    /// The first step the model does not allow, if any.
    pub violation: Option<Violation>,
}

impl ConformanceReport {
    /// Whether the trace conforms.
    pub fn conforms(&self) -> bool {
        self.violation.is_none()
    }
}

impl core::fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "model: paths {}; servers {}", self.paths.join(", "), self.servers.join(", "))?;
        write!(f, "{} events: {} replayed as model steps, {} outside the model", self.events, self.checked, self.outside)?;
        if let Some((from, n)) = self.skipped {
            write!(f, ", {n} skipped at the gaps (from event {from}; the state after them is inferred)")?;
        }
        writeln!(f)?;
        match &self.violation {
            None => writeln!(f, "the trace conforms to the model"),
            Some(v) => {
                writeln!(f, "event {} (line {}) is not allowed by the model: {}", v.index, v.line, v.rule)?;
                writeln!(f, "model state before it:")?;
                f.write_str(&v.state)
            }
        }
    }
}

/// Most states the replay follows at once (orders of hidden steps that lead to different states).
const MAX_STATES: usize = 4096;

/// Replays `steps` of `system` as a behaviour of the model.
pub fn check_trace(system: &TraceSystem, steps: &[Step]) -> ConformanceReport {
    let start = Replay::new(system);
    let mut report = ConformanceReport {
        paths: start.names(0..start.paths),
        servers: start.names(start.paths..start.threads()),
        events: steps.len(),
        checked: 0,
        outside: 0,
        skipped: None,
        violation: None,
    };
    // Gaps matter where the model follows the PD: its threads, and the parents whose
    // supervision events it replays.
    let followed: Vec<bool> = (0..system.pds.len())
        .map(|p| {
            start.thread_of[p].is_some()
                || steps.iter().any(|st| {
                    st.pd == p && matches!(st.what, Observed::ChildFault(c) | Observed::ChildRestart(c, _) | Observed::ChildOverrun { child: c, .. } if start.thread_of[c].is_some())
                })
        })
        .collect();
    let resume = resume_point(steps, &followed);
    let mut states = vec![start];
    let mut i = 0;
    while i < steps.len() {
        if let Some((first, at)) = resume
            && i == first
        {
            report.skipped = Some((first, at - first));
            let mut r = states.swap_remove(0);
            r.resync(&steps[at..]);
            states = vec![r];
            i = at;
            continue;
        }
        let candidates = hidden_closure(states);
        let mut next: Vec<Replay> = Vec::new();
        let mut first_error = None;
        let mut inside = false;
        for c in &candidates {
            let mut r = c.clone();
            match r.apply(&steps[i]) {
                Ok(replayed) => {
                    inside = replayed;
                    if !next.iter().any(|x| x.same(&r)) {
                        next.push(r);
                    }
                }
                Err(rule) => {
                    // Of the states' reasons, the most telling: an invariant's violation, then a
                    // missing transition, last "a recorded system call has not happened yet"; among
                    // equals, that of the state in which the most recorded system calls happened.
                    let rank = (rule_rank(&rule), c.inflight.iter().filter(|op| op.is_none()).count());
                    if first_error.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                        first_error = Some((rank, rule, c.describe()));
                    }
                }
            }
        }
        if next.is_empty() {
            let (_, rule, state) = first_error.unwrap_or_else(|| ((0, 0), "no state to replay it in".into(), String::new()));
            report.violation = Some(Violation { index: i, line: steps[i].line, rule, state });
            break;
        }
        if next.len() > MAX_STATES {
            let state = next[0].describe();
            let rule = format!("the replay follows more than {MAX_STATES} states here (too many system calls in flight at once)");
            report.violation = Some(Violation { index: i, line: steps[i].line, rule, state });
            break;
        }
        if inside {
            report.checked += 1;
        } else {
            report.outside += 1;
        }
        states = next;
        i += 1;
    }
    report
}

/// How telling a rejection is (higher: more).
fn rule_rank(rule: &str) -> u8 {
    if rule.starts_with("it violates") {
        2
    } else if rule.ends_with("has not happened yet") {
        0
    } else {
        1
    }
}

/// Every state reachable from `states` by hidden steps (the states themselves first).
fn hidden_closure(states: Vec<Replay>) -> Vec<Replay> {
    let mut all = states;
    let mut k = 0;
    while k < all.len() && all.len() <= MAX_STATES {
        for n in all[k].hidden_steps() {
            if !all.iter().any(|x| x.same(&n)) {
                all.push(n);
            }
        }
        k += 1;
    }
    all
}

/// `(first step after the first event lost of a PD the model follows, first step after which every PD with a gap has
/// resumed)`, if there are gaps. A `gap` stands where its PD's events resume; its lost events
/// followed that PD's previous event.
fn resume_point(steps: &[Step], followed: &[bool]) -> Option<(usize, usize)> {
    let gaps: Vec<usize> = (0..steps.len()).filter(|&g| steps[g].what == Observed::Gap && followed[steps[g].pd]).collect();
    let first = gaps.iter().map(|&g| steps[..g].iter().rposition(|x| x.pd == steps[g].pd).map_or(0, |k| k + 1)).min()?;
    let resume = gaps.iter().map(|&g| steps[g + 1..].iter().position(|x| x.pd == steps[g].pd).map_or(steps.len(), |k| g + 1 + k)).max()?;
    Some((first, resume.max(first)))
}

#[cfg(test)]
mod tests;
