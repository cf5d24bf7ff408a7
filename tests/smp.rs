//! Multicore system tests (need MICROKIT_SDK with the smp configs, and
//! QEMU): the reproducer of docs/smp.md documents what seL4 16.0.0 does to
//! a pod that two cores share, the smp demo and the smp containment system
//! pass, and the build refuses a shared pod and names a config the SDK lacks.

use std::process::Output;
use std::time::Instant;

use tunnelkit_tests::{qemu_lock, repo_root, say, sdk_or_skip, sdk_with_config_or_skip, tunnelkit};

fn text(out: &Output) -> String {
    tunnelkit_tests::output_text(out)
}

/// Seconds a reproducer is given before it counts as hung: the passing
/// variants other than the spinners finish in under 10 s on an idle 2-core
/// machine.
const HANG_AFTER: u64 = 20;
/// Seconds the witness system runs: its first scheduler dump comes after
/// some 30 million iterations of its spinner.
const WITNESS_RUN: u64 = 30;

/// How one reproducer system must end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Passes,
    Hangs,
}

fn run_repro(board: &str, system: &str, timeout: u64) -> (Output, String, f64) {
    let path = format!("tests/systems/smp/{system}.xml");
    let start = Instant::now();
    let out = tunnelkit(&["run", "--board", board, "--config", "smp-debug", "--system", &path, "--timeout", &timeout.to_string()]);
    let log = text(&out);
    (out, log, start.elapsed().as_secs_f64())
}

/// Calls the ping paths reported answered (the last progress line of each).
fn answered(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    for ping in ["ping_a", "ping_b"] {
        let last = log.lines().filter_map(|l| l.trim().strip_prefix(&format!("{ping}: "))).rfind(|l| l.contains("calls answered"));
        out.push(format!(
            "{ping} {}",
            last.map(|l| l.split(' ').next().unwrap_or("?").to_string()).unwrap_or_else(|| "fewer than 5000/20000".into())
        ));
    }
    out
}

fn reproducer(board: &str) {
    let test = format!("smp_reproducer_on_{board}");
    let Some(_sdk) = sdk_with_config_or_skip(&test, board, "smp-debug") else { return };
    let _guard = qemu_lock();
    let cases = [
        ("same-core", Expect::Passes),
        ("follow", Expect::Passes),
        ("per-core", Expect::Passes),
        ("raw-shared-spinners", Expect::Passes),
        ("shared", Expect::Hangs),
        ("raw-shared", Expect::Hangs),
    ];
    let mut summary = Vec::new();
    for (system, expect) in cases {
        let timeout = if expect == Expect::Hangs { HANG_AFTER } else { 240 };
        let (out, log, secs) = run_repro(board, system, timeout);
        match expect {
            Expect::Passes => {
                assert!(out.status.success(), "{test}: {system} must pass:\n{log}");
                assert!(log.contains("tunnelkit: smp-repro passed"), "{test}: {system}:\n{log}");
                summary.push(format!("{system} passes ({secs:.1} s)"));
            }
            Expect::Hangs => {
                // If this fails, the kernel no longer strands a shared pod:
                // update docs/smp.md (and maybe relax pod-cross-core).
                assert!(!out.status.success(), "{test}: {system} passed: seL4 no longer hangs here; update docs/smp.md:\n{log}");
                assert!(log.contains(&format!("timed out after {HANG_AFTER}s")), "{test}: {system} must hang, not fail otherwise:\n{log}");
                assert!(log.contains("MON|INFO: PD 'pong' is now passive!"), "{test}: {system} must get as far as the calls:\n{log}");
                assert!(!log.contains("20000/20000"), "{test}: {system}:\n{log}");
                summary.push(format!("{system} hangs ({})", answered(&log).join(", ")));
            }
        }
    }
    // The witness shows the stranded pod: runnable at priority 100 on a core
    // that runs the priority-0 witness instead.
    let (out, log, _) = run_repro(board, "raw-shared-witness", WITNESS_RUN);
    assert!(!out.status.success(), "{test}: raw-shared-witness must hang:\n{log}");
    let stranded =
        log.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).find(|w| w.len() >= 5 && w[0] == "pong" && w[1] == "running");
    let stranded = stranded.unwrap_or_else(|| panic!("{test}: no scheduler dump shows pong running:\n{log}"));
    let core = stranded[stranded.len() - 2];
    assert!(
        log.lines().any(|l| {
            let w: Vec<_> = l.split_whitespace().collect();
            w.len() >= 5 && w[0] == format!("witness_{core}") && w[1] == "running"
        }),
        "{test}: core {core} must be running its witness while pong waits there:\n{log}"
    );
    summary.push(format!("raw-shared-witness: pong runnable on core {core}, which runs witness_{core}"));
    say(&format!("{test}: {}", summary.join("; ")));
}

#[test]
fn smp_reproducer_on_qemu_virt_aarch64() {
    reproducer("qemu_virt_aarch64");
}

#[test]
fn smp_reproducer_on_x86_64_generic() {
    reproducer("x86_64_generic");
}

fn smp_demo(board: &str) {
    let test = format!("smp_demo_on_{board}");
    let Some(_sdk) = sdk_with_config_or_skip(&test, board, "smp-debug") else { return };
    let _guard = qemu_lock();
    // RISC-V's smp kernel spins its four harts on the kernel lock; with
    // fewer host cores than harts QEMU makes no progress for minutes at a
    // time (on 2 cores: once 3 minutes, once nothing in 15).
    let host = std::thread::available_parallelism().map_or(1, |n| n.get());
    if board == "qemu_virt_riscv64" && host < 4 {
        say(&format!(
            "{test}: skipped: qemu_virt_riscv64's smp kernel needs QEMU's 4 harts on at least 4 host cores to run smp.xml in bounded time; this host has {host} (smp_kernel_runs_the_demo_on_qemu_virt_riscv64 boots that kernel)"
        ));
        return;
    }
    // The README's command.
    let out = tunnelkit(&["run", "--board", board, "--config", "smp-debug", "--system", "smp.xml", "--timeout", "300"]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run failed:\n{log}");
    // Lines the host tool prints, and the reporter's verdict (sent only after
    // all three client paths passed every check). PDs on different cores
    // print byte by byte at the same time, so their own lines may be mixed.
    for line in [
        "tunnelkit: per-core pod crypt → crypt@0 (cpu 0), crypt@1 (cpu 1), crypt@2 (cpu 2)",
        "tunnelkit: per-core pod checksum → checksum@0 (cpu 0), checksum@1 (cpu 1), checksum@2 (cpu 2), checksum@3 (cpu 3)",
        "with -smp 4",
        "tunnelkit: demo passed",
    ] {
        assert!(log.contains(line), "{test}: console lacks '{line}':\n{log}");
    }
    assert!(!log.contains("panicked"), "{test}: a PD panicked:\n{log}");
    say(&format!("{test}: three client paths on cores 0-2 through per-core pods passed"));
}

#[test]
fn smp_demo_on_qemu_virt_aarch64() {
    smp_demo("qemu_virt_aarch64");
}

#[test]
fn smp_demo_on_x86_64_generic() {
    smp_demo("x86_64_generic");
}

#[test]
fn smp_demo_on_qemu_virt_riscv64() {
    smp_demo("qemu_virt_riscv64");
}

/// The smp kernel of qemu_virt_riscv64 with its four harts, running the
/// demo on core 0 (smp.xml's PDs on every core: `smp_demo_on_qemu_virt_riscv64`).
#[test]
fn smp_kernel_runs_the_demo_on_qemu_virt_riscv64() {
    let test = "smp_kernel_runs_the_demo_on_qemu_virt_riscv64";
    let Some(_sdk) = sdk_with_config_or_skip(test, "qemu_virt_riscv64", "smp-debug") else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&["run", "--board", "qemu_virt_riscv64", "--config", "smp-debug", "--timeout", "300"]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run failed:\n{log}");
    assert!(log.contains("with -smp 4") && log.contains("tunnelkit: demo passed"), "{test}:\n{log}");
    say(&format!("{test}: the demo passed on the 4-hart smp-debug kernel"));
}

fn smp_containment(board: &str) {
    let test = format!("smp_containment_on_{board}");
    let Some(_sdk) = sdk_with_config_or_skip(&test, board, "smp-debug") else { return };
    let _guard = qemu_lock();
    let out = tunnelkit(&[
        "run",
        "--board",
        board,
        "--config",
        "smp-debug",
        "--system",
        "tests/systems/containment-smp.xml",
        // About 4 minutes on an idle 2-core host; much more when the host is busy.
        "--timeout",
        "900",
    ]);
    let log = text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run failed (a hang ends at the timeout):\n{log}");
    assert!(log.contains("tunnelkit: per-core pod pod_x → pod_x@2 (cpu 2), pod_x@3 (cpu 3)"), "{test}:\n{log}");
    tunnelkit_tests::assert_containment_summary(&test, &log);
    let summary = log.lines().map(str::trim).find(|l| l.starts_with("containment: faults=")).unwrap();
    say(&format!("{test}: {summary} (callers on cores 1-3, supervisor on core 0; host time)"));
}

#[test]
fn smp_containment_on_qemu_virt_aarch64() {
    smp_containment("qemu_virt_aarch64");
}

#[test]
fn smp_containment_on_x86_64_generic() {
    smp_containment("x86_64_generic");
}

/// A pod two cores share is refused by the build, at its position, with the
/// route from each core; `cross_core="allow"` builds it with a warning.
#[test]
fn a_pod_shared_across_cores_does_not_build() {
    let test = "a_pod_shared_across_cores_does_not_build";
    let Some(_sdk) = sdk_with_config_or_skip(test, "qemu_virt_aarch64", "smp-debug") else { return };
    let _guard = qemu_lock();
    let root = repo_root();
    let dir = root.join("target/tunnelkit-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let shared = dir.join("smp-shared.xml");
    let xml = std::fs::read_to_string(root.join("smp.xml")).unwrap();
    std::fs::write(&shared, xml.replace("<?tunnelkit per_core=\"true\"?>", "")).unwrap();
    let out = tunnelkit(&["build", "--board", "qemu_virt_aarch64", "--config", "smp-debug", "--system", shared.to_str().unwrap()]);
    let log = text(&out);
    assert!(!out.status.success(), "{test}: a shared pod must not build:\n{log}");
    assert!(log.contains("smp-shared.xml:52:52: error: pod-cross-core: pod 'crypt' can run on 3 cores"), "{test}:\n{log}");
    assert!(log.contains("core 3 via crypt_ipc → checksum"), "{test}:\n{log}");
    assert!(log.contains("hint: add <?tunnelkit per_core=\"true\"?>"), "{test}:\n{log}");
    say(&format!("{test}: refused with pod-cross-core"));
}

/// An smp config the SDK was not built with is named, with how to add it.
#[test]
fn an_smp_config_the_sdk_lacks_is_named() {
    let test = "an_smp_config_the_sdk_lacks_is_named";
    let Some(sdk) = sdk_or_skip(test) else { return };
    let dir = std::env::temp_dir().join(format!("tunnelkit-no-smp-sdk-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("board/qemu_virt_aarch64")).unwrap();
    std::os::unix::fs::symlink(sdk.root().join("bin"), dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(sdk.root().join("board/qemu_virt_aarch64/debug"), dir.join("board/qemu_virt_aarch64/debug")).unwrap();
    let out = tunnelkit_tests::cargo()
        .args(["run", "-q", "-p", "tunnelkit", "--", "build", "--board", "qemu_virt_aarch64", "--config", "smp-debug"])
        .env("MICROKIT_SDK", &dir)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let log = text(&out);
    assert!(!out.status.success());
    assert!(log.contains("has board 'qemu_virt_aarch64' but not config 'smp-debug' (it has: debug)"), "{log}");
    assert!(log.contains("--configs debug,release,benchmark,smp-debug,smp-release,smp-benchmark"), "{log}");
    say(&format!("{test}: named"));
}
