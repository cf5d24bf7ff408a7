//! `tunnelkit check`: the corpus under tests/sdf (good → exit 0, bad → exit 1
//! with the expected rule on a FILE:LINE:COL error line), policies, the graph
//! output, usage errors, and no panics on mutated or random input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proptest::prelude::*;
use tunnelkit::check::{Report, check_bytes};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn tunnelkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tunnelkit")).args(args).current_dir(root()).output().expect("run tunnelkit")
}

fn corpus(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("tests/sdf").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.sort();
    v
}

/// The rule id in the first-line `<!-- expect: RULE -->` comment.
fn expected_rule(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let first = String::from_utf8_lossy(&bytes).lines().next().unwrap_or("").to_string();
    let rule = first.strip_prefix("<!-- expect: ").and_then(|r| r.strip_suffix(" -->"));
    rule.unwrap_or_else(|| panic!("{}: first line must be <!-- expect: RULE -->", path.display())).to_string()
}

/// The rule ids of `FILE:LINE:COL: error: RULE: ...` lines for `file`.
fn error_rules(stdout: &str, file: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(file)?.strip_prefix(':')?;
            let mut parts = rest.splitn(3, ':');
            let (line, col, tail) = (parts.next()?, parts.next()?, parts.next()?);
            (line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok()).then_some(())?;
            let rule = tail.strip_prefix(" error: ")?.split(':').next()?;
            Some(rule.to_string())
        })
        .collect()
}

#[test]
fn corpus_is_big_enough() {
    assert!(corpus("good").len() >= 8);
    assert!(corpus("bad").len() >= 20);
}

#[test]
fn every_good_file_passes() {
    for f in corpus("good") {
        let rel = f.strip_prefix(root()).unwrap().to_str().unwrap().to_string();
        for board in [None, Some("qemu_virt_aarch64")] {
            let mut args = vec!["check", rel.as_str()];
            if let Some(b) = board {
                args.extend(["--board", b]);
            }
            let o = tunnelkit(&args);
            let out = String::from_utf8_lossy(&o.stdout);
            assert_eq!(o.status.code(), Some(0), "{rel} ({board:?}):\n{out}{}", String::from_utf8_lossy(&o.stderr));
        }
    }
}

#[test]
fn every_bad_file_fails_with_exactly_its_rule() {
    for f in corpus("bad") {
        let rel = f.strip_prefix(root()).unwrap().to_str().unwrap().to_string();
        let rule = expected_rule(&f);
        let o = tunnelkit(&["check", &rel]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{rel}:\n{out}");
        let rules = error_rules(&out, &rel);
        assert!(rules.contains(&rule), "{rel}: expected an error line `{rel}:L:C: error: {rule}: ...`:\n{out}");
        assert!(rules.iter().all(|r| *r == rule), "{rel}: violates more than {rule}: {rules:?}\n{out}");
        // every error line is followed by a hint
        let lines: Vec<&str> = out.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.contains(": error: ") {
                assert!(lines.get(i + 1).is_some_and(|n| n.starts_with("  hint: ")), "{rel}: no hint after {l}");
            }
        }
    }
}

#[test]
fn the_demo_system_is_valid_and_the_library_agrees() {
    let r: Report = tunnelkit::check::check_file(
        &root().join("system.xml"),
        None,
        tunnelkit::check::Target { board: Some(tunnelkit::board::Board::QemuVirtAarch64), config: None },
    );
    assert!(r.is_valid(), "{r}");
    assert_eq!(r.warnings().count(), 0, "{r}");
    let g = r.graph.expect("graph");
    assert_eq!(g.pds.len(), 6);
}

#[test]
fn warnings_do_not_fail_the_check() {
    let text = "<system>\n  <memory_region name=\"spare\" size=\"0x1000\" />\n  <protection_domain name=\"a\" priority=\"1\">\n    <program_image path=\"a.elf\" />\n  </protection_domain>\n  <protection_domain name=\"b\" priority=\"2\">\n    <program_image path=\"b.elf\" />\n  </protection_domain>\n  <channel>\n    <end pd=\"a\" id=\"0\" notify=\"false\" />\n    <end pd=\"b\" id=\"0\" notify=\"false\" />\n  </channel>\n</system>\n";
    let r = check_bytes("w.xml", text.as_bytes(), None);
    assert!(r.is_valid(), "{r}");
    let s = r.to_string();
    assert!(s.contains("w.xml:2:3: warning: mr-unused: "), "{s}");
    assert!(s.contains("w.xml:9:3: warning: channel-unused: "), "{s}");
}

#[test]
fn pp_cycles_are_reported_with_their_path() {
    let text = "<system>\n<protection_domain name=\"a\" priority=\"5\"><program_image path=\"a.elf\"/></protection_domain>\n<protection_domain name=\"b\" priority=\"6\"><program_image path=\"b.elf\"/></protection_domain>\n<protection_domain name=\"c\" priority=\"7\"><program_image path=\"c.elf\"/></protection_domain>\n<channel><end pd=\"a\" id=\"0\" pp=\"true\"/><end pd=\"b\" id=\"0\"/></channel>\n<channel><end pd=\"b\" id=\"1\" pp=\"true\"/><end pd=\"c\" id=\"0\"/></channel>\n<channel><end pd=\"c\" id=\"1\" pp=\"true\"/><end pd=\"a\" id=\"1\"/></channel>\n</system>";
    let r = check_bytes("c.xml", text.as_bytes(), None);
    assert!(r.has_error("pp-cycle") && r.has_error("pp-priority"), "{r}");
    assert!(r.to_string().contains("a -> b -> c -> a"), "{r}");
}

#[test]
fn policies_pass_and_fail_with_positions() {
    let o = tunnelkit(&["check", "system.xml", "--policy", "tests/policies/demo-ok.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));

    let o = tunnelkit(&["check", "system.xml", "--policy", "tests/policies/demo-violations.toml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let p = "tests/policies/demo-violations.toml";
    for want in [
        format!("{p}:2:13: error: policy-no-write: PD 'crypt' maps region 'a_crypt' with perms \"rw\""),
        format!("{p}:3:12: error: policy-no-path: path report -notify-> client_a -pp-> crypt"),
        format!("{p}:4:13: error: policy-only-via: path client_a -pp-> checksum bypasses 'crypt'"),
        format!("{p}:5:14: error: policy-max-share: PD 'crypt_ipc' has budget/period 4000/10000 = 40.0 % > 30 %"),
    ] {
        assert!(out.contains(&want), "missing `{want}` in\n{out}");
    }

    for (file, at) in [("bad-syntax", "2:25"), ("bad-field", "2:24")] {
        let p = format!("tests/policies/{file}.toml");
        let o = tunnelkit(&["check", "system.xml", "--policy", &p]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains(&format!("{p}:{at}: error: policy-syntax: ")), "{out}");
    }
    let o = tunnelkit(&["check", "system.xml", "--policy", "tests/policies/none.toml"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn graph_is_written_as_dot_and_svg() {
    let dir = std::env::temp_dir().join(format!("tunnelkit-check-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dot = dir.join("g.dot");
    let svg = dir.join("g.svg");
    for out in [&dot, &svg] {
        let o = tunnelkit(&["check", "system.xml", "--graph", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let d = std::fs::read_to_string(&dot).unwrap();
    assert!(d.starts_with("digraph authority {"), "{d}");
    assert!(d.contains("\"client_a\" -> \"crypt\" [label=\"pp\""), "{d}");
    assert!(d.contains("\"client_a\" -> \"report\" [label=\"notify\""), "{d}");
    assert!(d.contains("\"checksum\" -> \"mr:crypt_sum\" [label=\"r\""), "{d}");
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.contains("<svg") && s.contains("checksum"), "{s}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_usage_exits_2_and_missing_files_exit_1() {
    assert_eq!(tunnelkit(&["check"]).status.code(), Some(2));
    assert_eq!(tunnelkit(&["check", "system.xml", "--board", "nope"]).status.code(), Some(2));
    let o = tunnelkit(&["check", "no/such/file.xml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no/such/file.xml:1:1: error: io: "));
}

fn corpus_bytes() -> Vec<Vec<u8>> {
    corpus("good").into_iter().chain(corpus("bad")).map(|p| std::fs::read(p).unwrap()).collect()
}

const SNIPPETS: &[&str] = &[
    " pp=\"true\"",
    " id=\"99\"",
    " priority=\"0x_\"",
    " budget=\"18446744073709551615\"",
    " vaddr=\"0xfffffffffffff000\"",
    " size=\"0\"",
    " page_size=\"0x200000\"",
    "<protection_domain name=\"x\">",
    "</protection_domain>",
    "<channel><end pd=\"x\" id=\"1\"/></channel>",
    "<map mr=\"m\" vaddr=\"0x0\" perms=\"\"/>",
    "<memory_region name=\"m\" size=\"0x1000\"/>",
    "<irq irq=\"1\" id=\"61\"/>",
    "<!DOCTYPE x>",
    "&amp;",
    "<![CDATA[x]]>",
    "\u{fffd}",
    "\0",
];

/// One mutation of `base` driven by `ops` (byte flips, truncation, insertions).
fn mutate(base: &[u8], ops: &[(u8, u32, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(op, at, b) in ops {
        let i = if v.is_empty() { 0 } else { at as usize % (v.len() + 1) };
        match op % 5 {
            0 => {
                if i < v.len() {
                    v[i] ^= b | 1;
                }
            }
            1 => v.truncate(i),
            2 => v.insert(i, b),
            3 => {
                let s = SNIPPETS[b as usize % SNIPPETS.len()].as_bytes();
                v.splice(i..i, s.iter().copied());
            }
            _ => {
                if i < v.len() {
                    v.remove(i);
                }
            }
        }
    }
    v
}

/// The invariants of a report on any input: never panics (the call returns),
/// and an invalid file has at least one error with a real position.
fn check_any(bytes: &[u8]) {
    let r = check_bytes("fuzz.xml", bytes, Some(tunnelkit::board::Board::QemuVirtAarch64));
    for d in &r.diagnostics {
        assert!(d.pos.line >= 1 && d.pos.col >= 1, "{d}");
    }
    let _ = r.to_string();
    if let Some(g) = &r.graph {
        let _ = g.dot();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_never_panics(which in any::<u16>(), ops in proptest::collection::vec((any::<u8>(), any::<u32>(), any::<u8>()), 1..8)) {
        let all = corpus_bytes();
        let base = &all[which as usize % all.len()];
        check_any(&mutate(base, &ops));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_any(&bytes);
    }

    #[test]
    fn invalid_utf8_and_garbage_xml_are_errors(prefix in "[<>a-z =\"/]{0,40}") {
        let mut b = prefix.into_bytes();
        b.push(0xff);
        let r = check_bytes("g.xml", &b, None);
        prop_assert!(!r.is_valid());
    }
}

/// The long fuzz run recorded in docs/check.md:
/// `TUNNELKIT_FUZZ_CASES=1000000 cargo test --release -p tunnelkit --test check_cli -- --ignored --nocapture long_fuzz`
#[test]
#[ignore]
fn long_fuzz() {
    let n: u64 = std::env::var("TUNNELKIT_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let all = corpus_bytes();
    // xorshift64*: deterministic, seedable
    let mut state: u64 = std::env::var("TUNNELKIT_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let start = std::time::Instant::now();
    let (mut valid, mut invalid) = (0u64, 0u64);
    for i in 0..n {
        let input = if i % 10 == 9 {
            let len = (next() % 600) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            let base = &all[(next() % all.len() as u64) as usize];
            let ops: Vec<(u8, u32, u8)> = (0..1 + next() % 6)
                .map(|_| {
                    let r = next();
                    (r as u8, (r >> 8) as u32, (r >> 40) as u8)
                })
                .collect();
            mutate(base, &ops)
        };
        let r = check_bytes("fuzz.xml", &input, Some(tunnelkit::board::Board::QemuVirtAarch64));
        if r.is_valid() { valid += 1 } else { invalid += 1 }
    }
    eprintln!("long_fuzz: {n} inputs ({valid} valid, {invalid} invalid) in {:.1}s, no panic", start.elapsed().as_secs_f64());
}

#[test]
fn board_rules_apply_only_with_a_board() {
    use tunnelkit::board::Board;
    let sys = |v: &str| {
        format!(
            "<system><memory_region name=\"m\" size=\"0x1000\"/><protection_domain name=\"a\"><program_image path=\"a.elf\"/>\
             <map mr=\"m\" vaddr=\"{v}\"/><ioport id=\"0\" addr=\"0x3f8\" size=\"8\"/></protection_domain></system>"
        )
    };
    // aarch64: stack top 0xff_ffff_e000, default stack 0x2000 → bottom 0xff_ffff_c000 (the microkit tool's limit too)
    let ok = check_bytes("s.xml", sys("0xFFFFFFB000").as_bytes(), Some(Board::QemuVirtAarch64));
    assert!(!ok.has_error("map-stack") && ok.has_error("ioport-arch"), "{ok}");
    let bad = check_bytes("s.xml", sys("0xFFFFFFC000").as_bytes(), Some(Board::QemuVirtAarch64));
    assert!(bad.has_error("map-stack"), "{bad}");
    let none = check_bytes("s.xml", sys("0xFFFFFFC000").as_bytes(), None);
    assert!(none.is_valid(), "{none}");
    let x86 = check_bytes("s.xml", sys("0x4000000").as_bytes(), Some(Board::X86_64Generic));
    assert!(x86.is_valid(), "{x86}");
}

#[test]
fn positions_point_at_the_offending_attribute() {
    let text = "<system>\n  <protection_domain name=\"a\"\n      priority=\"300\">\n    <program_image path=\"a.elf\" />\n  </protection_domain>\n</system>\n";
    let r = check_bytes("p.xml", text.as_bytes(), None);
    assert!(r.to_string().starts_with("p.xml:3:7: error: priority-range: priority 300 is above 254\n  hint: "), "{r}");
}

#[test]
fn cores_and_irq_forms_are_checked_with_a_board_and_config() {
    use tunnelkit::board::{Board, KernelConfig};
    use tunnelkit::check::{Target, check_bytes_for};
    let sys = |cpu: u32| {
        format!(
            "<system><protection_domain name=\"a\" cpu=\"{cpu}\"><program_image path=\"a.elf\"/>\
             <irq pin=\"3\" id=\"1\" vector=\"5\"/></protection_domain></system>"
        )
    };
    let on = |cpu: u32, board: Option<Board>, config: Option<KernelConfig>| {
        check_bytes_for("s.xml", sys(cpu).as_bytes(), Target { board, config })
    };
    let arm = on(1, Some(Board::QemuVirtAarch64), Some(KernelConfig::Debug));
    assert!(arm.has_error("cpu-range") && arm.has_error("irq-arch"), "{arm}");
    assert!(arm.to_string().contains("qemu_virt_aarch64's debug kernel has 1 core"), "{arm}");
    assert!(arm.to_string().contains("hint: use cpu=\"0\", or build with --config smp-debug (4 cores)"), "{arm}");
    assert!(!on(3, Some(Board::QemuVirtAarch64), Some(KernelConfig::SmpDebug)).has_error("cpu-range"));
    let four = on(4, Some(Board::QemuVirtAarch64), Some(KernelConfig::SmpRelease));
    assert!(
        four.to_string().contains(
            "s.xml:1:37: error: cpu-range: PD 'a' is on cpu 4, which does not exist: qemu_virt_aarch64's smp-release kernel has 4 cores"
        ),
        "{four}"
    );
    // Without a config, the board's largest kernel bounds the cpu.
    assert!(!on(3, Some(Board::QemuVirtAarch64), None).has_error("cpu-range"));
    assert!(on(4, Some(Board::QemuVirtAarch64), None).has_error("cpu-range"));
    let x86 = on(15, Some(Board::X86_64Generic), Some(KernelConfig::SmpBenchmark));
    assert!(!x86.has_error("cpu-range") && !x86.has_error("irq-arch"), "{x86}");
    assert!(on(16, Some(Board::X86_64Generic), Some(KernelConfig::SmpBenchmark)).has_error("cpu-range"));
    assert!(on(1, None, Some(KernelConfig::Release)).has_error("cpu-range"));
    assert!(check_bytes("s.xml", sys(1).as_bytes(), None).is_valid());
}

#[test]
fn regions_mapped_only_by_a_virtual_machine_are_used() {
    let text = "<system><memory_region name=\"ram\" size=\"0x1000\"/><protection_domain name=\"a\"><program_image path=\"a.elf\"/>\
                <virtual_machine name=\"vm\"><vcpu id=\"0\"/><map mr=\"ram\" vaddr=\"0x0\"/><map mr=\"nope\" vaddr=\"0x1000\"/></virtual_machine>\
                </protection_domain></system>";
    let r = check_bytes("s.xml", text.as_bytes(), None);
    assert_eq!(r.warnings().count(), 0, "{r}");
    assert!(r.has_error("map-mr-unknown"), "{r}");
}
