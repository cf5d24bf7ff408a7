//! Picking the replay up after gaps: each thread's state inferred from its next events.

use super::track::{InFlight, Replay};
use super::{Answer, Observed, Step};
use crate::state::{Reason, Run};
use stateright::Model as _;

impl Replay<'_> {
    /// Infers every thread's state at `tail[0]` from its events in `tail` (after the gaps):
    /// each thread is where its next event needs it to be, and every call it will answer or get
    /// the reply of is outstanding. The strict replay then checks that these guesses fit together.
    #[allow(clippy::needless_range_loop, reason = "threads index the model state and `waiting` alike")]
    pub(super) fn resync(&mut self, tail: &[Step]) {
        let threads = self.pd_of.len();
        self.s = self.model.init_states().remove(0);
        self.inflight = vec![None; threads];
        self.serve_due = vec![false; threads];
        self.reply_due = vec![None; threads];
        self.notified_due = vec![false; threads];
        self.restarted = vec![None; threads];
        self.overrun = vec![false; threads];
        self.started = vec![true; self.sys.pds.len()];
        let own = |st: &Step, t: usize| self.thread_of[st.pd] == Some(t);
        let about = |st: &Step, t: usize| match st.what {
            Observed::ChildFault(c) | Observed::ChildRestart(c, _) | Observed::ChildOverrun { child: c, .. } => {
                self.thread_of[c] == Some(t)
            }
            _ => false,
        };
        // The caller a server will answer next (its reply object now, if it holds a call).
        let next_answer = |t: usize| {
            tail.iter().find_map(|st| match st.what {
                Observed::Answer(c, a) if own(st, t) => Some((self.thread_of[c], a)),
                Observed::Restart { in_call: false, .. } if own(st, t) => Some((None, Answer::Ok)),
                _ => None,
            })
        };
        // Callers whose call is outstanding at `t` (their next event there is the reply), in the
        // order `t` serves them.
        let mut waiting: Vec<Vec<(usize, usize)>> = vec![Vec::new(); threads];
        for c in 0..threads {
            let first = tail.iter().find(|st| own(st, c) && matches!(st.what, Observed::Call(_) | Observed::Reply(..)));
            let Some(Step { what: Observed::Reply(y, a), .. }) = first else { continue };
            let Some(y) = self.thread_of[*y] else { continue };
            let reply_at = tail.iter().position(|st| own(st, c) && matches!(st.what, Observed::Reply(..))).unwrap_or(0);
            let answered_in_tail = tail[..reply_at].iter().any(|st| own(st, y) && st.what == Observed::Answer(self.pd_of[c], *a));
            if answered_in_tail {
                let order = tail.iter().position(|st| own(st, y) && st.what == Observed::Serve(self.pd_of[c])).unwrap_or(usize::MAX);
                waiting[y].push((order, c));
            } else {
                // Answered before the tail: only its reply is still to be seen.
                self.reply_due[c] = Some((y, *a));
            }
        }
        for t in self.paths..threads {
            let first = tail.iter().find(|st| {
                (own(st, t)
                    && matches!(
                        st.what,
                        Observed::Serve(_)
                            | Observed::Answer(..)
                            | Observed::Call(_)
                            | Observed::Reply(..)
                            | Observed::Init(Some(_))
                            | Observed::Restart { .. }
                    ))
                    || about(st, t)
            });
            let Some(first) = first else { continue };
            let holds_call = !matches!(first.what, Observed::Serve(_));
            if !holds_call {
                continue;
            }
            let (caller, answer) = next_answer(t).unwrap_or((None, Answer::Ok));
            let Some(caller) = caller else { continue };
            waiting[t].retain(|&(_, c)| c != caller);
            self.s.threads[t].reply = Some(caller as u8);
            if caller < self.paths {
                self.s.threads[caller].run = Run::Blocked;
                self.s.age[caller] = Some(0);
            }
            let err = answer.reason();
            self.s.threads[t].run = match first.what {
                Observed::Reply(..) if self.reply_due[t].is_some() => {
                    Run::Serving { left: 1, nested_done: true, err: first_reply_err(&first.what) }
                }
                Observed::Reply(..) => Run::Blocked,
                Observed::ChildRestart(..) => Run::FaultWait,
                Observed::Init(Some(r)) | Observed::Restart { reason: r, .. } => {
                    // Its `init` is still to come if it is this first event; a first
                    // `restart` follows an `init` before the tail.
                    let init_seen = matches!(first.what, Observed::Restart { .. });
                    self.restarted[t] = Some((r, init_seen, false));
                    Run::Restarting { left: 1, reason: err.unwrap_or(r) }
                }
                _ => Run::Serving { left: 1, nested_done: true, err },
            };
            if let Some(root) = self.model.root_path(&self.s, t)
                && let Some(e) = err
            {
                match e {
                    Reason::Fault => self.s.faulted[root] = true,
                    Reason::Overrun => self.s.spun[root] = true,
                }
            }
        }
        // Paths and pods whose call a pod has still to receive: the call was recorded before the
        // tail, but its kernel half (the trap that queues it) may not have happened yet (a caller
        // can run out of budget between the two), so it is left in flight: the replay then tries
        // every order in which these calls reach their endpoints.
        for (y, w) in waiting.iter_mut().enumerate() {
            w.sort();
            for &(_, c) in w.iter() {
                self.s.threads[c].run = if c < self.paths {
                    self.s.age[c] = Some(0);
                    self.s.legit[c] = true;
                    Run::Working { left: 1 }
                } else {
                    Run::Serving { left: 1, nested_done: false, err: None }
                };
                self.inflight[c] = Some(InFlight::Call(y));
            }
        }
        for t in 0..threads {
            if t < self.paths && self.s.threads[t].run == Run::Blocked {
                self.s.age[t] = Some(0);
            }
        }
        // SCs flow down every chain: a passive server holding a call runs on its caller's SC.
        loop {
            let mut moved = false;
            for t in self.paths..threads {
                if let Some(c) = self.s.threads[t].reply
                    && self.model.is_passive_server(t)
                    && self.s.threads[t].sc.is_none()
                    && let Some(sc) = self.s.threads[usize::from(c)].sc.take()
                {
                    self.s.threads[t].sc = Some(sc);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        for t in self.paths..threads {
            if self.s.threads[t].run == Run::Recv && !self.s.queues[self.srv(t)].is_empty() {
                let srv = self.srv(t);
                self.model.recv(&mut self.s, srv);
                self.after_recv(t);
            }
        }
    }
}

/// The model's error of a reply step.
fn first_reply_err(what: &Observed) -> Option<Reason> {
    match what {
        Observed::Reply(_, a) => a.reason(),
        _ => None,
    }
}
