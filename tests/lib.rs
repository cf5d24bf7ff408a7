//! Helpers for tunnelkit's integration tests.

pub mod corpus;
pub mod elf;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use tunnelkit::sdk::Sdk;

/// What a finished command printed: stdout, then stderr.
pub fn output_text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The `key=value` fields of the console line starting with `prefix` (the
/// prefix up to its last space is not a field).
pub fn fields(log: &str, prefix: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let label = &prefix[..prefix.rfind(' ').map_or(0, |i| i + 1)];
    let line = log.lines().map(str::trim).find(|l| l.starts_with(prefix))?.strip_prefix(label)?;
    Some(line.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// Checks what every containment system must print: 1000 faults and 1000
/// overruns, each an error to its caller, no hang, fresh state after every
/// restart, a nested fault restarting the inner pod only, the faulting
/// active PD running again, the PD that faults in init held after its 3
/// allowed restarts (said once on the console, `held=crashy` in the
/// summary), no fault the monitor saw. Returns the summary
/// and details fields.
pub fn assert_containment_summary(
    test: &str,
    log: &str,
) -> (std::collections::BTreeMap<String, String>, std::collections::BTreeMap<String, String>) {
    let f = fields(log, "containment: faults=").unwrap_or_else(|| panic!("{test}: no summary line:\n{log}"));
    // On a multicore kernel a fault may be answered Err(Overrun) (still an
    // error to its caller); the client reports how many.
    let as_overrun: u64 = fields(log, "containment: multicore: fault_as_overrun=")
        .and_then(|m| m.get("fault_as_overrun").and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    let fault_errors: u64 = f.get("fault_errors").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert_eq!(fault_errors + as_overrun, 1000, "{test}: every fault must be an error to its caller:\n{log}");
    for (key, want) in [("faults", "1000"), ("overruns", "1000"), ("overrun_errors", "1000"), ("hangs", "0")] {
        assert_eq!(f.get(key).map(String::as_str), Some(want), "{test}: {key} in the summary:\n{log}");
    }
    let details = fields(log, "containment: details: ").unwrap_or_else(|| panic!("{test}: no details line:\n{log}"));
    assert_eq!(details["fresh_state"], "2000/2000", "{test}: every restarted pod must serve with fresh state");
    assert_eq!(details["nested_outer_kept_state"], "100/100", "{test}: a nested fault restarts the inner pod only");
    assert_eq!(details["flaky_restarted"], "1", "{test}: the faulting active PD must run again");
    // The PD that faults in init is held by its restart policy, reported on the
    // console by the supervisor and in the summary, and no other child is.
    assert_eq!(f.get("held").map(String::as_str), Some("crashy"), "{test}: held children in the summary:\n{log}");
    let holding = log.lines().filter(|l| l.contains("supervisor: crashy (child 6)") && l.contains("holding it")).count();
    assert_eq!(holding, 1, "{test}: the supervisor must say once that it holds crashy:\n{log}");
    let crashy_restarts = log.lines().filter(|l| l.contains("supervisor: crashy (child 6)") && l.contains("restarting it")).count();
    assert_eq!(crashy_restarts, 3, "{test}: crashy's policy allows 3 restarts before the hold:\n{log}");
    assert!(!log.contains("MON|ERROR"), "{test}: the monitor saw a fault:\n{log}");
    (f, details)
}

/// Prints a line past libtest's output capture, so skips are never silent.
pub fn say(line: &str) {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{line}");
}

/// The SDK from `MICROKIT_SDK`, or `None` after printing `skipped: <reason>`
/// for `test`.
pub fn sdk_or_skip(test: &str) -> Option<Sdk> {
    match std::env::var_os("MICROKIT_SDK") {
        None => {
            say(&format!("{test}: skipped: MICROKIT_SDK not set"));
            None
        }
        Some(_) => Some(Sdk::from_env().unwrap_or_else(|e| panic!("MICROKIT_SDK is set but unusable: {e:#}"))),
    }
}

/// The SDK, if it has `config` for `board`; otherwise `None` after printing
/// `skipped: <reason>` for `test` (the multicore tests need an SDK built
/// with the smp configs).
pub fn sdk_with_config_or_skip(test: &str, board: &str, config: &str) -> Option<Sdk> {
    let sdk = sdk_or_skip(test)?;
    let dir = sdk.root().join("board").join(board).join(config);
    if !dir.is_dir() {
        say(&format!(
            "{test}: skipped: the SDK at {} has no {board}/{config} (build it with build_sdk.py --configs …,{config})",
            sdk.root().display()
        ));
        return None;
    }
    Some(sdk)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The cargo that runs the tests.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(repo_root()).env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
    c
}

/// Runs the `tunnelkit` CLI (`cargo run -p tunnelkit -- args`).
pub fn tunnelkit(args: &[&str]) -> Output {
    cargo().args(["run", "-q", "-p", "tunnelkit", "--"]).args(args).output().expect("running cargo run -p tunnelkit")
}

static QEMU_LOCK: Mutex<()> = Mutex::new(());

/// Serialises tests that boot QEMU (two cores; parallel boots would race timeouts).
pub fn qemu_lock() -> MutexGuard<'static, ()> {
    QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts `cmd` in its own process group, so that [`kill_group`] also stops
/// what it starts (cargo → tunnelkit → QEMU).
pub fn spawn_group(cmd: &mut Command) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).spawn().expect("spawn")
}

/// Stops every process of `child`'s group and reaps `child`.
pub fn kill_group(child: &mut std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", child.id())]).status();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
    let _ = child.wait();
}

/// A child started in its own process group ([`spawn_group`]) that is
/// killed with its group when dropped, so that a failed assertion does not
/// leave it running (holding ports and a QEMU); [`ChildGroup::finish`]
/// takes it back to wait for it.
pub struct ChildGroup(Option<std::process::Child>);

impl ChildGroup {
    /// Starts `cmd` in its own process group.
    pub fn spawn(cmd: &mut Command) -> ChildGroup {
        ChildGroup(Some(spawn_group(cmd)))
    }

    /// The child, no longer killed on drop.
    pub fn finish(mut self) -> std::process::Child {
        self.0.take().expect("a ChildGroup holds its child until finished")
    }
}

impl Drop for ChildGroup {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            kill_group(child);
        }
    }
}

/// Builds the `tunnelkit` binary (`cargo build -p tunnelkit`) and returns
/// its path, for tests that must signal the tool itself rather than cargo.
pub fn tunnelkit_binary() -> PathBuf {
    let out = cargo()
        .args(["build", "-q", "-p", "tunnelkit", "--bin", "tunnelkit", "--message-format=json-render-diagnostics"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("running cargo build -p tunnelkit");
    assert!(out.status.success(), "cargo build -p tunnelkit failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "tunnelkit")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo build named no tunnelkit executable")
}

/// The children of process `pid` (from /proc): (pid, command name).
pub fn children_of(pid: u32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // pid (comm) state ppid …; comm may contain spaces and parentheses.
            let (head, rest) = stat.rsplit_once(") ")?;
            let comm = head.split_once(" (")?.1.to_string();
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then_some((p, comm))
        })
        .collect()
}

/// Whether process `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st != "Z")))
        .unwrap_or(false)
}

/// A file in the system's temporary directory for the console of `test`
/// (a QEMU run's stdout), created empty: its path and the open file.
pub fn console_file(test: &str) -> (PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!("tunnelkit-{test}-{}.console", std::process::id()));
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    (path, file)
}

/// A crosstalk system of `tunnelkit bench` for `board` and `design`, asking
/// `tunnelkit run` for QEMU's instruction counter as `bench` boots it
/// (`<?tunnelkit qemu_icount="true"?>`): the same run every time.
pub fn crosstalk_under_icount(board: tunnelkit::board::Board, design: tunnelkit::bench::systems::Design) -> String {
    let xml = tunnelkit::bench::systems::crosstalk(board, design);
    let with = xml.replacen("<system>", "<system>\n    <?tunnelkit qemu_icount=\"true\"?>", 1);
    assert_ne!(with, xml, "the crosstalk system has a <system> element");
    with
}

/// A user's own cargo workspace in a new temporary directory: one PD crate
/// `hello` (image `hello.elf`, depending on tunnelkit-runtime by path) whose
/// `init` prints a line and then runs `init_tail` (Rust statements), and a
/// `system.xml` with that PD. Like any user's workspace it has no
/// `.cargo/config.toml` and no `[profile.pd]`: the tool passes the PD flags.
pub fn user_workspace(test: &str, init_tail: &str) -> PathBuf {
    let root = repo_root();
    let dir = std::env::temp_dir().join(format!("tunnelkit-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("hello/src")).unwrap();
    std::fs::copy(root.join("rust-toolchain.toml"), dir.join("rust-toolchain.toml")).unwrap();
    let files = [
        ("Cargo.toml", "[workspace]\nresolver = \"3\"\nmembers = [\"hello\"]\n".to_string()),
        (
            "hello/Cargo.toml",
            format!(
                "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[package.metadata.tunnelkit]\npd = true\n\n\
                 [[bin]]\nname = \"hello\"\npath = \"src/main.rs\"\ntest = false\nbench = false\n\n\
                 [dependencies]\ntunnelkit-runtime = {{ path = \"{}\" }}\n",
                root.join("tunnel-pd/runtime").display()
            ),
        ),
        (
            "hello/src/main.rs",
            format!(
                "#![no_std]\n#![no_main]\n#![forbid(unsafe_code)]\n\nuse core::convert::Infallible;\nuse tunnelkit_runtime::{{Handler, debug_println, protection_domain}};\n\n\
                 protection_domain!(init);\n\nstruct Hello;\n\nfn init() -> Hello {{\n    debug_println!(\"hello from a user's own workspace\");\n    \
                 {init_tail}\n    Hello\n}}\n\nimpl Handler for Hello {{\n    type Error = Infallible;\n}}\n"
            ),
        ),
        (
            "system.xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<system>\n    <protection_domain name=\"hello\" priority=\"100\">\n        \
             <program_image path=\"hello.elf\" />\n    </protection_domain>\n</system>\n"
                .to_string(),
        ),
    ];
    for (path, text) in files {
        std::fs::write(dir.join(path), text).unwrap();
    }
    dir
}

/// On x86_64_generic: the IRQ line the NIC driver read from the device's PCI
/// configuration (printed on its start line as `IRQ line N` and `must be N`)
/// must be the IOAPIC pin the `<irq id="0" pin=…>` of `system` (relative to
/// the repository root) names. A PD cannot read that attribute, so the test
/// compares them; `Some(line)` if they agree. PDs print one byte per system
/// call, so another PD's output can split the line: if neither number can be
/// read, `None` (the answers the caller checked already show that the
/// interrupt arrives: the driver receives only on it).
pub fn assert_nic_irq_matches_sdf(test: &str, console: &str, system: &str) -> Option<u32> {
    let number_after = |text: &str, marker: &str| -> Option<u32> {
        text.match_indices(marker)
            .filter_map(|(at, _)| text[at + marker.len()..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok())
            .next()
    };
    let sdf = std::fs::read_to_string(repo_root().join(system)).unwrap_or_else(|e| panic!("{test}: reading {system}: {e}"));
    let pin = number_after(&sdf, "<irq id=\"0\" pin=\"").unwrap_or_else(|| panic!("{test}: {system} has no <irq id=\"0\" pin=…>"));
    let line = number_after(console, "IRQ line ").or_else(|| number_after(console, "must be "))?;
    assert_eq!(
        line, pin,
        "{test}: the device's INTx is routed to IRQ line {line}, but {system} has <irq id=\"0\" pin=\"{pin}\">: set pin=\"{line}\""
    );
    Some(line)
}
