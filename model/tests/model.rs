//! Exhaustive checks of the small configuration, plus property-based sanity tests.

use stateright::Model;
use std::collections::{HashSet, VecDeque};
use tunnelkit_model::state::{Run, State};
use tunnelkit_model::{
    Action, ModelConfig, Outcome, PathSpec, PropertyId, Reason, Scenario, ServerSpec, TunnelModel, Watchdog, check, check_scenario,
};

fn outcome(report: &tunnelkit_model::ModelReport, scenario: &str, property: PropertyId) -> Outcome {
    report.result(scenario, property.name()).unwrap_or_else(|| panic!("no result for {scenario}/{}", property.name())).actual
}

/// The README's generated block `<!-- model-{name}:begin -->` … `<!-- model-{name}:end -->`,
/// compared with `generated`; with `TUNNELKIT_UPDATE_MODEL_TABLES=1` in the environment the
/// block is rewritten instead (only between its markers).
fn readme_block_matches(name: &str, generated: &str, prefix_only: bool) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (begin, end) = (format!("<!-- model-{name}:begin -->\n"), format!("<!-- model-{name}:end -->"));
    let from = readme.find(&begin).unwrap_or_else(|| panic!("README has no {begin}")) + begin.len();
    let to = from + readme[from..].find(&end).unwrap_or_else(|| panic!("README has no {end}"));
    let block = &readme[from..to];
    if std::env::var_os("TUNNELKIT_UPDATE_MODEL_TABLES").is_some() && !prefix_only {
        if block != generated {
            std::fs::write(path, format!("{}{generated}{}", &readme[..from], &readme[to..])).expect("write README.md");
        }
        return;
    }
    let ok = if prefix_only { block.starts_with(generated) } else { block == generated };
    assert!(
        ok,
        "README.md's model-{name} block is stale: regenerate it with `cargo run -p tunnelkit -- model --config {name} --markdown` \
         (or TUNNELKIT_UPDATE_MODEL_TABLES=1 cargo test -p tunnelkit-model{}).\n--- generated:\n{generated}\n--- README:\n{block}",
        if name == "large" { " -- --ignored large" } else { "" }
    );
}

#[test]
fn small_config_every_property_as_expected() {
    let report = check(ModelConfig::small());
    let text = report.to_string();
    assert!(report.as_expected(), "{text}");
    assert!(text.contains("states explored: "), "{text}");
    assert!(text.lines().any(|l| l.starts_with("property crosstalk[tunnel]: holds (") && l.ends_with(" states reached its antecedent), expected holds")), "{text}");
    assert!(text.contains("property right-answer[tunnel]: holds vacuously, expected holds vacuously\n"), "{text}");
    assert!(text.contains("property crosstalk[shared-active]: fails, expected fails\n"), "{text}");
    assert!(report.states > 1000);
    // The README's tables are this run's (bounds, states, every outcome).
    readme_block_matches("properties", &PropertyId::legend(), false);
    readme_block_matches("small", &report.markdown(), false);
    readme_block_matches("large", &ModelConfig::large().bounds_markdown(), true);

    use Outcome::{Fails, Holds, Vacuous};
    use PropertyId::*;
    // The tunnel with per-path pods: every property holds, with and without injected faults;
    // right-answer is exercised only where the supervisor answers a fault, no-false-overrun only
    // under a watchdog.
    for sc in ["tunnel", "tunnel-fault", "tunnel-nested", "tunnel-signal"] {
        for p in PropertyId::ALL {
            let want = match p {
                NoFalseOverrun => Vacuous,
                RightAnswer if matches!(sc, "tunnel" | "tunnel-signal") => Vacuous,
                _ => Holds,
            };
            assert_eq!(outcome(&report, sc, p), want, "{sc}/{}\n{text}", p.name());
        }
    }
    // Crosstalk: a counterexample exists for a shared active server and a shared passive pod.
    for sc in ["shared-active", "shared-passive"] {
        assert_eq!(outcome(&report, sc, Crosstalk), Fails, "{sc}");
        let cx = report.result(sc, "crosstalk").unwrap().counterexample.as_deref().unwrap();
        assert!(cx.lines().count() >= 3 && cx.contains("t=1 "), "{cx}");
    }
    // An active server: no SC ever moves and there is no pod, so those two hold vacuously.
    assert_eq!(outcome(&report, "shared-active", ScConservation), Vacuous);
    assert_eq!(outcome(&report, "shared-active", NoWedgedPod), Vacuous);
    assert_eq!(outcome(&report, "shared-passive", ScConservation), Holds);
    // Accounting: an active server's work is charged to its own SC, a pod's to the caller's.
    assert_eq!(outcome(&report, "shared-active", Accounting), Fails);
    assert_eq!(outcome(&report, "shared-passive", Accounting), Holds);
    // seL4 #1616: reachable when clients may Send, unreachable under tunnelkit's Call-only rule.
    assert_eq!(outcome(&report, "send-1616", NoWedgedPod), Fails);
    let cx = report.result("send-1616", "no-wedged-pod").unwrap().counterexample.as_deref().unwrap();
    assert!(cx.contains("Send(") && cx.contains("WEDGED"), "{cx}");
    assert_eq!(cx.lines().count(), 2, "BFS gives the shortest trace: init + one Send\n{cx}");
    // What still holds with Send: SCs and accounting (exercised); the protocol's two vacuously.
    let send: Vec<Outcome> = PropertyId::ALL.iter().map(|&p| outcome(&report, "send-1616", p)).collect();
    assert_eq!(send, [Holds, Fails, Fails, Holds, Fails, Fails, Vacuous, Vacuous]);
    for sc in ["tunnel", "tunnel-fault", "tunnel-nested", "shared-passive"] {
        assert_eq!(outcome(&report, sc, NoWedgedPod), Holds, "{sc}");
    }
    // Without tunnelkit's supervisor a pod fault leaves its caller blocked forever (never answered:
    // right-answer is vacuous).
    assert_eq!(outcome(&report, "fault-no-supervisor", BoundedResponse), Fails);
    assert_eq!(outcome(&report, "fault-no-supervisor", RightAnswer), Vacuous);

    // Overruns. Without the watchdog a spinning call is never answered; it burns only its own
    // path's budget, so the light path is unaffected; no answer is ever an error.
    assert_eq!(outcome(&report, "spin-no-watchdog", BoundedResponse), Fails);
    assert_eq!(outcome(&report, "spin-no-watchdog", Crosstalk), Holds);
    assert_eq!(outcome(&report, "spin-no-watchdog", RightAnswer), Vacuous);
    let cx = report.result("spin-no-watchdog", "bounded-response").unwrap().counterexample.as_deref().unwrap();
    assert!(cx.contains("SPIN in pod-heavy") && !cx.contains("OVERRUN"), "{cx}");
    // With the watchdog and per-path pods, every property holds, exercised (faults and spins
    // injected), as with nested calls when the outer pod's bound covers the inner pod's worst case.
    for sc in ["tunnel-watchdog", "watchdog-uncharged", "watchdog-nested-slack"] {
        for p in PropertyId::ALL {
            assert_eq!(outcome(&report, sc, p), Holds, "{sc}/{}\n{text}", p.name());
        }
    }
    // A shared pod spinning under the heavy path: every call is still answered, with the right
    // answer, but the light path waits for the heavy path's overrun beyond its own horizon.
    for p in [ScConservation, BoundedResponse, NoDeadlock, Accounting, NoWedgedPod, RightAnswer, NoFalseOverrun] {
        assert_eq!(outcome(&report, "shared-spin", p), Holds, "shared-spin/{}", p.name());
    }
    assert_eq!(outcome(&report, "shared-spin", Crosstalk), Fails);
    let cx = report.result("shared-spin", "crosstalk").unwrap().counterexample.as_deref().unwrap();
    assert!(cx.contains("SPIN in shared-pod") && cx.contains("OVERRUN, restart shared-pod"), "{cx}");
    // Work within the bound but above bound - tick can be killed: the account's over-approximation.
    assert_eq!(outcome(&report, "watchdog-margin", NoFalseOverrun), Fails);
    assert_eq!(outcome(&report, "watchdog-margin", RightAnswer), Fails);
    for p in ["right-answer", "no-false-overrun"] {
        let cx = report.result("watchdog-margin", p).unwrap().counterexample.as_deref().unwrap();
        assert!(cx.contains("OVERRUN, restart pod-heavy") && !cx.contains("SPIN"), "{cx}");
    }
    // Nested calls under the implementation's watchdog with equal bounds: a spin then a fault in
    // the inner pod is answered Err(Overrun) (the outer pod, over its bound with the inner pod's
    // time, is restarted before it passes Err(Fault) on).
    let nested: Vec<Outcome> = PropertyId::ALL.iter().map(|&p| outcome(&report, "watchdog-nested", p)).collect();
    assert_eq!(nested, [Holds, Fails, Holds, Holds, Holds, Holds, Fails, Holds]);
    let cx = report.result("watchdog-nested", "right-answer").unwrap().counterexample.as_deref().unwrap();
    let at = |what: &str| cx.find(what).unwrap_or_else(|| panic!("no {what:?} in\n{cx}"));
    assert!(at("SPIN in pod-b") < at("FAULT in pod-b") && at("FAULT in pod-b") < at("OVERRUN, restart pod-a"), "{cx}");
    assert!(cx.lines().last().unwrap().contains("WRONG ANSWER"), "{cx}");
}

/// Vacuity is detected and is part of the expectation: a property whose antecedent no reachable
/// state reaches is reported as holding vacuously (with 0 states), one that is exercised with its
/// count; a property expected to be exercised that turns out vacuous is unexpected, and so is one
/// expected to be vacuous that is exercised.
#[test]
fn vacuous_properties_are_reported_and_expected() {
    let sc = small_scenario("tunnel");
    let r = check_scenario(&sc, 2);
    let get = |r: &tunnelkit_model::ScenarioReport, id: PropertyId| r.properties.iter().find(|p| p.property == id.name()).unwrap().clone();
    // No watchdog: no-false-overrun's antecedent (a check deciding about a call) is unreachable.
    let nfo = get(&r, PropertyId::NoFalseOverrun);
    assert_eq!((nfo.actual, nfo.antecedent_states), (Outcome::Vacuous, 0));
    assert_eq!(nfo.actual_text(), "holds vacuously");
    assert!(nfo.as_expected());
    let xtalk = get(&r, PropertyId::Crosstalk);
    assert_eq!(xtalk.actual, Outcome::Holds);
    assert!(xtalk.antecedent_states > 0 && xtalk.antecedent_states < r.states, "{}", xtalk.antecedent_states);
    assert_eq!(xtalk.actual_text(), format!("holds ({} states reached its antecedent)", xtalk.antecedent_states));

    // Expected exercised, found vacuous: the run is not as expected.
    let mut wrong = sc.clone();
    wrong.expect[PropertyId::NoFalseOverrun as usize] = Outcome::Holds;
    let cfg = ModelConfig { name: "vacuity", scenarios: vec![wrong], threads: 2 };
    let report = check(cfg);
    assert!(!report.as_expected());
    assert!(report.to_string().contains("property no-false-overrun[tunnel]: holds vacuously, expected holds  <-- UNEXPECTED"), "{report}");
    assert!(report.markdown().contains("vacuous (expected holds)"), "{}", report.markdown());
    // Expected vacuous, found exercised: not as expected either.
    let mut wrong = sc;
    wrong.expect[PropertyId::Crosstalk as usize] = Outcome::Vacuous;
    assert!(!check(ModelConfig { name: "vacuity", scenarios: vec![wrong], threads: 2 }).as_expected());

    // right-answer is exercised exactly where an answer is (or should be) an error: faults
    // answered by the supervisor. The same system with the fault makes it count answers.
    let mut faulty = small_scenario("tunnel");
    faulty.faults = 1;
    let r = check_scenario(&faulty, 2);
    assert_eq!(get(&r, PropertyId::RightAnswer).actual, Outcome::Holds);
}
/// Two cores calling one pod, under the kernel behaviour read from seL4 16.0.0 MCS SMP: the pod,
/// serving one core's caller, takes the other core's queued caller in `ReplyRecv`, migrates with
/// its SC to that core and is put on its ready queue without waking it. That core sleeps (its
/// only thread is the blocked caller): the call is never answered and, once the other path calls
/// again and queues behind it, nothing can run. With the wakeup (a correct kernel) every call is
/// answered, only crosstalk fails (as with a shared pod on one core); per-core pod instances
/// never migrate and keep every property, also nested.
#[test]
fn smp_shared_pod_loses_the_wakeup_and_per_core_pods_do_not() {
    use Outcome::{Fails, Holds, Vacuous};
    use PropertyId::*;
    let mut cfg = ModelConfig::small();
    cfg.scenarios.retain(|s| s.name.starts_with("smp-"));
    assert_eq!(cfg.scenarios.len(), 5);
    let report = check(cfg);
    let text = report.to_string();
    assert!(report.as_expected(), "{text}");
    for sc in ["smp-shared-pod", "smp-shared-nested"] {
        for p in PropertyId::ALL {
            let want = match p {
                BoundedResponse | NoDeadlock | Crosstalk => Fails,
                RightAnswer | NoFalseOverrun => Vacuous,
                _ => Holds,
            };
            assert_eq!(outcome(&report, sc, p), want, "{sc}/{}\n{text}", p.name());
        }
        let cx = report.result(sc, "no-deadlock").unwrap().counterexample.as_deref().unwrap();
        assert!(cx.contains("STRANDED") && cx.contains("asleep"), "{cx}");
        let cx = report.result(sc, "bounded-response").unwrap().counterexample.as_deref().unwrap();
        assert!(cx.lines().last().unwrap().contains("STRANDED"), "{cx}");
    }
    // The shortest hang: both call at t=1, the pod serves heavy on core 1, takes light's call in
    // ReplyRecv (stranded on core 0), heavy calls again at t=5 and queues behind it.
    let cx = report.result("smp-shared-pod", "no-deadlock").unwrap().counterexample.as_deref().unwrap();
    assert_eq!(cx.lines().count(), 5, "{cx}");
    assert!(cx.lines().last().unwrap().starts_with("  t=5 ") && cx.contains("queue shared-pod [heavy]"), "{cx}");
    // No faults, spins or watchdog on two cores: right-answer and no-false-overrun hold vacuously.
    let vacuous_or = |p: PropertyId, other| if matches!(p, RightAnswer | NoFalseOverrun) { Vacuous } else { other };
    for p in PropertyId::ALL {
        let want = vacuous_or(p, if p == Crosstalk { Fails } else { Holds });
        assert_eq!(outcome(&report, "smp-shared-pod-woken", p), want, "smp-shared-pod-woken/{}", p.name());
    }
    for sc in ["smp-per-core-pods", "smp-per-core-nested"] {
        for p in PropertyId::ALL {
            assert_eq!(outcome(&report, sc, p), vacuous_or(p, Holds), "{sc}/{}\n{text}", p.name());
        }
    }
}

/// The cores are exercised, not vacuous: in `smp-shared-pod-woken` the shared pod migrates in
/// `ReplyRecv` in both directions and runs on both cores, both cores run in the same tick, and
/// both orders of simultaneous system calls are taken; in the per-core designs no thread is ever
/// stranded and every pod instance only ever holds an SC of its own core.
#[test]
fn smp_scenarios_migrate_and_per_core_instances_never_do() {
    let m = TunnelModel::new(small_scenario("smp-shared-pod-woken"));
    let pod = 2;
    let (mut migrations, mut both, mut reversed) = (HashSet::new(), false, false);
    transitions(&m, |s, a, n| {
        if let (Some(from), Some(to)) = (m.thread_core(s, pod), m.thread_core(n, pod))
            && from != to
        {
            migrations.insert((from, to));
        }
        if let Action::SmpTick { run: [Some(_), Some(_)], core1_first, .. } = a {
            both = true;
            reversed |= core1_first;
        }
        assert!(n.stranded.iter().all(|&x| !x), "a correct kernel never strands a thread");
    });
    assert_eq!(migrations, HashSet::from([(0, 1), (1, 0)]));
    assert!(both && reversed);

    for name in ["smp-per-core-pods", "smp-per-core-nested"] {
        let m = TunnelModel::new(small_scenario(name));
        transitions(&m, |_, _, n| {
            assert!(n.stranded.iter().all(|&x| !x), "{name}: stranded");
            for (i, srv) in m.scenario.servers.iter().enumerate() {
                let core = u8::from(srv.name.ends_with("@1"));
                if let Some(c) = m.thread_core(n, m.scenario.paths.len() + i) {
                    assert_eq!(c, usize::from(core), "{name}: {} ran on core {c}", srv.name);
                }
            }
        });
    }
}

/// The lost wakeup is a hang only because the target core sleeps: with one more path on each
/// core (budget 1/4, calling a pod of its own), whose refill timer wakes its core every period,
/// the stranded pod is noticed within a period and every call is answered (bounded-response and
/// no-deadlock hold; crosstalk still fails, the pod being shared).
#[test]
fn smp_lost_wakeup_is_only_a_delay_when_the_core_has_other_work() {
    let mut sc = small_scenario("smp-shared-pod");
    let other = |name, core, calls| PathSpec { name, priority: 1, budget: 1, period: 4, client_work: 1, demand: vec![1], calls, core };
    sc.paths.push(other("other0", 0, 1));
    sc.paths.push(other("other1", 1, 2));
    for name in ["pod-o0", "pod-o1"] {
        sc.servers.push(ServerSpec { name, priority: 4, own_sc: None, nested: None, ntfn_sc: None, bound: None });
    }
    let r = check_scenario(&sc, 2);
    for p in &r.properties {
        assert_eq!(p.actual.holds(), p.property != "crosstalk", "{}: {:?}", p.property, p.counterexample);
    }
    // The pod is still stranded on a sleeping core on the way.
    let cx = r.properties.iter().find(|p| p.property == "crosstalk").unwrap().counterexample.as_deref().unwrap();
    assert!(cx.contains("STRANDED") && cx.contains("asleep"), "{cx}");
}

fn small_scenario(name: &str) -> Scenario {
    ModelConfig::small().scenarios.into_iter().find(|s| s.name == name).unwrap()
}

/// Every reachable transition `(state, action, next)` of a model (breadth-first).
fn transitions(m: &TunnelModel, mut f: impl FnMut(&State, Action, &State)) {
    let mut seen: HashSet<State> = m.init_states().into_iter().collect();
    let mut queue: VecDeque<State> = seen.iter().cloned().collect();
    while let Some(s) = queue.pop_front() {
        let mut actions = Vec::new();
        m.actions(&s, &mut actions);
        for a in actions {
            let n = m.next_state(&s, a).unwrap();
            f(&s, a, &n);
            if seen.insert(n.clone()) {
                queue.push_back(n);
            }
        }
    }
}

/// The restart protocol's cases are all reached in `tunnel-watchdog` (so its properties do not
/// hold vacuously): an overrun kill of a running pod, of a depleted one (waiting for the caller's
/// refill), of one blocked on its own fault message (which keeps `Fault`), of one already
/// re-initialising after a fault (keeps `Fault`), a fault in a spinning pod, and `Err(Overrun)`
/// answers with the SC returned.
#[test]
fn watchdog_reaches_every_restart_case() {
    let m = TunnelModel::new(small_scenario("tunnel-watchdog"));
    let pod = 3; // pod-heavy
    let mut seen = [0usize; 6];
    transitions(&m, |s, a, n| {
        let (before, after) = (s.threads[pod].run, n.threads[pod].run);
        let budget = s.budget[1];
        match (a, before, after) {
            (Action::Check, Run::Spinning, Run::Restarting { reason: Reason::Overrun, .. }) if budget > 0 => seen[0] += 1,
            (Action::Check, Run::Spinning, Run::Restarting { reason: Reason::Overrun, .. }) => seen[1] += 1,
            (Action::Check, Run::FaultWait, Run::Restarting { reason: Reason::Fault, .. }) => seen[2] += 1,
            (Action::Check, Run::Restarting { reason: Reason::Fault, .. }, Run::Restarting { reason: Reason::Fault, .. })
                if n.account[1] > 5 =>
            {
                seen[3] += 1
            }
            (Action::Fault { pod: 1 }, Run::Spinning, Run::FaultWait) => seen[4] += 1,
            (Action::Tick { run: Some(3), .. }, Run::Restarting { reason: Reason::Overrun, .. }, Run::Recv | Run::Serving { .. }) => {
                assert_eq!(n.threads[1].sc, Some(1), "the SC is back with the caller");
                assert!(!n.wrong_answer && n.age[1].is_none());
                seen[5] += 1;
            }
            _ => {}
        }
    });
    assert!(seen.iter().all(|&c| c > 0), "cases reached: {seen:?}");
}

/// One overrun step by step: the heavy path's pod spins; the check that finds the account over
/// the bound restarts it; it re-initialises on the donated SC and answers `Err(Overrun)`.
#[test]
fn overrun_restarts_the_pod_which_answers_err_overrun() {
    use tunnelkit_model::Op;
    let m = TunnelModel::new(small_scenario("tunnel-watchdog"));
    let tick = |s: &State, t: u8| m.next_state(s, Action::Tick { run: Some(t), work: 1, op: Op::Call }).unwrap();
    let mut s = m.init_states().remove(0);
    s = tick(&s, 1); // heavy calls pod-heavy (thread 3) at t=1
    s = m.next_state(&s, Action::Spin { pod: 1 }).unwrap();
    let mut checks = 0;
    while !matches!(s.threads[3].run, Run::Restarting { .. }) {
        assert!(checks < 20, "the watchdog restarts the pod");
        let mut acts = Vec::new();
        m.actions(&s, &mut acts);
        // Run the pod when it can, else whatever is offered (the check, idling, the light path).
        let a = if acts.contains(&Action::Check) {
            checks += 1;
            Action::Check
        } else {
            acts.iter().copied().find(|a| matches!(a, Action::Tick { run: Some(3), .. })).unwrap_or(acts[0])
        };
        s = m.next_state(&s, a).unwrap();
    }
    assert_eq!(s.threads[3].run, Run::Restarting { left: 1, reason: Reason::Overrun });
    assert_eq!(s.threads[3].sc, Some(1), "the pod re-initialises on the donated SC");
    while s.threads[3].run != Run::Recv {
        let mut acts = Vec::new();
        m.actions(&s, &mut acts);
        let a = acts.iter().copied().find(|a| matches!(a, Action::Tick { run: Some(3), .. } | Action::Check)).unwrap_or(acts[0]);
        s = m.next_state(&s, a).unwrap();
    }
    assert_eq!(s.threads[1].sc, Some(1), "the SC is back with the caller");
    assert!(!s.wrong_answer && !s.false_overrun && s.age[1].is_none() && !s.spun[1], "answered Err(Overrun)");
}

/// A pod blocked on its own fault message when the watchdog kills it keeps `Fault` (the first
/// interruption decides), and the supervisor's later steps do not change it.
#[test]
fn first_interruption_decides() {
    let mut sc = small_scenario("tunnel-watchdog");
    sc.paths[1].demand = vec![3];
    let m = TunnelModel::new(sc);
    let mut s = m.init_states().remove(0);
    s.threads[1].run = Run::Blocked;
    s.threads[1].sc = None;
    s.threads[3] = tunnelkit_model::state::Thread { run: Run::Spinning, sc: Some(1), reply: Some(1) };
    s.spun[1] = true;
    s.age[1] = Some(9);
    s.account[1] = 5; // at the bound
    s.consumed[1] = 2;
    s.check_due = true;
    s = m.next_state(&s, Action::Fault { pod: 1 }).unwrap();
    assert_eq!(s.threads[3].run, Run::FaultWait);
    let mut acts = Vec::new();
    m.actions(&s, &mut acts);
    assert!(acts.contains(&Action::Check) && acts.contains(&Action::Supervise { pod: 1 }), "{acts:?}");
    // Either order of the supervisor's two pending events gives Fault.
    for order in [[Action::Check, Action::Supervise { pod: 1 }], [Action::Supervise { pod: 1 }, Action::Check]] {
        let mut t = s.clone();
        for a in order {
            let mut acts = Vec::new();
            m.actions(&t, &mut acts);
            if acts.contains(&a) {
                t = m.next_state(&t, a).unwrap();
            }
        }
        assert!(matches!(t.threads[3].run, Run::Restarting { reason: Reason::Fault, .. }), "{order:?}: {:?}", t.threads[3].run);
        assert!(!t.check_due && !m.supervisor_busy(&t));
    }
}

/// Property 8 is checked for real (exercised, not vacuous): under the watchdog every legitimate
/// request (at most `bound - tick` ticks) of every path is served without a kill, also when the
/// light path's pod may spin too (its own horizon then includes its overrun).
#[test]
fn legitimate_calls_are_never_killed() {
    let mut sc = small_scenario("tunnel-watchdog");
    sc.spin_paths = vec![0, 1];
    sc.spins = 2;
    let r = check_scenario(&sc, 2);
    for p in &r.properties {
        assert_eq!(p.actual, Outcome::Holds, "{}: {:?}", p.property, p.counterexample);
    }
    // The limit is tight up to the model's granularity: see `watchdog-margin`.
    let wd = sc.watchdog.unwrap();
    assert_eq!(sc.paths[1].demand.iter().max(), Some(&wd.legit_limit()));
}

/// Restart work longer than what the caller's SC gets between two checks livelocks under the
/// protocol as specified: every check finds the call still over its bound and restarts the
/// re-initialising pod again. A watchdog that stops a call at most once (as the implementation
/// does) does not.
#[test]
fn rekilling_a_restarting_pod_can_livelock() {
    let mut sc = small_scenario("tunnel-watchdog");
    sc.spin_paths = vec![0]; // the light path: budget 1 per period, below the restart work
    sc.restart_work = 2;
    let r = check_scenario(&sc, 2);
    let resp = r.properties.iter().find(|p| p.property == "bounded-response").unwrap();
    assert_eq!(resp.actual, Outcome::Fails);
    assert!(resp.counterexample.as_deref().unwrap().contains("OVERRUN, restart pod-light"));
    let mut once = sc.clone();
    once.watchdog.as_mut().unwrap().stop_once = true;
    let r = check_scenario(&once, 2);
    for p in &r.properties {
        assert!(p.actual.holds(), "{}: {:?}", p.property, p.counterexample);
    }
}

/// Nested calls under the implementation's watchdog (heavy -> pod A -> pod B, only B spins). B is
/// stopped when it spins. A's account includes B's time: with equal bounds it passes A's bound
/// while A waits on B, and A is not stopped then (blocked on B's reply, it holds no SC to restart
/// on), but a later check can stop A once B's answer is back — a restart of a pod that did nothing
/// wrong, always after a spin in B, and still answered `Err(Overrun)`, the right answer, unless B
/// faulted after spinning (the configured scenario's failure; every call is still answered within
/// the horizon). Without faults every property holds with equal bounds too. With A's bound
/// covering B's worst case, A is never stopped.
#[test]
fn nested_watchdog_spares_the_waiting_outer_pod_and_may_stop_it_after() {
    let (a, b) = (1usize, 2usize);
    for (name, equal) in [("watchdog-nested", true), ("watchdog-nested-slack", false)] {
        let m = TunnelModel::new(small_scenario(name));
        let (ta, tb) = (m.scenario.paths.len() + a, m.scenario.paths.len() + b);
        let bound_a = m.scenario.bound_of(a).unwrap();
        let (mut spared, mut stopped_a, mut stopped_b) = (0, 0, 0);
        transitions(&m, |s, act, n| {
            // bounded-response fails in watchdog-nested only through the wrong answer.
            assert!(n.age.iter().flatten().all(|&age| u32::from(age) <= m.system_horizon), "{name}: a call past the horizon");
            if act != Action::Check {
                return;
            }
            if s.threads[ta].run == Run::Blocked && n.account[a] > bound_a {
                assert_eq!(n.threads[ta].run, Run::Blocked, "{name}: a pod waiting on its nested call is not stopped");
                spared += 1;
            }
            if matches!(n.threads[ta].run, Run::Restarting { reason: Reason::Overrun, .. })
                && !matches!(s.threads[ta].run, Run::Restarting { .. })
            {
                assert!(s.spun[1], "{name}: pod A is stopped only after a spin in pod B");
                assert!(matches!(s.threads[ta].run, Run::Serving { nested_done: true, .. }), "{name}: {:?}", s.threads[ta].run);
                stopped_a += 1;
            }
            if matches!((s.threads[tb].run, n.threads[tb].run), (Run::Spinning, Run::Restarting { reason: Reason::Overrun, .. })) {
                stopped_b += 1;
            }
        });
        assert!(stopped_b > 0, "{name}: B's spin is stopped");
        assert_eq!(spared > 0, equal, "{name}: A over its bound while waiting on B");
        assert_eq!(stopped_a > 0, equal, "{name}: A stopped after B's answer");
    }
    let mut sc = small_scenario("watchdog-nested");
    sc.faults = 0;
    let r = check_scenario(&sc, 2);
    for p in &r.properties {
        assert_eq!(p.actual, Outcome::Holds, "no faults: {}: {:?}", p.property, p.counterexample);
    }
}

/// CPU time (ticks charged to the caller's SC since its call was issued) a call has used when the
/// watchdog kills it, over every reachable kill: `(least, most)`. Computed by a breadth-first
/// search over (state, time used per path) pairs, outside the model.
fn work_at_kill(m: &TunnelModel) -> (u8, u8) {
    type Node = (State, Vec<u8>);
    let start: Node = (m.init_states().remove(0), vec![0; m.scenario.paths.len()]);
    let mut seen: HashSet<Node> = HashSet::from([start.clone()]);
    let mut queue = VecDeque::from([start]);
    let (mut least, mut most) = (u8::MAX, 0u8);
    while let Some((s, used)) = queue.pop_front() {
        let mut actions = Vec::new();
        m.actions(&s, &mut actions);
        for a in actions {
            let n = m.next_state(&s, a).unwrap();
            let mut u = used.clone();
            if let Action::Tick { run: Some(t), .. } = a
                && let Some(sc) = s.threads[usize::from(t)].sc
                && usize::from(sc) < u.len()
                && s.age[usize::from(sc)].is_some()
            {
                u[usize::from(sc)] = (u[usize::from(sc)] + 1).min(60);
            }
            for (p, up) in u.iter_mut().enumerate() {
                if s.age[p].is_none() {
                    *up = 0; // a new call (or none): nothing used yet
                }
            }
            if a == Action::Check {
                for pod in m.scenario.paths.len()..s.threads.len() {
                    let killed = matches!(n.threads[pod].run, Run::Restarting { reason: Reason::Overrun, .. })
                        && matches!(s.threads[pod].run, Run::Spinning | Run::Serving { .. });
                    if killed {
                        let used = u[usize::from(n.threads[pod].sc.unwrap())];
                        least = least.min(used);
                        most = most.max(used);
                    }
                }
            }
            let node = (n, u);
            if seen.insert(node.clone()) {
                queue.push_back(node);
            }
        }
    }
    (least, most)
}

/// How late and how early the watchdog stops a call, per policy. Charging a new call's first
/// interval stops a spinning call after at most `bound + tick - 1` ticks of CPU in the model
/// (`bound + tick` in continuous time), but can stop a call within its bound
/// (`watchdog-margin`); charging it nothing never stops a call within its bound, but lets a
/// spinning call run up to `bound + 2 tick - 1` ticks (the part of the first interval before it
/// was first seen is not counted): more than `bound + tick`.
#[test]
fn watchdog_kill_latency_per_policy() {
    for (name, charged) in [("tunnel-watchdog", true), ("watchdog-uncharged", false), ("watchdog-margin", true)] {
        let m = TunnelModel::new(small_scenario(name));
        let wd = m.scenario.watchdog.unwrap();
        assert_eq!(wd.charge_first_interval, charged);
        let (least, most) = work_at_kill(&m);
        let (bound, tick) = (wd.bound, wd.tick);
        assert!(u32::from(most) < wd.kill_work(), "{name}: {most} ticks");
        if name == "watchdog-margin" {
            // No spins here: every kill is of a call within its bound.
        } else if charged {
            assert_eq!(most, bound + tick - 1, "{name}");
        } else {
            assert_eq!(most, bound + 2 * tick - 1, "{name}: later than bound + tick");
            assert!(least > bound, "{name}: never within the bound");
        }
        if name == "watchdog-margin" {
            assert!(least <= bound, "{name}: a call within its bound is stopped ({least} ticks)");
        }
    }
}

/// With the first interval not charged, even requests of the full bound are never stopped.
#[test]
fn uncharged_watchdog_spares_every_call_within_the_bound() {
    let mut sc = small_scenario("watchdog-margin");
    sc.watchdog.as_mut().unwrap().charge_first_interval = false;
    let r = check_scenario(&sc, 2);
    for p in &r.properties {
        assert!(p.actual.holds(), "{}: {:?}", p.property, p.counterexample);
    }
}

/// In `shared-spin` the crosstalk violation is the spin's doing: with the same (legitimate)
/// requests and no spin, the light path meets its own horizon.
#[test]
fn shared_pod_crosstalk_comes_from_the_spin() {
    let mut sc = small_scenario("shared-spin");
    sc.spins = 0;
    let r = check_scenario(&sc, 2);
    for p in &r.properties {
        assert!(p.actual.holds(), "{}: {:?}", p.property, p.counterexample);
    }
}

/// A pod fault mid-call: the pod blocks on its fault message, the supervisor restarts it, it
/// re-initialises on the donated SC, and the caller gets `Err(Fault)` and its SC back; the pod
/// then serves the next call.
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
    assert_eq!(s.threads[3].run, Run::FaultWait, "blocked on its fault message");
    assert_eq!(s.threads[3].sc, Some(1), "the pod keeps the donated SC until restarted");
    let mut acts = Vec::new();
    m.actions(&s, &mut acts);
    assert_eq!(acts, vec![Action::Supervise { pod: 1 }], "the supervisor runs first");
    s = m.next_state(&s, Action::Supervise { pod: 1 }).unwrap();
    assert_eq!(s.threads[3].run, Run::Restarting { left: 1, reason: Reason::Fault });
    s = m.next_state(&s, Action::Tick { run: Some(3), work: 0, op: tunnelkit_model::Op::Call }).unwrap();
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
            core: 0,
        });
    }
    let servers = (0..n)
        .map(|i| ServerSpec { name: ["pod0", "pod1", "pod2"][i], priority: 4, own_sc: None, nested: None, ntfn_sc: None, bound: None })
        .collect();
    // Half of the systems run the overrun watchdog, with only legitimate requests and spins
    // allowed under every path.
    let watchdog = rng.next().is_multiple_of(2).then(|| {
        let tick = rng.range(1, period.min(3));
        let bound = tick + rng.range(1, 3);
        Watchdog { tick, bound, stop_once: rng.next().is_multiple_of(2), charge_first_interval: rng.next().is_multiple_of(2) }
    });
    if let Some(wd) = watchdog {
        for p in &mut paths {
            p.demand.retain(|&d| d <= wd.legit_limit());
            if p.demand.is_empty() {
                p.demand.push(1);
            }
        }
    }
    Scenario {
        name: "random-tunnel",
        description: "random per-path tunnel system",
        paths,
        servers,
        allow_send: false,
        allow_signal: false,
        faults: rng.range(0, 1),
        supervisor: true,
        spins: if watchdog.is_some() { rng.range(0, 1) } else { 0 },
        spin_paths: (0..n).collect(),
        spin_pods: None,
        watchdog,
        restart_work: 1,
        kernel: tunnelkit_model::KernelSmp::LostWakeup,
        expect: [Outcome::Holds; PropertyId::COUNT],
    }
}

/// Property-based: for random budgets, periods, demands, priorities and client work (with the
/// budgets of a period summing to at most the period), and for half of them a random watchdog
/// (tick, bound) with spins, per-path tunnels satisfy every property, including the computed
/// response horizons.
#[test]
fn random_tunnel_systems_satisfy_every_property() {
    let mut rng = Rng(0x7e57_5eed_1234_5678);
    let mut watched = 0;
    for round in 0..60 {
        let scenario = random_tunnel(&mut rng);
        scenario.validate().unwrap();
        watched += usize::from(scenario.watchdog.is_some() && scenario.spins > 0);
        let r = check_scenario(&scenario, 2);
        for p in &r.properties {
            assert!(p.actual.holds(), "round {round}: {} violated in {scenario:?}\n{:?}", p.property, p.counterexample);
        }
    }
    assert!(watched >= 10, "only {watched} systems with a watchdog and spins");
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

/// The large configuration (about 634 000 states; 5–15 s in a debug build, depending on the
/// machine's load, 2–3 s in release), and the README's table of it.
/// Run with `cargo test -p tunnelkit-model -- --ignored` (or `--release -- --ignored`).
#[test]
#[ignore = "large configuration: run explicitly"]
fn large_config_every_property_as_expected() {
    use Outcome::{Fails, Holds, Vacuous};
    use PropertyId::*;
    let report = check(ModelConfig::large());
    assert!(report.as_expected(), "{report}");
    readme_block_matches("large", &report.markdown(), false);
    assert_eq!(outcome(&report, "tunnel", Crosstalk), Holds);
    assert_eq!(outcome(&report, "shared-passive", BoundedResponse), Fails, "starvation with three paths");
    for sc in ["tunnel-watchdog", "watchdog-uncharged", "watchdog-nested-slack"] {
        for p in PropertyId::ALL {
            assert_eq!(outcome(&report, sc, p), Holds, "{sc}/{}", p.name());
        }
    }
    assert_eq!(outcome(&report, "spin-no-watchdog", BoundedResponse), Fails);
    assert_eq!(outcome(&report, "spin-no-watchdog", Crosstalk), Holds);
    assert_eq!(outcome(&report, "shared-spin", BoundedResponse), Holds);
    assert_eq!(outcome(&report, "shared-spin", Crosstalk), Fails);
    assert_eq!(outcome(&report, "watchdog-margin", RightAnswer), Fails);
    assert_eq!(outcome(&report, "watchdog-margin", NoFalseOverrun), Fails);
    assert_eq!(outcome(&report, "watchdog-nested", RightAnswer), Fails);
    for sc in ["smp-shared-pod", "smp-shared-nested"] {
        assert_eq!(outcome(&report, sc, NoDeadlock), Fails, "{sc}");
        assert_eq!(outcome(&report, sc, BoundedResponse), Fails, "{sc}");
    }
    assert_eq!(outcome(&report, "smp-shared-pod-woken", BoundedResponse), Holds);
    for sc in ["smp-per-core-pods", "smp-per-core-nested"] {
        for p in PropertyId::ALL {
            let want = if matches!(p, RightAnswer | NoFalseOverrun) { Vacuous } else { Holds };
            assert_eq!(outcome(&report, sc, p), want, "{sc}/{}", p.name());
        }
    }
}

#[test]
fn report_prints_one_line_per_property() {
    let mut cfg = ModelConfig::small();
    cfg.scenarios.retain(|s| s.name == "tunnel" || s.name == "send-1616");
    let report = check(cfg);
    let text = report.to_string();
    let lines = text.lines().filter(|l| l.starts_with("property ")).count();
    assert_eq!(lines, 2 * PropertyId::COUNT, "{text}");
    assert!(text.lines().any(|l| l == "property no-wedged-pod[send-1616]: fails, expected fails"), "{text}");
    assert!(text.lines().any(|l| l == "property no-false-overrun[send-1616]: holds vacuously, expected holds vacuously"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("property accounting[send-1616]: holds (")
                && l.ends_with("states reached its antecedent), expected holds")),
        "{text}"
    );
    assert!(text.contains("counterexample no-wedged-pod[send-1616]:"), "{text}");
    assert!(!text.contains("counterexample no-false-overrun"), "no trace for a property that holds\n{text}");
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
