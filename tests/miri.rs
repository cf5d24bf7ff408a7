//! The host tests of the crates whose code runs in PDs, under Miri (nightly
//! toolchain with the `miri` component; `.ci/run` installs it). Miri
//! interprets them and reports undefined behaviour: out-of-bounds or
//! unaligned accesses, pointers without provenance, reads of uninitialised
//! memory, data races between threads, leaks. It cannot run what the PDs do
//! on seL4 (system calls, inline assembly, the kernel's mappings): see the
//! README, section Miri.

use std::process::Command;
use std::time::Instant;

use tunnelkit_tests::{output_text, repo_root, say};

/// The crates, as in the README's Miri command.
const CRATES: [&str; 7] =
    ["tunnelkit-abi", "tunnelkit-sys", "tunnelkit-runtime", "tunnelkit-tunnel", "tunnelkit-supervisor", "netstack", "demo-services"];
/// PD addresses are patched-in integers made pointers with
/// `with_exposed_provenance` (tunnel-pd/sys/src/memory.rs), which Miri
/// supports but warns about unless told the program means it.
const MIRIFLAGS: &str = "-Zmiri-permissive-provenance";
const TEST: &str = "pd_crates_pass_under_miri";

/// `cargo +nightly …` through rustup, from the repository root.
fn nightly_cargo() -> Command {
    let mut c = Command::new("cargo");
    c.arg("+nightly").current_dir(repo_root()).env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
    c
}

#[test]
fn pd_crates_pass_under_miri() {
    let probe = nightly_cargo().args(["miri", "--version"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = probe.map_or_else(|e| e.to_string(), |o| output_text(&o).lines().next().unwrap_or("").to_string());
        assert!(
            std::env::var_os("TUNNELKIT_REQUIRE_MIRI").is_none(),
            "{TEST}: TUNNELKIT_REQUIRE_MIRI is set but `cargo +nightly miri` does not run: {why}"
        );
        say(&format!(
            "{TEST}: skipped: no nightly toolchain with Miri (rustup toolchain install nightly --component miri,rust-src \
             --profile minimal, or run .ci/run): {why}"
        ));
        return;
    }
    let start = Instant::now();
    let mut cmd = nightly_cargo();
    cmd.args(["miri", "test"]).env("MIRIFLAGS", MIRIFLAGS);
    for c in CRATES {
        cmd.args(["-p", c]);
    }
    let out = cmd.output().expect("running cargo +nightly miri test");
    let log = output_text(&out);
    assert!(out.status.success(), "{TEST}: cargo +nightly miri test failed:\n{log}");
    let count = |field: &str| -> u64 {
        log.lines()
            .filter_map(|l| l.strip_prefix("test result: ok. "))
            .filter_map(|l| l.split(';').find_map(|f| f.trim().strip_suffix(field)?.trim().parse::<u64>().ok()))
            .sum()
    };
    let (passed, ignored) = (count(" passed"), count(" ignored"));
    assert!(passed >= 50, "{TEST}: only {passed} tests ran under Miri:\n{log}");
    say(&format!("{TEST}: {passed} tests passed under Miri ({ignored} ignored) in {:.0} s", start.elapsed().as_secs_f64()));
}
