//! System tests on real seL4 in QEMU (need MICROKIT_SDK and QEMU): the
//! microkit tool accepts system.xml, the demo passes on both boards, and a
//! panicking PD makes `tunnelkit run` fail naming it.

use std::process::Output;

use tunnelkit_tests::{qemu_lock, say, sdk_or_skip, tunnelkit};

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn demo_passes(board: &str) {
    let test = format!("demo_passes_on_{board}");
    let Some(_sdk) = sdk_or_skip(&test) else { return };
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
fn microkit_accepts_system_xml_in_every_config() {
    let Some(sdk) = sdk_or_skip("microkit_accepts_system_xml_in_every_config") else { return };
    for (board, config) in sdk.supported_board_configs() {
        let out = tunnelkit(&["build", "--board", board.name(), "--config", config.name()]);
        assert!(out.status.success(), "{} {}: build failed:\n{}", board.name(), config.name(), text(&out));
    }
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
    let Some(_sdk) = sdk_or_skip(test) else { return };
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
    let out = tunnelkit(&["build", "--system", "tests/systems/bad-image.xml"]);
    let log = text(&out);
    assert!(!out.status.success());
    assert!(
        log.contains(
            "tests/systems/bad-image.xml:4:9: error: PD 'ghost' runs 'no-such-pd.elf', which no PD crate in this workspace builds"
        ),
        "{log}"
    );
}

#[test]
fn a_board_the_sdk_lacks_is_named() {
    let Some(sdk) = sdk_or_skip("a_board_the_sdk_lacks_is_named") else { return };
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

fn containment(board: &str, system: &str, test: String, line: &str) {
    let Some(_sdk) = sdk_or_skip(&test) else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&[
        "run",
        "--board",
        board,
        "--system",
        system,
        "--pass-line",
        "tunnelkit: containment passed",
        "--allow-pd-panics",
        "--timeout",
        "240",
    ]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run failed (a hang ends at the timeout):\n{log}");
    assert!(log.contains(line), "{test}: console lacks '{line}':\n{log}");
    assert!(!log.contains("MON|ERROR"), "{test}: the monitor saw a fault:\n{log}");
    say(&format!("{test}: {line}"));
}

const FAULT_LINE: &str = "containment: faults=1000 fault_errors=1000 panics=5 panic_errors=5 nested=100 nested_errors=100 overruns=0 overrun_errors=0 fresh_state=1105/1105 hangs=0";
const OVERRUN_LINE: &str = "containment: faults=0 fault_errors=0 panics=0 panic_errors=0 nested=0 nested_errors=0 overruns=100 overrun_errors=100 fresh_state=100/100 hangs=0";

#[test]
fn faults_in_pods_become_errors_on_qemu_virt_aarch64() {
    containment(
        "qemu_virt_aarch64",
        "tests/systems/containment.xml",
        "faults_in_pods_become_errors_on_qemu_virt_aarch64".into(),
        FAULT_LINE,
    );
}

#[test]
fn faults_in_pods_become_errors_on_x86_64_generic() {
    containment("x86_64_generic", "tests/systems/containment.xml", "faults_in_pods_become_errors_on_x86_64_generic".into(), FAULT_LINE);
}

#[test]
fn overruns_in_pods_become_errors_on_qemu_virt_aarch64() {
    containment(
        "qemu_virt_aarch64",
        "tests/systems/overrun.xml",
        "overruns_in_pods_become_errors_on_qemu_virt_aarch64".into(),
        OVERRUN_LINE,
    );
}

#[test]
fn overruns_in_pods_become_errors_on_x86_64_generic() {
    containment("x86_64_generic", "tests/systems/overrun.xml", "overruns_in_pods_become_errors_on_x86_64_generic".into(), OVERRUN_LINE);
}
