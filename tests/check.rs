//! `tunnelkit check` against the corpus under tests/sdf: in-process
//! (always), and differentially against the microkit tool (when
//! MICROKIT_SDK is set).
//!
//! # The corpus
//!
//! `tests/sdf/good/*.xml` are valid systems; `tests/sdf/bad/*.xml` each
//! violate one rule. A file starts with header comments, one per line,
//! after an optional `<?xml …?>` declaration (parsed by
//! `tunnelkit_tests::corpus`, which documents every setting):
//!
//! ```text
//! <!-- expect: RULE -->                          bad files: the rule, always the first line
//! <!-- target: x86_64_generic smp-debug -->      board and config (default qemu_virt_aarch64 debug)
//! <!-- image: NAME.elf machine=aarch64 load=0x200000+0x4000:rx sym=foo:8 sym=bar:4@0x300000 drop=microkit_name defect=elf32 -->
//! <!-- file: blob.bin 0x800 -->                  a file for prefill_path
//! ```
//!
//! The test writes each file's images into a fresh search directory:
//! `pd.elf` always (unless an `image:` line defines it), with the standard
//! layout for the board's architecture (text at 0x200000+0x1000, data at
//! 0x201000+0x3000) and the standard symbols (what the tool patches into
//! every PD, plus the 8-byte setvar targets `var_a` … `var_f` and the 4-byte
//! `small_var`); every `image:` line's ELF; every `file:`.
//!
//! `corpus_in_process` checks every file with `tunnelkit::check` for its
//! board and config with that directory as the search path: a good file must
//! be valid, a bad one must have an error of its rule. The differential test
//! runs the `tunnelkit` binary (`tunnelkit check --board B --config C
//! --search-path DIR FILE`) and `$MICROKIT_SDK/bin/microkit FILE --board B
//! --config C --search-path DIR` on every file, in parallel, and requires the
//! same verdict (files whose rule is tunnelkit's own, [`TUNNELKIT_ONLY`], must
//! be accepted by the tool and rejected by us) and, when the tool names a
//! `FILE:LINE:COL` of the file, our first error on that line.
//! `TUNNELKIT_CHECK_VERBOSE=1` prints both verdicts for every file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tunnelkit::board::{parse_board, parse_config};
use tunnelkit::check::{Target, check_file_with};
use tunnelkit_tests::corpus::{Entry, corpus, parse};
use tunnelkit_tests::{say, sdk_or_skip, tunnelkit_binary};

/// Rules that are tunnelkit's own: the microkit tool accepts such systems
/// (also listed in docs/check.md).
const TUNNELKIT_ONLY: &[&str] =
    &["core-utilisation", "pp-cycle", "pod-cross-core", "per-core", "call-bound", "restart-policy", "image-arch", "tunnelkit-setting"];

/// The error rules of docs/check.md ("What is checked": the rule ids in the
/// first column of its tables, except rows of severity `warning`).
fn documented_rules() -> Vec<String> {
    let doc = std::fs::read_to_string(tunnelkit_tests::repo_root().join("docs/check.md")).expect("docs/check.md");
    let start = doc.find("## What is checked").expect("a What is checked section");
    let end = doc[start..].find("\n## ").map_or(doc.len(), |i| start + i + 1);
    let start = start + doc[start..].find('\n').unwrap_or(0);
    let mut rules = Vec::new();
    for row in doc[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        if cells.get(1) == Some(&"warning") {
            continue;
        }
        for id in cells[0].split('`').skip(1).step_by(2) {
            let is_id = id.contains('-') && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if is_id && !rules.iter().any(|r| r == id) {
                rules.push(id.to_string());
            }
        }
    }
    rules
}

/// The `tunnelkit` binary, built once.
fn checker() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(tunnelkit_binary)
}

/// A scratch directory for `entry`: `images/` (the search path) and `out/`.
fn scratch(root: &Path, entry: &Entry) -> PathBuf {
    let dir = root.join(entry.name().replace(['/', '.'], "_"));
    std::fs::create_dir_all(dir.join("out")).unwrap();
    entry.generate(&dir.join("images"));
    dir
}

/// A fresh scratch root for `test`.
fn scratch_root(test: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("tunnelkit-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// Runs `tunnelkit check` on `entry` with its board, config and images.
fn run_checker(entry: &Entry, dir: &Path) -> Output {
    Command::new(checker())
        .arg("check")
        .args(["--board", &entry.board, "--config", &entry.config, "--search-path"])
        .arg(dir.join("images"))
        .arg(&entry.path)
        .current_dir(dir.join("out"))
        .output()
        .expect("running tunnelkit check")
}

/// `(line, rule)` of each `FILE:LINE:COL: error: RULE: …` line for `file`, in order.
fn our_errors(stdout: &str, file: &str) -> Vec<(u32, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(file)?.strip_prefix(':')?;
            let mut parts = rest.splitn(3, ':');
            let (line, col, tail) = (parts.next()?, parts.next()?, parts.next()?);
            col.parse::<u32>().ok()?;
            let rule = tail.strip_prefix(" error: ")?.split(':').next()?;
            Some((line.parse().ok()?, rule.to_string()))
        })
        .collect()
}

/// The line of the first `FILE:LINE:COL` in the tool's output.
fn tool_line(output: &str, file: &str) -> Option<u32> {
    output.match_indices(file).find_map(|(at, _)| {
        let rest = output[at + file.len()..].strip_prefix(':')?;
        let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let col = rest[line.len()..].strip_prefix(':')?;
        (!line.is_empty() && col.starts_with(|c: char| c.is_ascii_digit())).then(|| line.parse().ok())?
    })
}

/// Runs `f` on every entry, on as many threads as there are cores, and
/// returns the results in corpus order.
fn parallel<T: Send>(entries: &[Entry], f: impl Fn(&Entry) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(entries.len().max(1));
    let mut out: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(e) = entries.get(i) else { break };
                        mine.push((i, f(e)));
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker panicked")).collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// `board/config: n` counts and per-rule counts of the corpus.
fn summary(entries: &[Entry]) -> String {
    let mut targets = std::collections::BTreeMap::<String, usize>::new();
    let mut rules = std::collections::BTreeMap::<&str, usize>::new();
    for e in entries {
        *targets.entry(format!("{} {} {}", e.board, e.config, if e.expect.is_some() { "bad" } else { "good" })).or_default() += 1;
        *rules.entry(e.expect.as_deref().unwrap_or("(good)")).or_default() += 1;
    }
    let t: Vec<String> = targets.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    let r: Vec<String> = rules.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("{} files; {}\n  rules: {}", entries.len(), t.join(", "), r.join(", "))
}

#[test]
fn corpus_covers_every_rule_and_both_boards() {
    let entries = corpus();
    assert!(entries.len() >= 120, "the corpus has {} files, fewer than 120", entries.len());
    let rules = documented_rules();
    assert!(rules.len() >= 60, "docs/check.md lists only {} error rules: {rules:?}", rules.len());
    // pp-cycle cannot be a file's only rule: a pp cycle always breaks pp-priority too (check_cli.rs tests it).
    // device-board fires only on real boards, whose facts come from an SDK: the corpus's targets are
    // the built-in boards (rules.rs's unit test and tests/boards.rs test it).
    for rule in rules.iter().filter(|r| !["pp-cycle", "device-board"].contains(&r.as_str())) {
        assert!(entries.iter().any(|e| e.expect.as_ref() == Some(rule)), "no bad file for {rule} (docs/check.md)");
    }
    for e in &entries {
        if let Some(rule) = &e.expect {
            assert!(rules.contains(rule), "{}: {rule} is not an error rule of docs/check.md", e.name());
        }
    }
    for board in tunnelkit_tests::corpus::BOARDS {
        for kind in [true, false] {
            let n = entries.iter().filter(|e| e.board == *board && e.expect.is_some() == kind).count();
            assert!(n >= 3, "only {n} {} files for {board}", if kind { "bad" } else { "good" });
        }
    }
    assert!(entries.iter().any(|e| e.config.starts_with("smp-")), "no smp file");
    say(&format!("corpus: {}", summary(&entries)));
}

#[test]
fn corpus_header_parses() {
    let dir = scratch_root("corpus-header");
    let f = dir.join("h.xml");
    std::fs::write(
        &f,
        "<!-- expect: image-elf -->\n<!-- target: x86_64_generic smp-debug -->\n<!-- image: a.elf machine=aarch64 load=0x400000+0x2000:rx:0x1000 sym=foo:8 sym=foo:4@0x400100 drop=var_a defect=no-symtab -->\n<!-- file: blob.bin 0x10 -->\n<!-- an ordinary comment: not a header -->\n<system/>\n",
    )
    .unwrap();
    let e = parse(&f, true).unwrap();
    assert_eq!((e.expect.as_deref(), e.board.as_str(), e.config.as_str()), (Some("image-elf"), "x86_64_generic", "smp-debug"));
    assert_eq!(e.files, vec![("blob.bin".to_string(), 0x10)]);
    let names: Vec<&str> = e.images.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a.elf", "pd.elf"]);
    let a = &e.images[0].1;
    assert_eq!(a.machine, tunnelkit_tests::elf::EM_AARCH64);
    assert_eq!(a.segments.len(), 1);
    assert_eq!((a.segments[0].memsz, a.segments[0].filesz, a.segments[0].flags), (0x2000, 0x1000, 5));
    assert!(a.symbols.iter().all(|s| s.name != "var_a"));
    assert_eq!(a.symbols.iter().filter(|s| s.name == "foo").count(), 2);
    assert_eq!(e.images[1].1.machine, tunnelkit_tests::elf::EM_X86_64);
    e.generate(&dir.join("images"));
    assert_eq!(std::fs::read(dir.join("images/blob.bin")).unwrap().len(), 0x10);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn corpus_in_process() {
    let entries = corpus();
    let root = scratch_root("check-corpus");
    let failures: Vec<String> = parallel(&entries, |e| {
        let dir = scratch(&root, e);
        let target = Target {
            board: Some(parse_board(&e.board).expect("a corpus board")),
            config: Some(parse_config(&e.config).expect("a corpus config")),
        };
        let report = check_file_with(&e.path, None, target, Some(&[dir.join("images")]));
        let out = report.to_string();
        let wrong = match &e.expect {
            None => !report.is_valid(),
            Some(rule) => !our_errors(&out, &e.path.display().to_string()).iter().any(|(_, r)| r == rule),
        };
        wrong.then(|| format!("{} ({} {}): expected {}:\n{out}", e.name(), e.board, e.config, e.expect.as_deref().unwrap_or("valid")))
    })
    .into_iter()
    .flatten()
    .collect();
    std::fs::remove_dir_all(&root).ok();
    say(&format!("corpus_in_process: {} of {} files as expected", entries.len() - failures.len(), entries.len()));
    assert!(failures.is_empty(), "{} file(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn generated_images_build_with_microkit() {
    let Some(sdk) = sdk_or_skip("generated_images_build_with_microkit") else { return };
    let root = scratch_root("check-elf");
    for board in tunnelkit_tests::corpus::BOARDS {
        let sdf = root.join(format!("{board}.xml"));
        std::fs::write(
            &sdf,
            format!("<!-- target: {board} debug -->\n<system>\n  <memory_region name=\"m\" size=\"0x1000\" />\n  <protection_domain name=\"a\" priority=\"10\">\n    <program_image path=\"pd.elf\" />\n    <map mr=\"m\" vaddr=\"0x4000000\" setvar_vaddr=\"var_a\" setvar_size=\"var_b\" />\n  </protection_domain>\n</system>\n"),
        )
        .unwrap();
        let e = parse(&sdf, false).unwrap();
        let dir = scratch(&root, &e);
        let o = run_tool(&sdk, &e, &dir);
        assert!(o.status.success(), "{board}: the microkit tool rejects a generated image:\n{}", tunnelkit_tests::output_text(&o));
    }
    std::fs::remove_dir_all(&root).ok();
}

/// Runs the microkit tool on `entry` (in `dir/out`, which the tool also searches).
fn run_tool(sdk: &tunnelkit::sdk::Sdk, entry: &Entry, dir: &Path) -> Output {
    let out = dir.join("out");
    Command::new(sdk.microkit())
        .arg(&entry.path)
        .args(["--board", &entry.board, "--config", &entry.config, "--search-path"])
        .arg(dir.join("images"))
        .arg("-o")
        .arg(out.join("x.img"))
        .arg("-r")
        .arg(out.join("x.txt"))
        .current_dir(&out)
        .env("MICROKIT_SDK", sdk.root())
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running the microkit tool")
}

/// What the tool and we said about one file.
struct Verdicts {
    entry: Entry,
    ours_valid: bool,
    our_first: Option<(u32, String)>,
    theirs_valid: bool,
    their_line: Option<u32>,
    their_message: String,
}

#[test]
fn microkit_tool_agrees_on_the_corpus() {
    let Some(sdk) = sdk_or_skip("microkit_tool_agrees_on_the_corpus") else { return };
    let entries = corpus();
    let root = scratch_root("check-diff");
    let results = parallel(&entries, |e| {
        let dir = scratch(&root, e);
        let file = e.path.display().to_string();
        let theirs = run_tool(&sdk, e, &dir);
        let ours = run_checker(e, &dir);
        let their_text = tunnelkit_tests::output_text(&theirs);
        let stderr = String::from_utf8_lossy(&theirs.stderr);
        let their_message = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("note: run with"))
            .unwrap_or("")
            .chars()
            .take(300)
            .collect();
        Verdicts {
            entry: e.clone(),
            ours_valid: ours.status.success(),
            our_first: our_errors(&String::from_utf8_lossy(&ours.stdout), &file).into_iter().next(),
            theirs_valid: theirs.status.success(),
            their_line: tool_line(&their_text, &file),
            their_message,
        }
    });
    std::fs::remove_dir_all(&root).ok();

    let mut disagreements = Vec::new();
    let mut per_target = std::collections::BTreeMap::<String, (usize, usize)>::new();
    let (mut compared, mut lines) = (0, 0);
    let verdict = |valid: bool| if valid { "valid" } else { "invalid" };
    // TUNNELKIT_CHECK_VERBOSE=1 lists every file's verdicts.
    let verbose = std::env::var_os("TUNNELKIT_CHECK_VERBOSE").is_some();
    for v in &results {
        let e = &v.entry;
        let ours = match &v.our_first {
            Some((line, rule)) => format!("invalid ({rule} at line {line})"),
            None => verdict(v.ours_valid).to_string(),
        };
        let theirs = match v.their_line {
            Some(line) => format!("invalid at line {line}: {}", v.their_message),
            None if v.theirs_valid => "valid".to_string(),
            None => format!("invalid: {}", v.their_message),
        };
        if verbose {
            say(&format!(
                "{} [{} {}] expect {}: we say {ours}; the tool says {theirs}",
                e.name(),
                e.board,
                e.config,
                e.expect.as_deref().unwrap_or("valid")
            ));
        }
        let slot = per_target.entry(format!("{} {}", e.board, e.config)).or_default();
        slot.0 += 1;
        compared += 1;
        if e.expect.as_deref().is_some_and(|r| TUNNELKIT_ONLY.contains(&r)) {
            if v.ours_valid || !v.theirs_valid {
                disagreements.push(format!("{}: tunnelkit's own rule: we say {ours}, the tool says {theirs}", e.name()));
            }
            continue;
        }
        if v.ours_valid != v.theirs_valid {
            disagreements.push(format!("{}: we say {ours}, the tool says {theirs}", e.name()));
        } else if let (Some(line), Some((ours_line, _))) = (v.their_line, &v.our_first) {
            lines += 1;
            slot.1 += 1;
            if line != *ours_line {
                disagreements.push(format!("{}: we say {ours}, the tool says {theirs}", e.name()));
            }
        }
    }
    let targets: Vec<String> = per_target.iter().map(|(t, (n, l))| format!("{t}: {n} ({l} with a line)")).collect();
    say(&format!("microkit_tool_agrees_on_the_corpus: compared {compared} files ({lines} with a line compared); {}", targets.join(", ")));
    assert!(disagreements.is_empty(), "{} disagreement(s):\n{}", disagreements.len(), disagreements.join("\n"));
}
