//! The supervisor's watchdog: decides, once per tick, which pod calls have
//! used more than their declared bound of their caller's CPU time.
//!
//! A pod serves each call on its caller's scheduling context (SC), so the
//! CPU time that SC consumes while the call is open is the call's cost
//! (nested pods included). Each tick the supervisor reads every watched SC's
//! consumption since the previous tick (`SchedContext_Consumed`) and each
//! pod's published call state, and hands both to [`Watchdog::tick`]:
//!
//! - a call open since the last tick is charged the whole interval: its
//!   caller was blocked in it all along, so everything its SC consumed was
//!   the call's work (nested pods' included);
//! - a call first seen at this tick is charged nothing yet: the part of the
//!   interval before it started was its caller's own work;
//! - time the SC did not run (preempted, or out of budget until its refill)
//!   is not charged: the bound is CPU time, not wall-clock time.
//!
//! So the account never exceeds what the call used: a call that stays within
//! its bound is never stopped, and one that keeps running is stopped at the
//! first tick at which its account exceeds its bound. It has then used at
//! most its bound plus two tick intervals of its caller's CPU time: the
//! uncharged start, and the interval in which the account passed the bound
//! (`docs/model.md` checks this). A pod waiting on a call of
//! its own (it marks that in its call state around the call, and a child
//! serving a call from it shows it too) is not stopped until that call
//! returns: a thread blocked on a reply holds no scheduling context to
//! restart on. This module is the pure decision; the
//! supervisor PD (`components/supervisor`) does the system calls.

use tunnelkit_runtime::supervision::{CHANNELS, CallState, CallerSc, ChildTable, MAX_CHILDREN};
use tunnelkit_runtime::trace::Kind;

/// Per-tick input: SC consumption by cspace slot (µs since the last tick).
pub type Consumed = [u64; 64];

/// The accounting of one supervised child.
#[derive(Clone, Copy, Debug, Default)]
struct Account {
    /// The call state seen at the last tick.
    last: CallState,
    /// CPU µs charged to the open call so far.
    used_us: u64,
    /// The call (its sequence number) already stopped, so that a restart in
    /// progress is not stopped twice.
    stopped: Option<u64>,
}

/// A call to stop: the child's index in the table and what it used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overrun {
    /// Index of the child in the supervision table.
    pub index: usize,
    /// CPU µs the call had used when it was stopped.
    pub used_us: u64,
    /// The child's bound in µs.
    pub bound_us: u64,
}

/// Watchdog state for the children of one supervisor (the table itself is
/// read in place each tick).
pub struct Watchdog {
    accounts: [Account; MAX_CHILDREN],
}

impl Default for Watchdog {
    fn default() -> Self {
        Self::new()
    }
}

impl Watchdog {
    /// A watchdog with no call seen yet.
    pub const fn new() -> Self {
        Self { accounts: [Account { last: CallState(0), used_us: 0, stopped: None }; MAX_CHILDREN] }
    }

    /// The cspace slots of every SC a bounded call may run on (each to be
    /// read once per tick), as a bit set.
    pub fn sc_slots(table: &(impl ChildTable + ?Sized)) -> u64 {
        let mut slots = 0u64;
        for i in 0..table.len() {
            for ch in 0..CHANNELS as u8 {
                if let CallerSc::Cap(s) = table.caller(i, ch) {
                    slots |= 1 << (s & 63);
                }
            }
        }
        slots
    }

    /// The SC slot the open call of child `index` runs on, following passive
    /// callers that are themselves children (a nested call runs on the SC
    /// of the call its caller serves).
    fn sc_of(table: &(impl ChildTable + ?Sized), index: usize, states: &[CallState; MAX_CHILDREN]) -> Option<u8> {
        let mut at = index;
        for _ in 0..MAX_CHILDREN {
            let state = states[at];
            if !state.in_call() {
                return None;
            }
            match table.caller(at, state.channel()) {
                CallerSc::Unknown => return None,
                CallerSc::Cap(slot) => return Some(slot),
                CallerSc::Child(k) if usize::from(k) < table.len() => at = usize::from(k),
                CallerSc::Child(_) => return None,
            }
        }
        None
    }

    /// One tick: `states[i]` is child `i`'s published call state (idle for
    /// children without a page), `consumed` the SC consumption since the
    /// last tick. Calls `stop` for each call that overran its bound.
    pub fn tick(
        &mut self,
        table: &(impl ChildTable + ?Sized),
        states: &[CallState; MAX_CHILDREN],
        consumed: &Consumed,
        mut stop: impl FnMut(Overrun),
    ) {
        // Children waiting on a call they made: marked by the caller itself
        // around the call, and seen from a child serving a call from it.
        let mut nested = [false; MAX_CHILDREN];
        for (i, state) in states.iter().enumerate() {
            nested[i] = state.nested();
        }
        for (j, state) in states.iter().enumerate().take(table.len().min(MAX_CHILDREN)) {
            if let (true, CallerSc::Child(k)) = (state.in_call(), table.caller(j, state.channel()))
                && let Some(n) = nested.get_mut(usize::from(k))
            {
                *n = true;
            }
        }
        for i in 0..table.len().min(MAX_CHILDREN) {
            let (_, bound_us, _) = table.child(i);
            let state = states[i];
            let charge = Self::sc_of(table, i, states).map_or(0, |slot| consumed[usize::from(slot & 63)]);
            let acc = &mut self.accounts[i];
            if !state.in_call() {
                *acc = Account { last: state, used_us: 0, stopped: None };
                continue;
            }
            // The interrupted bits change within one call.
            let same_call = acc.last.seq() == state.seq();
            acc.used_us = if same_call { acc.used_us.saturating_add(charge) } else { 0 };
            acc.last = state;
            if bound_us != 0 && acc.used_us > bound_us && !nested[i] && acc.stopped != Some(state.seq()) {
                acc.stopped = Some(state.seq());
                let id = table.child(i).0;
                tunnelkit_runtime::trace::record(Kind::ChildOverrun, id, 0, u32::try_from(acc.used_us).unwrap_or(u32::MAX), bound_us);
                stop(Overrun { index: i, used_us: acc.used_us, bound_us });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tunnelkit_runtime::supervision::SupervisedChild;

    fn table() -> Vec<SupervisedChild> {
        let mut b = SupervisedChild::new(1, "pod_b");
        b.bound_us = 5000;
        b.callers[0] = CallerSc::Cap(1);
        let mut c = SupervisedChild::new(2, "pod_c");
        c.bound_us = 1000;
        c.callers[0] = CallerSc::Cap(1);
        c.callers[1] = CallerSc::Child(0);
        vec![b, c]
    }

    fn run(w: &mut Watchdog, states: &[CallState; MAX_CHILDREN], sc1: u64) -> Vec<Overrun> {
        run_on(&table(), w, states, sc1)
    }

    fn run_on(t: &[SupervisedChild], w: &mut Watchdog, states: &[CallState; MAX_CHILDREN], sc1: u64) -> Vec<Overrun> {
        let mut consumed = [0; 64];
        consumed[1] = sc1;
        let mut out = Vec::new();
        w.tick(t, states, &consumed, |o| out.push(o));
        out
    }

    extern crate std;
    use std::{vec, vec::Vec};

    #[test]
    fn a_call_is_stopped_once_it_used_more_than_its_bound() {
        let mut w = Watchdog::new();
        let mut states = [CallState::default(); MAX_CHILDREN];
        states[1] = CallState::default().begin(0);
        assert!(run(&mut w, &states, 7000).is_empty(), "a call first seen is charged nothing: the interval was its caller's");
        assert!(run(&mut w, &states, 400).is_empty());
        assert!(run(&mut w, &states, 500).is_empty(), "900 µs is within the 1000 µs bound");
        assert_eq!(run(&mut w, &states, 200), [Overrun { index: 1, used_us: 1100, bound_us: 1000 }]);
        assert!(run(&mut w, &states, 500).is_empty(), "a stopped call is not stopped again while it restarts");
    }

    #[test]
    fn time_the_sc_did_not_run_is_not_charged() {
        let mut w = Watchdog::new();
        let mut states = [CallState::default(); MAX_CHILDREN];
        states[1] = CallState::default().begin(0);
        assert!(run(&mut w, &states, 0).is_empty());
        for _ in 0..1000 {
            assert!(run(&mut w, &states, 0).is_empty(), "waiting for a refill is not CPU time");
        }
    }

    #[test]
    fn each_call_has_its_own_account() {
        let mut w = Watchdog::new();
        let mut states = [CallState::default(); MAX_CHILDREN];
        let mut s = CallState::default();
        for _ in 0..10 {
            s = s.begin(0);
            states[1] = s;
            assert!(run(&mut w, &states, 2000).is_empty(), "short calls, one per tick, never add up");
            s = s.end();
        }
        states[1] = s;
        assert!(run(&mut w, &states, 900).is_empty(), "an idle pod is never stopped");
    }

    #[test]
    fn nested_calls_are_charged_to_the_outer_callers_sc() {
        let mut w = Watchdog::new();
        let mut states = [CallState::default(); MAX_CHILDREN];
        states[0] = CallState::default().begin(0).with_nested(true); // pod_b serves the client, waits on pod_c
        states[1] = CallState::default().begin(1); // pod_c serves pod_b
        assert!(run(&mut w, &states, 0).is_empty());
        assert!(run(&mut w, &states, 600).is_empty());
        let stopped = run(&mut w, &states, 600);
        assert_eq!(stopped, [Overrun { index: 1, used_us: 1200, bound_us: 1000 }], "the inner pod's tighter bound fires first");
        assert!(run(&mut w, &states, 5000).is_empty(), "pod_b is past its 5000 µs bound but waits on pod_c: not stopped");
        states[1] = states[1].end();
        assert!(run(&mut w, &states, 1).is_empty(), "pod_c's answer is decided, but pod_b still waits for it");
        states[0] = states[0].with_nested(false);
        assert_eq!(run(&mut w, &states, 1)[0].index, 0, "once pod_b has its answer, it is stopped");
        states[1] = states[1].begin(1);
        states[0] = CallState::default();
        assert!(run(&mut w, &states, 5000).is_empty(), "with its caller gone the inner call has no known SC");
    }

    #[test]
    fn unknown_callers_and_unbounded_children_are_never_stopped() {
        let mut t = table();
        t[0].bound_us = 0;
        let mut w = Watchdog::new();
        let mut states = [CallState::default(); MAX_CHILDREN];
        states[0] = CallState::default().begin(0);
        states[1] = CallState::default().begin(7);
        assert!(run_on(&t, &mut w, &states, 100_000).is_empty());
        assert!(run_on(&t, &mut w, &states, 100_000).is_empty());
        assert_eq!(Watchdog::sc_slots(&t[..]), 1 << 1);
    }
}
