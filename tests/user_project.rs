//! A user's own project outside this repository, as `tunnelkit new` makes it
//! in the system's temporary directory: a cargo workspace depending on
//! tunnelkit's crates by path, with no `.cargo/config.toml` and no
//! `[profile.pd]` (the tool passes every PD build flag). `tunnelkit run`
//! boots it on both boards; rustflags that would break a PD stop the build
//! with an error naming them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tunnelkit_tests::{output_text, qemu_lock, repo_root, say, sdk_or_skip, tunnelkit_binary};

/// Removes the project's directory when the test ends, passed or not.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The tool, run in `dir` with none of this process's rustflags.
fn tool(tunnelkit: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(tunnelkit);
    cmd.current_dir(dir).args(args).env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
    cmd
}

fn run(cmd: &mut Command) -> (Output, String) {
    let out = cmd.output().expect("running tunnelkit");
    let log = output_text(&out);
    (out, log)
}

#[test]
fn a_new_project_outside_the_repository_runs_on_both_boards() {
    let test = "a_new_project_outside_the_repository_runs_on_both_boards";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let tunnelkit = tunnelkit_binary();
    let base = std::env::temp_dir().join(format!("tunnelkit-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let _cleanup = TempDir(base.clone());
    let base = base.canonicalize().unwrap();
    let repo = repo_root().canonicalize().unwrap();
    assert!(!base.starts_with(&repo), "{test}: {} must be outside the repository {}", base.display(), repo.display());
    let dir = base.join("hello-tunnelkit");

    // tunnelkit new: the project, with nothing tunnelkit-specific but its
    // dependencies and the PD crates' metadata.
    let (out, log) = run(tool(&tunnelkit, &base, &["new"]).arg(&dir));
    assert!(out.status.success(), "{test}: tunnelkit new failed:\n{log}");
    for ancestor in dir.ancestors() {
        for config in [".cargo/config.toml", ".cargo/config"] {
            assert!(!ancestor.join(config).exists(), "{test}: {} must not exist", ancestor.join(config).display());
        }
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("[profile"), "{test}: the workspace must define no profile:\n{manifest}");
    assert!(manifest.contains(&format!("path = \"{}", repo.join("tunnel-pd").display())), "{test}: path dependencies:\n{manifest}");
    for pd in ["client", "counter-pod"] {
        let m = std::fs::read_to_string(dir.join(pd).join("Cargo.toml")).unwrap();
        assert!(m.contains("[package.metadata.tunnelkit]\npd = true"), "{test}: {pd} must be marked as a PD crate:\n{m}");
    }

    // A non-empty directory is refused and left as it was.
    let (out, log) = run(tool(&tunnelkit, &base, &["new"]).arg(&dir));
    assert!(!out.status.success() && log.contains("is not empty"), "{test}: tunnelkit new into a non-empty directory:\n{log}");
    assert_eq!(std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(), manifest, "{test}: the project was changed");

    let _guard = qemu_lock();
    for board in ["qemu_virt_aarch64", "x86_64_generic"] {
        let (out, log) = run(&mut tool(&tunnelkit, &dir, &["run", "--board", board, "--timeout", "120"]));
        assert!(out.status.success(), "{test}: the new project did not pass on {board}:\n{log}");
        assert!(log.contains("tunnelkit: hello-tunnelkit passed"), "{test}: no pass line on {board}:\n{log}");
        assert!(log.contains("client: total 5105 after 11 additions"), "{test}: the client's summary on {board}:\n{log}");
        say(&format!("{test}: the project made by tunnelkit new in {} passed on {board}", dir.display()));
    }

    // The user's own rustflags that would break a PD stop the build, naming them.
    let (out, log) = run(tool(&tunnelkit, &dir, &["build"]).env("RUSTFLAGS", "-C relocation-model=pic"));
    assert!(!out.status.success(), "{test}: a build with RUSTFLAGS=-C relocation-model=pic must fail:\n{log}");
    assert!(log.contains("RUSTFLAGS: `-C relocation-model=pic`"), "{test}: the error must name the flag and its source:\n{log}");
    assert!(!log.contains("compiling"), "{test}: the conflict must stop the build before compiling:\n{log}");
    say(&format!("{test}: RUSTFLAGS=-C relocation-model=pic was refused with an error naming it"));
}
