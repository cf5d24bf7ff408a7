//! Exhaustive checks of the small configuration, plus property-based sanity tests.

use stateright::Model;
use tunnelkit_model::state::{Run, State};
use tunnelkit_model::{Action, ModelConfig, Outcome, PathSpec, PropertyId, Scenario, ServerSpec, TunnelModel, check, check_scenario};

fn outcome(report: &tunnelkit_model::ModelReport, scenario: &str, property: PropertyId) -> Outcome {
    report.result(scenario, property.name()).unwrap_or_else(|| panic!("no result for {scenario}/{}", property.name())).actual
}

#[test]
fn small_config_every_property_as_expected() {
    let report = check(ModelConfig::small());
    let text = report.to_string();
    assert!(report.as_expected(), "{text}");
    assert!(text.contains("states explored: "), "{text}");
    assert!(text.contains("property crosstalk[tunnel]: holds (expected holds)"), "{text}");
    assert!(text.contains("property crosstalk[shared-active]: violated (expected violated)"), "{text}");
    assert!(report.states > 1000);

    use Outcome::{Holds, Violated};
    use PropertyId::*;
    // The tunnel with per-path pods: every property holds, with and without injected faults.
    for sc in ["tunnel", "tunnel-fault", "tunnel-nested", "tunnel-signal"] {
        for p in PropertyId::ALL {
            assert_eq!(outcome(&report, sc, p), Holds, "{sc}/{}\n{text}", p.name());
        }
    }
    // Crosstalk: a counterexample exists for a shared active server and a shared passive pod.
    for sc in ["shared-active", "shared-passive"] {
        assert_eq!(outcome(&report, sc, Crosstalk), Violated, "{sc}");
        let cx = report.result(sc, "crosstalk").unwrap().counterexample.as_deref().unwrap();
        assert!(cx.lines().count() >= 3 && cx.contains("t=1 "), "{cx}");
        assert_eq!(outcome(&report, sc, ScConservation), Holds);
    }
    // Accounting: an active server's work is charged to its own SC, a pod's to the caller's.
    assert_eq!(outcome(&report, "shared-active", Accounting), Violated);
    assert_eq!(outcome(&report, "shared-passive", Accounting), Holds);
    // seL4 #1616: reachable when clients may Send, unreachable under tunnelkit's Call-only rule.
    assert_eq!(outcome(&report, "send-1616", NoWedgedPod), Violated);
    let cx = report.result("send-1616", "no-wedged-pod").unwrap().counterexample.as_deref().unwrap();
    assert!(cx.contains("Send(") && cx.contains("WEDGED"), "{cx}");
    assert_eq!(cx.lines().count(), 2, "BFS gives the shortest trace: init + one Send\n{cx}");
    for sc in ["tunnel", "tunnel-fault", "tunnel-nested", "shared-passive"] {
        assert_eq!(outcome(&report, sc, NoWedgedPod), Holds, "{sc}");
    }
    // Without tunnelkit's supervisor a pod fault leaves its caller blocked forever.
    assert_eq!(outcome(&report, "fault-no-supervisor", BoundedResponse), Violated);
}

/// A pod fault mid-call: the caller gets an error, its SC back, and the pod serves the next call.
#[test]
fn fault_mid_call_answers_error_and_returns_the_sc() {
    let cfg = ModelConfig::small();
    let scenario = cfg.scenarios.iter().find(|s| s.name == "tunnel-fault").unwrap().clone();
    let m = TunnelModel::new(scenario);
    let mut s = m.init_states().remove(0);
    // heavy (thread 1, higher priority) runs its client work and calls pod-heavy (server 1, thread 3).
    s = m.next_state(&s, Action::Tick { run: Some(1), work: 3, op: tunnelkit_model::Op::Call }).unwrap();
    assert_eq!(s.threads[3].sc, Some(1), "heavy's SC is donated to its pod");
    assert_eq!(s.threads[1].sc, None);
    s = m.next_state(&s, Action::Fault { pod: 1 }).unwrap();
    assert_eq!(s.threads[1].sc, Some(1), "the SC is back with the caller");
    assert_eq!(s.threads[3].run, Run::Recv, "the pod is restarted and waits for the next call");
    assert!(!s.wrong_answer && s.age[1].is_none() && !s.faulted[1], "answered, with an error");
    assert!(matches!(s.threads[1].run, Run::Working { .. }));
    for p in PropertyId::ALL {
        assert!(p.holds(&m, &s), "{}", p.name());
    }
}

/// Tiny deterministic generator for the property-based tests (no external dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: u8, hi: u8) -> u8 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u8
    }
}

fn random_tunnel(rng: &mut Rng) -> Scenario {
    let period = rng.range(3, 6);
    let n = rng.range(2, 3) as usize;
    let mut left = period;
    let mut paths = Vec::new();
    for i in 0..n {
        let budget = rng.range(1, (left - (n - i - 1) as u8).clamp(1, 3));
        left -= budget;
        let demand: Vec<u8> = (1..=4).filter(|_| rng.next().is_multiple_of(2)).collect();
        paths.push(PathSpec {
            name: ["light", "second", "third"][i],
            priority: rng.range(1, 3),
            budget,
            period,
            client_work: rng.range(1, 2),
            demand: if demand.is_empty() { vec![1] } else { demand },
            calls: i,
        });
    }
    let servers =
        (0..n).map(|i| ServerSpec { name: ["pod0", "pod1", "pod2"][i], priority: 4, own_sc: None, nested: None, ntfn_sc: None }).collect();
    Scenario {
        name: "random-tunnel",
        description: "random per-path tunnel system",
        paths,
        servers,
        allow_send: false,
        allow_signal: false,
        faults: rng.range(0, 1),
        supervisor: true,
        expect: [Outcome::Holds; PropertyId::COUNT],
    }
}

/// Property-based: for random budgets, periods, demands, priorities and client work (with the
/// budgets of a period summing to at most the period), per-path tunnels satisfy every property,
/// including the computed response horizons.
#[test]
fn random_tunnel_systems_satisfy_every_property() {
    let mut rng = Rng(0x7e57_5eed_1234_5678);
    for round in 0..60 {
        let scenario = random_tunnel(&mut rng);
        scenario.validate().unwrap();
        let r = check_scenario(&scenario, 2);
        for p in &r.properties {
            assert_eq!(p.actual, Outcome::Holds, "round {round}: {} violated in {scenario:?}\n{:?}", p.property, p.counterexample);
        }
    }
}

/// SCs bound to a thread plus SCs idle at a notification.
fn placed_scs(s: &State) -> usize {
    s.threads.iter().filter(|t| t.sc.is_some()).count() + s.ntfn_holds.iter().filter(|&&h| h).count()
}

/// Property-based: random walks through every small scenario never lose or duplicate an SC (the
/// number of placed SCs stays the number of SCs), never panic, and keep time within the period.
#[test]
fn random_walks_conserve_scheduling_contexts() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    for scenario in ModelConfig::small().scenarios {
        let m = TunnelModel::new(scenario);
        let scs = m.scenario.sc_count();
        for _ in 0..40 {
            let mut s = m.init_states().remove(0);
            for _ in 0..200 {
                assert_eq!(placed_scs(&s), scs, "{}: {s:?}", m.scenario.name);
                assert!(s.time < m.hyperperiod);
                let mut actions = Vec::new();
                m.actions(&s, &mut actions);
                assert!(!actions.is_empty(), "time always advances");
                let a = actions[(rng.next() % actions.len() as u64) as usize];
                s = m.next_state(&s, a).unwrap();
            }
        }
    }
}

/// The large configuration (about 350 000 states; ~8 s in a debug build, under 1 s in release).
/// Run with `cargo test -p tunnelkit-model -- --ignored` or `--release`.
#[test]
#[ignore = "large configuration: run explicitly"]
fn large_config_every_property_as_expected() {
    let report = check(ModelConfig::large());
    assert!(report.as_expected(), "{report}");
    assert_eq!(outcome(&report, "tunnel", PropertyId::Crosstalk), Outcome::Holds);
    assert_eq!(outcome(&report, "shared-passive", PropertyId::BoundedResponse), Outcome::Violated, "starvation with three paths");
}

#[test]
fn report_prints_one_line_per_property() {
    let mut cfg = ModelConfig::small();
    cfg.scenarios.retain(|s| s.name == "tunnel" || s.name == "send-1616");
    let report = check(cfg);
    let text = report.to_string();
    let lines = text.lines().filter(|l| l.starts_with("property ")).count();
    assert_eq!(lines, 2 * PropertyId::COUNT, "{text}");
    assert!(text.lines().any(|l| l == "property no-wedged-pod[send-1616]: violated (expected violated)"), "{text}");
    assert!(text.contains("counterexample no-wedged-pod[send-1616]:"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("elapsed: ")), "{text}");
}

/// `Signal` to a pod: it wakes on the SC bound to its notification and gives it back; with no SC
/// at the notification it would wake with none and be wedged, like a `Send` (#1616).
#[test]
fn signal_runs_the_pod_on_its_notification_sc() {
    use tunnelkit_model::Op;
    let cfg = ModelConfig::small();
    let scenario = cfg.scenarios.iter().find(|s| s.name == "tunnel-signal").unwrap().clone();
    let ntfn = scenario.ntfn_sc(1).unwrap();
    let m = TunnelModel::new(scenario.clone());
    let s0 = m.init_states().remove(0);
    assert!(s0.ntfn_holds[1]);
    let mut s = m.next_state(&s0, Action::Tick { run: Some(1), work: 0, op: Op::Signal }).unwrap();
    assert_eq!(s.threads[3].sc, Some(ntfn), "the pod runs on its notification's SC");
    assert!(matches!(s.threads[1].run, Run::Working { .. }), "Signal does not block the signaller");
    let mut acts = Vec::new();
    m.actions(&s, &mut acts);
    assert!(acts.contains(&Action::Tick { run: Some(3), work: 0, op: Op::Call }), "the pod (priority 4) runs next: {acts:?}");
    s = m.next_state(&s, Action::Tick { run: Some(3), work: 0, op: Op::Call }).unwrap();
    assert_eq!(s.threads[3].run, Run::Recv);
    assert!(s.ntfn_holds[1] && s.threads[3].sc.is_none(), "the SC is back at the notification");
    assert_eq!(s.debt, vec![0, 0], "notification work is charged to the pod's own SC, not a path's");
    for p in PropertyId::ALL {
        assert!(p.holds(&m, &s), "{}", p.name());
    }

    let mut bare = scenario;
    bare.servers[1].ntfn_sc = None;
    let m = TunnelModel::new(bare);
    let s = m.next_state(&m.init_states()[0], Action::Tick { run: Some(1), work: 0, op: Op::Signal }).unwrap();
    assert!(m.wedged(&s, 1), "a pod woken with no SC cannot run");
}
