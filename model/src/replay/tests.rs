//! Replays of small hand-written traces: what conforms, and where a broken one is rejected.

use super::{Answer as A, ConformanceReport, Observed, Step, TracePd, TraceSystem, check_trace};
use crate::state::Reason;

const CLIENT: usize = 0;
const POD: usize = 1;
const INNER: usize = 2;
const OTHER: usize = 3;
const SUPERVISOR: usize = 4;

/// `client` (active, priority 10) and `other` (active, 20) call `pod` (passive, 100, supervised
/// with a watchdog), which calls `inner` (passive, 120, supervised).
fn system() -> TraceSystem {
    let pd = |name: &str, passive, priority, supervised| TracePd {
        name: name.into(),
        passive,
        priority,
        cpu: 0,
        supervised,
        bounded: supervised,
    };
    TraceSystem {
        pds: vec![
            pd("client", false, 10, false),
            pd("pod", true, 100, true),
            pd("inner", true, 120, true),
            pd("other", false, 20, false),
            pd("supervisor", false, 200, false),
        ],
        calls: vec![(CLIENT, POD), (OTHER, POD), (POD, INNER)],
        notifies: vec![(CLIENT, POD)],
    }
}

fn steps(events: &[(usize, Observed)]) -> Vec<Step> {
    events.iter().enumerate().map(|(i, (pd, what))| Step { line: i + 2, pd: *pd, what: what.clone(), sc: None, core: None }).collect()
}

fn replay(events: &[(usize, Observed)]) -> ConformanceReport {
    check_trace(&system(), &steps(events))
}

fn rejected_at(events: &[(usize, Observed)]) -> (usize, String) {
    let r = replay(events);
    let Some(v) = r.violation.clone() else { panic!("accepted:\n{r}") };
    (v.index, v.rule)
}

/// A nested tunnel: client → pod → inner and back.
fn nested_call() -> Vec<(usize, Observed)> {
    use Observed::{Call, Reply, Serve};
    vec![
        (CLIENT, Call(POD)),
        (POD, Serve(CLIENT)),
        (POD, Call(INNER)),
        (INNER, Serve(POD)),
        (INNER, Observed::Answer(POD, A::Ok)),
        (POD, Reply(INNER, A::Ok)),
        (POD, Observed::Answer(CLIENT, A::Ok)),
        (CLIENT, Reply(POD, A::Ok)),
    ]
}

#[test]
fn a_nested_tunnel_conforms() {
    let r = replay(&nested_call());
    assert!(r.conforms(), "{r}");
    assert_eq!((r.checked, r.outside), (8, 0));
    assert_eq!(r.paths, ["client", "other"]);
    assert_eq!(r.servers, ["pod", "inner"]);
}

#[test]
fn a_removed_serve_is_rejected_where_the_pod_acts_next() {
    let mut t = nested_call();
    t.remove(1);
    let (index, rule) = rejected_at(&t);
    assert_eq!(index, 1, "{rule}");
    assert!(rule.contains("pod calls inner"), "{rule}");
}

#[test]
fn a_reply_before_its_answer_is_rejected() {
    let mut t = nested_call();
    let reply = t.remove(5);
    t.insert(4, reply);
    let (index, rule) = rejected_at(&t);
    assert_eq!(index, 4, "{rule}");
    assert!(rule.contains("has not answered it"), "{rule}");
}

#[test]
fn the_sc_the_trace_names_must_be_the_one_donated() {
    let mut s = steps(&nested_call());
    s[3].sc = Some(OTHER);
    let r = check_trace(&system(), &s);
    let v = r.violation.expect("rejected");
    assert_eq!(v.index, 3);
    assert!(v.rule.contains("on other's SC in the trace, on client's SC in the model"), "{}", v.rule);
    s[3].sc = Some(CLIENT);
    assert!(check_trace(&system(), &s).conforms());
}

#[test]
fn a_second_caller_waits_until_the_pod_answers() {
    use Observed::{Call, Reply, Serve};
    let t = vec![(CLIENT, Call(POD)), (POD, Serve(CLIENT)), (OTHER, Call(POD)), (POD, Serve(OTHER))];
    let (index, rule) = rejected_at(&t);
    assert_eq!(index, 3);
    assert!(rule.contains("pod serves a call from other"), "{rule}");
    let ok = vec![
        (CLIENT, Call(POD)),
        (POD, Serve(CLIENT)),
        (OTHER, Call(POD)),
        (POD, Observed::Answer(CLIENT, A::Ok)),
        (POD, Serve(OTHER)),
        (CLIENT, Reply(POD, A::Ok)),
        (POD, Observed::Answer(OTHER, A::Other(6))),
        (OTHER, Reply(POD, A::Other(6))),
    ];
    let r = replay(&ok);
    assert!(r.conforms(), "{r}");
}

/// A fault in `pod` while it serves `client`, the supervisor's restart, the error answer.
fn fault_and_restart(answer: A) -> Vec<(usize, Observed)> {
    use Observed::{Call, ChildFault, ChildRestart, Init, Reply, Restart, Serve};
    vec![
        (CLIENT, Call(POD)),
        (POD, Serve(CLIENT)),
        (SUPERVISOR, ChildFault(POD)),
        (SUPERVISOR, ChildRestart(POD, Some(Reason::Fault))),
        (POD, Init(Some(Reason::Fault))),
        (POD, Restart { reason: Reason::Fault, in_call: true }),
        (POD, Observed::Answer(CLIENT, answer)),
        (CLIENT, Reply(POD, answer)),
    ]
}

#[test]
fn a_restarted_pod_answers_its_caller_with_the_fault() {
    let r = replay(&fault_and_restart(A::Err(Reason::Fault)));
    assert!(r.conforms(), "{r}");
    let (index, rule) = rejected_at(&fault_and_restart(A::Ok));
    assert_eq!(index, 6);
    assert!(rule.contains("after a restart; the interrupted call's answer is Err(Fault)"), "{rule}");
    let mut no_restart = fault_and_restart(A::Err(Reason::Fault));
    no_restart.remove(3);
    let (index, rule) = rejected_at(&no_restart);
    assert_eq!(index, 3);
    assert!(rule.contains("the supervisor did not restart it"), "{rule}");
}

#[test]
fn an_inner_pods_error_comes_back_to_the_client() {
    use Observed::{Call, ChildFault, ChildRestart, Init, Reply, Restart, Serve};
    let err = A::Err(Reason::Fault);
    let mut t = vec![
        (CLIENT, Call(POD)),
        (POD, Serve(CLIENT)),
        (POD, Call(INNER)),
        (INNER, Serve(POD)),
        (SUPERVISOR, ChildFault(INNER)),
        (SUPERVISOR, ChildRestart(INNER, None)),
        (INNER, Init(Some(Reason::Fault))),
        (INNER, Restart { reason: Reason::Fault, in_call: true }),
        (INNER, Observed::Answer(POD, err)),
        (POD, Reply(INNER, err)),
        (POD, Observed::Answer(CLIENT, err)),
        (CLIENT, Reply(POD, err)),
    ];
    let r = replay(&t);
    assert!(r.conforms(), "{r}");
    t[10] = (POD, Observed::Answer(CLIENT, A::Ok));
    t[11] = (CLIENT, Reply(POD, A::Ok));
    let (index, rule) = rejected_at(&t);
    assert_eq!(index, 10);
    assert!(rule.contains("answers with its nested call's result (Err(Fault))"), "{rule}");
}

#[test]
fn the_watchdog_stops_only_calls_over_their_bound() {
    use Observed::{Call, ChildOverrun, ChildRestart, Init, Reply, Restart, Serve};
    let over = |used_us| {
        vec![
            (CLIENT, Call(POD)),
            (POD, Serve(CLIENT)),
            (SUPERVISOR, ChildOverrun { child: POD, used_us, bound_us: 3000 }),
            (SUPERVISOR, ChildRestart(POD, Some(Reason::Overrun))),
            (POD, Init(Some(Reason::Overrun))),
            (POD, Restart { reason: Reason::Overrun, in_call: true }),
            (POD, Observed::Answer(CLIENT, A::Err(Reason::Overrun))),
            (CLIENT, Reply(POD, A::Err(Reason::Overrun))),
        ]
    };
    let r = replay(&over(3500));
    assert!(r.conforms(), "{r}");
    let (index, rule) = rejected_at(&over(2000));
    assert_eq!(index, 2);
    assert!(rule.contains("within its bound"), "{rule}");
    // Not while the pod waits for its own nested call.
    let nested = vec![
        (CLIENT, Call(POD)),
        (POD, Serve(CLIENT)),
        (POD, Call(INNER)),
        (INNER, Serve(POD)),
        (SUPERVISOR, ChildOverrun { child: POD, used_us: 3500, bound_us: 3000 }),
    ];
    let (index, rule) = rejected_at(&nested);
    assert_eq!(index, 4);
    assert!(rule.contains("not blocked in its own nested call"), "{rule}");
}

#[test]
fn a_signal_wakes_the_pod_on_its_own_sc() {
    use Observed::{Call, Notified, Notify, Serve};
    let t = vec![(CLIENT, Notify(POD)), (POD, Notified(vec![CLIENT])), (CLIENT, Call(POD)), (POD, Serve(CLIENT))];
    let r = replay(&t);
    assert!(r.conforms(), "{r}");
    let (index, rule) = rejected_at(&[(POD, Notified(vec![CLIENT]))]);
    assert_eq!(index, 0);
    assert!(rule.contains("none woke it"), "{rule}");
}

#[test]
fn after_a_gap_the_replay_picks_up_from_the_next_events() {
    use Observed::{Call, Gap, Reply, Serve};
    // The pod's events between its serve and its nested call were lost; after the gap the pod
    // is inferred to be serving the client's call, and the replay is strict again.
    let mut t = vec![
        (CLIENT, Call(POD)),
        (POD, Serve(CLIENT)),
        (OTHER, Call(POD)),
        (POD, Gap),
        (POD, Call(INNER)),
        (INNER, Serve(POD)),
        (INNER, Observed::Answer(POD, A::Ok)),
        (POD, Reply(INNER, A::Ok)),
        (POD, Observed::Answer(CLIENT, A::Ok)),
        (CLIENT, Reply(POD, A::Ok)),
        (POD, Serve(OTHER)),
        (POD, Observed::Answer(OTHER, A::Ok)),
        (OTHER, Reply(POD, A::Ok)),
    ];
    let r = replay(&t);
    assert!(r.conforms(), "{r}");
    assert_eq!(r.skipped, Some((2, 2)), "{r}");
    // A second answer to the same call is rejected.
    t.push((POD, Observed::Answer(OTHER, A::Ok)));
    let (index, rule) = rejected_at(&t);
    assert_eq!(index, t.len() - 1, "{rule}");
}

#[test]
fn after_a_gap_a_call_recorded_before_it_may_reach_its_endpoint_late() {
    use Observed::{Call, Gap, Reply, Serve};
    // Both calls were recorded before the pod's gap. `other` (priority 20) ran out of budget
    // between recording its call and trapping, so `client` (10) is served twice before it: the
    // call recorded before the gap is still in flight after it, not queued ahead.
    let t = vec![
        (CLIENT, Call(POD)),
        (OTHER, Call(POD)),
        (POD, Gap),
        (POD, Serve(CLIENT)),
        (POD, Observed::Answer(CLIENT, A::Ok)),
        (CLIENT, Reply(POD, A::Ok)),
        (CLIENT, Call(POD)),
        (POD, Serve(CLIENT)),
        (POD, Observed::Answer(CLIENT, A::Ok)),
        (CLIENT, Reply(POD, A::Ok)),
        (POD, Serve(OTHER)),
        (POD, Observed::Answer(OTHER, A::Ok)),
        (OTHER, Reply(POD, A::Ok)),
    ];
    let r = replay(&t);
    assert!(r.conforms(), "{r}");
    assert!(r.skipped.is_some(), "{r}");
}
