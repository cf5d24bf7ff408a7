//! `tunnelkit bench` on real seL4 in QEMU (needs MICROKIT_SDK): every variant
//! produces numbers, the raw floor is not above the tunnel, and two runs under
//! `-icount` give identical counts (the command fails otherwise). No timing
//! thresholds: the figures themselves are reported, not asserted.

use serde_json::Value;
use tunnelkit_tests::{qemu_lock, say, sdk_or_skip, tunnelkit};

fn median(c: &Value) -> u64 {
    c["cycles"]["median"].as_u64().expect("median")
}

fn bench_is_sane(board: &str) {
    let test = format!("bench_is_sane_on_{board}");
    let Some(_sdk) = sdk_or_skip(&test) else { return };
    let _guard = qemu_lock();
    let out_dir = std::env::temp_dir().join(format!("tunnelkit-bench-{board}-{}", std::process::id()));
    let out = tunnelkit(&["bench", "--board", board, "--runs", "2", "--out", out_dir.to_str().unwrap()]);
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test}: bench failed (a non-identical rerun fails it too):\n{log}");
    assert!(log.contains("repeatability: crossings: identical in every run"), "{test}:\n{log}");

    let json: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    for f in ["results.md", "crossings.svg", "crosstalk.svg"] {
        assert!(out_dir.join(f).is_file(), "{test}: {f} missing");
    }
    assert_eq!(json["board"], board);
    assert_eq!(json["config"], "benchmark");
    assert!(json["qemu"]["flags"].as_str().unwrap().contains("-icount shift=0"));

    let crossings = json["crossings"].as_array().unwrap();
    for t in ["raw", "tunnel", "ipc", "async"] {
        let rows: Vec<_> = crossings.iter().filter(|c| c["transport"] == t).collect();
        assert!(!rows.is_empty(), "{test}: no {t} crossings");
        for r in &rows {
            assert_eq!(r["iterations"], 1000);
            let (min, med, max) = (r["cycles"]["min"].as_u64().unwrap(), median(r), r["cycles"]["max"].as_u64().unwrap());
            assert!(0 < min && min <= med && med <= max, "{test}: bad sample {r}");
        }
    }
    let null = |t: &str| {
        crossings
            .iter()
            .find(|c| c["transport"] == t && c["payload_bytes"] == 0 && c["lent_bytes"] == 0 && c["depth"] == 1)
            .map(median)
            .unwrap()
    };
    assert!(null("raw") <= null("tunnel"), "{test}: the raw floor must not cost more than the tunnel");
    for depth in [2, 3] {
        assert!(crossings.iter().any(|c| c["transport"] == "tunnel" && c["depth"] == depth), "{test}: no depth {depth}");
    }
    let crosstalk = json["crosstalk"].as_array().unwrap();
    for d in ["tunnel", "tunnel-shared", "ipc", "async"] {
        let paths: Vec<_> = crosstalk.iter().filter(|p| p["design"] == d).collect();
        assert_eq!(paths.len(), 3, "{test}: {d} must report three paths");
        assert!(paths.iter().all(|p| p["completed"].as_u64().unwrap() > 0), "{test}: a {d} path completed nothing");
    }
    assert_eq!(json["light_path_latency"].as_array().unwrap().len(), 4);
    std::fs::remove_dir_all(&out_dir).unwrap();
    say(&format!("{test}: tunnel null {} vs raw floor {} cycles", null("tunnel"), null("raw")));
}

#[test]
fn bench_is_sane_on_qemu_virt_aarch64() {
    bench_is_sane("qemu_virt_aarch64");
}

#[test]
fn bench_is_sane_on_x86_64_generic() {
    bench_is_sane("x86_64_generic");
}
