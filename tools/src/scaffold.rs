//! `tunnelkit new DIR`: a user's own project, outside tunnelkit's repository.
//!
//! The project is a cargo workspace with a client path, a pod serving a small
//! service, a `system.xml` and a README. It depends on tunnelkit's PD crates
//! by path (the checkout this tool was built from, or `--tunnelkit PATH`) or
//! by git (`--git URL`), and needs nothing else tunnelkit-specific: no
//! `.cargo/config.toml`, no `[profile.pd]` (the tool passes every PD build
//! flag itself, see [`crate::pd_cargo`]), only `[package.metadata.tunnelkit]
//! pd = true` in each PD crate. `tunnelkit run` in it boots the system and
//! passes on the client's line `tunnelkit: <project> passed`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Where the project's tunnelkit dependencies come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A tunnelkit checkout on this machine (its root directory).
    Path(PathBuf),
    /// A git repository holding tunnelkit, optionally at a branch or revision.
    Git {
        /// The repository URL.
        url: String,
        /// A branch to follow.
        branch: Option<String>,
        /// A commit (or tag) to pin.
        rev: Option<String>,
    },
}

/// The tunnelkit crates a project depends on: (package, directory in the checkout).
const CRATES: [(&str, &str); 2] = [("tunnelkit-runtime", "tunnel-pd/runtime"), ("tunnelkit-tunnel", "tunnel-pd/tunnel")];

/// The tunnelkit checkout this tool was built from (`tools/`'s parent at
/// compile time), if it is still a tunnelkit checkout.
pub fn own_checkout() -> Result<PathBuf> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = tools.parent().unwrap_or(tools);
    checkout(root).with_context(|| {
        format!(
            "this tunnelkit was built from {}, which is no longer a tunnelkit checkout; \
             pass --tunnelkit PATH (a checkout) or --git URL",
            root.display()
        )
    })
}

/// `dir` as a tunnelkit checkout: its absolute path, if it holds tunnelkit's PD crates.
pub fn checkout(dir: &Path) -> Result<PathBuf> {
    let root = dir.canonicalize().with_context(|| format!("{} does not exist", dir.display()))?;
    for (name, path) in CRATES {
        let manifest = root.join(path).join("Cargo.toml");
        let text = fs::read_to_string(&manifest)
            .with_context(|| format!("{} is not a tunnelkit checkout: it has no {path}/Cargo.toml", root.display()))?;
        if !text.contains(&format!("name = \"{name}\"")) {
            bail!("{} is not a tunnelkit checkout: {} is not the crate {name}", root.display(), manifest.display());
        }
    }
    Ok(root)
}

/// The project name for `dir`: its last component, as a crate-like name
/// (lowercase letters, digits, `-`).
pub fn project_name(dir: &Path) -> String {
    let last = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut name = String::new();
    for c in last.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches('-').to_string();
    if name.is_empty() { "tunnelkit-project".to_string() } else { name }
}

/// The files of a new project named `name` (path relative to its directory, contents).
pub fn files(name: &str, source: &Source) -> Vec<(&'static str, String)> {
    let fill = |template: &str| template.replace("@NAME@", name).replace("@DEPENDENCIES@", &dependencies(source));
    vec![
        ("Cargo.toml", fill(WORKSPACE_MANIFEST)),
        ("rust-toolchain.toml", RUST_TOOLCHAIN.to_string()),
        (".gitignore", "/target\n".to_string()),
        ("README.md", fill(README)),
        ("system.xml", fill(SYSTEM)),
        ("services/Cargo.toml", fill(SERVICES_MANIFEST)),
        ("services/src/lib.rs", fill(SERVICES_LIB)),
        ("client/Cargo.toml", fill(CLIENT_MANIFEST)),
        ("client/src/main.rs", fill(CLIENT_MAIN)),
        ("counter-pod/Cargo.toml", fill(POD_MANIFEST)),
        ("counter-pod/src/main.rs", fill(POD_MAIN)),
    ]
}

/// The `[workspace.dependencies]` lines of the tunnelkit crates.
fn dependencies(source: &Source) -> String {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = String::new();
    match source {
        Source::Path(root) => {
            out.push_str(&format!("# tunnelkit's PD crates, from the checkout at {}.\n", root.display()));
            for (name, path) in CRATES {
                out.push_str(&format!("{name} = {{ path = {} }}\n", quote(&root.join(path).display().to_string())));
            }
        }
        Source::Git { url, branch, rev } => {
            out.push_str(&format!("# tunnelkit's PD crates, from {url}.\n"));
            let pin = match (branch, rev) {
                (_, Some(rev)) => format!(", rev = {}", quote(rev)),
                (Some(branch), None) => format!(", branch = {}", quote(branch)),
                (None, None) => String::new(),
            };
            for (name, _) in CRATES {
                out.push_str(&format!("{name} = {{ git = {}{pin} }}\n", quote(url)));
            }
        }
    }
    out
}

/// Writes a new project into `dir`, which must not exist or be empty.
/// Returns the project's name.
pub fn create(dir: &Path, source: &Source) -> Result<String> {
    if dir.exists() {
        if !dir.is_dir() {
            bail!("{} exists and is not a directory: tunnelkit new makes a project in a new or empty directory", dir.display());
        }
        let mut entries: Vec<String> = fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("reading {}", dir.display()))?;
        if !entries.is_empty() {
            entries.sort();
            let shown = entries.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            bail!(
                "{} is not empty (it holds {}{}): tunnelkit new makes a project only in a new or empty directory, \
                 so that it overwrites nothing; choose another DIR",
                dir.display(),
                shown,
                if entries.len() > 5 { format!(" and {} more", entries.len() - 5) } else { String::new() }
            );
        }
    }
    let absolute = if dir.is_absolute() { dir.to_path_buf() } else { std::env::current_dir()?.join(dir) };
    let name = project_name(&absolute);
    for (path, text) in files(&name, source) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(name)
}

const WORKSPACE_MANIFEST: &str = r#"[workspace]
resolver = "3"
members = ["services", "client", "counter-pod"]
# On the host (`cargo test`, `cargo check`) only the service definitions are
# built; the PD crates are no_std binaries that `tunnelkit build` and
# `tunnelkit run` compile for the board's seL4 target.
default-members = ["services"]

[workspace.package]
version = "0.1.0"
edition = "2024"

[workspace.dependencies]
@DEPENDENCIES@services = { path = "services" }
zerocopy = { version = "0.8", features = ["derive"] }
"#;

const RUST_TOOLCHAIN: &str = r#"[toolchain]
channel = "stable"
targets = ["aarch64-unknown-none", "x86_64-unknown-none", "riscv64gc-unknown-none-elf"]
"#;

const SERVICES_MANIFEST: &str = r#"[package]
name = "services"
description = "The services of @NAME@, defined once for their callers and their servers."
version.workspace = true
edition.workspace = true
publish = false

[dependencies]
tunnelkit-tunnel.workspace = true
zerocopy.workspace = true
"#;

const SERVICES_LIB: &str = r#"//! The services of @NAME@, defined once for callers and callees:
//!
//! - [`counter`]: a running total kept by the counter pod.

#![no_std]
#![forbid(unsafe_code)]

use tunnelkit_tunnel::{Window, service};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A number to add to the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Add {
    /// The number.
    pub value: u64,
}

/// The total after an operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Total {
    /// Sum of everything added so far.
    pub total: u64,
    /// Operations that added to it.
    pub count: u64,
}

service! {
    /// A running total, kept by the counter pod.
    pub mod counter {
        /// Adds `value` to the total.
        1 => fn add(Add) -> Total;
        /// Adds every byte of a window of the caller's lent region to the total.
        2 => fn add_bytes(Window) -> Total;
    }
}
"#;

const CLIENT_MANIFEST: &str = r#"[package]
name = "client"
description = "The client path of @NAME@: calls the counter pod and checks its answers."
version.workspace = true
edition.workspace = true
publish = false

# A PD crate: `tunnelkit build` compiles its binary into the image
# `client.elf`, the name system.xml's <program_image> uses.
[package.metadata.tunnelkit]
pd = true

[[bin]]
name = "client"
path = "src/main.rs"
test = false
bench = false

[dependencies]
tunnelkit-runtime.workspace = true
tunnelkit-tunnel.workspace = true
services.workspace = true
"#;

const CLIENT_MAIN: &str = r#"//! Client path: an active PD with its own budget. It calls the counter pod
//! through a tunnel (the pod is passive, so its work runs on this PD's
//! budget), checks every answer, and prints the line `tunnelkit run` waits for.
//!
//! Calls: `counter` on channel 1, lending the region mapped on it.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;
use core::fmt;

use services::{Add, Total, counter};
use tunnelkit_runtime::{Channel, Handler, debug_println, protection_domain};
use tunnelkit_tunnel::{CallError, LentRegion, Window};

/// The counter pod (a `pp` channel, with the lent region mapped on it).
const COUNTER: Channel = Channel::new(1);

protection_domain!(init);

struct Client;

fn init() -> Client {
    match check() {
        Ok(total) => debug_println!("client: total {} after {} additions", total.total, total.count),
        Err(e) => panic!("the counter service: {e}"),
    }
    debug_println!("tunnelkit: @NAME@ passed");
    Client
}

impl Handler for Client {
    type Error = Infallible;
}

/// Calls the counter pod; the first answer that is not the expected one is an error.
fn check() -> Result<Total, Failure> {
    let mut pod = counter::Client::on(COUNTER);

    // 1 + 2 + … + 10, one tunnel call each.
    let mut total = Total::default();
    for value in 1..=10 {
        total = pod.add(&Add { value })?;
    }
    expect("adding 1..=10", total, Total { total: 55, count: 10 })?;

    // Lend 100 bytes holding 1..=100 and let the pod add them up.
    let lent = LentRegion::on(COUNTER)?;
    let window = Window::new(0, 100);
    let bytes: [u8; 100] = core::array::from_fn(|i| i as u8 + 1);
    lent.write(window, 0, &bytes)?;
    total = pod.add_bytes(&window)?;
    expect("adding the lent bytes", total, Total { total: 55 + 5050, count: 11 })?;

    // A window beyond the lent region is an error for the caller, not a fault of the pod.
    let beyond = Window::new(0, lent.size() as u32 + 1);
    match pod.add_bytes(&beyond) {
        Err(CallError::BadWindow) => Ok(total),
        other => Err(Failure::Unexpected("a window beyond the lent region", other)),
    }
}

fn expect(what: &'static str, got: Total, want: Total) -> Result<(), Failure> {
    if got == want { Ok(()) } else { Err(Failure::Wrong(what, got, want)) }
}

/// A failed expectation.
enum Failure {
    Call(CallError),
    Wrong(&'static str, Total, Total),
    Unexpected(&'static str, Result<Total, CallError>),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::Call(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Call(e) => write!(f, "a call failed: {e}"),
            Failure::Wrong(what, got, want) => write!(f, "{what}: got {got:?}, expected {want:?}"),
            Failure::Unexpected(what, got) => write!(f, "{what}: unexpected {got:?}"),
        }
    }
}
"#;

const POD_MANIFEST: &str = r#"[package]
name = "counter-pod"
description = "The counter pod of @NAME@: a passive PD serving the counter service."
version.workspace = true
edition.workspace = true
publish = false

# A PD crate: its binary is the image `counter-pod.elf`.
[package.metadata.tunnelkit]
pd = true

[[bin]]
name = "counter-pod"
path = "src/main.rs"
test = false
bench = false

[dependencies]
tunnelkit-runtime.workspace = true
tunnelkit-tunnel.workspace = true
services.workspace = true
"#;

const POD_MAIN: &str = r#"//! Counter pod: a passive PD keeping a running total for its caller.
//!
//! Serves: `counter` on channel 0 (the client); a call on any other channel
//! gets `WrongChannel`.
//! Calls: nothing.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use services::{Add, Total, counter};
use tunnelkit_runtime::{Channel, Handler, MessageInfo, debug_println, pd_name, protection_domain};
use tunnelkit_tunnel::{CallError, Caller, Window};

/// Channels whose callers may use the service (see system.xml).
const CALLERS: [Channel; 1] = [Channel::new(0)];
/// Bytes read per copy out of the lent region.
const CHUNK: usize = 64;

protection_domain!(init);

struct CounterPod {
    total: u64,
    count: u64,
}

fn init() -> CounterPod {
    debug_println!("{}: ready", pd_name().as_str());
    CounterPod { total: 0, count: 0 }
}

impl CounterPod {
    fn add(&mut self, value: u64) -> Total {
        self.total = self.total.wrapping_add(value);
        self.count += 1;
        Total { total: self.total, count: self.count }
    }
}

impl counter::Server for CounterPod {
    fn add(&mut self, _caller: Caller, request: Add) -> Result<Total, CallError> {
        Ok(CounterPod::add(self, request.value))
    }

    fn add_bytes(&mut self, caller: Caller, window: Window) -> Result<Total, CallError> {
        let lent = caller.lent()?;
        let mut buf = [0u8; CHUNK];
        let mut sum = 0u64;
        let mut at = 0;
        while at < window.len {
            let n = CHUNK.min((window.len - at) as usize);
            lent.read(window, at, &mut buf[..n])?;
            sum += buf[..n].iter().map(|&b| u64::from(b)).sum::<u64>();
            at += n as u32;
        }
        Ok(CounterPod::add(self, sum))
    }
}

impl Handler for CounterPod {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(counter::serve_on(self, &CALLERS, channel, msg_info))
    }
}
"#;

const SYSTEM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!--
  @NAME@: a client path tunnelling into a counter pod (a standard Microkit
  system description; `tunnelkit run` builds and boots it).

  The client is active: it has its own scheduling context (budget/period).
  The counter pod is passive: a call into it runs on the caller's scheduling
  context, so its work is charged to the client (a tunnel). Give the pod a
  budget and period of its own and the same call becomes plain IPC, paid by
  the pod; neither crate changes.

  The client lends the pod a region: the setvars of the channel id at each end
  (client 1, pod 0) tell each side where it is mapped.
  A pp channel must go up in priority: client 100 < counter 150.
-->
<system>
    <memory_region name="client_counter" size="0x1000" />

    <protection_domain name="client" priority="100" budget="2000" period="10000">
        <program_image path="client.elf" />
        <map mr="client_counter" vaddr="0x4000000" perms="rw" setvar_vaddr="tunnel_lend_vaddr_1" setvar_size="tunnel_lend_size_1" />
    </protection_domain>

    <protection_domain name="counter" priority="150" passive="true">
        <program_image path="counter-pod.elf" />
        <map mr="client_counter" vaddr="0x4000000" perms="r" setvar_vaddr="tunnel_lend_vaddr_0" setvar_size="tunnel_lend_size_0" />
    </protection_domain>

    <channel>
        <end pd="client" id="1" pp="true" notify="false" />
        <end pd="counter" id="0" notify="false" />
    </channel>
</system>
"#;

const README: &str = r#"# @NAME@

A system of seL4 protection domains (PDs) built with tunnelkit, made by
`tunnelkit new`: a **client** path (an active PD with its own
CPU budget) calls a **counter pod** (a passive PD) through a *tunnel*: the call
runs on the client's budget. `system.xml` describes the system;
`services/` defines the service both sides use.

## Run it

You need QEMU (`qemu-system-aarch64`, `qemu-system-x86_64`,
`qemu-system-riscv64`), a Microkit 2.3.0 SDK in `$MICROKIT_SDK`, the Rust
targets `aarch64-unknown-none`, `x86_64-unknown-none` and
`riscv64gc-unknown-none-elf` (`rust-toolchain.toml` asks rustup for them) and the
`tunnelkit` tool (in a tunnelkit checkout: `cargo install --path tools`).

```sh
export MICROKIT_SDK=/path/to/microkit-sdk
tunnelkit run                                  # qemu_virt_aarch64, debug config
tunnelkit run --board x86_64_generic
tunnelkit run --board qemu_virt_riscv64
tunnelkit run --config release                 # the release kernel
tunnelkit check system.xml --board qemu_virt_aarch64
```

`tunnelkit run` builds every PD the system names, runs the microkit tool,
boots the image in QEMU and exits 0 once a PD prints `tunnelkit: @NAME@ passed`
(any line `tunnelkit: <what> passed` will do), or 1 on a PD panic or fault or
after `--timeout` seconds. `tunnelkit build` only builds; everything it writes
is in `target/tunnelkit/<board>/<config>/`.

## Layout

```
Cargo.toml         the workspace; tunnelkit's crates in [workspace.dependencies]
system.xml         the system: PDs, their budgets and priorities, channels, memory
services/          the counter service: request and response types, service! definition
client/            the client path (image client.elf)
counter-pod/       the counter pod (image counter-pod.elf)
```

## Adding a PD

A PD is a crate with a binary, marked as a PD crate in its `Cargo.toml`:

```toml
[package.metadata.tunnelkit]
pd = true
```

Its image is `<binary name>.elf`; name it in `system.xml` with
`<program_image path="<binary name>.elf" />`. That is all: `tunnelkit` builds
PD crates with the flags a PD needs (a static, non-relocatable ELF laid out by
tunnelkit's linker script, 4 KiB pages, `panic = "abort"`, the cargo profile
`pd`), so this workspace has no `.cargo/config.toml` and no `[profile.pd]`.
Your own `[profile.pd]` keys (say `opt-level = "s"`) are kept, as are your own
rustflags, unless they conflict with what a PD needs: then the build stops and
says what conflicts, and where it is set.

## Where tunnelkit comes from

`Cargo.toml` names tunnelkit's crates once, in `[workspace.dependencies]`: by
`path` (a tunnelkit checkout) or by `git` (a repository, with `branch` or
`rev`). Change those lines to switch; `tunnelkit new --tunnelkit PATH` and
`tunnelkit new --git URL [--branch B | --rev R]` write either.
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{Board, KernelConfig};
    use crate::check::{self, Target};
    use crate::sdf::Parsed;

    fn source() -> Source {
        Source::Path(PathBuf::from("/src/tunnel \"kit\""))
    }

    #[test]
    fn names_come_from_the_directory() {
        assert_eq!(project_name(Path::new("/tmp/My Project_2")), "my-project-2");
        assert_eq!(project_name(Path::new("/tmp/hello-tunnelkit")), "hello-tunnelkit");
        assert_eq!(project_name(Path::new("/")), "tunnelkit-project");
        assert_eq!(project_name(Path::new("/tmp/__")), "tunnelkit-project");
    }

    #[test]
    fn the_workspace_needs_no_pd_profile_and_names_its_pd_crates() {
        let files = files("demo", &source());
        let get = |p: &str| files.iter().find(|(f, _)| *f == p).map(|(_, t)| t.clone()).unwrap();
        let ws: toml::Table = toml::from_str(&get("Cargo.toml")).unwrap();
        assert!(ws.get("profile").is_none());
        let deps = ws["workspace"]["dependencies"].as_table().unwrap();
        assert_eq!(deps["tunnelkit-runtime"]["path"].as_str(), Some("/src/tunnel \"kit\"/tunnel-pd/runtime"));
        assert_eq!(deps["tunnelkit-tunnel"]["path"].as_str(), Some("/src/tunnel \"kit\"/tunnel-pd/tunnel"));
        for member in ws["workspace"]["members"].as_array().unwrap() {
            let m: toml::Table = toml::from_str(&get(&format!("{}/Cargo.toml", member.as_str().unwrap()))).unwrap();
            let pd = m.get("package").and_then(|p| p.get("metadata")).and_then(|m| m["tunnelkit"]["pd"].as_bool());
            let bins: Vec<_> = m.get("bin").and_then(|b| b.as_array()).into_iter().flatten().collect();
            // A PD crate has one binary, whose image system.xml names.
            assert_eq!(pd == Some(true), !bins.is_empty(), "{member}");
            for b in bins {
                assert!(get("system.xml").contains(&format!("path=\"{}.elf\"", b["name"].as_str().unwrap())), "{member}");
            }
        }
        assert!(!files.iter().any(|(f, _)| f.starts_with(".cargo")));
        assert!(get("client/src/main.rs").contains("\"tunnelkit: demo passed\""));
        assert!(!files.iter().any(|(_, t)| t.contains("@NAME@") || t.contains("@DEPENDENCIES@")));
    }

    #[test]
    fn git_dependencies_name_the_repository_and_the_pin() {
        let git = |branch: Option<&str>, rev: Option<&str>| {
            let s =
                Source::Git { url: "https://example.org/tunnelkit.git".into(), branch: branch.map(Into::into), rev: rev.map(Into::into) };
            let ws: toml::Table = toml::from_str(&files("p", &s)[0].1).unwrap();
            ws["workspace"]["dependencies"]["tunnelkit-tunnel"].as_table().unwrap().clone()
        };
        let plain = git(None, None);
        assert_eq!(plain["git"].as_str(), Some("https://example.org/tunnelkit.git"));
        assert_eq!(plain.len(), 1);
        assert_eq!(git(Some("main"), None)["branch"].as_str(), Some("main"));
        assert_eq!(git(None, Some("abc123"))["rev"].as_str(), Some("abc123"));
    }

    #[test]
    fn the_system_is_valid_on_both_boards() {
        let text = files("demo", &source()).into_iter().find(|(f, _)| *f == "system.xml").unwrap().1;
        for board in Board::BUILT_IN {
            for config in [KernelConfig::Debug, KernelConfig::Release] {
                let target = Target { board: Some(board), config: Some(config) };
                let report = check::check_parsed(&text, Parsed::text("system.xml", &text), target, None);
                assert!(report.is_valid(), "{} {}:\n{report}", board.name(), config.name());
            }
        }
    }

    #[test]
    fn a_non_empty_directory_is_refused_and_left_alone() {
        let dir = std::env::temp_dir().join(format!("tunnelkit-scaffold-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = create(&dir, &source()).unwrap_err().to_string();
        let left = fs::read_dir(&dir).unwrap().count();
        let file = dir.join("notes.txt");
        assert!(create(&file, &source()).unwrap_err().to_string().contains("is not a directory"));
        fs::remove_file(&file).unwrap();
        let name = create(&dir.join("new"), &source()).unwrap();
        let made = dir.join("new/client/src/main.rs").is_file();
        let _ = fs::remove_dir_all(&dir);
        assert!(e.contains("is not empty (it holds notes.txt)"), "{e}");
        assert_eq!(left, 1);
        assert_eq!(name, "new");
        assert!(made);
    }

    #[test]
    fn a_checkout_is_recognised() {
        let own = own_checkout().unwrap();
        assert!(own.join("tunnel-pd/runtime/Cargo.toml").is_file());
        let e = checkout(&own.join("tools")).unwrap_err().to_string();
        assert!(e.contains("is not a tunnelkit checkout"), "{e}");
    }
}
