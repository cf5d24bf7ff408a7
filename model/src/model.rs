//! The transition system: one action is one tick of the CPU (of every core, in a multi-core
//! scenario), or a zero-time step (an injected pod fault or spin, or a step of tunnelkit's
//! supervisor).
//!
//! Semantics (seL4 MCS, as tunnelkit uses it):
//! - Fixed-priority preemptive scheduling on one CPU: each tick the highest-priority thread that
//!   is runnable (working, with an SC bound that has budget left) runs for one tick and its SC is
//!   charged; ties between equal priorities are left to the checker (every choice is explored).
//! - Each SC is refilled to its full budget at every multiple of its period. A thread whose SC
//!   has no budget left does not run until then, whether it is the SC's owner or a pod running on
//!   the donated SC (the pod is then stuck mid-call and later callers queue on its endpoint).
//! - `Call` on an endpoint: if the server waits in `Recv`, the message is received at once and,
//!   for a passive server, the caller's SC moves to the server and the reply object records the
//!   caller; otherwise the caller waits in the endpoint queue (priority order, FIFO within a
//!   priority) keeping its SC. `Send` is the same without reply object and without donation, and
//!   the sender continues once received.
//! - `ReplyRecv`: the reply unblocks the caller and, for a passive server, the SC goes back with
//!   it; then the server takes the head of its queue (receiving that caller's SC) or waits.
//! - A pod fault: with tunnelkit's supervisor, the pod blocks on its fault message (keeping the
//!   donated SC) until the supervisor, at top priority, restarts it; without it (plain Microkit)
//!   the pod stops and keeps the SC and the caller stays blocked.
//! - A pod may spin for ever in a call. The supervisor's watchdog (if configured) runs at every
//!   multiple of `tick`: it adds the caller's SC consumption since the last check to the pod's
//!   current-call account (restarted if a new call began since: at that interval's consumption,
//!   or at zero, per [`Watchdog::charge_first_interval`](crate::config::Watchdog)) and restarts
//!   the pod with reason `Overrun` when the account exceeds the pod's bound. A nested call runs
//!   on the path's SC, so the outer pod's account includes the inner pod's time; a pod blocked in
//!   its own nested call is not restarted (it holds no SC), but can be once the call returned.
//! - Restart: the pod re-initialises on the still-donated SC (`restart_work` ticks; it waits for
//!   the refill if the SC is depleted), then answers the interrupted caller `Err(reason)`, returns
//!   the SC with the reply and takes its next queued caller. A second restart before the answer
//!   keeps the first reason; a pod blocked on its fault message when the watchdog kills it keeps
//!   `Fault`.
//! - The supervisor (its own SC, priority above every pod) is modelled as zero-time steps that
//!   run before the next tick whenever it has work: a due check, or a pending fault message
//!   (both orders are explored when both are pending).
//! - `Signal` on a server's notification never blocks the signaller. A pod waiting in `Recv` wakes
//!   on the SC bound to its notification (Microkit binds a passive PD's own SC there) and gives it
//!   back when done; otherwise the signal stays pending and is delivered before queued messages.
//! - Cores (scenarios whose paths are on two cores): every SC belongs to a core (a path's SC to the
//!   path's core); a thread runs on the core of the SC bound to it, so a pod runs on its caller's
//!   core and follows the donated SC (`migrateTCB(tcb, sc->scCore)`). A tick is one tick of every
//!   core at once: each core runs its own highest-priority runnable thread (or idles), charged to
//!   that thread's SC. System calls that end on both cores in the same tick are handled in either
//!   order (both explored). A pod whose `ReplyRecv` on one core takes a queued caller whose SC is
//!   on the other core migrates there; under [`KernelSmp::LostWakeup`] it is put on that core's
//!   ready queue without waking it ([`State::stranded`]): an idle core sleeps until a wakeup aimed
//!   at it — a refill (timer) of a thread of its own that becomes runnable — and only then notices
//!   the pod. A core that is running something notices it at the next tick (a kernel entry of that
//!   core is taken to happen every tick: optimistic). Under [`KernelSmp::Correct`] the core is
//!   woken and runs the pod at once.

use crate::config::{KernelSmp, MAX_CORES, Scenario};
use crate::property::PropertyId;
use crate::state::{Queued, Reason, Run, ScId, State, Thread, ThreadId};
use stateright::{Model, Property};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Name of the extra property that counts antecedents (never violated).
pub const ANTECEDENT_COUNTER: &str = "antecedent-counter";

/// Ticks of work a pod spends handling one notification.
pub const NOTIFIED_WORK: u8 = 1;

/// The operation a path issues when its client work ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `seL4_Call` (a Microkit protected procedure call): blocks for the reply, donates the SC.
    Call,
    /// `seL4_Send` on the endpoint: no reply object, no donation (seL4 #1616 when aimed at a pod).
    Send,
    /// `seL4_Signal` on the server's notification: never blocks.
    Signal,
}

/// An action of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// One tick of time. `run` is the thread that runs (`None`: the CPU idles). If that tick ends
    /// a path's client work, the path then issues `op` on its server, asking for `work` ticks.
    Tick {
        /// The thread that runs this tick.
        run: Option<ThreadId>,
        /// Request size if a path issues a request at the end of this tick.
        work: u8,
        /// The operation issued if the tick ends a path's client work.
        op: Op,
    },
    /// The pod (server index) faults while serving a call (zero time).
    Fault {
        /// Server index of the faulting pod.
        pod: u8,
    },
    /// The pod (server index) starts spinning for ever in the call it serves (zero time).
    Spin {
        /// Server index of the spinning pod.
        pod: u8,
    },
    /// The supervisor receives the pod's fault message and restarts it (zero time).
    Supervise {
        /// Server index of the faulted pod.
        pod: u8,
    },
    /// The supervisor's watchdog check, due at every multiple of `tick` (zero time).
    Check,
    /// One tick of time on every core of a multi-core scenario. `run[c]` is the thread core `c`
    /// runs (`None`: it idles); a path whose client work ends calls its server asking for
    /// `work[c]` ticks (paths only `Call` on several cores).
    SmpTick {
        /// The thread each core runs this tick.
        run: [Option<ThreadId>; MAX_CORES],
        /// Request size per core, if the path it runs calls at the end of this tick.
        work: [u8; MAX_CORES],
        /// Whether, when both cores' threads make a system call at the end of this tick, core 1's
        /// is handled first (the kernel lock serialises them; both orders are explored).
        core1_first: bool,
    },
}

/// The stateright model of one [`Scenario`].
#[derive(Clone, Debug)]
pub struct TunnelModel {
    /// The system being checked.
    pub scenario: Scenario,
    /// Owner thread of each SC.
    pub sc_owner: Vec<usize>,
    /// The core of each SC.
    pub sc_core: Vec<u8>,
    /// Number of cores.
    pub cores: usize,
    /// Full budget and period of each SC.
    pub sc_params: Vec<(u8, u8)>,
    /// Length of the time counter.
    pub hyperperiod: u8,
    /// Horizon of the bounded-response property.
    pub system_horizon: u32,
    /// Horizon of the crosstalk property (light path, own parameters only).
    pub light_horizon: u32,
    /// Ages saturate here (one past the largest horizon).
    pub age_cap: u8,
    /// Register only this property with the checker (used to search for a shortest counterexample).
    pub only: Option<PropertyId>,
    /// Counters of the states that reach each property's antecedent (in [`PropertyId::ALL`]
    /// order): when set (and `only` is not), an extra property registered with the checker,
    /// evaluated once per distinct reachable state, counts them.
    pub antecedents: Option<Arc<[AtomicUsize; PropertyId::COUNT]>>,
}

impl TunnelModel {
    /// Builds the model of a scenario (which must [`validate`](Scenario::validate)).
    pub fn new(scenario: Scenario) -> Self {
        let system_horizon = scenario.system_horizon();
        let light_horizon = scenario.own_horizon(0);
        let age_cap = u8::try_from(system_horizon.max(light_horizon) + 1).expect("horizon must fit in u8");
        let hyperperiod = scenario.hyperperiod();
        TunnelModel { hyperperiod, system_horizon, light_horizon, age_cap, ..Self::for_replay(scenario) }
    }

    /// The owner thread of every SC: paths, active servers, pods (their notification's SC).
    fn sc_owners(scenario: &Scenario) -> Vec<usize> {
        let p = scenario.paths.len();
        let mut sc_owner: Vec<usize> = (0..p).collect();
        sc_owner.extend((0..scenario.servers.len()).filter(|&s| !scenario.servers[s].passive()).map(|s| p + s));
        sc_owner.extend((0..scenario.servers.len()).filter(|&s| scenario.servers[s].ntfn_sc.is_some()).map(|s| p + s));
        sc_owner
    }

    /// The model of a scenario for replaying a trace ([`crate::replay`]): threads, SCs and cores
    /// only. Time is never advanced, so horizons and the hyperperiod are not computed (a real
    /// system's scenario need not fit the exhaustive checker's bounds).
    pub fn for_replay(scenario: Scenario) -> Self {
        let sc_owner = Self::sc_owners(&scenario);
        let mut sc_core: Vec<u8> = scenario.paths.iter().map(|p| p.core).collect();
        sc_core.resize(sc_owner.len(), 0);
        TunnelModel {
            sc_core,
            cores: scenario.cores(),
            sc_params: scenario.sc_params(),
            hyperperiod: 1,
            sc_owner,
            system_horizon: 0,
            light_horizon: 0,
            age_cap: 1,
            only: None,
            antecedents: None,
            scenario,
        }
    }

    fn paths(&self) -> usize {
        self.scenario.paths.len()
    }

    /// Whether thread `t` is a passive server (a pod).
    pub fn is_passive_server(&self, t: usize) -> bool {
        t >= self.paths() && self.scenario.servers[t - self.paths()].passive()
    }

    /// Priority of thread `t`.
    pub fn priority(&self, t: usize) -> u8 {
        if t < self.paths() { self.scenario.paths[t].priority } else { self.scenario.servers[t - self.paths()].priority }
    }

    /// Display name of thread `t`.
    pub fn thread_name(&self, t: usize) -> &'static str {
        if t < self.paths() { self.scenario.paths[t].name } else { self.scenario.servers[t - self.paths()].name }
    }

    /// The path at the root of the call chain thread `t` works for (`None`: no caller, e.g. a
    /// message received by `Send`).
    pub fn root_path(&self, s: &State, t: usize) -> Option<usize> {
        let mut t = t;
        for _ in 0..=s.threads.len() {
            if t < self.paths() {
                return Some(t);
            }
            t = usize::from(s.threads[t].reply?);
        }
        None
    }

    /// Whether server `i` is a wedged pod: passive, holding a message, with no SC to run on.
    pub fn wedged(&self, s: &State, i: usize) -> bool {
        self.wedged_thread(s, self.paths() + i)
    }

    /// [`wedged`](Self::wedged) by thread id (always `false` for paths).
    pub fn wedged_thread(&self, s: &State, t: usize) -> bool {
        self.is_passive_server(t) && matches!(s.threads[t].run, Run::Serving { .. }) && s.threads[t].sc.is_none()
    }

    /// The core thread `t` runs on: that of the SC bound to it (`None`: it has no SC).
    pub fn thread_core(&self, s: &State, t: usize) -> Option<usize> {
        s.threads[t].sc.map(|sc| usize::from(self.sc_core[usize::from(sc)]))
    }

    /// Whether thread `t` was put on its core's ready queue without waking the core (several
    /// cores, [`KernelSmp::LostWakeup`]).
    pub fn stranded(&self, s: &State, t: usize) -> bool {
        s.stranded.get(t).copied().unwrap_or(false)
    }

    /// Whether core `c` is awake: some thread on it that is not stranded is runnable (a sleeping
    /// core is woken by such a thread's refill timer). An awake core notices stranded threads.
    pub fn core_awake(&self, s: &State, c: usize) -> bool {
        (0..s.threads.len()).any(|t| self.runnable(s, t) && !self.stranded(s, t) && self.thread_core(s, t) == Some(c))
    }

    fn runnable(&self, s: &State, t: usize) -> bool {
        let th = &s.threads[t];
        matches!(th.run, Run::Working { .. } | Run::Serving { .. } | Run::Spinning | Run::Restarting { .. })
            && th.sc.is_some_and(|sc| s.budget[usize::from(sc)] > 0)
    }

    /// Whether the supervisor has work now (a due check or a pending fault message): it runs at
    /// top priority, before the next tick.
    pub fn supervisor_busy(&self, s: &State) -> bool {
        s.check_due || (self.scenario.supervisor && s.threads.iter().any(|t| t.run == Run::FaultWait))
    }

    /// Puts a message on server `srv`'s endpoint: received at once if it waits, else queued.
    pub(crate) fn deliver(&self, s: &mut State, srv: usize, msg: Queued) {
        let st = self.paths() + srv;
        if s.threads[st].run == Run::Recv {
            self.receive(s, srv, msg);
        } else {
            s.threads[usize::from(msg.from)].run = Run::Blocked;
            let prio = self.priority(usize::from(msg.from));
            let q = &mut s.queues[srv];
            let at = q.iter().position(|m| self.priority(usize::from(m.from)) < prio).unwrap_or(q.len());
            q.insert(at, msg);
        }
    }

    /// Server `srv` receives `msg`: donation and reply object for a Call, neither for a Send.
    pub(crate) fn receive(&self, s: &mut State, srv: usize, msg: Queued) {
        let st = self.paths() + srv;
        let from = usize::from(msg.from);
        s.threads[st].run = Run::Serving { left: msg.work, nested_done: false, err: None };
        if msg.call {
            // The pod's runtime publishes "in call since seq n"; the account restarts at the next
            // check (normalised to 0 here, it is overwritten then).
            s.fresh[srv] = self.scenario.watchdog.is_some() && self.scenario.servers[srv].passive();
            s.account[srv] = 0;
            s.stopped[srv] = false;
            s.threads[st].reply = Some(msg.from);
            s.threads[from].run = Run::Blocked;
            if self.scenario.servers[srv].passive() {
                s.threads[st].sc = s.threads[from].sc.take();
            }
        } else {
            s.threads[st].reply = None;
            self.resume_after_send(s, from);
        }
    }

    fn resume_after_send(&self, s: &mut State, from: usize) {
        if from < self.paths() {
            s.threads[from].run = Run::Working { left: self.scenario.paths[from].client_work };
        }
    }

    /// The reply half of `ReplyRecv` (or a restarted pod's error answer): unblocks the caller and
    /// returns a donated SC to it.
    pub(crate) fn reply(&self, s: &mut State, srv: usize, err: Option<Reason>) {
        let st = self.paths() + srv;
        if let Some(c) = s.threads[st].reply.take() {
            let c = usize::from(c);
            if self.scenario.servers[srv].passive() {
                s.threads[c].sc = s.threads[st].sc.take();
            }
            // The runtime publishes "idle": the next check resets the account (normalised here).
            s.account[srv] = 0;
            s.fresh[srv] = false;
            s.stopped[srv] = false;
            if c < self.paths() {
                // The right answer: a fault decides (no fault can follow an overrun kill: the
                // restarted pod runs tunnelkit's code, not the pod's), then a spin, else Ok.
                let right = if s.faulted[c] {
                    Some(Reason::Fault)
                } else if s.spun[c] {
                    Some(Reason::Overrun)
                } else {
                    None
                };
                if err != right {
                    s.wrong_answer = true;
                }
                s.answered |= err.is_some() || right.is_some();
                s.faulted[c] = false;
                s.spun[c] = false;
                s.age[c] = None;
                s.threads[c].run = Run::Working { left: self.scenario.paths[c].client_work };
            } else {
                // A pod whose nested call returned: one tick to finish, then it replies in turn.
                s.threads[c].run = Run::Serving { left: 1, nested_done: true, err };
            }
        } else if let Some(n) = self.scenario.ntfn_sc(srv)
            && s.threads[st].sc == Some(n)
        {
            // Done with a notification: the SC goes back to wait at the notification.
            s.threads[st].sc = None;
            s.ntfn_holds[srv] = true;
        }
    }

    /// `Signal` on server `srv`'s notification: wakes the server if it waits in `Recv` (a pod on the
    /// notification's SC, or on none if the notification has no SC), else leaves a pending signal.
    pub(crate) fn signal(&self, s: &mut State, srv: usize) {
        let st = self.paths() + srv;
        if s.threads[st].run == Run::Recv {
            self.wake(s, srv);
        } else {
            s.pending[srv] = true;
        }
    }

    /// Server `srv` handles a notification: a pod runs on the notification's SC if it holds one.
    pub(crate) fn wake(&self, s: &mut State, srv: usize) {
        let st = self.paths() + srv;
        s.pending[srv] = false;
        s.threads[st].run = Run::Serving { left: NOTIFIED_WORK, nested_done: true, err: None };
        s.threads[st].reply = None;
        if self.scenario.servers[srv].passive() {
            s.threads[st].sc = self.scenario.ntfn_sc(srv).filter(|_| s.ntfn_holds[srv]);
            s.ntfn_holds[srv] = false;
        }
    }

    /// The receive half of `ReplyRecv`: take the next queued message or wait.
    pub(crate) fn recv(&self, s: &mut State, srv: usize) {
        let st = self.paths() + srv;
        if s.pending[srv] {
            // A bound notification's pending signal is delivered before queued messages.
            self.wake(s, srv);
        } else if s.queues[srv].is_empty() {
            s.threads[st].run = Run::Recv;
        } else {
            let msg = s.queues[srv].remove(0);
            self.receive(s, srv, msg);
        }
    }

    /// Thread `t` finished its current work: issue its next operation.
    fn finish(&self, s: &mut State, t: usize, work: u8, op: Op) {
        if t < self.paths() {
            let srv = self.scenario.paths[t].calls;
            match op {
                Op::Call => {
                    s.age[t] = Some(0);
                    s.legit[t] =
                        self.scenario.bound_of(srv).is_none_or(|b| u32::from(work) + self.scenario.nested_work(srv) <= u32::from(b));
                    self.deliver(s, srv, Queued { from: t as u8, work, call: true });
                }
                Op::Send => self.deliver(s, srv, Queued { from: t as u8, work, call: false }),
                Op::Signal => {
                    s.threads[t].run = Run::Working { left: self.scenario.paths[t].client_work };
                    self.signal(s, srv);
                }
            }
            return;
        }
        let srv = t - self.paths();
        if let Run::Restarting { reason, .. } = s.threads[t].run {
            // Re-initialised: answer the interrupted caller, then take the next call.
            self.reply_recv(s, srv, Some(reason));
            return;
        }
        let Run::Serving { nested_done, err, .. } = s.threads[t].run else { return };
        match self.scenario.servers[srv].nested {
            Some((next, w)) if !nested_done => self.deliver(s, next, Queued { from: t as u8, work: w, call: true }),
            _ => self.reply_recv(s, srv, err),
        }
    }

    /// `ReplyRecv` of server `srv`, the current thread of the core it runs on. If the receive half
    /// takes a caller whose SC is on another core, the server migrates there with the SC; under
    /// [`KernelSmp::LostWakeup`] that core is not woken.
    pub(crate) fn reply_recv(&self, s: &mut State, srv: usize, err: Option<Reason>) {
        let st = self.paths() + srv;
        let here = self.thread_core(s, st);
        self.reply(s, srv, err);
        self.recv(s, srv);
        let there = self.thread_core(s, st);
        if self.cores > 1 && self.scenario.kernel == KernelSmp::LostWakeup && here.is_some() && there.is_some() && here != there {
            s.stranded[st] = true;
        }
    }

    fn tick(&self, s: &mut State, run: Option<ThreadId>, work: u8, op: Op) {
        let runs: Vec<(ThreadId, u8, Op)> = run.map(|t| (t, work, op)).into_iter().collect();
        self.advance(s, &runs);
    }

    /// One tick of every core: awake cores notice their stranded threads, then each core's
    /// thread runs, and the system calls that end this tick are handled in the order given.
    fn smp_tick(&self, s: &mut State, run: [Option<ThreadId>; MAX_CORES], work: [u8; MAX_CORES], core1_first: bool) {
        for c in 0..self.cores {
            if self.core_awake(s, c) {
                for t in 0..s.threads.len() {
                    if self.thread_core(s, t) == Some(c) {
                        s.stranded[t] = false;
                    }
                }
            }
        }
        let mut runs: Vec<(ThreadId, u8, Op)> = (0..self.cores).filter_map(|c| run[c].map(|t| (t, work[c], Op::Call))).collect();
        if core1_first {
            runs.reverse();
        }
        self.advance(s, &runs);
    }

    /// One tick: each of `runs` runs one tick on its SC, which is charged; then the threads whose
    /// work ended issue their next operation, in order; then time advances and SCs refill.
    fn advance(&self, s: &mut State, runs: &[(ThreadId, u8, Op)]) {
        for a in s.age.iter_mut().flatten() {
            *a = (*a + 1).min(self.age_cap);
        }
        let mut ended = Vec::new();
        for &(t, work, op) in runs {
            let t = usize::from(t);
            let sc = s.threads[t].sc.expect("runnable thread has an SC");
            s.budget[usize::from(sc)] -= 1;
            // Accounting: the SC's owning path is charged; the chain's root path got the work.
            let owner = self.sc_owner[usize::from(sc)];
            if owner < self.paths() {
                s.debt[owner] = (s.debt[owner] + 1).min(2);
            }
            if let Some(root) = self.root_path(s, t) {
                s.debt[root] = (s.debt[root] - 1).max(-2);
            }
            if let Some(wd) = self.scenario.watchdog
                && owner < self.paths()
            {
                s.consumed[owner] = (s.consumed[owner] + 1).min(wd.tick);
            }
            let done = match &mut s.threads[t].run {
                Run::Working { left } | Run::Serving { left, .. } | Run::Restarting { left, .. } => {
                    *left -= 1;
                    *left == 0
                }
                Run::Spinning => false,
                _ => unreachable!("only working threads run"),
            };
            if done {
                ended.push((t, work, op));
            }
        }
        for (t, work, op) in ended {
            self.finish(s, t, work, op);
        }
        s.time = (s.time + 1) % self.hyperperiod;
        for (sc, &(budget, period)) in self.sc_params.iter().enumerate() {
            if s.time.is_multiple_of(period) {
                s.budget[sc] = budget;
            }
        }
        if let Some(wd) = self.scenario.watchdog
            && s.time.is_multiple_of(wd.tick)
        {
            s.check_due = true;
        }
    }

    pub(crate) fn fault(&self, s: &mut State, srv: usize) {
        s.faults_left -= 1;
        let st = self.paths() + srv;
        if let Some(root) = self.root_path(s, st) {
            s.faulted[root] = true;
        }
        // With the supervisor the pod blocks on its fault message (keeping SC and reply object);
        // without, it is stopped for good.
        s.threads[st].run = if self.scenario.supervisor { Run::FaultWait } else { Run::Faulted };
    }

    pub(crate) fn spin(&self, s: &mut State, srv: usize) {
        s.spins_left -= 1;
        let st = self.paths() + srv;
        if let Some(root) = self.root_path(s, st) {
            s.spun[root] = true;
        }
        s.threads[st].run = Run::Spinning;
    }

    /// The supervisor restarts pod `srv` for `reason`: its registers are rewritten to the entry
    /// point and it re-initialises on the SC it holds. The first interruption of a call decides
    /// the answer: a pod blocked on its own fault message keeps `Fault`, a pod already restarting
    /// keeps its reason.
    pub(crate) fn restart(&self, s: &mut State, srv: usize, reason: Reason) {
        let st = self.paths() + srv;
        let reason = match s.threads[st].run {
            Run::FaultWait => Reason::Fault,
            Run::Restarting { reason: first, .. } => first,
            Run::Serving { .. } | Run::Spinning => reason,
            other => unreachable!("restart of a pod in {other:?}"),
        };
        s.threads[st].run = Run::Restarting { left: self.scenario.restart_work, reason };
    }

    /// The watchdog check: per pod in a call, add the caller's SC consumption since the last check
    /// to the call's account (or restart the account at it, if a new call began since) and restart
    /// the pod with reason `Overrun` if the account exceeds the pod's bound — unless the pod waits
    /// on its own nested call (blocked on the reply, it holds no SC to restart on; its account
    /// still grows, and it can be stopped once that call has returned).
    fn check(&self, s: &mut State) {
        let wd = self.scenario.watchdog.expect("a check needs a watchdog");
        s.check_due = false;
        for srv in (0..self.scenario.servers.len()).filter(|&i| self.scenario.servers[i].passive()) {
            let st = self.paths() + srv;
            let root = self.root_path(s, st);
            let (true, Some(root)) = (s.threads[st].reply.is_some(), root) else {
                s.account[srv] = 0;
                s.fresh[srv] = false;
                continue;
            };
            let bound = self.scenario.bound_of(srv).expect("a watchdog gives every pod a bound");
            let used = s.consumed[root];
            let acc = match (s.fresh[srv], wd.charge_first_interval) {
                (true, true) => used,
                (true, false) => 0,
                (false, _) => s.account[srv].saturating_add(used),
            };
            s.account[srv] = acc.min(bound + 1);
            s.fresh[srv] = false;
            if self.watchdog_decides(s, srv) && s.account[srv] > bound {
                if self.within_bound(s, srv) && !s.spun[root] {
                    s.false_overrun = true;
                }
                s.stopped[srv] = wd.stop_once;
                self.restart(s, srv, Reason::Overrun);
            }
        }
        s.consumed.fill(0);
    }

    /// Whether a check decides about pod `srv`: it is in a call (rooted at a path), does not wait
    /// on a nested call of its own, and its call was not stopped already (with `stop_once`).
    pub fn watchdog_decides(&self, s: &State, srv: usize) -> bool {
        let st = self.paths() + srv;
        s.threads[st].reply.is_some() && self.root_path(s, st).is_some() && s.threads[st].run != Run::Blocked && !s.stopped[srv]
    }

    /// Whether pod `srv`'s current call is within the pod's bound: the work it asks for (nested
    /// calls included) is at most the bound. A call from a path: as recorded at the call
    /// ([`State::legit`]); a nested call: its fixed size.
    pub fn within_bound(&self, s: &State, srv: usize) -> bool {
        let st = self.paths() + srv;
        let (Some(caller), Some(bound)) = (s.threads[st].reply, self.scenario.bound_of(srv)) else { return true };
        let caller = usize::from(caller);
        if caller < self.paths() {
            return s.legit[caller];
        }
        let (_, work) = self.scenario.servers[caller - self.paths()].nested.expect("a pod's caller pod calls it nested");
        u32::from(work) + self.scenario.nested_work(srv) <= u32::from(bound)
    }

    /// Adds one to the counter of every property whose antecedent state `s` reaches.
    fn count_antecedents(&self, s: &State) {
        if let Some(counters) = &self.antecedents {
            for (id, c) in PropertyId::ALL.iter().zip(counters.iter()) {
                if id.antecedent(self, s) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl TunnelModel {
    /// What core `c` may do this tick: `(thread, request size)` per choice, `(None, 0)` to idle.
    /// A sleeping core idles; an awake one runs a runnable thread of the top priority on it
    /// (stranded ones included: it notices them).
    fn core_choices(&self, s: &State, c: usize) -> Vec<(Option<ThreadId>, u8)> {
        if !self.core_awake(s, c) {
            return vec![(None, 0)];
        }
        let on_core: Vec<usize> = (0..s.threads.len()).filter(|&t| self.runnable(s, t) && self.thread_core(s, t) == Some(c)).collect();
        let top = on_core.iter().map(|&t| self.priority(t)).max();
        let mut v = Vec::new();
        for &t in on_core.iter().filter(|&&t| Some(self.priority(t)) == top) {
            match s.threads[t].run {
                Run::Working { left: 1 } if t < self.paths() => {
                    v.extend(self.scenario.paths[t].demand.iter().map(|&w| (Some(t as ThreadId), w)));
                }
                _ => v.push((Some(t as ThreadId), 0)),
            }
        }
        v
    }

    /// Whether thread `t`'s current work ends after one more tick (it then makes a system call).
    fn ends_this_tick(s: &State, t: usize) -> bool {
        matches!(s.threads[t].run, Run::Working { left: 1 } | Run::Serving { left: 1, .. } | Run::Restarting { left: 1, .. })
    }

    /// The actions of a multi-core scenario: every combination of the cores' choices, with both
    /// orders of two system calls that end in the same tick.
    fn smp_actions(&self, s: &State, actions: &mut Vec<Action>) {
        assert_eq!(self.cores, MAX_CORES, "the multi-core step is written for {MAX_CORES} cores");
        for (r0, w0) in self.core_choices(s, 0) {
            for &(r1, w1) in &self.core_choices(s, 1) {
                let (run, work) = ([r0, r1], [w0, w1]);
                actions.push(Action::SmpTick { run, work, core1_first: false });
                if let (Some(a), Some(b)) = (r0, r1)
                    && Self::ends_this_tick(s, usize::from(a))
                    && Self::ends_this_tick(s, usize::from(b))
                {
                    actions.push(Action::SmpTick { run, work, core1_first: true });
                }
            }
        }
    }
}

impl Model for TunnelModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let p = self.paths();
        let mut threads: Vec<Thread> = (0..p)
            .map(|i| Thread { run: Run::Working { left: self.scenario.paths[i].client_work }, sc: Some(i as ScId), reply: None })
            .collect();
        threads.extend((0..self.scenario.servers.len()).map(|i| Thread { run: Run::Recv, sc: self.scenario.server_sc(i), reply: None }));
        vec![State {
            time: 0,
            budget: self.sc_params.iter().map(|&(b, _)| b).collect(),
            threads,
            queues: vec![Vec::new(); self.scenario.servers.len()],
            age: vec![None; p],
            faulted: vec![false; p],
            spun: vec![false; p],
            legit: vec![true; p],
            debt: vec![0; p],
            ntfn_holds: self.scenario.servers.iter().map(|x| x.ntfn_sc.is_some()).collect(),
            pending: vec![false; self.scenario.servers.len()],
            faults_left: self.scenario.faults,
            spins_left: self.scenario.spins,
            check_due: false,
            consumed: vec![0; p],
            account: vec![0; self.scenario.servers.len()],
            fresh: vec![false; self.scenario.servers.len()],
            stopped: vec![false; self.scenario.servers.len()],
            stranded: if self.cores > 1 { vec![false; p + self.scenario.servers.len()] } else { Vec::new() },
            wrong_answer: false,
            false_overrun: false,
            answered: false,
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        if self.cores > 1 {
            self.smp_actions(s, actions);
            return;
        }
        let n = s.threads.len();
        let busy = self.supervisor_busy(s);
        let top = (0..n).filter(|&t| self.runnable(s, t)).map(|t| self.priority(t)).max();
        if busy {
            // The supervisor runs first: its steps take no time, in either order.
            if s.check_due {
                actions.push(Action::Check);
            }
            if self.scenario.supervisor {
                for srv in 0..self.scenario.servers.len() {
                    if s.threads[self.paths() + srv].run == Run::FaultWait {
                        actions.push(Action::Supervise { pod: srv as u8 });
                    }
                }
            }
        }
        match top {
            _ if busy => {}
            None => actions.push(Action::Tick { run: None, work: 0, op: Op::Call }),
            Some(top) => {
                for t in (0..n).filter(|&t| self.runnable(s, t) && self.priority(t) == top) {
                    let run = Some(t as ThreadId);
                    match s.threads[t].run {
                        Run::Working { left: 1 } => {
                            for &work in &self.scenario.paths[t].demand {
                                actions.push(Action::Tick { run, work, op: Op::Call });
                                if self.scenario.allow_send {
                                    actions.push(Action::Tick { run, work, op: Op::Send });
                                }
                            }
                            // Signals go only to a pod whose notification has an SC (as Microkit sets up).
                            let srv = self.scenario.paths[t].calls;
                            if self.scenario.allow_signal && self.scenario.servers[srv].ntfn_sc.is_some() {
                                actions.push(Action::Tick { run, work: 0, op: Op::Signal });
                            }
                        }
                        _ => actions.push(Action::Tick { run, work: 0, op: Op::Call }),
                    }
                }
            }
        }
        for srv in (0..self.scenario.servers.len()).filter(|&i| self.scenario.servers[i].passive()) {
            let t = &s.threads[self.paths() + srv];
            if t.reply.is_none() {
                continue;
            }
            // Faults hit the pod's own code: a call being served (or spun in), not a restart.
            if s.faults_left > 0 && matches!(t.run, Run::Serving { .. } | Run::Spinning) {
                actions.push(Action::Fault { pod: srv as u8 });
            }
            // A spin starts between ticks (not while the supervisor is due: a spin starts
            // spending only at the next tick anyway).
            if s.spins_left > 0
                && !busy
                && matches!(t.run, Run::Serving { .. })
                && self.root_path(s, self.paths() + srv).is_some_and(|r| self.scenario.may_spin(srv, r))
            {
                actions.push(Action::Spin { pod: srv as u8 });
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        s.answered = false;
        match action {
            Action::Tick { run, work, op } => self.tick(&mut s, run, work, op),
            Action::Fault { pod } => self.fault(&mut s, usize::from(pod)),
            Action::Spin { pod } => self.spin(&mut s, usize::from(pod)),
            Action::Supervise { pod } => self.restart(&mut s, usize::from(pod), Reason::Fault),
            Action::Check => self.check(&mut s),
            Action::SmpTick { run, work, core1_first } => self.smp_tick(&mut s, run, work, core1_first),
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let all: [Property<Self>; PropertyId::COUNT] = [
            Property::always(PropertyId::ScConservation.name(), |m, s| PropertyId::ScConservation.holds(m, s)),
            Property::always(PropertyId::BoundedResponse.name(), |m, s| PropertyId::BoundedResponse.holds(m, s)),
            Property::always(PropertyId::NoDeadlock.name(), |m, s| PropertyId::NoDeadlock.holds(m, s)),
            Property::always(PropertyId::Accounting.name(), |m, s| PropertyId::Accounting.holds(m, s)),
            Property::always(PropertyId::Crosstalk.name(), |m, s| PropertyId::Crosstalk.holds(m, s)),
            Property::always(PropertyId::NoWedgedPod.name(), |m, s| PropertyId::NoWedgedPod.holds(m, s)),
            Property::always(PropertyId::RightAnswer.name(), |m, s| PropertyId::RightAnswer.holds(m, s)),
            Property::always(PropertyId::NoFalseOverrun.name(), |m, s| PropertyId::NoFalseOverrun.holds(m, s)),
        ];
        let mut props: Vec<Property<Self>> =
            all.into_iter().zip(PropertyId::ALL).filter(|(_, id)| self.only.is_none_or(|o| o == *id)).map(|(p, _)| p).collect();
        if self.only.is_none() && self.antecedents.is_some() {
            // Never violated: evaluated once per distinct reachable state, it counts antecedents
            // (and keeps the search exhaustive even if every other property had failed).
            props.push(Property::always(ANTECEDENT_COUNTER, |m, s| {
                m.count_antecedents(s);
                true
            }));
        }
        props
    }
}
