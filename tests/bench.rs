//! `tunnelkit bench` on real seL4 in QEMU (needs MICROKIT_SDK).
//!
//! The crossings, measured twice under `-icount` (the command fails if the
//! runs differ, before writing anything), are checked by
//! `tunnelkit::bench::guard`: the tunnel's null round trip at most 1.05× the
//! raw floor, cheaper than plain IPC and async, the batched-async crossover,
//! and every crossing within ±1 % of the figures committed in
//! `bench-results/<board>/results.json` (the README's Results are made from
//! them): a headline that regresses fails `cargo test`. The crosstalk systems
//! run once: every design's paths must complete work.

use serde_json::Value;
use tunnelkit::bench::guard;
use tunnelkit::bench::model::Results;
use tunnelkit_tests::{qemu_lock, repo_root, say, sdk_or_skip, tunnelkit};

fn bench(test: &str, board: &str, only: &str, runs: &str) -> Option<(Results, std::path::PathBuf)> {
    sdk_or_skip(test)?;
    let _guard = qemu_lock();
    let out_dir = std::env::temp_dir().join(format!("tunnelkit-{test}-{}", std::process::id()));
    let out = tunnelkit(&["bench", "--board", board, "--only", only, "--runs", runs, "--out", out_dir.to_str().unwrap()]);
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test}: bench failed (a non-identical rerun fails it too):\n{log}");
    let text = std::fs::read_to_string(out_dir.join("results.json")).unwrap();
    let results: Results = serde_json::from_str(&text).unwrap();
    assert_eq!(results.board, board);
    assert_eq!(results.config, "benchmark");
    for f in ["results.md", "crossings.svg", "crosstalk.svg"] {
        assert!(out_dir.join(f).is_file(), "{test}: {f} missing");
    }
    if runs != "1" {
        assert!(log.contains(&format!("repeatability: {only}: identical in every run")), "{test}:\n{log}");
    }
    Some((results, out_dir))
}

fn crossings_hold_their_headlines(board: &str) {
    let test = format!("crossings_hold_their_headlines_on_{board}");
    let Some((results, out_dir)) = bench(&test, board, "crossings", "2") else { return };
    // One counter tick per instruction or less (RISC-V: shift 7 for its 10 MHz time CSR).
    let shift = tunnelkit::bench::run::icount_shift(tunnelkit::board::Board::from_name(board).unwrap());
    assert!(results.qemu.flags.contains(&format!("-icount shift={shift},")), "{test}: {}", results.qemu.flags);
    for c in &results.crossings {
        assert_eq!(c.iterations, 1000);
        let (min, med, max) = (c.cycles.min, c.cycles.median, c.cycles.max);
        assert!(0 < min && min <= med && med <= max, "{test}: bad sample {c:?}");
    }
    for depth in [2, 3] {
        assert!(results.crossings.iter().any(|c| c.transport == "tunnel" && c.depth == depth), "{test}: no depth {depth}");
    }
    let parts: Vec<&str> = results.split.iter().map(|p| p.part.as_str()).collect();
    assert_eq!(parts, ["floor", "client", "marked", "loop", "server"], "{test}: the split");
    assert_eq!(results.split.iter().all(|p| p.user.is_some()), board == "qemu_virt_aarch64", "{test}: user-mode split only on AArch64");

    let committed_path = repo_root().join("bench-results").join(board).join("results.json");
    let committed: Option<Results> = std::fs::read_to_string(&committed_path).ok().map(|t| serde_json::from_str(&t).unwrap());
    let verdict = guard::check(&results, committed.as_ref());
    for n in &verdict.notes {
        say(&format!("{test}: {n}"));
    }
    assert!(verdict.failures.is_empty(), "{test}: the headlines regressed:\n  {}", verdict.failures.join("\n  "));
    std::fs::remove_dir_all(&out_dir).unwrap();
}

fn crosstalk_designs_all_work(board: &str) {
    let test = format!("crosstalk_designs_all_work_on_{board}");
    let Some((results, out_dir)) = bench(&test, board, "crosstalk", "1") else { return };
    let json: Value = serde_json::to_value(&results).unwrap();
    let crosstalk = json["crosstalk"].as_array().unwrap();
    for d in ["tunnel", "tunnel-shared", "ipc", "async", "ipc-half", "async-half"] {
        let paths: Vec<_> = crosstalk.iter().filter(|p| p["design"] == d).collect();
        assert_eq!(paths.len(), 3, "{test}: {d} must report three paths");
        assert!(paths.iter().all(|p| p["completed"].as_u64().unwrap() > 0), "{test}: a {d} path completed nothing");
        let server = paths[0]["server_share"].as_f64();
        match d {
            "tunnel" | "tunnel-shared" => assert_eq!(server, None, "{test}: {d} has no server of its own"),
            "ipc" | "async" => assert_eq!(server, Some(1.0), "{test}: {d} has the capacity the paths have together"),
            _ => assert_eq!(server, Some(0.5), "{test}: {d} has half of it"),
        }
    }
    assert_eq!(json["light_path_latency"].as_array().unwrap().len(), 6);
    std::fs::remove_dir_all(&out_dir).unwrap();
}

#[test]
fn crossings_hold_their_headlines_on_qemu_virt_aarch64() {
    crossings_hold_their_headlines("qemu_virt_aarch64");
}

#[test]
fn crossings_hold_their_headlines_on_x86_64_generic() {
    crossings_hold_their_headlines("x86_64_generic");
}

#[test]
fn crossings_hold_their_headlines_on_qemu_virt_riscv64() {
    crossings_hold_their_headlines("qemu_virt_riscv64");
}

#[test]
fn crosstalk_designs_all_work_on_qemu_virt_riscv64() {
    crosstalk_designs_all_work("qemu_virt_riscv64");
}

#[test]
fn crosstalk_designs_all_work_on_qemu_virt_aarch64() {
    crosstalk_designs_all_work("qemu_virt_aarch64");
}

#[test]
fn crosstalk_designs_all_work_on_x86_64_generic() {
    crosstalk_designs_all_work("x86_64_generic");
}
