//! Model configurations: the systems (scenarios) checked and what each property is expected to do.

use crate::property::PropertyId;

/// One client path: an active thread with its own scheduling context.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PathSpec {
    /// Name used in traces and reports (`light`, `heavy`, …).
    pub name: &'static str,
    /// Fixed priority (higher runs first).
    pub priority: u8,
    /// Budget of the path's SC, in ticks per period.
    pub budget: u8,
    /// Period of the path's SC, in ticks.
    pub period: u8,
    /// Ticks of client-side work between two calls (at least 1).
    pub client_work: u8,
    /// The request sizes (ticks of server work) the path may ask for; the checker tries every one.
    pub demand: Vec<u8>,
    /// Index of the server whose endpoint this path calls.
    pub calls: usize,
    /// The core the path's thread and SC belong to (0 in every single-core scenario).
    pub core: u8,
}

/// A server thread: a passive pod (no SC of its own) or an active server (own SC).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerSpec {
    /// Name used in traces and reports.
    pub name: &'static str,
    /// Fixed priority; Microkit requires it to be strictly above every caller's.
    pub priority: u8,
    /// `None`: passive (a pod, runs on the donated SC); `Some((budget, period))`: active server.
    pub own_sc: Option<(u8, u8)>,
    /// A nested call made after the request's work: `(server index, ticks of work asked for)`.
    pub nested: Option<(usize, u8)>,
    /// Pods only: `(budget, period)` of the SC bound to the pod's notification. Microkit binds a
    /// passive PD's own SC to its notification, so a `Signal` wakes the pod on that SC (and the SC
    /// waits at the notification otherwise). `None`: a signalled pod wakes with no SC.
    pub ntfn_sc: Option<(u8, u8)>,
    /// Pods under a watchdog: this pod's own per-call bound in ticks of its caller's CPU time
    /// (tunnelkit declares one per child). `None`: the watchdog's [`bound`](Watchdog::bound).
    pub bound: Option<u8>,
}

impl ServerSpec {
    /// Whether the server is passive (a pod).
    pub fn passive(&self) -> bool {
        self.own_sc.is_none()
    }
}

/// tunnelkit's overrun watchdog: a periodic ticker wakes the supervisor every `tick` ticks; at each
/// check it adds what the caller's SC consumed since the previous check to the pod's current-call
/// account (restarting the account if a new call began since), and restarts the pod with reason
/// `Overrun` when the account exceeds `bound`.
///
/// Two policies for a call first seen at a check: [`charge_first_interval`](Self::charge_first_interval)
/// `true` charges it that whole interval's consumption (an over-approximation by at most one
/// interval: the caller's own work before the call), `false` charges it nothing (an
/// under-approximation by at most one interval: the call's work before it was first seen), as
/// the implementation's `Watchdog::tick` does (`components/supervisor-lib/src/watchdog.rs`, run by
/// `components/supervisor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Watchdog {
    /// Ticks between two supervisor checks (the ticker's period).
    pub tick: u8,
    /// The pods' declared per-call bound, in ticks of the caller's CPU time.
    pub bound: u8,
    /// `false` (the protocol as specified): every check restarts a pod whose call is over its
    /// bound, also one already re-initialising after a restart for that call (the first reason is
    /// kept). `true`: the watchdog stops a call at most once (as the implementation does: it
    /// remembers the stopped call's sequence number), so a pod re-initialising after an overrun
    /// stop is left alone; one re-initialising after a fault can still be stopped once.
    pub stop_once: bool,
    /// Whether a call first seen at a check is charged that interval's whole consumption (`true`,
    /// over-approximation) or nothing (`false`, under-approximation).
    pub charge_first_interval: bool,
}

impl Watchdog {
    /// The same watchdog with another bound (a pod's own, [`ServerSpec::bound`]).
    pub fn with_bound(self, bound: u8) -> Self {
        Watchdog { bound, ..self }
    }

    /// The largest pod work (ticks) of a call that this policy never kills (the configurations
    /// ask for at most this much where a scenario is meant to stay clear of false kills; the
    /// property `no-false-overrun` itself covers every call within `bound`). Charging the first
    /// interval over-approximates a call by at most one tick interval (the caller's consumption
    /// before the call, in the interval it began in): `bound - tick`. Charging it nothing never
    /// over-approximates: `bound`.
    pub fn legit_limit(self) -> u8 {
        if self.charge_first_interval { self.bound.saturating_sub(self.tick) } else { self.bound }
    }

    /// An upper bound on the CPU time a spinning call uses before the kill: with the first
    /// interval charged, the account (at least the call's work) was at most `bound` at the last
    /// check before the kill, and one more interval follows: `bound + tick`. Charged nothing, the
    /// call's work before it was first seen (less than one interval) adds to that: `bound + 2 tick`.
    /// (In the model's whole ticks each is one tick less: the caller's issuing tick is always in
    /// the charged interval, and a call begins at the end of a tick.)
    pub fn kill_work(self) -> u32 {
        let late = if self.charge_first_interval { 0 } else { u32::from(self.tick) };
        u32::from(self.bound) + u32::from(self.tick) + late
    }

    /// Worst-case pod work of a call that spins: [`kill_work`](Self::kill_work), then the restart.
    pub fn spin_work(self, restart_work: u8) -> u32 {
        self.kill_work() + u32::from(restart_work)
    }
}

/// Most cores a scenario may use.
pub const MAX_CORES: usize = 2;

/// How the kernel places a passive server that, in the receive half of `ReplyRecv` on one core,
/// takes a queued caller whose SC belongs to another core (the SC's donation migrates the server
/// to that core: `schedContext_donate` calls `migrateTCB(tcb, sc->scCore)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelSmp {
    /// seL4 16.0.0 MCS SMP as read from its source: the migrated server is still the current
    /// thread of the core it ran on, whose scheduler puts it on the other core's ready queue with
    /// `SCHED_ENQUEUE_CURRENT_TCB` (`tcbSchedEnqueue`, no `remoteQueueUpdate`): no reschedule IPI.
    /// An idle core sleeps until a wakeup aimed at it, so the server is not run until something
    /// else on that core becomes runnable through an event that wakes it (a refill timer).
    LostWakeup,
    /// The server is enqueued on the other core and that core is woken (an IPI): it runs there at
    /// once if it has the top priority.
    Correct,
}

/// Outcome of one property in one scenario, expected or found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The invariant holds in every reachable state, and some reachable state reached its
    /// antecedent ([`PropertyId::antecedent`]): it was exercised.
    Holds,
    /// The invariant holds, but no reachable state reached its antecedent: it holds vacuously
    /// (for example `no-false-overrun` without a watchdog).
    Vacuous,
    /// Some reachable state violates it (a counterexample exists).
    Fails,
}

impl Outcome {
    /// Whether the invariant holds (exercised or vacuously).
    pub fn holds(self) -> bool {
        self != Outcome::Fails
    }

    /// The outcome's name as printed: `holds`, `holds vacuously`, `fails`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Vacuous => "holds vacuously",
            Outcome::Fails => "fails",
        }
    }
}

impl core::fmt::Display for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// One system to check exhaustively, with the expected outcome of every property.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scenario {
    /// Short name (used in property lines: `crosstalk[shared-active]`).
    pub name: &'static str,
    /// One line describing the design.
    pub description: &'static str,
    /// Client paths; path 0 is the *light* path watched by the crosstalk property.
    pub paths: Vec<PathSpec>,
    /// Servers (pods and active servers).
    pub servers: Vec<ServerSpec>,
    /// Whether clients may use `Send` instead of `Call` on a server endpoint. `false` is tunnelkit's
    /// rule: only `pp` (Call) access to a pod endpoint, enforced by `tunnelkit check`.
    pub allow_send: bool,
    /// Whether clients may `Signal` their server's notification instead of calling it.
    pub allow_signal: bool,
    /// How many pod faults the checker may inject (each at any point a pod is serving).
    pub faults: u8,
    /// Whether tunnelkit's fault supervisor handles pod faults (restart the pod, which answers
    /// `Err(Fault)` and returns the SC). `false` is plain Microkit: the caller stays blocked forever.
    pub supervisor: bool,
    /// How many times the checker may make a pod spin for ever inside a call (at any tick at which
    /// it serves a call of one of `spin_paths`).
    pub spins: u8,
    /// The paths whose calls may spin (the pod serving the call spins).
    pub spin_paths: Vec<usize>,
    /// The pods (server indices) that may spin in those calls; `None`: any pod of the call chain.
    pub spin_pods: Option<Vec<usize>>,
    /// tunnelkit's overrun watchdog in the supervisor (`None`: no overrun detection).
    pub watchdog: Option<Watchdog>,
    /// Ticks a restarted pod re-initialises (on the donated SC) before it answers; at least 1.
    pub restart_work: u8,
    /// The kernel's cross-core behaviour (matters only when the paths are on more than one core).
    pub kernel: KernelSmp,
    /// Expected outcome per property, in [`PropertyId::ALL`] order: holds (exercised), holds
    /// vacuously, or fails. The run is as expected only if every outcome is exactly this.
    pub expect: [Outcome; PropertyId::COUNT],
}

impl Scenario {
    /// Number of cores: one past the highest core of a path (every SC of a server is on core 0).
    pub fn cores(&self) -> usize {
        self.paths.iter().map(|p| usize::from(p.core) + 1).max().unwrap_or(1)
    }

    /// Number of scheduling contexts: one per path, one per active server, one per pod notification.
    pub fn sc_count(&self) -> usize {
        self.sc_params().len()
    }

    /// `(budget, period)` of every SC: paths first, then active servers, then pod notifications,
    /// each in server order.
    pub fn sc_params(&self) -> Vec<(u8, u8)> {
        let mut v: Vec<(u8, u8)> = self.paths.iter().map(|p| (p.budget, p.period)).collect();
        v.extend(self.servers.iter().filter_map(|s| s.own_sc));
        v.extend(self.servers.iter().filter_map(|s| s.ntfn_sc));
        v
    }

    /// The SC bound to server `s`'s notification, if any.
    pub fn ntfn_sc(&self, s: usize) -> Option<u8> {
        self.servers[s].ntfn_sc?;
        let active = self.servers.iter().filter(|x| !x.passive()).count();
        let before = self.servers[..s].iter().filter(|x| x.ntfn_sc.is_some()).count();
        Some((self.paths.len() + active + before) as u8)
    }

    /// The SC owned by server `s`, if it is active.
    pub fn server_sc(&self, s: usize) -> Option<u8> {
        if self.servers[s].passive() {
            return None;
        }
        let before = self.servers[..s].iter().filter(|x| !x.passive()).count();
        Some((self.paths.len() + before) as u8)
    }

    /// Pod `srv`'s per-call bound under the watchdog (`None` without a watchdog).
    pub fn bound_of(&self, srv: usize) -> Option<u8> {
        self.watchdog.map(|wd| self.servers[srv].bound.unwrap_or(wd.bound))
    }

    /// Whether pod `srv` may spin in a call of path `p`.
    pub fn may_spin(&self, srv: usize, p: usize) -> bool {
        self.spins > 0 && self.spin_paths.contains(&p) && self.spin_pods.as_ref().is_none_or(|v| v.contains(&srv))
    }

    /// Ticks of work behind a call into server `srv` beyond what the call itself asks for: each
    /// nested call's work along the chain, plus the one tick each caller spends finishing after
    /// the nested reply.
    pub fn nested_work(&self, srv: usize) -> u32 {
        let mut w = 0;
        let mut s = srv;
        let mut hops = 0;
        while let Some((next, work)) = self.servers[s].nested {
            w += u32::from(work) + 1;
            s = next;
            hops += 1;
            assert!(hops <= self.servers.len(), "scenario {}: cyclic call graph", self.name);
        }
        w
    }

    /// Worst-case ticks of server work behind one call of path `p` (request, nested calls and the
    /// one tick each caller spends finishing after a nested reply). A fault replaces the rest of a
    /// pod's work by its re-initialisation (`restart_work`, at least one tick of work is left when
    /// a fault hits); a pod that may spin under a watchdog costs at most [`Watchdog::spin_work`]
    /// for its whole call (its account covers its nested calls' time); a pod stopped after its
    /// nested call returned (over its bound with the inner pod's time) re-initialises in place of
    /// its last tick.
    pub fn request_work(&self, p: usize) -> u32 {
        let demand = self.paths[p].demand.iter().copied().max().unwrap_or(0);
        self.call_work(p, self.paths[p].calls, demand, 0)
    }

    /// [`request_work`](Self::request_work) of a call of path `p` into server `srv` asking for `w` ticks.
    fn call_work(&self, p: usize, srv: usize, w: u8, depth: usize) -> u32 {
        assert!(depth <= self.servers.len(), "scenario {}: cyclic call graph", self.name);
        let extra = u32::from(self.restart_work.saturating_sub(1));
        let mut total = u32::from(w);
        if self.faults > 0 && self.supervisor {
            total += extra;
        }
        if let Some((next, work)) = self.servers[srv].nested {
            total += self.call_work(p, next, work, depth + 1) + 1;
            if self.watchdog.is_some() && self.spins > 0 {
                total += extra;
            }
        }
        if let (Some(wd), Some(bound)) = (self.watchdog, self.bound_of(srv))
            && self.may_spin(srv, p)
        {
            total = total.max(wd.with_bound(bound).spin_work(self.restart_work));
        }
        total
    }

    /// Response horizon of path `p` from its own parameters only: with every period's budgets
    /// summing to at most the period, a path that is always runnable on its own SC gets its full
    /// budget each period, so a call is answered within `(ceil(W / budget) + 1) * period` ticks.
    pub fn own_horizon(&self, p: usize) -> u32 {
        let path = &self.paths[p];
        (self.request_work(p).div_ceil(u32::from(path.budget)) + 1) * u32::from(path.period)
    }

    /// System horizon: enough for one request of every path to be served in turn on the smallest
    /// budget and longest period in the system (queueing behind everyone once).
    pub fn system_horizon(&self) -> u32 {
        let params = self.sc_params();
        let bmin = u32::from(params.iter().map(|p| p.0).min().unwrap_or(1));
        let tmax = u32::from(params.iter().map(|p| p.1).max().unwrap_or(1));
        (0..self.paths.len()).map(|p| (self.request_work(p).div_ceil(bmin) + 1) * tmax).sum()
    }

    /// Length of the global time counter: the least common multiple of all periods.
    pub fn hyperperiod(&self) -> u8 {
        fn gcd(a: u32, b: u32) -> u32 {
            if b == 0 { a } else { gcd(b, a % b) }
        }
        let tick = self.watchdog.map(|w| (0, w.tick));
        let l = self.sc_params().iter().chain(&tick).fold(1u32, |l, &(_, t)| l / gcd(l, u32::from(t)) * u32::from(t));
        u8::try_from(l).expect("hyperperiod must fit in u8")
    }

    /// Checks the scenario's shape: priorities ordered along calls (acyclic), positive budgets,
    /// budgets within periods, indices in range.
    pub fn validate(&self) -> Result<(), String> {
        let err = |m: String| Err(format!("scenario {}: {m}", self.name));
        // One path more on two cores: one per core besides two callers of a shared pod.
        let most = if self.cores() > 1 { 4 } else { 3 };
        if self.paths.is_empty() || self.paths.len() > most {
            return err(format!("1 to {most} paths"));
        }
        for (b, t) in self.sc_params() {
            if b == 0 || t == 0 || b > t {
                return err(format!("bad SC budget {b} / period {t}"));
            }
        }
        for p in &self.paths {
            if p.client_work == 0 || p.demand.is_empty() || p.demand.contains(&0) || p.calls >= self.servers.len() {
                return err(format!("bad path {}", p.name));
            }
            if self.servers[p.calls].priority <= p.priority {
                return err(format!("path {} calls a server of lower or equal priority", p.name));
            }
        }
        for s in &self.servers {
            if s.ntfn_sc.is_some() && !s.passive() {
                return err(format!("{}: only a pod has a notification SC", s.name));
            }
            if let Some((n, w)) = s.nested
                && (n >= self.servers.len() || w == 0 || self.servers[n].priority <= s.priority)
            {
                return err(format!("bad nested call from {}", s.name));
            }
        }
        if self.restart_work == 0 {
            return err("restart_work must be at least 1".into());
        }
        if self.cores() > MAX_CORES {
            return err(format!("at most {MAX_CORES} cores"));
        }
        // Cores are modelled for Call-only clients of passive pods: no faults, spins, watchdog,
        // Send, Signal, active servers or notification SCs together with them.
        if self.cores() > 1
            && (self.faults > 0
                || self.spins > 0
                || self.watchdog.is_some()
                || self.allow_send
                || self.allow_signal
                || self.servers.iter().any(|s| !s.passive() || s.ntfn_sc.is_some()))
        {
            return err("several cores are modelled only with Call-only paths and passive pods, without faults, spins or watchdog".into());
        }
        if self.spin_paths.iter().any(|&p| p >= self.paths.len()) {
            return err("spin path out of range".into());
        }
        if self.spin_pods.iter().flatten().any(|&s| s >= self.servers.len() || !self.servers[s].passive()) {
            return err("spin pods must be pods".into());
        }
        for s in &self.servers {
            if s.bound.is_some() && (self.watchdog.is_none() || !s.passive() || s.bound == Some(0)) {
                return err(format!("{}: a bound of at least 1, only for a pod under a watchdog", s.name));
            }
        }
        if let Some(wd) = self.watchdog
            && (wd.tick == 0 || wd.bound == 0 || !self.supervisor)
        {
            return err("a watchdog needs tick >= 1, bound >= 1 and the supervisor".into());
        }
        Ok(())
    }
}

/// A set of scenarios checked together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelConfig {
    /// `small` or `large` (or a caller's own name).
    pub name: &'static str,
    /// The systems to check.
    pub scenarios: Vec<Scenario>,
    /// Checker threads (the machine has 2 cores).
    pub threads: usize,
}

use PropertyId::{
    Accounting as ACCT, BoundedResponse as RESP, Crosstalk as XTALK, NoDeadlock as DEAD, NoFalseOverrun as FALSE, NoWedgedPod as WEDGE,
    RightAnswer as ANSWER, ScConservation as SC,
};

fn path(name: &'static str, priority: u8, budget: u8, period: u8, demand: &[u8], calls: usize) -> PathSpec {
    PathSpec { name, priority, budget, period, client_work: 1, demand: demand.to_vec(), calls, core: 0 }
}

fn pod(name: &'static str, priority: u8) -> ServerSpec {
    ServerSpec { name, priority, own_sc: None, nested: None, ntfn_sc: None, bound: None }
}

/// Expected outcomes in [`PropertyId::ALL`] order: every property holds and is exercised (some
/// reachable state reaches its antecedent), except those listed as failing and those expected to
/// hold vacuously (no reachable state reaches their antecedent).
fn expect(fails: &[PropertyId], vacuous: &[PropertyId]) -> [Outcome; PropertyId::COUNT] {
    PropertyId::ALL.map(|p| {
        assert!(!(fails.contains(&p) && vacuous.contains(&p)), "{} both fails and is vacuous", p.name());
        if fails.contains(&p) {
            Outcome::Fails
        } else if vacuous.contains(&p) {
            Outcome::Vacuous
        } else {
            Outcome::Holds
        }
    })
}

/// Vacuous in every scenario without the restart protocol's answers (no fault answered by the
/// supervisor, no spin stopped by a watchdog) and without a watchdog: no answer is, or should be,
/// an error, and the watchdog never decides.
const NO_PROTOCOL: &[PropertyId] = &[ANSWER, FALSE];

impl ModelConfig {
    /// Small systems (two paths, period 4): each scenario checks in well under a second.
    pub fn small() -> Self {
        Self::with_period(
            4,
            1,
            2,
            &[1, 2, 3, 4, 5, 6],
            1,
            Watchdog { tick: 2, bound: 5, stop_once: false, charge_first_interval: true },
            "small",
        )
    }

    /// Larger systems: period 8, bigger budgets and demands, a third (medium) path in the per-path
    /// tunnel and shared designs, and up to two injected faults.
    pub fn large() -> Self {
        let mut cfg = Self::with_period(
            8,
            2,
            3,
            &[1, 2, 3, 4, 5, 6, 7, 8],
            2,
            Watchdog { tick: 4, bound: 7, stop_once: false, charge_first_interval: true },
            "large",
        );
        // Three-path variants: a medium path between light and heavy.
        let medium = |calls| path("medium", 2, 2, 8, &[1, 2, 3], calls);
        for sc in &mut cfg.scenarios {
            match sc.name {
                "tunnel" | "tunnel-fault" => {
                    sc.paths.push(medium(2));
                    sc.servers.push(pod("pod-medium", 4));
                }
                "tunnel-watchdog" | "watchdog-uncharged" => {
                    // Medium's requests (at most 3 ticks) are within bound - tick (7 - 4);
                    // both heavy and medium may spin, the light path watches.
                    sc.paths.push(medium(2));
                    sc.servers.push(pod("pod-medium", 4));
                    sc.spin_paths.push(2);
                }
                "shared-active" | "shared-passive" => {
                    sc.paths.push(medium(0));
                    // With two higher-priority callers taking turns, the priority-ordered endpoint
                    // queue lets them overtake the light path's call forever: starvation.
                    sc.expect[RESP as usize] = Outcome::Fails;
                }
                _ => {}
            }
            // Heavy's priority stays above medium's.
            for p in &mut sc.paths {
                if p.name == "heavy" {
                    p.priority = 3;
                }
            }
            // An active server gets what the paths leave of the period.
            let used: u8 = sc.paths.iter().map(|p| p.budget).sum();
            for s in &mut sc.servers {
                if let Some((b, t)) = &mut s.own_sc {
                    *b = (*t - used).max(1);
                }
            }
        }
        cfg
    }

    /// The standard scenario set with the given period, light budget, heavy budget and demands,
    /// injected faults and watchdog (for the overrun scenarios).
    fn with_period(period: u8, b_light: u8, b_heavy: u8, heavy_demand: &[u8], faults: u8, watchdog: Watchdog, name: &'static str) -> Self {
        let light = |calls| path("light", 1, b_light, period, &[1], calls);
        let heavy = |calls| path("heavy", 2, b_heavy, period, heavy_demand, calls);
        // Under the watchdog, the heavy path's requests that the specified policy never stops: at
        // most `bound - tick` ticks.
        let legit: Vec<u8> = heavy_demand.iter().copied().filter(|&d| d <= watchdog.legit_limit()).collect();
        let heavy_legit = |calls| path("heavy", 2, b_heavy, period, &legit, calls);
        // Requests within the declared bound but above `bound - tick`.
        let margin: Vec<u8> = (watchdog.legit_limit() + 1..=watchdog.bound).collect();
        // The implementation's policy, and every request within its bound.
        let uncharged = Watchdog { bound: watchdog.bound - 1, charge_first_interval: false, stop_once: true, ..watchdog };
        let within: Vec<u8> = heavy_demand.iter().copied().filter(|&d| d <= uncharged.bound).collect();
        let spare = period - b_light - b_heavy;
        let base = Scenario {
            name: "tunnel",
            description: "per-path tunnel pods: each path calls its own passive pod",
            paths: vec![light(0), heavy(1)],
            servers: vec![pod("pod-light", 4), pod("pod-heavy", 4)],
            allow_send: false,
            allow_signal: false,
            faults: 0,
            supervisor: true,
            spins: 0,
            spin_paths: Vec::new(),
            spin_pods: None,
            watchdog: None,
            restart_work: 1,
            kernel: KernelSmp::LostWakeup,
            expect: expect(&[], NO_PROTOCOL),
        };
        // Nested calls under the implementation's watchdog: heavy -> pod A -> pod B (one tick),
        // the light path calls its own pod and watches. Heavy's requests keep its whole call
        // (request, B's tick, A's finishing tick) within A's bound; only B spins. With equal
        // bounds, A's account (which includes B's time) can pass A's bound while B spins.
        let nested_within: Vec<u8> = heavy_demand.iter().copied().filter(|&d| u32::from(d) + 2 <= u32::from(uncharged.bound)).collect();
        let nested = Scenario {
            name: "watchdog-nested",
            description: "heavy -> pod A -> pod B under the implementation's watchdog, equal bounds; B may spin, pods may fault",
            paths: vec![light(0), path("heavy", 2, b_heavy, period, &nested_within, 1)],
            servers: vec![pod("pod-light", 4), ServerSpec { nested: Some((2, 1)), ..pod("pod-a", 4) }, pod("pod-b", 5)],
            faults,
            spins: faults,
            spin_paths: vec![1],
            spin_pods: Some(vec![2]),
            watchdog: Some(uncharged),
            // B spins (its account up to its bound), then faults: the supervisor restarts B, which
            // answers A `Err(Fault)`; before A passes it on, a check finds A's account (B's spin
            // included) over A's equal bound and restarts A, which answers `Err(Overrun)`.
            expect: expect(&[RESP, ANSWER], &[]),
            ..base.clone()
        };
        // A's bound covering its own work and B's worst case (B's bound, the watchdog's latency,
        // B's re-initialisation) and its finishing tick.
        let outer = u8::try_from(u32::from(*nested_within.iter().max().unwrap()) + 1 + uncharged.spin_work(1)).unwrap();
        let nested_slack = Scenario {
            name: "watchdog-nested-slack",
            description: "as watchdog-nested, A's bound covering B's worst case (bound, kill latency, restart)",
            servers: vec![pod("pod-light", 4), ServerSpec { nested: Some((2, 1)), bound: Some(outer), ..pod("pod-a", 4) }, pod("pod-b", 5)],
            expect: expect(&[], &[]),
            ..nested.clone()
        };
        let scenarios = vec![
            base.clone(),
            Scenario {
                name: "tunnel-fault",
                description: "per-path pods; the checker injects pod faults; tunnelkit's supervisor answers Err(Fault)",
                faults,
                expect: expect(&[], &[FALSE]),
                ..base.clone()
            },
            Scenario {
                name: "tunnel-nested",
                description: "nested tunnels: light -> pod A -> pod B, heavy -> its own pod",
                servers: vec![ServerSpec { nested: Some((2, 1)), ..pod("pod-a", 4) }, pod("pod-heavy", 4), pod("pod-b", 5)],
                faults: 1,
                expect: expect(&[], &[FALSE]),
                ..base.clone()
            },
            Scenario {
                name: "fault-no-supervisor",
                description: "per-path pods, pod faults, plain Microkit (no timeout/fault handling)",
                faults: 1,
                supervisor: false,
                // A faulted call is never answered: no answer is an error.
                expect: expect(&[RESP, XTALK], NO_PROTOCOL),
                ..base.clone()
            },
            Scenario {
                name: "shared-active",
                description: "one active server with its own SC serves both paths (plain IPC)",
                paths: vec![light(0), heavy(0)],
                servers: vec![ServerSpec {
                    name: "server",
                    priority: 4,
                    own_sc: Some((spare.max(1), period)),
                    nested: None,
                    ntfn_sc: None,
                    bound: None,
                }],
                // No SC ever moves (no donation, no notification SC) and there is no pod.
                expect: expect(&[ACCT, XTALK], &[SC, WEDGE, ANSWER, FALSE]),
                ..base.clone()
            },
            Scenario {
                name: "shared-passive",
                description: "one passive pod shared by both paths (budget expires inside it)",
                paths: vec![light(0), heavy(0)],
                servers: vec![pod("shared-pod", 4)],
                expect: expect(&[XTALK], NO_PROTOCOL),
                ..base.clone()
            },
            Scenario {
                name: "tunnel-signal",
                description: "per-path pods; heavy may also Signal its pod, which wakes on its notification's own SC",
                servers: vec![pod("pod-light", 4), ServerSpec { ntfn_sc: Some((spare.max(1), period)), ..pod("pod-heavy", 4) }],
                allow_signal: true,
                ..base.clone()
            },
            Scenario {
                name: "send-1616",
                description: "per-path pods, but clients may Send (not Call) to a pod endpoint (seL4 #1616)",
                allow_send: true,
                expect: expect(&[RESP, DEAD, XTALK, WEDGE], NO_PROTOCOL),
                ..base.clone()
            },
            Scenario {
                name: "spin-no-watchdog",
                description: "per-path pods; the heavy path's pod may spin for ever in a call; no watchdog",
                spins: 1,
                spin_paths: vec![1],
                // The spinning call is never answered; it burns only the heavy path's budget.
                expect: expect(&[RESP], NO_PROTOCOL),
                ..base.clone()
            },
            Scenario {
                name: "tunnel-watchdog",
                description: "per-path pods, supervisor with watchdog; pods may fault, heavy's (and medium's) may spin: Err(Overrun)",
                paths: vec![light(0), heavy_legit(1)],
                faults,
                spins: faults,
                spin_paths: vec![1],
                watchdog: Some(watchdog),
                expect: expect(&[], &[]),
                ..base.clone()
            },
            Scenario {
                name: "shared-spin",
                description: "one passive pod shared by both paths; it may spin under the heavy path; watchdog",
                paths: vec![light(0), heavy_legit(0)],
                servers: vec![pod("shared-pod", 4)],
                spins: 1,
                spin_paths: vec![1],
                watchdog: Some(watchdog),
                expect: expect(&[XTALK], &[]),
                ..base.clone()
            },
            Scenario {
                name: "watchdog-uncharged",
                description: "as tunnel-watchdog, with the implementation's policy: a new call's first interval is not charged, a stopped call not stopped again",
                paths: vec![light(0), path("heavy", 2, b_heavy, period, &within, 1)],
                faults,
                spins: faults,
                spin_paths: vec![1],
                // One tick less of bound than the other watchdog scenarios: the phase in which a call's
                // unseen first interval is longest (see the kill-latency test).
                watchdog: Some(uncharged),
                expect: expect(&[], &[]),
                ..base.clone()
            },
            Scenario {
                name: "watchdog-margin",
                description: "per-path pods with the watchdog; heavy asks for more than bound - tick (but at most bound) ticks",
                paths: vec![light(0), path("heavy", 2, b_heavy, period, &margin, 1)],
                watchdog: Some(watchdog),
                // Such a call can be killed although within its bound: the account over-approximates
                // by up to one tick interval, so only `bound - tick` is safe.
                expect: expect(&[RESP, ANSWER, FALSE], &[]),
                ..base.clone()
            },
            nested,
            nested_slack,
        ];
        let mut scenarios = scenarios;
        scenarios.extend(Self::smp(&base, light(0), heavy(0)));
        ModelConfig { name, scenarios, threads: 2 }
    }

    /// The two-core designs: the light path on core 0, the heavy path on core 1, calling one pod
    /// shared across the cores or per-core instances of it (as the build expands a pod declared
    /// per-core: one instance per caller core, with its init and all its callers on that core).
    fn smp(base: &Scenario, light: PathSpec, heavy: PathSpec) -> Vec<Scenario> {
        let on = |core: u8, calls: usize, p: &PathSpec| PathSpec { core, calls, ..p.clone() };
        let shared = Scenario {
            name: "smp-shared-pod",
            description: "two cores: light (core 0) and heavy (core 1) call one shared pod; the kernel loses the wakeup of a pod migrated by ReplyRecv",
            paths: vec![on(0, 0, &light), on(1, 0, &heavy)],
            servers: vec![pod("shared-pod", 4)],
            kernel: KernelSmp::LostWakeup,
            // The pod, serving one core's caller, takes the other core's queued caller in
            // ReplyRecv and is stranded on that (idle, sleeping) core: that call is never
            // answered, and every later call queues behind it until nothing can run.
            expect: expect(&[RESP, DEAD, XTALK], NO_PROTOCOL),
            ..base.clone()
        };
        vec![
            shared.clone(),
            Scenario {
                name: "smp-shared-pod-woken",
                description: "as smp-shared-pod, but the kernel wakes the core the pod migrates to",
                kernel: KernelSmp::Correct,
                // Every call is answered, but the light path waits for the heavy path's request
                // (served on core 1, on the heavy path's budget) as with a shared pod on one core.
                expect: expect(&[XTALK], NO_PROTOCOL),
                ..shared.clone()
            },
            Scenario {
                name: "smp-per-core-pods",
                description: "two cores, per-core pod instances: each core's path calls the instance on its core; lost-wakeup kernel",
                paths: vec![on(0, 0, &light), on(1, 1, &heavy)],
                servers: vec![pod("pod@0", 4), pod("pod@1", 4)],
                expect: expect(&[], NO_PROTOCOL),
                ..shared.clone()
            },
            Scenario {
                name: "smp-per-core-nested",
                description: "two cores, per-core instances of pod A calling per-core instances of pod B; lost-wakeup kernel",
                paths: vec![on(0, 0, &light), on(1, 1, &heavy)],
                servers: vec![
                    ServerSpec { nested: Some((2, 1)), ..pod("pod-a@0", 4) },
                    ServerSpec { nested: Some((3, 1)), ..pod("pod-a@1", 4) },
                    pod("pod-b@0", 5),
                    pod("pod-b@1", 5),
                ],
                expect: expect(&[], NO_PROTOCOL),
                ..shared.clone()
            },
            Scenario {
                name: "smp-shared-nested",
                description: "two cores, per-core instances of pod A both calling one shared pod B; lost-wakeup kernel",
                paths: vec![on(0, 0, &light), on(1, 1, &heavy)],
                servers: vec![
                    ServerSpec { nested: Some((2, 1)), ..pod("pod-a@0", 4) },
                    ServerSpec { nested: Some((2, 1)), ..pod("pod-a@1", 4) },
                    pod("pod-b", 5),
                ],
                // Pod B, shared across cores, is stranded like the shared pod: a per-core pod
                // must only call per-core pods.
                ..shared
            },
        ]
    }
}
