//! `tunnelkit run --trace` on real seL4 in QEMU (needs MICROKIT_SDK): the
//! demo on both boards and the containment system write a trace file with
//! events from every PD, calls matched by their replies and served calls by
//! their answers, nested calls on their caller's scheduling context, and in
//! containment the restarts with their reasons (docs/trace.md). Every trace
//! conforms to the model (`tunnelkit model --check-trace`, docs/model.md), and
//! one with a step removed or moved so that it breaks a rule is rejected at
//! the step where the break shows.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tunnelkit::trace::{Event, Header, read};
use tunnelkit::trace_check;
use tunnelkit_tests::{output_text, qemu_lock, say, sdk_or_skip, tunnelkit};

/// Runs `tunnelkit run --trace` with `args` and reads the trace back.
fn traced_run(test: &str, args: &[&str]) -> (Header, Vec<Event>, String) {
    let file: PathBuf = std::env::temp_dir().join(format!("tunnelkit-{test}-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--trace", file.to_str().unwrap()]);
    let out = tunnelkit(&all);
    let log = output_text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run --trace failed:\n{log}");
    assert!(log.contains(&format!("tunnelkit: wrote the trace {}", file.display())), "{test}:\n{log}");
    assert!(!log.lines().any(|l| l.starts_with("TRACE ")), "{test}: the dump lines are not echoed:\n{log}");
    let (header, events) = read(&file).unwrap_or_else(|e| panic!("{test}: reading {}: {e:#}", file.display()));
    let check = tunnelkit(&["model", "--check-trace", file.to_str().unwrap()]);
    let verdict = output_text(&check);
    assert!(
        check.status.success() && verdict.contains("the trace conforms to the model"),
        "{test}: the trace does not conform:\n{verdict}"
    );
    say(&format!("{test}: model --check-trace: {}", verdict.lines().nth(1).unwrap_or_default()));
    let _ = std::fs::remove_file(&file);
    (header, events, log)
}

/// The index (0-based, among the events) at which the model rejects `events`.
fn rejected_at(test: &str, header: &Header, events: &[Event]) -> usize {
    let report = trace_check::check(header, events).unwrap_or_else(|e| panic!("{test}: {e:#}"));
    let v = report.violation.unwrap_or_else(|| panic!("{test}: the broken trace was accepted"));
    say(&format!("{test}: rejected at event {}: {}", v.index, v.rule));
    v.index
}

/// The first index after `from` of an event of `pd`.
fn next_of(events: &[Event], pd: &str, from: usize) -> usize {
    from + 1 + events[from + 1..].iter().position(|e| e.pd == pd).expect("a later event")
}

/// Steps removed or moved so that they break a rule of the tunnel are rejected
/// where the break shows: a served call without its `serve` at the pod's next
/// step, an answer moved before its call's `serve` and a reply moved before
/// its answer at their new places.
fn broken_traces_rejected(test: &str, header: &Header, events: &[Event], pod: &str, client: &str) {
    let serve = events.iter().position(|e| e.pd == pod && e.event == "serve").expect("a serve");
    let mut removed = events.to_vec();
    removed.remove(serve);
    assert_eq!(rejected_at(test, header, &removed), next_of(events, pod, serve) - 1, "{test}: serve removed");
    let answer = next_of(events, pod, serve);
    let answer = answer + events[answer..].iter().position(|e| e.pd == pod && e.event == "answer").unwrap();
    let mut moved = events.to_vec();
    let a = moved.remove(answer);
    moved.insert(serve, a);
    assert_eq!(rejected_at(test, header, &moved), serve, "{test}: answer moved before its serve");
    let reply = answer + events[answer..].iter().position(|e| e.pd == client && e.event == "reply").unwrap();
    let mut early = events.to_vec();
    let r = early.remove(reply);
    early.insert(answer, r);
    assert_eq!(rejected_at(test, header, &early), answer, "{test}: reply moved before its answer");
}

/// What every trace must show: every traced PD recorded (and started),
/// events in clock order, undamaged dump lines, each PD's calls followed
/// by their replies and its served calls by their answers (except where
/// events were dropped or the dump began), and every call into a traced PD
/// matched by its serve there. Returns the events by PD.
fn check_common<'a>(test: &str, header: &Header, events: &'a [Event]) -> BTreeMap<&'a str, Vec<&'a Event>> {
    assert_eq!(header.format, "tunnelkit-trace");
    assert_eq!(header.corrupt_lines, 0, "{test}: damaged dump lines");
    assert_eq!(header.events as usize, events.len());
    assert!(header.end.is_some(), "{test}: no PD ended the run");
    assert!(events.windows(2).all(|w| w[0].t <= w[1].t), "{test}: events not in clock order");
    let mut by_pd: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_pd.entry(e.pd.as_str()).or_default().push(e);
    }
    let traced: Vec<&str> = header.pds.iter().filter(|p| p.traced).map(|p| p.name.as_str()).collect();
    assert!(traced.len() >= 6, "{test}: traced PDs: {traced:?}");
    for p in header.pds.iter().filter(|p| !p.traced) {
        assert!(["console", "trace-dumper"].contains(&p.role.as_str()), "{test}: PD '{}' was not traced", p.name);
    }
    for pd in &traced {
        let mine = by_pd.get(pd).unwrap_or_else(|| panic!("{test}: no events from '{pd}'"));
        assert!(mine.iter().any(|e| e.event == "init"), "{test}: '{pd}' has no init event");
        assert!(mine.windows(2).all(|w| w[0].seq < w[1].seq), "{test}: '{pd}' events out of order");
        // Pairing, segment by segment (a gap or the dump's start ends one).
        let (mut calling, mut serving): (Option<&Event>, Option<&Event>) = (None, None);
        let (mut calls, mut serves) = (0, 0);
        for e in mine {
            match e.event.as_str() {
                "gap" => (calling, serving) = (None, None),
                "init" if e.reason.as_deref() == Some("boot") => (calling, serving) = (None, None),
                "call" => {
                    assert!(calling.is_none(), "{test}: '{pd}' call {} before the reply of {:?}", e.seq, calling);
                    calling = Some(e);
                }
                "reply" => {
                    if let Some(c) = calling.take() {
                        assert_eq!(c.channel, e.channel, "{test}: '{pd}' reply {} on another channel than its call", e.seq);
                        calls += 1;
                    }
                }
                "serve" => {
                    assert!(serving.is_none(), "{test}: '{pd}' serve {} before the answer of {:?}", e.seq, serving);
                    serving = Some(e);
                }
                "answer" => {
                    if let Some(s) = serving.take() {
                        assert_eq!(s.channel, e.channel, "{test}: '{pd}' answer {} on another channel than its call", e.seq);
                        serves += 1;
                    }
                }
                _ => {}
            }
        }
        say(&format!("{test}: {pd}: {} events, {calls} calls replied, {serves} calls answered", mine.len()));
    }
    // Every call into a traced PD, outside gaps, reached it: its serve has the call's depth and SC.
    let complete = header.complete_until.unwrap_or(u64::MAX);
    for e in events.iter().filter(|e| e.event == "serve" && e.t < complete) {
        assert!(e.depth.is_some() && e.sc.is_some(), "{test}: serve not matched with its call: {e:?}");
    }
    by_pd
}

fn demo(board: &str) {
    let test = format!("trace_of_the_demo_on_{board}");
    let Some(_sdk) = sdk_or_skip(&test) else { return };
    let _guard = qemu_lock();
    let (header, events, _) = traced_run(&test, &["--board", board, "--config", "debug", "--timeout", "300"]);
    let by_pd = check_common(&test, &header, &events);
    assert_eq!(header.board, board);
    assert_eq!(header.end.as_ref().map(|e| e.pd.as_str()), Some("report"), "the reporter's pass line ends the run");
    assert_eq!(header.complete_until, None, "{test}: the demo fits in the buffers");
    assert!(header.pds.iter().all(|p| p.dropped == 0 && p.late == 0), "{test}: {:?}", header.pds);
    // The nested tunnel: client → crypt → checksum, on the client's SC.
    for client in ["client_a", "client_b"] {
        assert!(
            events.iter().any(|e| e.pd == "checksum"
                && e.event == "serve"
                && e.peer.as_deref() == Some("crypt")
                && e.depth == Some(1)
                && e.sc.as_deref() == Some(client)),
            "{test}: no nested call on {client}'s scheduling context"
        );
        // Plain IPC runs on the server's own SC.
        assert!(events.iter().any(|e| e.pd == client
            && e.event == "call"
            && e.peer.as_deref() == Some("crypt_ipc")
            && e.transport.as_deref() == Some("ipc")
            && e.sc.as_deref() == Some("crypt_ipc")));
        // The error checks come back as their errors.
        for outcome in ["bad_window", "refused", "unknown_operation", "bad_length", "wrong_channel"] {
            assert!(
                by_pd[client].iter().any(|e| e.event == "reply" && e.outcome.as_deref() == Some(outcome)),
                "{test}: {client} has no reply {outcome}"
            );
        }
        assert!(by_pd[client].iter().any(|e| e.event == "notify" && e.peer.as_deref() == Some("report")));
    }
    let notified: Vec<_> = by_pd["report"].iter().filter(|e| e.event == "notified").collect();
    assert_eq!(notified.len(), 2, "{test}: the reporter is notified by each client");
    let calls = events.iter().filter(|e| e.event == "call").count();
    say(&format!("{test}: {} events, {calls} calls, from {} PDs", events.len(), by_pd.len()));
    broken_traces_rejected(&test, &header, &events, "checksum", "crypt");
    broken_traces_rejected(&test, &header, &events, "crypt", "client_a");
}

#[test]
fn trace_of_the_demo_on_qemu_virt_aarch64() {
    demo("qemu_virt_aarch64");
}

#[test]
fn trace_of_the_demo_on_x86_64_generic() {
    demo("x86_64_generic");
}

fn containment(board: &str) {
    let test = format!("trace_of_containment_on_{board}");
    let Some(_sdk) = sdk_or_skip(&test) else { return };
    let _guard = qemu_lock();
    let (header, events, log) =
        traced_run(&test, &["--system", "tests/systems/containment.xml", "--board", board, "--config", "debug", "--timeout", "400"]);
    tunnelkit_tests::assert_containment_summary(&test, &log);
    let by_pd = check_common(&test, &header, &events);
    assert_eq!(header.end.as_ref().map(|e| e.pd.as_str()), Some("injector"));
    // Millions of calls: the buffers keep the start and the latest events,
    // and say what they dropped.
    assert!(header.complete_until.is_some(), "{test}: nothing dropped?");
    assert!(events.iter().any(|e| e.event == "gap" && e.dropped.unwrap_or(0) > 0));
    // The active PD that faults once: restarted after a fault.
    assert!(by_pd["flaky"].iter().any(|e| e.event == "init" && e.reason.as_deref() == Some("fault")), "{test}: flaky's restart");
    // Pods restarted mid-call answer it with the error of their reason.
    let restarts = |pd: &str, reason: &str| {
        by_pd[pd].iter().filter(|e| e.event == "restart" && e.reason.as_deref() == Some(reason) && e.in_call == Some(true)).count()
    };
    assert!(restarts("pod_b", "fault") > 0, "{test}: pod_b's restarts after panics");
    assert!(restarts("pod_c", "fault") > 0 && restarts("pod_c", "overrun") > 0, "{test}: pod_c's restarts");
    for (reason, outcome) in [("fault", "fault"), ("overrun", "overrun")] {
        assert!(
            by_pd["pod_c"].iter().any(|e| e.event == "answer" && e.outcome.as_deref() == Some(outcome)),
            "{test}: pod_c answers {outcome} after a {reason} restart"
        );
        assert!(
            by_pd["injector"].iter().any(|e| e.event == "reply" && e.outcome.as_deref() == Some(outcome)),
            "{test}: the injector gets {outcome}"
        );
        assert!(
            by_pd["supervisor"].iter().any(|e| e.event == "child_restart"
                && e.reason.as_deref() == Some(reason)
                && e.child_pd.as_deref().is_some_and(|c| c == "pod_c" || c == "flaky")),
            "{test}: the supervisor restarts for {reason}"
        );
    }
    // The watchdog's decisions, with what the call used against its bound.
    let overruns: Vec<_> = by_pd["supervisor"].iter().filter(|e| e.event == "child_overrun").collect();
    assert!(!overruns.is_empty(), "{test}: no overrun decisions");
    for o in &overruns {
        assert_eq!((o.child_pd.as_deref(), o.bound_us), (Some("pod_c"), Some(3000)), "{o:?}");
        assert!(o.used_us.unwrap_or(0) > 3000, "{o:?}");
    }
    assert!(by_pd["supervisor"].iter().any(|e| e.event == "child_fault" && e.child_pd.as_deref() == Some("flaky")));
    let dropped: u64 = header.pds.iter().map(|p| p.dropped).sum();
    say(&format!("{test}: {} events kept, {dropped} dropped, {} overrun decisions", events.len(), overruns.len()));
    // After the gaps the replay picks up again: the restart protocol is checked there too.
    let report = trace_check::check(&header, &events).unwrap();
    let (from, skipped) = report.skipped.expect("the gaps are skipped");
    let resumed = from + skipped;
    let restart = resumed
        + events[resumed..]
            .iter()
            .position(|e| e.event == "child_restart" && e.child_pd.as_deref() == Some("pod_c"))
            .expect("a restart of pod_c after the gaps");
    let mut removed = events.clone();
    removed.remove(restart);
    assert_eq!(rejected_at(&test, &header, &removed), next_of(&events, "pod_c", restart) - 1, "{test}: restart removed");
    let init = next_of(&events, "pod_c", restart);
    let mut moved = events.clone();
    let i = moved.remove(init);
    moved.insert(restart, i);
    assert_eq!(rejected_at(&test, &header, &moved), restart, "{test}: the pod's init moved before its restart");
}

#[test]
fn trace_of_containment_on_qemu_virt_aarch64() {
    containment("qemu_virt_aarch64");
}

#[test]
fn trace_of_containment_on_x86_64_generic() {
    containment("x86_64_generic");
}

/// The shared-pod crosstalk system of `tunnelkit bench` (three paths with 10 /
/// 30 / 60 % budgets calling one passive pod, in the benchmark config where
/// they read the cycle counter) and its plain-IPC twin (one active server on
/// its own scheduling context): their traces conform to the model. Their
/// paths make thousands of calls, so the replay also crosses gaps. They boot
/// under QEMU's instruction counter, as `tunnelkit bench` boots them, so the
/// traces are the same in every run: on host time a host that stalls QEMU
/// for the paths' one-second window lets one path end the run before another
/// made its first call.
#[test]
fn trace_of_a_crosstalk_system() {
    let test = "trace_of_a_crosstalk_system";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    use tunnelkit::bench::systems::Design;
    let dir = std::env::temp_dir().join(format!("tunnelkit-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Who calls the service before the first path's report ends the run. On
    // the tunnel every path does (each brings its own budget). The active
    // server serves the path it just replied to again and again (the
    // crosstalk the tunnel removes): in a whole window the light path
    // completes one call (bench-results), which it has not yet made when
    // the heavy path reports.
    for (design, callers) in [(Design::TunnelShared, &["light", "medium", "heavy"][..]), (Design::Ipc, &["medium", "heavy"][..])] {
        let system = dir.join(format!("crosstalk-{}.xml", design.name()));
        std::fs::write(&system, tunnelkit_tests::crosstalk_under_icount(tunnelkit::board::Board::QEMU_VIRT_AARCH64, design)).unwrap();
        let name = format!("{test}_{}", design.name());
        let (header, events, log) = traced_run(
            &name,
            &["--system", system.to_str().unwrap(), "--config", "benchmark", "--timeout", "300", "--pass-line", "bench crosstalk path="],
        );
        assert!(log.contains("asks for QEMU's instruction counter as its clock"), "{name}: not under icount:\n{log}");
        let paths = ["light", "medium", "heavy"];
        for p in paths {
            assert!(events.iter().any(|e| e.pd == p && e.event == "init"), "{name}: {p} initialised");
        }
        let calling: Vec<&str> = paths.into_iter().filter(|p| events.iter().any(|e| e.pd == *p && e.event == "call")).collect();
        assert_eq!(calling, callers, "{name}: the paths that call the shared service before the end");
        let report = trace_check::check(&header, &events).unwrap();
        assert_eq!(report.paths, paths, "{name}: {report}");
        assert!(report.checked > 1000, "{name}: {report}");
        say(&format!("{name}: {} events, {} replayed; calling: {}", events.len(), report.checked, calling.join(", ")));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A system in a user's own cargo workspace (one PD crate depending on
/// tunnelkit-runtime by path, built with `TUNNELKIT_TRACE=1`) is traced too:
/// the dumper, like the console pod in release, is built from tunnelkit's
/// own workspace.
#[test]
fn trace_of_a_user_workspace_in_release() {
    let test = "trace_of_a_user_workspace_in_release";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let dir = tunnelkit_tests::user_workspace(test, "debug_println!(\"tunnelkit: hello passed\");");
    let file = dir.join("trace.jsonl");
    let out = std::process::Command::new(tunnelkit_tests::tunnelkit_binary())
        .current_dir(&dir)
        .args(["run", "--board", "qemu_virt_aarch64", "--config", "release", "--timeout", "120", "--trace"])
        .arg(&file)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let log = output_text(&out);
    let trace = read(&file);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{test}: the user's system did not pass with --trace:\n{log}");
    let (header, events) = trace.unwrap_or_else(|e| panic!("{test}: {e:#}\n{log}"));
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["init", "end"], "{test}: {events:?}");
    assert_eq!(events[0].pd, "hello");
    assert_eq!(header.end.map(|e| e.pd), Some("hello".to_string()));
    say(&format!("{test}: a user's own workspace was traced in release, through the console pod"));
}
