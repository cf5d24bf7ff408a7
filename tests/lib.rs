//! Helpers for tunnelkit's integration tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use tunnelkit::sdk::Sdk;

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
