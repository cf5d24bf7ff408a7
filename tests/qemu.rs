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
