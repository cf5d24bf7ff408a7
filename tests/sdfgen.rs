//! `tunnelkit check` against the microkit tool on systems rendered by the
//! LionsOS SDF generator (PyPI `sdfgen`, tests/sdfgen/render.py), on both
//! boards: the verdicts must agree, and so must the line of the first error
//! when the tool names one. Needs MICROKIT_SDK and a Python with sdfgen
//! (`$TUNNELKIT_SDFGEN_PYTHON`, or the venv .ci/run makes in target/sdfgen-venv).

use std::path::{Path, PathBuf};
use std::process::Command;

use tunnelkit_tests::{output_text, repo_root, say, sdk_or_skip, tunnelkit, tunnelkit_binary};

/// The sdfgen release render.py was written and calibrated for (also in .ci/run).
const SDFGEN_VERSION: &str = "0.35.1";
const BOARDS: [&str; 2] = ["qemu_virt_aarch64", "x86_64_generic"];
const CONFIG: &str = "debug";
const TEST: &str = "check_agrees_with_the_tool_on_sdfgen_systems";

/// The Python that has sdfgen, or `None` after printing why the test skips.
fn sdfgen_python() -> Option<PathBuf> {
    let python =
        std::env::var_os("TUNNELKIT_SDFGEN_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target/sdfgen-venv/bin/python"));
    let version = Command::new(&python)
        .args(["-c", "import importlib.metadata as m, sdfgen; print(m.version('sdfgen'))"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(version) = version else {
        say(&format!(
            "{TEST}: skipped: sdfgen venv missing (run .ci/run or python3 -m venv target/sdfgen-venv && \
             target/sdfgen-venv/bin/pip install sdfgen=={SDFGEN_VERSION}); looked at {}",
            python.display()
        ));
        return None;
    };
    if version != SDFGEN_VERSION {
        say(&format!("{TEST}: note: {} has sdfgen {version}; render.py was calibrated with {SDFGEN_VERSION}", python.display()));
    }
    Some(python)
}

/// One rendered system, from render.py's manifest.json.
struct Rendered {
    name: String,
    file: PathBuf,
    /// "valid" or "invalid": what the microkit tool says (render.py's calibration).
    expect: String,
    /// For an invalid system: a substring of the tool's error.
    tool: Option<String>,
    /// What the system is (render.py's docstring of it).
    what: String,
}

fn render(python: &Path, board: &str, out: &Path) -> Vec<Rendered> {
    let script = repo_root().join("tests/sdfgen/render.py");
    let o = Command::new(python).arg(&script).args(["--board", board]).arg(out).output().expect("running render.py");
    assert!(o.status.success(), "render.py --board {board} failed:\n{}", output_text(&o));
    let manifest = std::fs::read_to_string(out.join("manifest.json")).expect("render.py wrote no manifest.json");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("manifest.json");
    manifest
        .as_array()
        .expect("manifest.json: a list")
        .iter()
        .map(|e| Rendered {
            name: e["name"].as_str().expect("name").to_string(),
            file: out.join(e["file"].as_str().expect("file")),
            expect: e["expect"].as_str().expect("expect").to_string(),
            tool: e["tool"].as_str().map(str::to_string),
            what: e["what"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

/// The line number after the first `FILE:` in `text` (`FILE:LINE:COL`).
fn line_of(text: &str, file: &Path) -> Option<u32> {
    let prefix = format!("{}:", file.display());
    text.match_indices(&prefix).find_map(|(at, m)| {
        let rest = &text[at + m.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty() && rest[digits.len()..].starts_with(':')).then(|| digits.parse().ok()).flatten()
    })
}

/// The tool's reason for rejecting: its first error (or panic) line.
fn tool_reason(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("MICROKIT|")).collect();
    match lines.iter().position(|l| l.contains("panicked at")) {
        Some(i) => lines[i..].iter().take(2).copied().collect::<Vec<_>>().join(" "),
        None => lines.iter().find(|l| l.to_lowercase().contains("error")).or(lines.first()).map_or(String::new(), |l| l.to_string()),
    }
}

fn verdict(valid: bool) -> &'static str {
    if valid { "valid" } else { "invalid" }
}

#[test]
fn check_agrees_with_the_tool_on_sdfgen_systems() {
    let Some(sdk) = sdk_or_skip(TEST) else { return };
    let Some(python) = sdfgen_python() else { return };
    // The rendered systems use the demo system's images.
    for board in BOARDS {
        let o = tunnelkit(&["build", "--board", board, "--config", CONFIG, "--system", "system.xml"]);
        assert!(o.status.success(), "building system.xml for {board}:\n{}", String::from_utf8_lossy(&o.stderr));
    }
    let ws = tunnelkit::workspace::Workspace::current().expect("cargo workspace");
    let bin = tunnelkit_binary();
    let tmp = std::env::temp_dir().join(format!("tunnelkit-sdfgen-{}", std::process::id()));
    let (mut valid, mut invalid) = (0, 0);
    let mut disagreements = Vec::new();
    let mut miscalibrated = Vec::new();
    for board in BOARDS {
        let images = ws.target_dir.join("tunnelkit").join(board).join(CONFIG);
        let out = tmp.join(board);
        std::fs::create_dir_all(&out).unwrap();
        let systems = render(&python, board, &out);
        for s in &systems {
            let tool = Command::new(sdk.microkit())
                .arg(&s.file)
                .args(["--board", board, "--config", CONFIG, "--search-path"])
                .arg(&images)
                .arg("-o")
                .arg(out.join("tmp.img"))
                .arg("-r")
                .arg(out.join("tmp.txt"))
                .env("MICROKIT_SDK", sdk.root())
                .output()
                .expect("running the microkit tool");
            let tool_text = output_text(&tool);
            let tool_ok = tool.status.success();
            let check = Command::new(&bin)
                .arg("check")
                .args(["--board", board, "--config", CONFIG])
                .arg(&s.file)
                .arg("--search-path")
                .arg(&images)
                .output()
                .expect("running tunnelkit check");
            let check_text = output_text(&check);
            let check_ok = match check.status.code() {
                Some(0) => true,
                Some(1) => false,
                other => panic!(
                    "tunnelkit check --board {board} --config {CONFIG} {} --search-path {} exited with {other:?} \
                     (2 is a usage error: does check take --search-path yet?):\n{check_text}",
                    s.file.display(),
                    images.display()
                ),
            };
            if tool_ok {
                valid += 1
            } else {
                invalid += 1
            }
            let label = format!("{board} {}", s.name);
            let tool_line = (!tool_ok).then(|| line_of(&tool_text, &s.file)).flatten();
            let first_error = check_text.lines().find(|l| l.contains(": error: ")).unwrap_or("");
            let check_line = line_of(first_error, &s.file);
            let lines = match tool_line {
                Some(t) => format!(" (line: tool {t}, check {})", check_line.map_or("-".to_string(), |c| c.to_string())),
                None => String::new(),
            };
            say(&format!("sdfgen: {label}: tool {}, check {}{lines}", verdict(tool_ok), verdict(check_ok)));
            if verdict(tool_ok) != s.expect {
                miscalibrated.push(format!(
                    "{label}: render.py expects {}, the tool says {}: {}",
                    s.expect,
                    verdict(tool_ok),
                    tool_reason(&tool_text)
                ));
            } else if let Some(want) = s.tool.as_deref().filter(|w| !tool_text.contains(w)) {
                miscalibrated.push(format!("{label}: the tool's message lacks {want:?}: {}", tool_reason(&tool_text)));
            }
            if tool_ok != check_ok {
                disagreements.push(format!(
                    "{label}: tool says {}, check says {}\n    system: {}\n    tool: {}\n    check: {}",
                    verdict(tool_ok),
                    verdict(check_ok),
                    s.what,
                    if tool_ok { "ok".to_string() } else { tool_reason(&tool_text) },
                    if check_ok { "ok" } else { first_error.trim() }
                ));
            } else if let Some(t) = tool_line.filter(|t| check_line != Some(*t)) {
                disagreements.push(format!(
                    "{label}: the tool's error is at line {t}, check's first error at {}\n    system: {}\n    tool: {}\n    check: {}",
                    check_line.map_or("no line".to_string(), |c| c.to_string()),
                    s.what,
                    tool_reason(&tool_text),
                    first_error.trim()
                ));
            }
        }
    }
    say(&format!(
        "sdfgen: {} systems: {valid} valid, {invalid} invalid (by the tool); {} disagreement(s)",
        valid + invalid,
        disagreements.len()
    ));
    assert!(valid > 0 && invalid > 0, "the comparison is vacuous: {valid} valid, {invalid} invalid systems");
    assert!(
        miscalibrated.is_empty(),
        "render.py's expectations do not match the tool (systems in {}):\n{}",
        tmp.display(),
        miscalibrated.join("\n")
    );
    assert!(
        disagreements.is_empty(),
        "tunnelkit check disagrees with the microkit tool (systems in {}):\n{}",
        tmp.display(),
        disagreements.join("\n")
    );
    std::fs::remove_dir_all(&tmp).ok();
}
