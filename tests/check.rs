//! `tunnelkit check` against the corpus under tests/sdf: in-process (always),
//! and differentially against the microkit tool (when MICROKIT_SDK is set).

use std::path::{Path, PathBuf};
use std::process::Command;

use tunnelkit::check::check_file;
use tunnelkit_tests::{repo_root, say, sdk_or_skip, tunnelkit};

/// Rules that are tunnelkit's own (the microkit tool accepts such systems);
/// also listed in docs/check.md.
const OUR_RULES: &[&str] =
    &["core-utilisation", "pp-cycle", "map-stack", "ioport-arch", "cpu-range", "irq-arch", "pod-cross-core", "per-core"];

fn corpus() -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    for kind in ["good", "bad"] {
        let mut files: Vec<_> = std::fs::read_dir(repo_root().join("tests/sdf").join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect();
        files.sort();
        for f in files {
            let rule = (kind == "bad").then(|| expected_rule(&f));
            out.push((f, rule));
        }
    }
    out
}

fn expected_rule(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().next().unwrap_or("");
    first
        .strip_prefix("<!-- expect: ")
        .and_then(|r| r.strip_suffix(" -->"))
        .unwrap_or_else(|| panic!("{}: first line must be <!-- expect: RULE -->", path.display()))
        .to_string()
}

#[test]
fn corpus_in_process() {
    for (f, rule) in corpus() {
        let r = check_file(&f, None, Default::default());
        match rule {
            None => assert!(r.is_valid(), "{}:\n{r}", f.display()),
            Some(rule) => {
                assert!(r.has_error(&rule), "{}: expected {rule}:\n{r}", f.display());
                let prefix = format!("{}:", f.display());
                let line = r.to_string().lines().find(|l| l.contains(&format!(": error: {rule}: "))).unwrap().to_string();
                assert!(line.starts_with(&prefix), "{line}");
            }
        }
    }
}

#[test]
fn microkit_tool_agrees_on_the_corpus() {
    let Some(sdk) = sdk_or_skip("microkit_tool_agrees_on_the_corpus") else { return };
    // The corpus references the images of the demo and the runtime-check systems.
    for system in ["system.xml", "tests/systems/runtime-console.qemu_virt_aarch64.xml"] {
        let o = tunnelkit(&["build", "--board", "qemu_virt_aarch64", "--config", "debug", "--system", system]);
        assert!(o.status.success(), "building {system}:\n{}", String::from_utf8_lossy(&o.stderr));
    }
    let ws = tunnelkit::workspace::Workspace::current().expect("cargo workspace");
    let search = ws.target_dir.join("tunnelkit/qemu_virt_aarch64/debug");
    let tmp = std::env::temp_dir().join(format!("tunnelkit-check-diff-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for (f, rule) in corpus() {
        let ours = check_file(&f, None, Default::default()).is_valid();
        let out = Command::new(sdk.microkit())
            .arg(&f)
            // Files that place PDs on several cores need a multicore kernel.
            .args(["--board", "qemu_virt_aarch64", "--config", if uses_cores(&f) { "smp-debug" } else { "debug" }, "--search-path"])
            .arg(&search)
            .arg("-o")
            .arg(tmp.join("x.img"))
            .arg("-r")
            .arg(tmp.join("x.txt"))
            .env("MICROKIT_SDK", sdk.root())
            .output()
            .expect("running the microkit tool");
        let theirs = out.status.success();
        let ours_only = rule.as_deref().is_some_and(|r| OUR_RULES.contains(&r));
        if ours_only {
            assert!(!ours && theirs, "{}: an OUR_RULES file must be rejected by us only", f.display());
            continue;
        }
        compared += 1;
        if ours != theirs {
            disagreements.push(format!(
                "{}: check says {}, microkit says {} ({})",
                f.display(),
                if ours { "valid" } else { "invalid" },
                if theirs { "valid" } else { "invalid" },
                String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("")
            ));
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
    say(&format!("microkit_tool_agrees_on_the_corpus: compared {compared} files"));
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Whether a corpus file puts a PD on a core other than 0.
fn uses_cores(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.match_indices(" cpu=\"").any(|(i, m)| !t[i + m.len()..].starts_with("0\"")))
}
