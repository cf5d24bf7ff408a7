//! The result of a check: per scenario and property, expected and actual outcome, counterexamples.

use crate::config::{KernelSmp, ModelConfig, Outcome, Scenario};
use crate::model::{Action, Op, TunnelModel};
use crate::property::PropertyId;
use crate::state::{Reason, Run, State};
use core::fmt::{self, Display, Write as _};
use std::time::Duration;

/// Outcome of one property in one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyResult {
    /// Property name (`crosstalk`, …).
    pub property: &'static str,
    /// What the configuration expects.
    pub expected: Outcome,
    /// What the exhaustive check found.
    pub actual: Outcome,
    /// Distinct reachable states that reach the property's antecedent
    /// ([`PropertyId::antecedent`]); 0 means it holds vacuously (unless it fails).
    pub antecedent_states: usize,
    /// The shortest counterexample (one step per line) when violated.
    pub counterexample: Option<String>,
}

impl PropertyResult {
    /// Whether the actual outcome is the expected one (a property expected to be exercised that
    /// holds vacuously is not, nor one expected to hold vacuously that is exercised).
    pub fn as_expected(&self) -> bool {
        self.expected == self.actual
    }

    /// The actual outcome as printed: `holds (N states reached its antecedent)`, `holds
    /// vacuously` or `fails`.
    pub fn actual_text(&self) -> String {
        match self.actual {
            Outcome::Holds => format!("holds ({} states reached its antecedent)", self.antecedent_states),
            other => other.name().to_string(),
        }
    }
}

/// Outcome of one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioReport {
    /// Scenario name.
    pub name: &'static str,
    /// Scenario description.
    pub description: &'static str,
    /// The scenario checked (its bounds, for the generated tables).
    pub scenario: Scenario,
    /// Distinct states explored.
    pub states: usize,
    /// Time the exhaustive search took.
    pub elapsed: Duration,
    /// Horizon of bounded-response, in ticks.
    pub system_horizon: u32,
    /// Horizon of crosstalk (light path, own parameters only), in ticks.
    pub light_horizon: u32,
    /// One entry per property.
    pub properties: Vec<PropertyResult>,
}

/// The result of [`check`](crate::check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelReport {
    /// Configuration name.
    pub config: &'static str,
    /// Total distinct states explored over all scenarios.
    pub states: usize,
    /// Total time.
    pub elapsed: Duration,
    /// Per scenario.
    pub scenarios: Vec<ScenarioReport>,
}

impl ModelReport {
    /// Whether every property of every scenario came out as expected.
    pub fn as_expected(&self) -> bool {
        self.scenarios.iter().all(|s| s.properties.iter().all(PropertyResult::as_expected))
    }

    /// The result of `property` in `scenario`.
    pub fn result(&self, scenario: &str, property: &str) -> Option<&PropertyResult> {
        self.scenarios.iter().find(|s| s.name == scenario)?.properties.iter().find(|p| p.property == property)
    }
}

impl Display for ModelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "model config: {}", self.config)?;
        writeln!(f, "states explored: {}", self.states)?;
        writeln!(f, "elapsed: {:.2?}", self.elapsed)?;
        for sc in &self.scenarios {
            writeln!(
                f,
                "scenario {}: {} ({} states, {:.2?}; horizons: system {} ticks, light path {} ticks)",
                sc.name, sc.description, sc.states, sc.elapsed, sc.system_horizon, sc.light_horizon
            )?;
            for p in &sc.properties {
                let mark = if p.as_expected() { "" } else { "  <-- UNEXPECTED" };
                writeln!(f, "property {}[{}]: {}, expected {}{mark}", p.property, sc.name, p.actual_text(), p.expected)?;
            }
        }
        for sc in &self.scenarios {
            for p in &sc.properties {
                if let Some(cx) = &p.counterexample {
                    writeln!(f, "counterexample {}[{}]:", p.property, sc.name)?;
                    f.write_str(cx)?;
                }
            }
        }
        writeln!(f, "result: {}", if self.as_expected() { "all properties as expected" } else { "UNEXPECTED outcomes" })
    }
}

impl ModelReport {
    /// The configuration's Markdown tables, as in the README: each scenario's bounds
    /// ([`ModelConfig::bounds_markdown`]), then its state count and each property's outcome
    /// (`holds (N)`: N states reached the antecedent; `vacuous`; **`fails`**).
    pub fn markdown(&self) -> String {
        let scenarios: Vec<Scenario> = self.scenarios.iter().map(|s| s.scenario.clone()).collect();
        let mut out = bounds_table(self.config, &scenarios);
        let _ = writeln!(out);
        let _ = write!(out, "| scenario | states |");
        for p in PropertyId::ALL {
            let _ = write!(out, " {} |", p.short());
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "|---|---:|{}", "---|".repeat(PropertyId::COUNT));
        for sc in &self.scenarios {
            let _ = write!(out, "| `{}` | {} |", sc.name, sc.states);
            for p in &sc.properties {
                let cell = match p.actual {
                    Outcome::Holds => format!("holds ({})", p.antecedent_states),
                    Outcome::Vacuous => "vacuous".to_string(),
                    Outcome::Fails => "**fails**".to_string(),
                };
                let unexpected = if p.as_expected() { String::new() } else { format!(" (expected {})", p.expected) };
                let _ = write!(out, " {cell}{unexpected} |");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "| total | {} |{}", self.states, " |".repeat(PropertyId::COUNT));
        out
    }
}

impl ModelConfig {
    /// The table of the configuration's scenarios and their bounds (no check needed): paths
    /// (priority, budget/period, core, request sizes, server called), servers, injected faults
    /// and spins, the watchdog, and the response horizons.
    pub fn bounds_markdown(&self) -> String {
        bounds_table(self.name, &self.scenarios)
    }
}

/// A set of numbers as a range (`1–6`) if contiguous, else listed (`1, 3`).
fn set(v: &[u8]) -> String {
    let (Some(&lo), Some(&hi)) = (v.iter().min(), v.iter().max()) else { return "–".into() };
    if lo == hi {
        lo.to_string()
    } else if usize::from(hi - lo) + 1 == v.len() {
        format!("{lo}–{hi}")
    } else {
        v.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
    }
}

fn bounds_table(config: &str, scenarios: &[Scenario]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Configuration `{config}`: {} scenarios.", scenarios.len());
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| scenario | paths: priority, budget/period, requests → server | servers | injected, options | watchdog | horizons |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for sc in scenarios {
        let multi = sc.cores() > 1;
        let paths: Vec<String> = sc
            .paths
            .iter()
            .map(|p| {
                let core = if multi { format!(", core {}", p.core) } else { String::new() };
                let work = if p.client_work == 1 { String::new() } else { format!(", client work {}", p.client_work) };
                format!(
                    "{} p{}, {}/{}{core}{work}, asks {} → {}",
                    p.name,
                    p.priority,
                    p.budget,
                    p.period,
                    set(&p.demand),
                    sc.servers[p.calls].name
                )
            })
            .collect();
        let servers: Vec<String> = sc
            .servers
            .iter()
            .map(|s| {
                let mut d = vec![format!("p{}", s.priority)];
                if let Some((b, t)) = s.own_sc {
                    d.push(format!("active {b}/{t}"));
                }
                if let Some((b, t)) = s.ntfn_sc {
                    d.push(format!("notification SC {b}/{t}"));
                }
                if let Some((n, w)) = s.nested {
                    d.push(format!("calls {} asking {w}", sc.servers[n].name));
                }
                if let Some(b) = s.bound {
                    d.push(format!("bound {b}"));
                }
                format!("{} {}", s.name, d.join(", "))
            })
            .collect();
        let mut opts = Vec::new();
        if sc.faults > 0 {
            opts.push(format!("{} fault{}", sc.faults, if sc.faults > 1 { "s" } else { "" }));
        }
        if sc.spins > 0 {
            let whose: Vec<&str> = sc.spin_paths.iter().map(|&p| sc.paths[p].name).collect();
            let pods = match &sc.spin_pods {
                Some(v) => format!(", in {}", v.iter().map(|&s| sc.servers[s].name).collect::<Vec<_>>().join(", ")),
                None => String::new(),
            };
            opts.push(format!("{} spin{} in {}'s calls{pods}", sc.spins, if sc.spins > 1 { "s" } else { "" }, whose.join("'s, ")));
        }
        if (sc.faults > 0 || sc.watchdog.is_some()) && sc.restart_work != 1 {
            opts.push(format!("restart {} ticks", sc.restart_work));
        }
        if !sc.supervisor {
            opts.push("no supervisor".into());
        }
        if sc.allow_send {
            opts.push("clients may Send".into());
        }
        if sc.allow_signal {
            opts.push("Signal".into());
        }
        if multi {
            opts.push(match sc.kernel {
                KernelSmp::LostWakeup => "lost-wakeup kernel".into(),
                KernelSmp::Correct => "waking kernel".into(),
            });
        }
        let watchdog = match sc.watchdog {
            None => "–".to_string(),
            Some(wd) => format!(
                "tick {}, bound {}, first interval {}{}",
                wd.tick,
                wd.bound,
                if wd.charge_first_interval { "charged" } else { "uncharged" },
                if wd.stop_once { ", stop once" } else { "" }
            ),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {}, {} |",
            sc.name,
            paths.join("; "),
            servers.join("; "),
            if opts.is_empty() { "–".to_string() } else { opts.join("; ") },
            watchdog,
            sc.system_horizon(),
            sc.own_horizon(0),
        );
    }
    out
}

/// Formats a stateright path readably: the initial state, then one line per step with the action
/// and the resulting state.
pub fn format_trace(m: &TunnelModel, steps: &[(State, Option<Action>)]) -> String {
    let mut out = String::new();
    let mut tick = 0u32;
    let mut idle_from: Option<u32> = None;
    if let Some((s0, _)) = steps.first() {
        let _ = writeln!(out, "  {:<7} {:<40} | {}", "init", "", state_line(m, s0));
    }
    for (i, w) in steps.windows(2).enumerate() {
        let (_, Some(action)) = &w[0] else { continue };
        let next = &w[1].0;
        let what = match *action {
            Action::Tick { run: None, .. } => "idle".to_string(),
            Action::Tick { run: Some(t), work, op } => run_step(m, &w[0].0, usize::from(t), work, op),
            Action::SmpTick { run: [None, None], .. } => "idle".to_string(),
            Action::SmpTick { run, work, core1_first } => {
                let per_core: Vec<String> = (0..m.cores)
                    .map(|c| match run[c] {
                        Some(t) => format!("c{c}: {}", run_step(m, &w[0].0, usize::from(t), work[c], Op::Call)),
                        // A core with a stranded thread and nothing else to run sleeps.
                        None if (0..m.scenario.paths.len() + m.scenario.servers.len())
                            .any(|t| m.stranded(&w[0].0, t) && m.thread_core(&w[0].0, t) == Some(c)) =>
                        {
                            format!("c{c}: asleep")
                        }
                        None => format!("c{c}: idle"),
                    })
                    .collect();
                format!("{}{}", per_core.join("; "), if core1_first { " (c1 first)" } else { "" })
            }
            Action::Fault { pod } => format!("FAULT in {}", m.scenario.servers[usize::from(pod)].name),
            Action::Spin { pod } => format!("SPIN in {}", m.scenario.servers[usize::from(pod)].name),
            Action::Supervise { pod } => format!("supervisor: fault of {}, restart", m.scenario.servers[usize::from(pod)].name),
            Action::Check => {
                let killed: Vec<&str> = (0..m.scenario.servers.len())
                    .filter(|&i| {
                        let t = m.scenario.paths.len() + i;
                        matches!(next.threads[t].run, Run::Restarting { .. }) && w[0].0.threads[t].run != next.threads[t].run
                    })
                    .map(|i| m.scenario.servers[i].name)
                    .collect();
                if killed.is_empty() {
                    "watchdog check".to_string()
                } else {
                    format!("watchdog check: OVERRUN, restart {}", killed.join(","))
                }
            }
        };
        if matches!(action, Action::Tick { .. } | Action::SmpTick { .. }) {
            tick += 1;
        }
        // Runs of idle ticks are folded into one line showing the state after the last.
        if what == "idle" {
            idle_from.get_or_insert(tick);
            let next_idle = steps.get(i + 2).is_some()
                && matches!(steps[i + 1].1, Some(Action::Tick { run: None, .. } | Action::SmpTick { run: [None, None], .. }));
            if next_idle {
                continue;
            }
            let from = idle_from.take().unwrap_or(tick);
            let label = if from == tick { format!("t={tick}") } else { format!("t={from}-{tick}") };
            let _ = writeln!(out, "  {label:<7} {:<40} | {}", "idle", state_line(m, next));
            continue;
        }
        let _ = writeln!(out, "  {:<7} {what:<40} | {}", format!("t={tick}"), state_line(m, next));
    }
    out
}

/// What running thread `t` for one tick does: `run <name>`, and the operation a path issues if
/// its client work ends.
fn run_step(m: &TunnelModel, before: &State, t: usize, work: u8, op: Op) -> String {
    let mut s = format!("run {}", m.thread_name(t));
    if let (true, Run::Working { left: 1 }) = (t < m.scenario.paths.len(), before.threads[t].run) {
        let server = m.thread_name(m.scenario.paths.len() + m.scenario.paths[t].calls);
        let _ = match op {
            Op::Call => write!(s, ", Call({server}, work {work})"),
            Op::Send => write!(s, ", Send({server}, work {work})"),
            Op::Signal => write!(s, ", Signal({server})"),
        };
    }
    s
}

/// One-line summary of a state (with several cores, a bound SC shows its core: `@sc1/c1`; a pod
/// put on a core's ready queue without waking it is marked `STRANDED`).
pub fn state_line(m: &TunnelModel, s: &State) -> String {
    let mut out = String::new();
    let budgets: Vec<String> = s.budget.iter().map(u8::to_string).collect();
    let _ = write!(out, "budget [{}]", budgets.join(","));
    for (t, th) in s.threads.iter().enumerate() {
        let run = match th.run {
            Run::Working { left } => format!("work{left}"),
            Run::Blocked => "blocked".into(),
            Run::Recv => "recv".into(),
            Run::Serving { left, err, .. } => format!("serve{left}{}", if err.is_some() { "!" } else { "" }),
            Run::Spinning => "SPINNING".into(),
            Run::FaultWait => "fault-msg".into(),
            Run::Restarting { left, reason } => format!("restart{left}({})", reason_name(reason)),
            Run::Faulted => "FAULTED".into(),
        };
        let sc = match th.sc {
            Some(c) if m.cores > 1 => format!("@sc{c}/c{}", m.sc_core[usize::from(c)]),
            Some(c) => format!("@sc{c}"),
            None => String::new(),
        };
        let wedged = if m.wedged_thread(s, t) { " WEDGED" } else { "" };
        let stranded = if m.stranded(s, t) { " STRANDED" } else { "" };
        let _ = write!(out, "; {} {run}{sc}{wedged}{stranded}", m.thread_name(t));
        if let Some(r) = th.reply {
            let _ = write!(out, " reply->{}", m.thread_name(usize::from(r)));
        }
    }
    for i in 0..s.queues.len() {
        if s.ntfn_holds[i]
            && let Some(n) = m.scenario.ntfn_sc(i)
        {
            let _ = write!(out, "; ntfn {} @sc{n}", m.scenario.servers[i].name);
        }
        if s.pending[i] {
            let _ = write!(out, "; signal pending {}", m.scenario.servers[i].name);
        }
    }
    for (i, q) in s.queues.iter().enumerate().filter(|(_, q)| !q.is_empty()) {
        let names: Vec<&str> = q.iter().map(|m2| m.thread_name(usize::from(m2.from))).collect();
        let _ = write!(out, "; queue {} [{}]", m.scenario.servers[i].name, names.join(","));
    }
    let ages: Vec<String> = s.age.iter().map(|a| a.map_or("-".into(), |a| a.to_string())).collect();
    let _ = write!(out, "; age [{}]", ages.join(","));
    if m.scenario.watchdog.is_some() {
        let used: Vec<String> = s.consumed.iter().map(u8::to_string).collect();
        let acct: Vec<String> = s.account.iter().zip(&s.fresh).map(|(a, &f)| if f { "new".into() } else { a.to_string() }).collect();
        let _ = write!(out, "; consumed [{}] account [{}]", used.join(","), acct.join(","));
        if s.check_due {
            out.push_str("; CHECK DUE");
        }
    }
    if s.false_overrun {
        out.push_str("; FALSE OVERRUN");
    }
    if s.debt.iter().any(|&d| d != 0) {
        let _ = write!(out, "; debt {:?}", s.debt);
    }
    if s.wrong_answer {
        out.push_str("; WRONG ANSWER");
    }
    out
}

fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Fault => "Fault",
        Reason::Overrun => "Overrun",
    }
}
