//! An exhaustive model of tunnelkit's tunnel semantics on seL4 MCS, checked with `stateright`.
//!
//! Threads (client paths, passive pods, active servers), scheduling contexts with budget and
//! period in abstract ticks, endpoints with priority/FIFO queues, MCS reply objects, `Call`,
//! `Send`, `ReplyRecv`, budget expiry (also inside a pod running on a donated SC), pod faults and
//! endless pod calls with tunnelkit's restart protocol (supervisor, overrun watchdog) are modelled,
//! and, on two cores, SCs bound to cores, pods following the donated SC and the kernel's
//! cross-core wakeup ([`KernelSmp`]); [`check`] explores every reachable state of every
//! scenario of a [`ModelConfig`] and reports, per property, the expected and actual outcome —
//! holds (with how many states reached its antecedent), holds vacuously, or fails (with the
//! shortest counterexample). See `docs/model.md` for what this does and does not prove.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod model;
pub mod property;
pub mod replay;
pub mod report;
pub mod state;

pub use config::{KernelSmp, MAX_CORES, ModelConfig, Outcome, PathSpec, Scenario, ServerSpec, Watchdog};
pub use model::{Action, Op, TunnelModel};
pub use property::PropertyId;
pub use report::{ModelReport, PropertyResult, ScenarioReport};
pub use state::Reason;

use stateright::{Checker, Model};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Checks one scenario exhaustively (breadth-first, so counterexamples are shortest).
///
/// # Panics
/// If the scenario does not [`validate`](Scenario::validate).
pub fn check_scenario(scenario: &Scenario, threads: usize) -> ScenarioReport {
    if let Err(e) = scenario.validate() {
        panic!("{e}");
    }
    let model = TunnelModel::new(scenario.clone());
    let counters = Arc::new(PropertyId::ALL.map(|_| AtomicUsize::new(0)));
    let start = Instant::now();
    let counting = TunnelModel { antecedents: Some(Arc::clone(&counters)), ..model.clone() };
    let checker = counting.checker().threads(threads.max(1)).spawn_bfs().join();
    let elapsed = start.elapsed();
    let properties = PropertyId::ALL
        .iter()
        .zip(scenario.expect)
        .zip(counters.iter())
        .map(|((&id, expected), count)| {
            let violated = checker.discovery(id.name()).is_some();
            let antecedent_states = count.load(Ordering::Relaxed);
            let actual = match (violated, antecedent_states) {
                (true, _) => Outcome::Fails,
                (false, 0) => Outcome::Vacuous,
                (false, _) => Outcome::Holds,
            };
            PropertyResult {
                property: id.name(),
                expected,
                actual,
                antecedent_states,
                counterexample: violated.then(|| shortest_counterexample(&model, id)),
            }
        })
        .collect();
    ScenarioReport {
        name: scenario.name,
        description: scenario.description,
        scenario: scenario.clone(),
        states: checker.unique_state_count(),
        elapsed,
        system_horizon: model.system_horizon,
        light_horizon: model.light_horizon,
        properties,
    }
}

/// Searches for a shortest path to a state violating `id`: a single-threaded breadth-first run
/// with only that property registered stops at the first violating state it pops, which is one
/// of least depth. (In a run with several properties stateright keeps the *last* violating state
/// it saw for an `always` property, not the first.)
fn shortest_counterexample(model: &TunnelModel, id: PropertyId) -> String {
    let mut focused = model.clone();
    focused.only = Some(id);
    let checker = focused.checker().threads(1).spawn_bfs().join();
    match checker.discovery(id.name()) {
        Some(path) => report::format_trace(model, &path.into_vec()),
        None => "  (no counterexample on the single-threaded rerun)\n".to_string(),
    }
}

/// Checks every scenario of `config` exhaustively and reports each property's expected and
/// actual outcome (holds, holds vacuously, fails), with counterexample traces for violations.
pub fn check(config: ModelConfig) -> ModelReport {
    let start = Instant::now();
    let scenarios: Vec<ScenarioReport> = config.scenarios.iter().map(|s| check_scenario(s, config.threads)).collect();
    ModelReport { config: config.name, states: scenarios.iter().map(|s| s.states).sum(), elapsed: start.elapsed(), scenarios }
}
