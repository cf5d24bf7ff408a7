//! System tests on real seL4 in QEMU (need MICROKIT_SDK and QEMU): the
//! microkit tool accepts system.xml, the demo passes on every board
//! (qemu_virt_aarch64, x86_64_generic, qemu_virt_riscv64; a board the SDK
//! lacks is skipped, saying so), and a panicking PD makes `tunnelkit run`
//! fail naming it.

use std::process::Output;

use tunnelkit_tests::{qemu_lock, repo_root, say, sdk_or_skip, sdk_with_config_or_skip, tunnelkit};

fn text(out: &Output) -> String {
    tunnelkit_tests::output_text(out)
}

fn demo_passes(board: &str) {
    let test = format!("demo_passes_on_{board}");
    let Some(_sdk) = sdk_with_config_or_skip(&test, board, "debug") else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&["run", "--board", board, "--config", "debug", "--timeout", "300"]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run failed:\n{log}");
    // Lines printed before the client paths start, and the final verdict
    // (printed by the reporter only after both clients passed every check;
    // a failed check panics, which fails the run).
    for line in [
        "MON|INFO: PD 'crypt' is now passive!",
        "MON|INFO: PD 'checksum' is now passive!",
        "crypt: ready (passive pod), ChaCha20 known-answer test ok",
        "crypt_ipc: ready (active server), ChaCha20 known-answer test ok",
        "tunnelkit: demo passed",
    ] {
        assert!(log.contains(line), "{test}: console lacks '{line}':\n{log}");
    }
    // Each client path prints its own summary and pass line, but PDs print
    // one byte per system call, so a line preempted when its path's budget
    // runs out can be split by another PD's output: the verdict above (sent
    // only after both clients passed every check) is what the test relies on.
    assert!(!log.contains("panicked"), "{test}: a PD panicked:\n{log}");
    say(&format!("{test}: demo passed in QEMU"));
}

#[test]
fn demo_passes_on_qemu_virt_aarch64() {
    demo_passes("qemu_virt_aarch64");
}

#[test]
fn demo_passes_on_x86_64_generic() {
    demo_passes("x86_64_generic");
}

#[test]
fn demo_passes_on_qemu_virt_riscv64() {
    demo_passes("qemu_virt_riscv64");
}

/// A board whose facts come from the SDK only (seL4 at EL1), booted in QEMU.
#[test]
fn demo_passes_on_qemu_virt_aarch64_el1() {
    demo_passes("qemu_virt_aarch64_el1");
}

/// The demo (system.xml) builds for every board and configuration the SDK
/// holds, real boards included: the PDs compiled for the board's
/// architecture with its facts from the SDK, the console pod on the
/// board's UART where the kernel has no console, and an image the microkit
/// tool accepts (which also checks the UART's page is device memory of the
/// board).
#[test]
fn the_demo_builds_for_every_board_and_config_the_sdk_holds() {
    let test = "the_demo_builds_for_every_board_and_config_the_sdk_holds";
    let Some(sdk) = sdk_or_skip(test) else { return };
    // Builds load both cores: hold the QEMU lock so that no system runs on
    // host time (x86_64) meanwhile, where a starved QEMU shows as guest time.
    let _guard = qemu_lock();
    let all = sdk.supported_board_configs();
    let boards: std::collections::BTreeSet<&str> = all.iter().map(|(b, _)| b.name()).collect();
    for (board, config) in &all {
        let what = format!("{} {}", board.name(), config.name());
        let out = tunnelkit(&["build", "--board", board.name(), "--config", config.name()]);
        let log = text(&out);
        if !config.has_printing() && !tunnelkit::console_pod::drives_a_uart(*board) {
            assert!(!out.status.success() && log.contains("tunnelkit has no driver for"), "{what}: no UART driver must be said:\n{log}");
            say(&format!("{test}: {what}: refused, no UART driver (as it should)"));
            continue;
        }
        assert!(out.status.success(), "{what}: build failed:\n{log}");
        if !tunnelkit::board::boots_in_qemu(*board) {
            let how = match board.arch() {
                tunnelkit::board::Arch::Aarch64 => "  => go 0x",
                tunnelkit::board::Arch::Riscv64 => "  => bootm ${imgaddr} - ${dtbaddr}",
                tunnelkit::board::Arch::X86_64 => "boots with a Multiboot 2 compliant boot loader",
            };
            assert!(log.contains(how), "{what}: the build must say how to boot it ('{how}'):\n{log}");
        }
        let dir = repo_root().join("target/tunnelkit").join(board.name()).join(config.name());
        let image = std::fs::metadata(dir.join("system.img")).unwrap_or_else(|e| panic!("{what}: no image: {e}"));
        assert!(image.len() > 100_000, "{what}: image of {} bytes", image.len());
        if !config.has_printing() {
            let sys = std::fs::read_to_string(dir.join("system.xml")).unwrap();
            let uart = tunnelkit::console_pod::uart_description(*board).unwrap();
            if let Some(u) = tunnelkit::board::uart::for_board(board.name()) {
                assert!(sys.contains(&format!("phys_addr=\"{:#x}\"", u.page())), "{what}: the console pod maps the {uart}:\n{sys}");
            }
        }
    }
    say(&format!("{test}: {} builds for {} boards: {}", all.len(), boards.len(), boards.into_iter().collect::<Vec<_>>().join(", ")));
}

#[test]
fn a_panicking_pd_fails_the_run_and_is_named() {
    let Some(_sdk) = sdk_or_skip("a_panicking_pd_fails_the_run_and_is_named") else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&["run", "--board", "qemu_virt_aarch64", "--system", "tests/systems/panic.xml", "--timeout", "120"]);
    let log = text(&out);
    assert!(!out.status.success(), "a panicking PD must fail the run:\n{log}");
    assert!(log.contains("PD 'panicker' panicked"), "the failure must name the PD:\n{log}");
    assert!(log.contains("components/panicker/src/main.rs:"), "the failure must give the panic location:\n{log}");
    assert!(log.contains("deliberate panic to test failure reporting (budget 3)"), "the panic message must be shown:\n{log}");
}

fn runtime_checks_pass(test: &str, board: &str, config: &str, system: &str) {
    let Some(_sdk) = sdk_with_config_or_skip(test, board, config) else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&[
        "run",
        "--board",
        board,
        "--config",
        config,
        "--system",
        system,
        "--pass-line",
        "tunnelkit: runtime checks passed",
        "--timeout",
        "120",
    ]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run failed:\n{log}");
    for line in [
        "supervisor: child id 1 and channel 0 (from setvars)",
        "faulty: first run, raising a fault",
        "supervisor: child 1 faulted (user exception), restarting it",
        "faulty: restarted (run 2)",
        "faulty: parent's deferred notification arrived",
        "supervisor: 64-word tunnel messages and length errors ok",
    ] {
        assert!(log.contains(line), "{test}: console lacks '{line}':\n{log}");
    }
    say(&format!("{test}: runtime checks passed in QEMU ({config})"));
}

#[test]
fn runtime_checks_pass_on_qemu_virt_aarch64() {
    runtime_checks_pass("runtime_checks_pass_on_qemu_virt_aarch64", "qemu_virt_aarch64", "debug", "tests/systems/runtime.xml");
}

#[test]
fn runtime_checks_pass_on_x86_64_generic() {
    runtime_checks_pass("runtime_checks_pass_on_x86_64_generic", "x86_64_generic", "debug", "tests/systems/runtime.xml");
}

#[test]
fn runtime_checks_pass_on_qemu_virt_riscv64() {
    runtime_checks_pass("runtime_checks_pass_on_qemu_virt_riscv64", "qemu_virt_riscv64", "debug", "tests/systems/runtime.xml");
}

#[test]
fn the_console_pod_prints_in_release_on_qemu_virt_riscv64() {
    runtime_checks_pass(
        "the_console_pod_prints_in_release_on_qemu_virt_riscv64",
        "qemu_virt_riscv64",
        "release",
        "tests/systems/runtime-console.qemu_virt_riscv64.xml",
    );
}

#[test]
fn the_console_pod_prints_in_release_on_qemu_virt_aarch64() {
    runtime_checks_pass(
        "the_console_pod_prints_in_release_on_qemu_virt_aarch64",
        "qemu_virt_aarch64",
        "release",
        "tests/systems/runtime-console.qemu_virt_aarch64.xml",
    );
}

#[test]
fn the_console_pod_prints_in_release_on_x86_64_generic() {
    runtime_checks_pass(
        "the_console_pod_prints_in_release_on_x86_64_generic",
        "x86_64_generic",
        "release",
        "tests/systems/runtime-console.x86_64_generic.xml",
    );
}

#[test]
fn an_image_no_crate_builds_is_reported_at_its_position() {
    let Some(_sdk) = sdk_or_skip("an_image_no_crate_builds_is_reported_at_its_position") else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&["build", "--system", "tests/systems/bad-image.xml"]);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains(
            "tests/systems/bad-image.xml:4:9: error: image-missing: PD 'ghost' runs 'no-such-pd.elf', which no PD crate in this workspace builds"
        ),
        "{log}"
    );
}

#[test]
fn a_board_the_sdk_lacks_is_named() {
    let Some(sdk) = sdk_or_skip("a_board_the_sdk_lacks_is_named") else { return };
    let _guard = qemu_lock();
    // A real SDK restricted to one board: its tool, and only qemu_virt_aarch64.
    let dir = std::env::temp_dir().join(format!("tunnelkit-one-board-sdk-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("board")).unwrap();
    std::os::unix::fs::symlink(sdk.root().join("bin"), dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(sdk.root().join("board/qemu_virt_aarch64"), dir.join("board/qemu_virt_aarch64")).unwrap();
    let out = tunnelkit_tests::cargo()
        .args(["run", "-q", "-p", "tunnelkit", "--", "build", "--board", "x86_64_generic"])
        .env("MICROKIT_SDK", &dir)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let log = text(&out);
    assert!(!out.status.success());
    assert!(log.contains("has no board 'x86_64_generic' (it has: qemu_virt_aarch64)"), "{log}");
}

/// Runs the containment system exactly as the README says (no pass-line or
/// panic options: the system passes with its own line, and its pods'
/// panics are their supervisor's business) and checks its summary.
fn containment(board: &str, test: &str, ratio_within: Option<f64>) {
    let Some(_sdk) = sdk_with_config_or_skip(test, board, "debug") else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&["run", "--system", "tests/systems/containment.xml", "--board", board, "--config", "debug", "--timeout", "400"]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run failed (a hang ends at the timeout):\n{log}");
    let (f, details) = tunnelkit_tests::assert_containment_summary(test, &log);
    let ratio: f64 = f["other_paths_ratio"].parse().unwrap();
    assert!(
        log.contains("supervisor: flaky (child 5): VM fault at pc 0x"),
        "{test}: the active PD's fault is logged with its name:\n{log}"
    );
    assert!(
        log.contains("supervisor: pod_c (child 2): call overran its bound ("),
        "{test}: overruns are logged with the pod's name:\n{log}"
    );
    let summary = log.lines().find(|l| l.trim().starts_with("containment: faults=")).unwrap().trim();
    match ratio_within {
        Some(tolerance) => {
            // Under icount every logged overrun was stopped within its bound
            // (3 ms) plus two watchdog intervals of 1 ms.
            for line in log.lines().filter(|l| l.contains("pod_c (child 2): call overran its bound (")) {
                let used: u64 = line.split("bound (").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
                assert!((3000..=5000).contains(&used), "{test}: stopped after {used} us of CPU: {line}");
            }
            let balance: f64 = details["baseline_balance"].parse().unwrap();
            assert!(
                balance >= 1.0 - tolerance,
                "{test}: the two paths with equal budgets did unequal work in the baseline ({balance}):\n{log}"
            );
            assert!((ratio - 1.0).abs() <= tolerance, "{test}: the other paths' work changed by more than {tolerance}: {summary}");
            say(&format!("{test}: {summary} (icount: other paths within ±{:.0} %)", tolerance * 100.0));
        }
        None => say(&format!("{test}: {summary} (host time: other_paths_ratio is indicative only)")),
    }
}

#[test]
fn containment_on_qemu_virt_aarch64() {
    containment("qemu_virt_aarch64", "containment_on_qemu_virt_aarch64", Some(0.03));
}

/// On RISC-V the kernel's timer (SBI's) runs on QEMU's virtual clock, so
/// the system runs under icount as on AArch64 (measured: other paths' work
/// 0.975 of the baseline, every overrun stopped within its bound).
#[test]
fn containment_on_qemu_virt_riscv64() {
    containment("qemu_virt_riscv64", "containment_on_qemu_virt_riscv64", Some(0.04));
}

/// On x86_64 seL4's TSC-deadline timer does not fire under QEMU's icount,
/// so the system runs on host time, where QEMU's own speed changes with the
/// load (faults and restarts slow the emulation of everything else).
#[test]
fn containment_on_x86_64_generic() {
    containment("x86_64_generic", "containment_on_x86_64_generic", None);
}

/// Without its call bound the endless call is never stopped: the injector
/// hangs, and `run` must fail (at its timeout) rather than pass.
#[test]
fn an_unbounded_endless_call_fails_the_run() {
    let test = "an_unbounded_endless_call_fails_the_run";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let root = tunnelkit_tests::repo_root();
    let xml = std::fs::read_to_string(root.join("tests/systems/containment.xml")).unwrap();
    let unbounded = xml.replace("call_bound_us=\"3000\" ", "").replace("call_bound_us=\"50000\" ", "");
    assert_ne!(xml, unbounded, "the containment system declares pod_c's bound");
    let dir = root.join("target/tunnelkit-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let system = dir.join("containment-unbounded.xml");
    std::fs::write(&system, unbounded).unwrap();
    let out = tunnelkit(&["run", "--system", system.to_str().unwrap(), "--timeout", "60"]);
    let log = text(&out);
    assert!(!out.status.success(), "{test}: run passed although the endless call was never stopped:\n{log}");
    assert!(log.contains("timed out after 60s without 'tunnelkit: <system> passed'"), "{test}: expected a timeout:\n{log}");
    assert!(log.contains("supervisor: 6 children in its table, 0 with a call bound"), "{log}");
    say(&format!("{test}: run failed at its timeout, as it must"));
}

/// The demo in the release config: the kernel has no console, so `run` adds
/// the console pod and the PDs' lines (and the pass line) come through it.
fn demo_passes_in_release(board: &str) {
    let test = format!("the_demo_prints_through_the_added_console_pod_in_release_on_{board}");
    let Some(_sdk) = sdk_with_config_or_skip(&test, board, "release") else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&["run", "--board", board, "--config", "release", "--timeout", "300"]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run failed:\n{log}");
    for line in [
        "tunnelkit: added the console pod 'serial' (serial.elf, priority 254, passive) for 6 PDs",
        "tunnelkit: console channel at each PD: client_a 61, client_b 61, crypt 61, crypt_ipc 61, checksum 61, report 61",
        &format!("target/tunnelkit/{board}/release/system.xml (the system with the console pod)"),
        "crypt: ready (passive pod), ChaCha20 known-answer test ok",
        "client_a: pass",
        "client_b: pass",
        "tunnelkit: demo passed",
    ] {
        assert!(log.contains(line), "{test}: output lacks '{line}':\n{log}");
    }
    say(&format!("{test}: demo passed in release, printed through the console pod"));
}

#[test]
fn the_demo_prints_through_the_added_console_pod_in_release_on_qemu_virt_aarch64() {
    demo_passes_in_release("qemu_virt_aarch64");
}

#[test]
fn the_demo_prints_through_the_added_console_pod_in_release_on_x86_64_generic() {
    demo_passes_in_release("x86_64_generic");
}

#[test]
fn the_demo_prints_through_the_added_console_pod_in_release_on_qemu_virt_aarch64_el1() {
    demo_passes_in_release("qemu_virt_aarch64_el1");
}

#[test]
fn the_demo_prints_through_the_added_console_pod_in_release_on_qemu_virt_riscv64() {
    demo_passes_in_release("qemu_virt_riscv64");
}

/// A panic in release reaches the host through the added console pod, and
/// fails the run naming the PD.
#[test]
fn a_panic_in_release_fails_the_run_through_the_added_console_pod() {
    let test = "a_panic_in_release_fails_the_run_through_the_added_console_pod";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&["run", "--system", "tests/systems/panic.xml", "--config", "release", "--timeout", "120"]);
    let log = text(&out);
    assert!(!out.status.success(), "{test}: a panicking PD must fail the run:\n{log}");
    assert!(log.contains("tunnelkit: added the console pod 'serial'"), "{log}");
    assert!(log.contains("PD 'panicker' panicked"), "{test}: the failure must name the PD:\n{log}");
    say(&format!("{test}: the panic was seen in release"));
}

/// A PD the console pod cannot serve is reported at its position when the
/// pod is added (the containment system's tick PD runs at 254, the pod's priority).
#[test]
fn a_pd_the_added_console_pod_cannot_serve_is_reported_at_its_position() {
    let test = "a_pd_the_added_console_pod_cannot_serve_is_reported_at_its_position";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let out = tunnelkit(&["build", "--system", "tests/systems/containment.xml", "--config", "release"]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("tests/systems/containment.xml:46:36: error: console pod: PD 'tick' has priority 254, but it would print by calling the console pod"),
        "{log}"
    );
}

/// A system in a user's own cargo workspace (outside this repository, its PD
/// depending on tunnelkit-runtime by path) runs in release: the console pod
/// the tool adds is built from tunnelkit's own workspace, since the user's
/// has no crate for it.
fn a_user_workspace_prints_in_release(test: &str, board: &str) {
    let Some(_sdk) = sdk_with_config_or_skip(test, board, "release") else { return };
    let _guard = qemu_lock();
    let dir = tunnelkit_tests::user_workspace(test, "debug_println!(\"tunnelkit: hello passed\");");
    let out = std::process::Command::new(tunnelkit_tests::tunnelkit_binary())
        .current_dir(&dir)
        .args(["run", "--board", board, "--config", "release", "--timeout", "120"])
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let log = text(&out);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{test}: the user's system did not pass in release:\n{log}");
    assert!(log.contains("added the console pod"), "{test}: no console pod was added:\n{log}");
    assert!(log.contains("hello from a user's own workspace"), "{test}: the user's PD printed nothing:\n{log}");
    say(&format!(
        "{test}: a user's own workspace ran in release on {board}, printing through the console pod built from tunnelkit's workspace"
    ));
}

#[test]
fn a_user_workspace_prints_in_release_on_qemu_virt_aarch64() {
    a_user_workspace_prints_in_release("a_user_workspace_prints_in_release_on_qemu_virt_aarch64", "qemu_virt_aarch64");
}

#[test]
fn a_user_workspace_prints_in_release_on_x86_64_generic() {
    a_user_workspace_prints_in_release("a_user_workspace_prints_in_release_on_x86_64_generic", "x86_64_generic");
}

#[test]
fn a_user_workspace_prints_in_release_on_qemu_virt_riscv64() {
    a_user_workspace_prints_in_release("a_user_workspace_prints_in_release_on_qemu_virt_riscv64", "qemu_virt_riscv64");
}

/// Runs `tests/systems/[smp/]chatter.xml` (three PDs printing 150 long,
/// self-checking lines each at once, preempted mid-line by their budgets,
/// on one core or three) and checks that every line is whole: each console
/// line that holds a chatter line is exactly one, with the payload and sum
/// its PD and number give, and every PD's lines all arrive, in order.
fn lines_are_whole(board: &str, config: &str) {
    let test = format!("console_lines_are_whole_on_{board}_{config}");
    let Some(_sdk) = tunnelkit_tests::sdk_with_config_or_skip(&test, board, config) else { return };
    let _guard = qemu_lock();
    let system = if config.starts_with("smp") { "tests/systems/smp/chatter.xml" } else { "tests/systems/chatter.xml" };
    let out = tunnelkit(&["run", "--system", system, "--board", board, "--config", config, "--timeout", "300"]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: the chatter system did not pass:\n{log}");
    let mut next = std::collections::BTreeMap::<&str, u64>::new();
    for line in log.lines().filter(|l| l.contains("chatter ") && !l.contains("tunnelkit:")) {
        let words: Vec<&str> = line.split(' ').collect();
        let [first, name, i, payload, sum] = words[..] else { panic!("{test}: a broken line: {line:?}") };
        assert_eq!(first, "chatter", "{test}: a broken line: {line:?}");
        let seed: u64 = name.bytes().map(u64::from).sum();
        let i: u64 = i.parse().unwrap_or_else(|_| panic!("{test}: a broken line: {line:?}"));
        let want: String = (0..96u64).map(|k| char::from(b'a' + ((seed + i * 7 + k * 13) % 26) as u8)).collect();
        assert_eq!(payload, want, "{test}: a broken line: {line:?}");
        assert_eq!(sum, ((seed * 31 + i) % 9973).to_string(), "{test}: a broken line: {line:?}");
        let n = next.entry(name).or_default();
        assert_eq!(i, *n, "{test}: {name}'s lines out of order or missing at {line:?}");
        *n += 1;
    }
    assert_eq!(next.len(), 3, "{test}: lines from {next:?}:\n{log}");
    assert!(next.values().all(|&n| n == 150), "{test}: lines per PD {next:?}:\n{log}");
    say(&format!("{test}: 450 lines from 3 PDs printing at once, every one whole"));
}

#[test]
fn console_lines_are_whole_in_debug_on_qemu_virt_aarch64() {
    lines_are_whole("qemu_virt_aarch64", "debug");
}

#[test]
fn console_lines_are_whole_in_debug_on_x86_64_generic() {
    lines_are_whole("x86_64_generic", "debug");
}

#[test]
fn console_lines_are_whole_in_release_on_qemu_virt_aarch64() {
    lines_are_whole("qemu_virt_aarch64", "release");
}

#[test]
fn console_lines_are_whole_in_release_on_x86_64_generic() {
    lines_are_whole("x86_64_generic", "release");
}

#[test]
fn console_lines_are_whole_in_release_on_qemu_virt_riscv64() {
    lines_are_whole("qemu_virt_riscv64", "release");
}

#[test]
fn console_lines_are_whole_across_cores_on_qemu_virt_aarch64() {
    lines_are_whole("qemu_virt_aarch64", "smp-debug");
}

#[test]
fn console_lines_are_whole_across_cores_on_x86_64_generic() {
    lines_are_whole("x86_64_generic", "smp-debug");
}
