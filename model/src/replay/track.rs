//! The replay's state (one of the states the replay follows) and its transitions: one per
//! observable event, and the hidden ones (a recorded system call's kernel half, the end of a
//! notification handler).

use super::{Answer, Observed, Step, TraceSystem};
use crate::config::{KernelSmp, PathSpec, Scenario, ServerSpec, Watchdog};
use crate::model::TunnelModel;
use crate::state::{Queued, Reason, Run, State};
use crate::{Outcome, PropertyId, PropertyId as P};
use core::fmt::Write as _;
use stateright::Model as _;
use std::rc::Rc;

/// A system call recorded by its thread whose kernel half has not happened yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum InFlight {
    /// `seL4_Call` into this thread.
    Call(usize),
    /// The `ReplyRecv` answering this caller with this answer.
    Answer(usize, Answer),
    /// `seL4_Signal` to this thread.
    Notify(usize),
}

/// One state of the replay: the model's state plus which observations are still due.
#[derive(Clone)]
pub(super) struct Replay<'a> {
    pub(super) sys: &'a TraceSystem,
    pub(super) model: Rc<TunnelModel>,
    /// Number of paths (threads `0..paths`; servers follow).
    pub(super) paths: usize,
    /// PD index → model thread.
    pub(super) thread_of: Rc<[Option<usize>]>,
    /// Model thread → PD index.
    pub(super) pd_of: Rc<[usize]>,
    pub(super) s: State,
    /// Per thread: a recorded system call still in flight.
    pub(super) inflight: Vec<Option<InFlight>>,
    /// Per thread: received a call whose `serve` has not been seen.
    pub(super) serve_due: Vec<bool>,
    /// Per thread: answered by (thread, answer); the `reply` has not been seen.
    pub(super) reply_due: Vec<Option<(usize, Answer)>>,
    /// Per thread: woken by a notification whose `notified` has not been seen.
    pub(super) notified_due: Vec<bool>,
    /// Per thread: restarted for this reason; `init` and `restart` seen since.
    pub(super) restarted: Vec<Option<(Reason, bool, bool)>>,
    /// Per thread: the watchdog's overrun decision, not yet followed by the restart.
    pub(super) overrun: Vec<bool>,
    /// Per PD: some event was seen.
    pub(super) started: Vec<bool>,
}

impl<'a> Replay<'a> {
    /// The state at boot: paths doing client work, servers waiting in `Recv`.
    pub(super) fn new(sys: &'a TraceSystem) -> Self {
        let n = sys.pds.len();
        let callee = |p: usize| sys.calls.iter().any(|&(_, c)| c == p);
        let caller = |p: usize| sys.calls.iter().any(|&(c, _)| c == p);
        let is_server = |p: usize| callee(p) || (sys.pds[p].passive && caller(p));
        let paths: Vec<usize> = (0..n)
            .filter(|&p| !is_server(p) && !sys.pds[p].passive)
            .filter(|&p| caller(p) || sys.notifies.iter().any(|&(a, b)| a == p && is_server(b)))
            .collect();
        let servers: Vec<usize> = (0..n).filter(|&p| is_server(p)).collect();
        let mut thread_of = vec![None; n];
        let pd_of: Vec<usize> = paths.iter().chain(&servers).copied().collect();
        for (t, &p) in pd_of.iter().enumerate() {
            thread_of[p] = Some(t);
        }
        let leak = |p: usize| -> &'static str { Box::leak(sys.pds[p].name.clone().into_boxed_str()) };
        let server_index = |p: usize| servers.iter().position(|&x| x == p).unwrap_or(0);
        let scenario = Scenario {
            name: "trace",
            description: "the system of a trace",
            paths: paths
                .iter()
                .map(|&p| PathSpec {
                    name: leak(p),
                    priority: sys.pds[p].priority,
                    budget: 1,
                    period: 1,
                    client_work: 1,
                    demand: vec![1],
                    calls: sys.calls.iter().find(|&&(c, _)| c == p).map_or(0, |&(_, x)| server_index(x)),
                    core: sys.pds[p].cpu,
                })
                .collect(),
            servers: servers
                .iter()
                .map(|&p| ServerSpec {
                    name: leak(p),
                    priority: sys.pds[p].priority,
                    own_sc: (!sys.pds[p].passive).then_some((1, 1)),
                    nested: None,
                    ntfn_sc: sys.pds[p].passive.then_some((1, 1)),
                    bound: None,
                })
                .collect(),
            allow_send: false,
            allow_signal: true,
            faults: 0,
            supervisor: servers.iter().any(|&p| sys.pds[p].supervised),
            spins: 0,
            spin_paths: Vec::new(),
            spin_pods: None,
            watchdog: servers.iter().any(|&p| sys.pds[p].bounded).then_some(Watchdog {
                tick: 1,
                bound: 1,
                stop_once: true,
                charge_first_interval: false,
            }),
            restart_work: 1,
            kernel: KernelSmp::Correct,
            expect: [Outcome::Holds; PropertyId::COUNT],
        };
        let mut model = TunnelModel::for_replay(scenario);
        // Every SC's core: a path's its PD's, an active server's its PD's (notification SCs: the pod's).
        for (sc, &owner) in model.sc_owner.clone().iter().enumerate() {
            model.sc_core[sc] = sys.pds[pd_of[owner]].cpu;
        }
        let s = model.init_states().remove(0);
        let threads = pd_of.len();
        Replay {
            sys,
            paths: paths.len(),
            thread_of: thread_of.into(),
            pd_of: pd_of.into(),
            s,
            model: Rc::new(model),
            inflight: vec![None; threads],
            serve_due: vec![false; threads],
            reply_due: vec![None; threads],
            notified_due: vec![false; threads],
            restarted: vec![None; threads],
            overrun: vec![false; threads],
            started: vec![false; n],
        }
    }

    /// The names of threads `ts`.
    pub(super) fn names(&self, ts: core::ops::Range<usize>) -> Vec<String> {
        ts.map(|t| self.sys.pds[self.pd_of[t]].name.clone()).collect()
    }

    /// Thread `t`'s name.
    pub(super) fn name(&self, t: usize) -> &str {
        &self.sys.pds[self.pd_of[t]].name
    }

    fn pd_name(&self, p: usize) -> &str {
        &self.sys.pds[p].name
    }

    pub(super) fn srv(&self, t: usize) -> usize {
        t - self.paths
    }

    fn is_server(&self, t: usize) -> bool {
        t >= self.paths
    }

    fn sc_name(&self, sc: Option<u8>) -> String {
        sc.map_or_else(|| "none".into(), |sc| self.name(self.model.sc_owner[usize::from(sc)]).to_string())
    }

    /// `X's SC` or `no SC`.
    fn sc_text(&self, sc: Option<u8>) -> String {
        sc.map_or_else(|| "no SC".into(), |_| format!("{}'s SC", self.sc_name(sc)))
    }

    /// The model state, one line per thread and per non-empty queue.
    pub(super) fn describe(&self) -> String {
        let mut out = String::new();
        for t in 0..self.pd_of.len() {
            let th = &self.s.threads[t];
            let run = match th.run {
                Run::Working { .. } => "working (may call)".to_string(),
                Run::Blocked => "blocked in a call".to_string(),
                Run::Recv => "waiting in Recv".to_string(),
                Run::Serving { err: Some(e), .. } => format!("serving (its nested call returned Err({e:?}))"),
                Run::Serving { .. } => "serving".to_string(),
                Run::Spinning => "serving (spinning)".to_string(),
                Run::FaultWait => "faulted, waiting for the supervisor".to_string(),
                Run::Restarting { reason, .. } => format!("restarting (will answer Err({reason:?}))"),
                Run::Faulted => "faulted (stopped)".to_string(),
            };
            let _ = write!(out, "  {}: {run}, SC {}", self.name(t), self.sc_name(th.sc));
            if let Some(c) = th.reply {
                let _ = write!(out, ", reply to {}", self.name(usize::from(c)));
            }
            if self.serve_due[t] {
                out.push_str(", serve due");
            }
            if let Some((from, a)) = self.reply_due[t] {
                let _ = write!(out, ", reply from {} due ({a:?})", self.name(from));
            }
            if self.notified_due[t] {
                out.push_str(", notified due");
            }
            if self.is_server(t) {
                let q = &self.s.queues[self.srv(t)];
                if !q.is_empty() {
                    let names: Vec<&str> = q.iter().map(|m| self.name(usize::from(m.from))).collect();
                    let _ = write!(out, ", queue [{}]", names.join(", "));
                }
                if self.s.pending[self.srv(t)] {
                    out.push_str(", signal pending");
                }
            }
            out.push('\n');
        }
        out
    }

    /// The SC the callee `y` of thread `t`'s call runs on: `t`'s for a pod, its own for an
    /// active server.
    fn callee_sc(&self, t: usize, y: usize) -> Option<u8> {
        if self.model.is_passive_server(y) { self.s.threads[t].sc } else { self.model.scenario.server_sc(self.srv(y)) }
    }

    /// Checks the trace's SC (the one the callee of the call runs on, `callee_sc` in the model)
    /// and core (that of the SC thread `t` runs on) against the model's.
    fn check_sc(&self, t: usize, step: &Step, callee_sc: Option<u8>) -> Result<(), String> {
        if let Some(want) = step.sc {
            let want = self.pd_name(want);
            if self.sc_name(callee_sc) != want {
                return Err(format!("the call runs on {want}'s SC in the trace, on {} in the model", self.sc_text(callee_sc)));
            }
        }
        if let (Some(core), Some(sc)) = (step.core, self.s.threads[t].sc) {
            let model_core = self.model.sc_core[usize::from(sc)];
            if core != model_core {
                return Err(format!("{} runs on core {core} in the trace; its SC belongs to core {model_core}", self.name(t)));
            }
        }
        Ok(())
    }

    /// A system call in flight, in words.
    fn op_text(&self, op: InFlight) -> String {
        match op {
            InFlight::Call(y) => format!("call into {}", self.name(y)),
            InFlight::Answer(c, _) => format!("answer to {}", self.name(c)),
            InFlight::Notify(y) => format!("notification of {}", self.name(y)),
        }
    }

    /// Number of threads in the model.
    pub(super) fn threads(&self) -> usize {
        self.pd_of.len()
    }

    /// Whether two replay states are the same (the model state and every observation due).
    pub(super) fn same(&self, o: &Self) -> bool {
        self.s == o.s
            && self.inflight == o.inflight
            && self.serve_due == o.serve_due
            && self.reply_due == o.reply_due
            && self.notified_due == o.notified_due
            && self.restarted == o.restarted
            && self.overrun == o.overrun
    }

    /// The states one hidden step away: a recorded system call's kernel half, or the end of a
    /// server's notification handler (after its `notified`).
    pub(super) fn hidden_steps(&self) -> Vec<Self> {
        let mut out = Vec::new();
        for t in 0..self.threads() {
            if let Some(op) = self.inflight[t] {
                let mut n = self.clone();
                n.inflight[t] = None;
                n.complete(t, op);
                out.push(n);
            } else if self.handles_notification(t) {
                let mut n = self.clone();
                let srv = n.srv(t);
                n.model.reply_recv(&mut n.s, srv, None);
                n.after_recv(t);
                out.push(n);
            }
        }
        out
    }

    /// Whether server `t` is in a notification handler whose `notified` was seen.
    fn handles_notification(&self, t: usize) -> bool {
        self.is_server(t)
            && matches!(self.s.threads[t].run, Run::Serving { .. })
            && self.s.threads[t].reply.is_none()
            && !self.notified_due[t]
    }

    /// The kernel half of thread `t`'s recorded system call.
    fn complete(&mut self, t: usize, op: InFlight) {
        match op {
            InFlight::Call(y) => {
                let srv = self.srv(y);
                self.model.deliver(&mut self.s, srv, Queued { from: t as u8, work: 1, call: true });
                if self.s.threads[y].reply == Some(t as u8) {
                    self.serve_due[y] = true;
                }
            }
            InFlight::Answer(c, answer) => {
                let srv = self.srv(t);
                self.model.reply_recv(&mut self.s, srv, answer.reason());
                self.reply_due[c] = Some((t, answer));
                self.after_recv(t);
            }
            InFlight::Notify(y) => {
                let srv = self.srv(y);
                self.model.signal(&mut self.s, srv);
                self.after_recv_notification(y);
            }
        }
    }

    /// After server `t`'s receive half: what it took is due to be observed.
    pub(super) fn after_recv(&mut self, t: usize) {
        if let Run::Serving { .. } = self.s.threads[t].run {
            if self.s.threads[t].reply.is_some() {
                self.serve_due[t] = true;
            } else {
                self.notified_due[t] = true;
            }
        }
    }

    /// The model's invariants that a replay can judge (the others need the hidden counters).
    fn invariants(&self) -> Result<(), String> {
        for id in [P::ScConservation, P::RightAnswer] {
            if !id.holds(&self.model, &self.s) {
                return Err(format!("it violates {}", id.name()));
            }
        }
        Ok(())
    }

    /// Replays one step: `Ok(true)` a model transition, `Ok(false)` outside the model.
    pub(super) fn apply(&mut self, step: &Step) -> Result<bool, String> {
        let first = !self.started[step.pd];
        self.started[step.pd] = true;
        let me = self.thread_of[step.pd];
        let inside = match (&step.what, me) {
            (Observed::ChildFault(c) | Observed::ChildRestart(c, _) | Observed::ChildOverrun { child: c, .. }, _) => {
                match self.thread_of[*c].filter(|&t| self.is_server(t)) {
                    Some(child) => self.child_event(child, &step.what)?,
                    None => false,
                }
            }
            (Observed::Gap | Observed::End, _) => false,
            (Observed::Init(None), Some(_)) => {
                if !first {
                    return Err(format!("{} boots after its first event", self.pd_name(step.pd)));
                }
                true
            }
            (_, None) => false,
            (what, Some(t)) => self.thread_event(t, what, step)?,
        };
        if inside {
            self.invariants()?;
        }
        Ok(inside)
    }

    fn thread_event(&mut self, t: usize, what: &Observed, step: &Step) -> Result<bool, String> {
        let me = self.name(t).to_string();
        if let Some(op) = self.inflight[t] {
            return Err(format!("{me}'s {} has not happened yet", self.op_text(op)));
        }
        match *what {
            Observed::Init(None) | Observed::Init(Some(_)) if !self.is_server(t) => Ok(false),
            Observed::Init(Some(reason)) => match &mut self.restarted[t] {
                Some((_, init, _)) if !*init => {
                    *init = true;
                    Ok(true)
                }
                _ => Err(format!("{me} re-initialises after {reason:?}, but the supervisor did not restart it")),
            },
            Observed::Restart { reason, in_call } => {
                if !self.is_server(t) {
                    return Ok(false);
                }
                let serving = self.s.threads[t].reply.is_some();
                match &mut self.restarted[t] {
                    Some((_, true, seen)) if !*seen => *seen = true,
                    _ => return Err(format!("{me}'s event loop restarts ({reason:?}) without a restart by the supervisor and its init")),
                }
                if in_call != serving {
                    return Err(format!(
                        "{me} restarts {} a call, but in the model it {} one",
                        if in_call { "in" } else { "outside" },
                        if serving { "serves" } else { "serves none" }
                    ));
                }
                Ok(true)
            }
            Observed::Call(to) => {
                let Some(y) = self.thread_of[to].filter(|&y| self.is_server(y)) else { return Ok(false) };
                if self.reply_due[t].is_some() || self.serve_due[t] {
                    return Err(format!("{me} calls {} before the reply or call it was given is observed", self.name(y)));
                }
                let ok = match self.s.threads[t].run {
                    Run::Working { .. } => !self.is_server(t),
                    Run::Serving { .. } => self.s.threads[t].reply.is_some(),
                    _ => false,
                };
                if !ok {
                    let why = match self.s.threads[t].run {
                        Run::Blocked => "it is blocked in a call (its reply was not seen)",
                        Run::Recv => "it is waiting for a call to serve",
                        Run::Serving { .. } => "it is handling a notification, not serving a call",
                        _ => "it is not doing client work or serving a call",
                    };
                    return Err(format!("{me} calls {}, but {why}", self.name(y)));
                }
                self.check_sc(t, step, self.callee_sc(t, y))?;
                if t < self.paths {
                    self.s.age[t] = Some(0);
                    self.s.legit[t] = true;
                }
                self.inflight[t] = Some(InFlight::Call(y));
                Ok(true)
            }
            Observed::Serve(from) => {
                let Some(c) = self.thread_of[from] else { return Ok(false) };
                if self.s.threads[t].reply != Some(c as u8) || !self.serve_due[t] {
                    let srv = self.srv(t);
                    let why = if let Some(pos) = self.s.queues[srv].iter().position(|m| usize::from(m.from) == c) {
                        let ahead: Vec<&str> = self.s.queues[srv][..pos].iter().map(|m| self.name(usize::from(m.from))).collect();
                        match self.s.threads[t].reply {
                            Some(_) if ahead.is_empty() => "it is still serving another call".to_string(),
                            _ => format!("{} is ahead in the endpoint queue (priority order, FIFO within a priority)", ahead.join(", ")),
                        }
                    } else if self.s.threads[t].reply == Some(c as u8) {
                        "that call was served already".to_string()
                    } else {
                        format!("{} made no call to it that is waiting", self.name(c))
                    };
                    return Err(format!("{me} serves a call from {}, but {why}", self.name(c)));
                }
                self.serve_due[t] = false;
                self.check_sc(t, step, self.s.threads[t].sc)?;
                Ok(true)
            }
            Observed::Answer(to, answer) => {
                let Some(c) = self.thread_of[to] else { return Ok(false) };
                if self.s.threads[t].reply != Some(c as u8) {
                    return Err(format!("{me} answers {}, but it holds no call of {} (its reply object)", self.name(c), self.name(c)));
                }
                if self.serve_due[t] || self.reply_due[t].is_some() {
                    return Err(format!("{me} answers {} before the call (or its nested reply) is observed", self.name(c)));
                }
                let err = answer.reason();
                match self.s.threads[t].run {
                    Run::Serving { err: nested, .. } => {
                        if err != nested {
                            return Err(format!(
                                "{me} answers {answer:?}, but the model's pod answers with its nested call's result ({})",
                                nested.map_or("Ok".into(), |e| format!("Err({e:?})"))
                            ));
                        }
                    }
                    Run::Restarting { reason, .. } => {
                        if !matches!(self.restarted[t], Some((_, true, true))) {
                            return Err(format!("{me} answers before its restart is observed (init, restart)"));
                        }
                        if err != Some(reason) {
                            return Err(format!(
                                "{me} answers {answer:?} after a restart; the interrupted call's answer is Err({reason:?})"
                            ));
                        }
                    }
                    Run::Blocked => return Err(format!("{me} answers {} while it waits for the reply to its own call", self.name(c))),
                    _ => return Err(format!("{me} answers {}, but it is not serving a call", self.name(c))),
                }
                self.check_sc(t, step, self.s.threads[t].sc)?;
                self.restarted[t] = None;
                self.inflight[t] = Some(InFlight::Answer(c, answer));
                Ok(true)
            }
            Observed::Reply(from, answer) => {
                let Some(y) = self.thread_of[from] else { return Ok(false) };
                match self.reply_due[t] {
                    Some((who, a)) if who == y && a == answer => {}
                    Some((who, a)) => {
                        return Err(format!("{me} gets {answer:?} from {}, but {} answered it {a:?}", self.name(y), self.name(who)));
                    }
                    None => return Err(format!("{me} gets a reply from {}, which has not answered it", self.name(y))),
                }
                self.reply_due[t] = None;
                self.check_sc(t, step, self.callee_sc(t, y))?;
                Ok(true)
            }
            Observed::Notify(to) => {
                let Some(y) = self.thread_of[to].filter(|&y| self.is_server(y) && t < self.paths) else { return Ok(false) };
                if !matches!(self.s.threads[t].run, Run::Working { .. }) || self.reply_due[t].is_some() {
                    return Err(format!("{me} notifies {} while it is in a call", self.name(y)));
                }
                self.inflight[t] = Some(InFlight::Notify(y));
                Ok(true)
            }
            Observed::Notified(ref from) => {
                if !self.is_server(t) || !from.iter().any(|&p| self.thread_of[p].is_some_and(|x| x < self.paths)) {
                    return Ok(false);
                }
                if !self.notified_due[t] {
                    return Err(format!("{me} handles a notification, but none woke it (none is pending, or it is busy)"));
                }
                self.notified_due[t] = false;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn after_recv_notification(&mut self, y: usize) {
        if matches!(self.s.threads[y].run, Run::Serving { .. }) && self.s.threads[y].reply.is_none() {
            self.notified_due[y] = true;
        }
    }

    /// A supervisor's event about child pod `t`.
    fn child_event(&mut self, t: usize, what: &Observed) -> Result<bool, String> {
        let me = self.name(t).to_string();
        let srv = self.srv(t);
        let in_call = self.s.threads[t].reply.is_some();
        match *what {
            Observed::ChildFault(_) => {
                if self.inflight[t].is_some() || !in_call || !matches!(self.s.threads[t].run, Run::Serving { .. } | Run::Spinning) {
                    return Err(format!("{me} faults, but the model's pods fault only while serving a call"));
                }
                self.s.faults_left = 1;
                self.model.fault(&mut self.s, srv);
                Ok(true)
            }
            Observed::ChildOverrun { used_us, bound_us, .. } => {
                if used_us <= bound_us {
                    return Err(format!("the watchdog stops {me}'s call at {used_us} µs, within its bound of {bound_us} µs"));
                }
                if !self.model.watchdog_decides(&self.s, srv) {
                    return Err(format!(
                        "the watchdog stops {me}'s call, but the model's watchdog decides only about a pod in a call, not blocked in \
                         its own nested call, and not already stopped in that call"
                    ));
                }
                if let Some(InFlight::Answer(..)) = self.inflight[t] {
                    // Stopped while its answer was on the way (preempted before `ReplyRecv`):
                    // the restart abandons it.
                    self.inflight[t] = None;
                }
                if matches!(self.s.threads[t].run, Run::Serving { .. }) {
                    // Hidden: the call ran past its bound (to the model, a pod that spins).
                    self.s.spins_left = 1;
                    self.model.spin(&mut self.s, srv);
                }
                self.overrun[t] = true;
                Ok(true)
            }
            Observed::ChildRestart(_, reason) => {
                let fault_wait = self.s.threads[t].run == Run::FaultWait;
                let reason = match reason {
                    Some(Reason::Fault) if fault_wait => Reason::Fault,
                    Some(Reason::Overrun) if self.overrun[t] => Reason::Overrun,
                    None if fault_wait => Reason::Fault,
                    None if self.overrun[t] => Reason::Overrun,
                    _ => {
                        return Err(format!(
                            "the supervisor restarts {me}{}, but it neither faulted in a call nor was stopped by the watchdog",
                            reason.map_or(String::new(), |r| format!(" ({r:?})"))
                        ));
                    }
                };
                if reason == Reason::Overrun {
                    self.overrun[t] = false;
                    self.s.stopped[srv] = true;
                }
                self.model.restart(&mut self.s, srv, reason);
                self.restarted[t] = Some((reason, false, false));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
