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
}

impl ServerSpec {
    /// Whether the server is passive (a pod).
    pub fn passive(&self) -> bool {
        self.own_sc.is_none()
    }
}

/// Expected outcome of one property in one scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The invariant holds in every reachable state.
    Holds,
    /// Some reachable state violates it (a counterexample exists).
    Violated,
}

impl core::fmt::Display for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Outcome::Holds => "holds",
            Outcome::Violated => "violated",
        })
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
    /// Whether tunnelkit's fault supervisor handles pod faults (reply `Err(Fault)`, return the SC,
    /// restart the pod). `false` is plain Microkit: the caller stays blocked forever.
    pub supervisor: bool,
    /// Expected outcome per property, in [`PropertyId::ALL`] order.
    pub expect: [Outcome; PropertyId::COUNT],
}

impl Scenario {
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

    /// Worst-case ticks of server work behind one call of path `p` (request, nested calls and the
    /// one tick each caller spends finishing after a nested reply).
    pub fn request_work(&self, p: usize) -> u32 {
        let mut w = u32::from(self.paths[p].demand.iter().copied().max().unwrap_or(0));
        let mut s = self.paths[p].calls;
        let mut hops = 0;
        while let Some((next, work)) = self.servers[s].nested {
            w += u32::from(work) + 1;
            s = next;
            hops += 1;
            assert!(hops <= self.servers.len(), "scenario {}: cyclic call graph", self.name);
        }
        w
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
        let l = self.sc_params().iter().fold(1u32, |l, &(_, t)| l / gcd(l, u32::from(t)) * u32::from(t));
        u8::try_from(l).expect("hyperperiod must fit in u8")
    }

    /// Checks the scenario's shape: priorities ordered along calls (acyclic), positive budgets,
    /// budgets within periods, indices in range.
    pub fn validate(&self) -> Result<(), String> {
        let err = |m: String| Err(format!("scenario {}: {m}", self.name));
        if self.paths.is_empty() || self.paths.len() > 3 {
            return err("1 to 3 paths".into());
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

use Outcome::{Holds as H, Violated as V};

fn path(name: &'static str, priority: u8, budget: u8, period: u8, demand: &[u8], calls: usize) -> PathSpec {
    PathSpec { name, priority, budget, period, client_work: 1, demand: demand.to_vec(), calls }
}

fn pod(name: &'static str, priority: u8) -> ServerSpec {
    ServerSpec { name, priority, own_sc: None, nested: None, ntfn_sc: None }
}

/// Expected outcomes in [`PropertyId::ALL`] order:
/// sc-conservation, bounded-response, no-deadlock, accounting, crosstalk, no-wedged-pod.
const fn expect(resp: Outcome, dead: Outcome, acct: Outcome, xtalk: Outcome, wedge: Outcome) -> [Outcome; PropertyId::COUNT] {
    [H, resp, dead, acct, xtalk, wedge]
}

impl ModelConfig {
    /// Small systems (two paths, period 4): each scenario checks in well under a second.
    pub fn small() -> Self {
        Self::with_period(4, 1, 2, &[1, 2, 3, 4, 5, 6], 1, "small")
    }

    /// Larger systems: period 8, bigger budgets and demands, a third (medium) path in the per-path
    /// tunnel and shared designs, and up to two injected faults.
    pub fn large() -> Self {
        let mut cfg = Self::with_period(8, 2, 3, &[1, 2, 3, 4, 5, 6, 7, 8], 2, "large");
        // Three-path variants: a medium path between light and heavy.
        let medium = |calls| path("medium", 2, 2, 8, &[1, 2, 3], calls);
        for sc in &mut cfg.scenarios {
            match sc.name {
                "tunnel" | "tunnel-fault" => {
                    sc.paths.push(medium(2));
                    sc.servers.push(pod("pod-medium", 4));
                }
                "shared-active" | "shared-passive" => {
                    sc.paths.push(medium(0));
                    // With two higher-priority callers taking turns, the priority-ordered endpoint
                    // queue lets them overtake the light path's call forever: starvation.
                    sc.expect[PropertyId::BoundedResponse as usize] = V;
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

    /// The standard scenario set with the given period, light budget, heavy budget and demands.
    fn with_period(period: u8, b_light: u8, b_heavy: u8, heavy_demand: &[u8], faults: u8, name: &'static str) -> Self {
        let light = |calls| path("light", 1, b_light, period, &[1], calls);
        let heavy = |calls| path("heavy", 2, b_heavy, period, heavy_demand, calls);
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
            expect: expect(H, H, H, H, H),
        };
        let scenarios = vec![
            base.clone(),
            Scenario {
                name: "tunnel-fault",
                description: "per-path pods; the checker injects pod faults; tunnelkit's supervisor answers Err(Fault)",
                faults,
                ..base.clone()
            },
            Scenario {
                name: "tunnel-nested",
                description: "nested tunnels: light -> pod A -> pod B, heavy -> its own pod",
                servers: vec![ServerSpec { nested: Some((2, 1)), ..pod("pod-a", 4) }, pod("pod-heavy", 4), pod("pod-b", 5)],
                faults: 1,
                ..base.clone()
            },
            Scenario {
                name: "fault-no-supervisor",
                description: "per-path pods, pod faults, plain Microkit (no timeout/fault handling)",
                faults: 1,
                supervisor: false,
                expect: expect(V, H, H, V, H),
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
                }],
                expect: expect(H, H, V, V, H),
                ..base.clone()
            },
            Scenario {
                name: "shared-passive",
                description: "one passive pod shared by both paths (budget expires inside it)",
                paths: vec![light(0), heavy(0)],
                servers: vec![pod("shared-pod", 4)],
                expect: expect(H, H, H, V, H),
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
                expect: expect(V, V, H, V, V),
                ..base.clone()
            },
        ];
        ModelConfig { name, scenarios, threads: 2 }
    }
}
