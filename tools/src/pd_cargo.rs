//! How cargo is run for PD crates: the `pd` profile and the target's
//! rustflags, which tunnelkit passes itself, and the user's own cargo
//! configuration they have to agree with.
//!
//! A PD image is a static ELF laid out by tunnelkit's linker script: a
//! workspace needs no `.cargo/config.toml` and no `[profile.pd]` for it.
//! Every build of PD crates gets
//!
//! - the profile `pd` through `--config profile.pd.<key>=…`: [`PROFILE_KEYS`]
//!   (`inherits = "release"`, `panic = "abort"`, `opt-level = 3`,
//!   `lto = "fat"`, `codegen-units = 1`, `debug = false`, `strip = false`).
//!   A key the workspace sets itself (its `Cargo.toml`'s `[profile.pd]`, a
//!   cargo config file's, or `CARGO_PROFILE_PD_<KEY>`) is left to it, unless
//!   no PD can be built with it (`panic = "unwind"`, `strip = "symbols"`):
//!   then the build stops and says where it is set;
//! - the target's rustflags [`rustflags`]: `-C relocation-model=static`,
//!   `-C link-arg=-Ttunnelkit-pd.ld` (the script tunnelkit-sys's build script
//!   writes), `-C link-arg=-zmax-page-size=4096`, and on x86_64
//!   `--cfg chacha20_force_soft` (no SSE/AVX code paths chosen at run time).
//!
//! Cargo takes a target's rustflags from the first of these that is set
//! (checked with cargo 1.95):
//!
//! 1. `CARGO_ENCODED_RUSTFLAGS`, then `RUSTFLAGS`: either replaces every
//!    config's rustflags. tunnelkit then passes those flags followed by the
//!    PD flags as `CARGO_ENCODED_RUSTFLAGS` (and unsets `RUSTFLAGS`);
//! 2. `target.<triple>.rustflags` and every matching
//!    `target.'cfg(…)'.rustflags` of every config file, with
//!    `CARGO_TARGET_<TRIPLE>_RUSTFLAGS` and `--config`, joined: tunnelkit adds
//!    the PD flags not already there with `--config target.<triple>.rustflags=[…]`;
//! 3. `build.rustflags` (or `CARGO_BUILD_RUSTFLAGS`), which cargo ignores as
//!    soon as any target rustflags exist: tunnelkit passes them followed by the
//!    PD flags as the target's rustflags, so they still apply.
//!
//! Whatever applies is checked first: a flag that would break a PD (another
//! relocation model, another linker script or page size, `panic=unwind`,
//! stripped symbols, a position-independent link) stops the build with an
//! error naming the flag and where it comes from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::board::{Arch, Board, rust_target};

/// The cargo profile PD crates are built with (outputs in `<target>/pd/`).
pub const PROFILE: &str = "pd";

/// The linker script tunnelkit-sys's build script writes.
pub const LINKER_SCRIPT: &str = "tunnelkit-pd.ld";

/// The page size the microkit tool maps images with.
pub const MAX_PAGE_SIZE: u64 = 4096;

/// The `pd` profile: key, tunnelkit's value (TOML), and whether a user's
/// value must be checked (`Some(rule)`).
pub const PROFILE_KEYS: [(&str, &str, Option<ProfileRule>); 7] = [
    ("inherits", "\"release\"", None),
    ("panic", "\"abort\"", Some(ProfileRule::Abort)),
    ("opt-level", "3", None),
    ("lto", "\"fat\"", None),
    ("codegen-units", "1", None),
    ("debug", "false", None),
    ("strip", "false", Some(ProfileRule::KeepSymbols)),
];

/// What a user's value of a profile key must satisfy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileRule {
    /// `panic = "abort"`: a PD cannot unwind.
    Abort,
    /// Not `strip = "symbols"` / `true`: the microkit tool patches symbols by name.
    KeepSymbols,
}

/// The rustflags every PD crate needs for `board`.
pub fn rustflags(board: Board) -> Vec<&'static str> {
    let mut flags = vec!["-C", "relocation-model=static", "-C", "link-arg=-Ttunnelkit-pd.ld", "-C", "link-arg=-zmax-page-size=4096"];
    if board.arch() == Arch::X86_64 {
        flags.extend(["--cfg", "chacha20_force_soft"]);
    }
    flags
}

/// How to run cargo for the PD crates of one workspace and board: the
/// `--config` arguments and the rustflags environment (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdCargo {
    /// `--config` values, each passed as `--config <value>`.
    pub config: Vec<String>,
    /// `CARGO_ENCODED_RUSTFLAGS` to set (when the environment gave rustflags);
    /// without it, both rustflags variables are unset.
    pub encoded_rustflags: Option<String>,
    /// What tunnelkit did with the user's own flags, for the user.
    pub notes: Vec<String>,
}

impl PdCargo {
    /// The plan for cargo run in `root` (a workspace root) for `board`, from
    /// the process environment and the cargo config files cargo would read.
    pub fn for_workspace(root: &Path, board: Board) -> Result<PdCargo> {
        let env = |k: &str| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
        let files = config_files(root, cargo_home(&env).as_deref())?;
        let manifest = root.join("Cargo.toml");
        let manifest_text = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
        let manifest_table: toml::Table = toml::from_str(&manifest_text).with_context(|| format!("parsing {}", manifest.display()))?;
        plan(board, &Inputs { manifest: (manifest, manifest_table), files, env: &env })
    }

    /// Adds the plan to a `cargo build` command.
    pub fn apply(&self, cmd: &mut Command) {
        for c in &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.env_remove("RUSTFLAGS");
        match &self.encoded_rustflags {
            Some(flags) => cmd.env("CARGO_ENCODED_RUSTFLAGS", flags),
            None => cmd.env_remove("CARGO_ENCODED_RUSTFLAGS"),
        };
    }
}

/// What a plan is made from: the workspace manifest, the cargo config files
/// (lowest precedence first) and the environment.
pub struct Inputs<'a> {
    /// The workspace root's Cargo.toml: its path and contents.
    pub manifest: (PathBuf, toml::Table),
    /// Cargo config files, lowest precedence first: `$CARGO_HOME/config.toml`,
    /// then from the filesystem root down to the workspace root.
    pub files: Vec<(PathBuf, toml::Table)>,
    /// The environment.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// The plan for `board` (see [`PdCargo`]).
pub fn plan(board: Board, inputs: &Inputs) -> Result<PdCargo> {
    let triple = rust_target(board);
    let mut config = profile_config(inputs)?;
    let pd_flags: Vec<String> = rustflags(board).into_iter().map(String::from).collect();
    let mut notes = Vec::new();
    let user = user_rustflags(triple, inputs)?;
    let mut conflicts = Vec::new();
    for source in &user.sources {
        conflicts.extend(conflicts_in(&source.flags).into_iter().map(|c| format!("{}: {c}", source.name)));
    }
    if !conflicts.is_empty() {
        bail!(
            "the rustflags for {triple} conflict with what a PD image needs (tunnelkit passes {} itself):\n  {}\n  \
             hint: remove these flags from where they are set; a PD crate needs no rustflags of its own",
            pd_flags.join(" "),
            conflicts.join("\n  ")
        );
    }
    let all_user: Vec<String> = user.sources.iter().flat_map(|s| s.flags.iter().cloned()).collect();
    let missing = missing_flags(&all_user, &pd_flags);
    let mut encoded = None;
    match user.kind {
        Kind::Environment(var) => {
            let flags: Vec<String> = all_user.iter().cloned().chain(missing).collect();
            if !all_user.is_empty() {
                notes.push(format!(
                    "{var} is set, so cargo ignores the rustflags of every config: the PD crates get {var} ({}) and tunnelkit's PD flags",
                    all_user.join(" ")
                ));
            }
            encoded = Some(flags.join("\u{1f}"));
        }
        Kind::Target => {
            if !missing.is_empty() {
                config.push(format!("target.{triple}.rustflags={}", toml_array(&missing)));
            }
        }
        Kind::Build => {
            let flags: Vec<String> = all_user.iter().cloned().chain(missing).collect();
            notes.push(format!(
                "build.rustflags ({}) is passed as the rustflags of {triple}, followed by tunnelkit's PD flags",
                all_user.join(" ")
            ));
            config.push(format!("target.{triple}.rustflags={}", toml_array(&flags)));
        }
        Kind::None => config.push(format!("target.{triple}.rustflags={}", toml_array(&missing))),
    }
    Ok(PdCargo { config, encoded_rustflags: encoded, notes })
}

/// `--config profile.pd.<key>=<value>` for every key of [`PROFILE_KEYS`] the
/// workspace does not set; an error for a value no PD can be built with.
fn profile_config(inputs: &Inputs) -> Result<Vec<String>> {
    // Each key's effective user value: the last source (highest precedence) that sets it.
    let mut user: BTreeMap<&str, (String, String)> = BTreeMap::new();
    let (manifest, table) = &inputs.manifest;
    let mut tables = vec![(format!("{} [profile.{PROFILE}]", manifest.display()), table)];
    tables.extend(inputs.files.iter().map(|(p, t)| (format!("{} [profile.{PROFILE}]", p.display()), t)));
    for (name, table) in tables {
        let Some(profile) = table.get("profile").and_then(|p| p.get(PROFILE)).and_then(|p| p.as_table()) else { continue };
        for (key, _, _) in PROFILE_KEYS {
            if let Some(v) = profile.get(key) {
                user.insert(key, (plain(v), name.clone()));
            }
        }
    }
    for (key, _, _) in PROFILE_KEYS {
        let var = format!("CARGO_PROFILE_{}_{}", PROFILE.to_uppercase(), key.to_uppercase().replace('-', "_"));
        if let Some(v) = (inputs.env)(&var) {
            user.insert(key, (v, var));
        }
    }
    let mut config = Vec::new();
    let mut errors = Vec::new();
    for (key, value, rule) in PROFILE_KEYS {
        match (user.get(key), rule) {
            (Some((v, at)), Some(ProfileRule::Abort)) if v != "abort" => {
                errors.push(format!("{at}: {key} = {v:?}, but a PD cannot unwind: it needs {key} = \"abort\""))
            }
            (Some((v, at)), Some(ProfileRule::KeepSymbols)) if v == "symbols" || v == "true" => errors.push(format!(
                "{at}: {key} = {v:?}, but the microkit tool patches a PD's symbols by name: use strip = false (or \"debuginfo\")"
            )),
            (Some(_), _) => {}
            (None, _) => config.push(format!("profile.{PROFILE}.{key}={value}")),
        }
    }
    if !errors.is_empty() {
        bail!(
            "the cargo profile '{PROFILE}' the PD crates are built with is set in a way no PD can be built:\n  {}\n  \
             hint: remove the setting; tunnelkit sets up the '{PROFILE}' profile itself",
            errors.join("\n  ")
        );
    }
    Ok(config)
}

/// A TOML value as cargo's environment form would spell it (`abort`, `true`, `3`).
fn plain(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A TOML array of strings.
fn toml_array(items: &[String]) -> String {
    toml::Value::Array(items.iter().cloned().map(toml::Value::String).collect()).to_string()
}

/// Where the rustflags cargo would use come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `CARGO_ENCODED_RUSTFLAGS` or `RUSTFLAGS` (the variable's name).
    Environment(&'static str),
    /// Target rustflags of config files or `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`.
    Target,
    /// `build.rustflags`.
    Build,
    /// None at all.
    None,
}

/// A place that gives rustflags, and its flags.
#[derive(Clone, Debug)]
struct Source {
    name: String,
    flags: Vec<String>,
}

/// The user's rustflags for `triple`, as cargo would choose them.
struct UserFlags {
    kind: Kind,
    sources: Vec<Source>,
}

fn user_rustflags(triple: &str, inputs: &Inputs) -> Result<UserFlags> {
    if let Some(v) = (inputs.env)("CARGO_ENCODED_RUSTFLAGS") {
        let flags = if v.is_empty() { Vec::new() } else { v.split('\u{1f}').map(String::from).collect() };
        return Ok(UserFlags {
            kind: Kind::Environment("CARGO_ENCODED_RUSTFLAGS"),
            sources: vec![Source { name: "CARGO_ENCODED_RUSTFLAGS".into(), flags }],
        });
    }
    if let Some(v) = (inputs.env)("RUSTFLAGS") {
        let flags = v.split(' ').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        return Ok(UserFlags { kind: Kind::Environment("RUSTFLAGS"), sources: vec![Source { name: "RUSTFLAGS".into(), flags }] });
    }
    let mut target = Vec::new();
    let mut build = Vec::new();
    for (path, table) in &inputs.files {
        if let Some(targets) = table.get("target").and_then(|t| t.as_table()) {
            for (key, t) in targets {
                let applies = if key == triple {
                    true
                } else if key.starts_with("cfg(") {
                    cfg_matches(key, triple).with_context(|| format!("{}: [target.'{key}']", path.display()))?
                } else {
                    false
                };
                if let (true, Some(v)) = (applies, t.get("rustflags")) {
                    let flags = string_list(v).with_context(|| format!("{}: target.'{key}'.rustflags", path.display()))?;
                    target.push(Source { name: format!("{} (target.'{key}'.rustflags)", path.display()), flags });
                }
            }
        }
        if let Some(v) = table.get("build").and_then(|b| b.get("rustflags")) {
            let flags = string_list(v).with_context(|| format!("{}: build.rustflags", path.display()))?;
            build.push(Source { name: format!("{} (build.rustflags)", path.display()), flags });
        }
    }
    let var = format!("CARGO_TARGET_{}_RUSTFLAGS", triple.to_uppercase().replace(['-', '.'], "_"));
    if let Some(v) = (inputs.env)(&var) {
        target.push(Source { name: var, flags: v.split_whitespace().map(String::from).collect() });
    }
    if !target.is_empty() {
        return Ok(UserFlags { kind: Kind::Target, sources: target });
    }
    if let Some(v) = (inputs.env)("CARGO_BUILD_RUSTFLAGS") {
        build.push(Source { name: "CARGO_BUILD_RUSTFLAGS".into(), flags: v.split_whitespace().map(String::from).collect() });
    }
    if !build.is_empty() {
        return Ok(UserFlags { kind: Kind::Build, sources: build });
    }
    Ok(UserFlags { kind: Kind::None, sources: Vec::new() })
}

/// A config value that is a list of strings (an array, or one string split at spaces).
fn string_list(v: &toml::Value) -> Result<Vec<String>> {
    match v {
        toml::Value::String(s) => Ok(s.split_whitespace().map(String::from).collect()),
        toml::Value::Array(items) => {
            items.iter().map(|i| i.as_str().map(String::from).with_context(|| format!("{i} is not a string"))).collect()
        }
        other => bail!("expected a string or an array of strings, found {other}"),
    }
}

/// One rustc argument, as far as PD images care.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Flag {
    /// `-C key[=value]`.
    Codegen(String, Option<String>),
    /// `--cfg spec`.
    Cfg(String),
    /// Anything else.
    Other(String),
}

/// Parses rustc arguments (`-C k=v`, `-Ck=v`, `--codegen k=v`,
/// `--codegen=k=v`, `--cfg x`, `--cfg=x`), each with how it was written.
fn parse(flags: &[String]) -> Vec<(Flag, String)> {
    let mut out = Vec::new();
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        let (kind, arg) = match f.as_str() {
            "-C" | "--codegen" => ("C", it.next().map(|a| (a.clone(), format!("{f} {a}")))),
            "--cfg" => ("cfg", it.next().map(|a| (a.clone(), format!("{f} {a}")))),
            s if s.starts_with("--codegen=") => ("C", Some((s["--codegen=".len()..].to_string(), f.clone()))),
            s if s.starts_with("-C") => ("C", Some((s[2..].to_string(), f.clone()))),
            s if s.starts_with("--cfg=") => ("cfg", Some((s["--cfg=".len()..].to_string(), f.clone()))),
            _ => ("", None),
        };
        match (kind, arg) {
            ("C", Some((a, written))) => {
                let (k, v) = match a.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (a, None),
                };
                out.push((Flag::Codegen(k, v), written));
            }
            ("cfg", Some((a, written))) => out.push((Flag::Cfg(a), written)),
            (_, _) => out.push((Flag::Other(f.clone()), f.clone())),
        }
    }
    out
}

/// The linker arguments among parsed flags (`link-arg` and `link-args`).
fn link_args(flags: &[(Flag, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (flag, written) in flags {
        match flag {
            Flag::Codegen(k, Some(v)) if k == "link-arg" => out.push((v.clone(), written.clone())),
            Flag::Codegen(k, Some(v)) if k == "link-args" => {
                out.extend(v.split_whitespace().map(|a| (a.to_string(), written.clone())));
            }
            _ => {}
        }
    }
    out
}

/// Why each of `flags` would break a PD image, one line per conflict.
fn conflicts_in(flags: &[String]) -> Vec<String> {
    let parsed = parse(flags);
    let mut out = Vec::new();
    for (flag, written) in &parsed {
        let Flag::Codegen(k, v) = flag else { continue };
        let v = v.as_deref().unwrap_or("");
        match k.as_str() {
            "relocation-model" if v != "static" => out.push(format!(
                "`{written}`: a PD is loaded where it was linked, with no relocations applied; it needs `-C relocation-model=static`"
            )),
            "panic" if v != "abort" => out.push(format!("`{written}`: a PD cannot unwind; it needs `-C panic=abort`")),
            "strip" if v == "symbols" => {
                out.push(format!("`{written}`: the microkit tool patches a PD's symbols by name, so they must stay"))
            }
            _ => {}
        }
    }
    let args = link_args(&parsed);
    let mut i = 0;
    while i < args.len() {
        let (a, written) = &args[i];
        let next = args.get(i + 1).map(|(n, _)| n.as_str());
        let script = if let Some(s) = a.strip_prefix("--script=").or_else(|| a.strip_prefix("-T").filter(|s| !s.is_empty())) {
            Some(s)
        } else if a == "-T" || a == "--script" {
            next
        } else {
            None
        };
        if let Some(s) = script
            && Path::new(s).file_name().and_then(|n| n.to_str()) != Some(LINKER_SCRIPT)
        {
            out.push(format!("`{written}`: a PD is laid out by tunnelkit's linker script {LINKER_SCRIPT}, not by {s}"));
        }
        let page = if let Some(p) = a.strip_prefix("-zmax-page-size=") {
            Some(p)
        } else if a == "-z" {
            next.and_then(|n| n.strip_prefix("max-page-size="))
        } else {
            None
        };
        if let Some(p) = page
            && parse_int(p) != Some(MAX_PAGE_SIZE)
        {
            out.push(format!("`{written}`: the microkit tool maps PD images in 4 KiB pages; it needs -zmax-page-size=4096"));
        }
        if ["-pie", "--pie", "-static-pie", "--static-pie", "-shared", "--shared"].contains(&a.as_str()) {
            out.push(format!("`{written}`: a PD is a static, non-PIE executable"));
        }
        i += 1;
    }
    out
}

fn parse_int(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The flags of `pd` (pairs such as `-C x`, or single flags) that `user`
/// does not already give.
fn missing_flags(user: &[String], pd: &[String]) -> Vec<String> {
    let have = parse(user);
    let have_flags: Vec<&Flag> = have.iter().map(|(f, _)| f).collect();
    let have_links: Vec<String> = link_args(&have).into_iter().map(|(a, _)| a).collect();
    let mut out = Vec::new();
    let wanted = parse(pd);
    for (flag, _) in &wanted {
        let present = match flag {
            Flag::Codegen(k, Some(v)) if k == "link-arg" => have_links.contains(v),
            f => have_flags.contains(&f),
        };
        if !present {
            match flag {
                Flag::Codegen(k, Some(v)) => out.extend(["-C".to_string(), format!("{k}={v}")]),
                Flag::Codegen(k, None) => out.extend(["-C".to_string(), k.clone()]),
                Flag::Cfg(c) => out.extend(["--cfg".to_string(), c.clone()]),
                Flag::Other(o) => out.push(o.clone()),
            }
        }
    }
    out
}

/// `$CARGO_HOME`, or `~/.cargo`.
fn cargo_home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("CARGO_HOME").map(PathBuf::from).or_else(|| env("HOME").map(|h| Path::new(&h).join(".cargo")))
}

/// The cargo config files cargo run in `dir` reads, lowest precedence first:
/// `$CARGO_HOME/config.toml` (unless on the way up), then `.cargo/config`
/// or `.cargo/config.toml` of each directory from the root down to `dir`.
pub fn config_files(dir: &Path, cargo_home: Option<&Path>) -> Result<Vec<(PathBuf, toml::Table)>> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut walk: Vec<PathBuf> = dir.ancestors().filter_map(|d| config_in(&d.join(".cargo"))).collect();
    walk.reverse();
    let mut paths = Vec::new();
    if let Some(home) = cargo_home.and_then(config_in) {
        let canonical = home.canonicalize().unwrap_or_else(|_| home.clone());
        if !walk.iter().any(|p| p.canonicalize().map(|c| c == canonical).unwrap_or(false)) {
            paths.push(home);
        }
    }
    paths.extend(walk);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            let table = toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
            Ok((p, table))
        })
        .collect()
}

/// The config file of a `.cargo` directory (`config` wins over `config.toml`, as in cargo).
fn config_in(dot_cargo: &Path) -> Option<PathBuf> {
    ["config", "config.toml"].iter().map(|n| dot_cargo.join(n)).find(|p| p.is_file())
}

/// What `rustc --print cfg --target <triple>` says for the PD targets.
fn target_cfg(triple: &str) -> Vec<(&'static str, Option<&'static str>)> {
    let mut cfg = vec![
        ("debug_assertions", None),
        ("panic", Some("abort")),
        ("target_abi", Some("")),
        ("target_endian", Some("little")),
        ("target_env", Some("")),
        ("target_has_atomic", Some("16")),
        ("target_has_atomic", Some("32")),
        ("target_has_atomic", Some("64")),
        ("target_has_atomic", Some("8")),
        ("target_has_atomic", Some("ptr")),
        ("target_os", Some("none")),
        ("target_pointer_width", Some("64")),
        ("target_vendor", Some("unknown")),
    ];
    if triple.starts_with("aarch64") {
        cfg.extend([("target_arch", Some("aarch64")), ("target_feature", Some("neon")), ("target_has_atomic", Some("128"))]);
    } else {
        cfg.extend([("target_arch", Some("x86_64")), ("target_feature", Some("fxsr"))]);
    }
    cfg
}

/// Whether a `cfg(…)` target key of a config file applies to `triple`.
fn cfg_matches(key: &str, triple: &str) -> Result<bool> {
    let inner = key.strip_prefix("cfg(").and_then(|k| k.strip_suffix(')')).context("expected cfg(…)")?;
    let mut p = CfgParser { s: inner.as_bytes(), at: 0 };
    let expr = p.expr()?;
    p.skip_space();
    if p.at != p.s.len() {
        bail!("unexpected text at {}", p.at + 4);
    }
    Ok(expr.eval(&target_cfg(triple)))
}

enum Cfg {
    Name(String),
    KeyValue(String, String),
    All(Vec<Cfg>),
    Any(Vec<Cfg>),
    Not(Box<Cfg>),
}

impl Cfg {
    fn eval(&self, set: &[(&str, Option<&str>)]) -> bool {
        match self {
            Cfg::Name(n) => set.iter().any(|(k, v)| k == n && v.is_none()),
            Cfg::KeyValue(n, val) => set.iter().any(|(k, v)| k == n && *v == Some(val.as_str())),
            Cfg::All(all) => all.iter().all(|c| c.eval(set)),
            Cfg::Any(any) => any.iter().any(|c| c.eval(set)),
            Cfg::Not(c) => !c.eval(set),
        }
    }
}

struct CfgParser<'a> {
    s: &'a [u8],
    at: usize,
}

impl CfgParser<'_> {
    fn skip_space(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn ident(&mut self) -> Result<String> {
        self.skip_space();
        let start = self.at;
        while self.s.get(self.at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
            self.at += 1;
        }
        if start == self.at {
            bail!("expected a name at {}", start + 4);
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.at]).into_owned())
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Cfg> {
        let name = self.ident()?;
        if self.eat(b'(') {
            let mut list = Vec::new();
            while !self.eat(b')') {
                list.push(self.expr()?);
                if !self.eat(b',') {
                    if !self.eat(b')') {
                        bail!("expected ',' or ')' at {}", self.at + 4);
                    }
                    break;
                }
            }
            return match name.as_str() {
                "all" => Ok(Cfg::All(list)),
                "any" => Ok(Cfg::Any(list)),
                "not" if list.len() == 1 => Ok(Cfg::Not(Box::new(list.pop().expect("one")))),
                other => bail!("unknown cfg predicate {other}(…)"),
            };
        }
        if self.eat(b'=') {
            self.skip_space();
            if !self.eat(b'"') {
                bail!("expected a quoted value at {}", self.at + 4);
            }
            let start = self.at;
            while self.s.get(self.at).is_some_and(|c| *c != b'"') {
                self.at += 1;
            }
            let value = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
            if !self.eat(b'"') {
                bail!("unterminated value");
            }
            return Ok(Cfg::KeyValue(name, value));
        }
        Ok(Cfg::Name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| vars.get(k).cloned()
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    fn plan_with(board: Board, manifest: &str, files: &[&str], env: &[(&str, &str)]) -> Result<PdCargo> {
        let env = env_of(env);
        let inputs = Inputs {
            manifest: (PathBuf::from("/ws/Cargo.toml"), table(manifest)),
            files: files.iter().enumerate().map(|(i, t)| (PathBuf::from(format!("/c{i}/.cargo/config.toml")), table(t))).collect(),
            env: &env,
        };
        plan(board, &inputs)
    }

    const WS: &str = "[workspace]\nmembers = [\"a\"]\n";

    #[test]
    fn a_bare_workspace_gets_the_whole_profile_and_every_flag() {
        let p = plan_with(Board::X86_64_GENERIC, WS, &[], &[]).unwrap();
        assert_eq!(
            p.config,
            [
                "profile.pd.inherits=\"release\"",
                "profile.pd.panic=\"abort\"",
                "profile.pd.opt-level=3",
                "profile.pd.lto=\"fat\"",
                "profile.pd.codegen-units=1",
                "profile.pd.debug=false",
                "profile.pd.strip=false",
                "target.x86_64-unknown-none.rustflags=[\"-C\", \"relocation-model=static\", \"-C\", \"link-arg=-Ttunnelkit-pd.ld\", \"-C\", \"link-arg=-zmax-page-size=4096\", \"--cfg\", \"chacha20_force_soft\"]",
            ]
        );
        assert_eq!(p.encoded_rustflags, None);
        assert!(p.notes.is_empty());
        let arm = plan_with(Board::QEMU_VIRT_AARCH64, WS, &[], &[]).unwrap();
        assert!(arm.config.last().unwrap().starts_with("target.aarch64-unknown-none.rustflags="));
        assert!(!arm.config.last().unwrap().contains("chacha20"));
    }

    #[test]
    fn the_workspaces_own_profile_keys_are_kept() {
        let manifest = format!("{WS}[profile.pd]\ninherits = \"release\"\nopt-level = \"s\"\npanic = \"abort\"\n");
        let p = plan_with(Board::QEMU_VIRT_AARCH64, &manifest, &["[profile.pd]\nlto = \"thin\"\n"], &[("CARGO_PROFILE_PD_DEBUG", "1")])
            .unwrap();
        let profile: Vec<_> = p.config.iter().filter(|c| c.starts_with("profile.")).collect();
        assert_eq!(profile, ["profile.pd.codegen-units=1", "profile.pd.strip=false"]);
    }

    #[test]
    fn a_profile_no_pd_can_use_is_an_error_naming_where_it_is_set() {
        let manifest = format!("{WS}[profile.pd]\ninherits = \"release\"\npanic = \"unwind\"\n");
        let e = plan_with(Board::QEMU_VIRT_AARCH64, &manifest, &[], &[]).unwrap_err().to_string();
        assert!(e.contains("/ws/Cargo.toml [profile.pd]: panic = \"unwind\", but a PD cannot unwind"), "{e}");
        let e = plan_with(Board::QEMU_VIRT_AARCH64, WS, &[], &[("CARGO_PROFILE_PD_STRIP", "symbols")]).unwrap_err().to_string();
        assert!(e.contains("CARGO_PROFILE_PD_STRIP: strip = \"symbols\""), "{e}");
        // A higher-precedence source that fixes it wins.
        assert!(plan_with(Board::QEMU_VIRT_AARCH64, &manifest, &["[profile.pd]\npanic = \"abort\"\n"], &[]).is_ok());
        assert!(plan_with(Board::QEMU_VIRT_AARCH64, WS, &["[profile.pd]\nstrip = \"debuginfo\"\n"], &[]).is_ok());
    }

    #[test]
    fn tunnelkits_own_config_is_not_repeated() {
        // This repository's .cargo/config.toml gives every PD flag already.
        let own = "[target.x86_64-unknown-none]\nrustflags = [\"-C\", \"relocation-model=static\", \"-C\", \"link-arg=-Ttunnelkit-pd.ld\", \"-C\", \"link-arg=-zmax-page-size=4096\", \"--cfg\", \"chacha20_force_soft\"]\n";
        let p = plan_with(Board::X86_64_GENERIC, WS, &[own], &[]).unwrap();
        assert!(!p.config.iter().any(|c| c.starts_with("target.")), "{:?}", p.config);
        // Partly given (joined spelling): only the rest is added.
        let part = "[target.'cfg(target_os = \"none\")']\nrustflags = [\"-Crelocation-model=static\"]\n";
        let p = plan_with(Board::QEMU_VIRT_AARCH64, WS, &[part], &[]).unwrap();
        assert_eq!(
            p.config.last().unwrap(),
            "target.aarch64-unknown-none.rustflags=[\"-C\", \"link-arg=-Ttunnelkit-pd.ld\", \"-C\", \"link-arg=-zmax-page-size=4096\"]"
        );
    }

    #[test]
    fn rustflags_from_the_environment_are_kept_with_the_pd_flags() {
        let p = plan_with(Board::QEMU_VIRT_AARCH64, WS, &[], &[("RUSTFLAGS", " -D  warnings ")]).unwrap();
        assert_eq!(
            p.encoded_rustflags.as_deref(),
            Some(
                "-D\u{1f}warnings\u{1f}-C\u{1f}relocation-model=static\u{1f}-C\u{1f}link-arg=-Ttunnelkit-pd.ld\u{1f}-C\u{1f}link-arg=-zmax-page-size=4096"
            )
        );
        assert!(p.notes[0].starts_with("RUSTFLAGS is set"), "{:?}", p.notes);
        assert!(!p.config.iter().any(|c| c.starts_with("target.")));
        let p = plan_with(Board::QEMU_VIRT_AARCH64, WS, &[], &[("CARGO_ENCODED_RUSTFLAGS", ""), ("RUSTFLAGS", "-Cpanic=unwind")]).unwrap();
        assert!(p.encoded_rustflags.unwrap().starts_with("-C\u{1f}relocation-model=static"));
    }

    #[test]
    fn build_rustflags_are_kept_as_target_rustflags() {
        let p = plan_with(Board::QEMU_VIRT_AARCH64, WS, &["[build]\nrustflags = \"-D warnings\"\n"], &[]).unwrap();
        assert!(p.config.last().unwrap().starts_with("target.aarch64-unknown-none.rustflags=[\"-D\", \"warnings\", \"-C\""));
        assert_eq!(p.notes.len(), 1);
        // With target rustflags anywhere, cargo ignores build.rustflags anyway.
        let p = plan_with(
            Board::QEMU_VIRT_AARCH64,
            WS,
            &["[build]\nrustflags = [\"-Dwarnings\"]\n"],
            &[("CARGO_TARGET_AARCH64_UNKNOWN_NONE_RUSTFLAGS", "-C target-cpu=cortex-a53")],
        )
        .unwrap();
        assert!(!p.config.last().unwrap().contains("warnings"));
        assert!(p.notes.is_empty());
    }

    #[test]
    fn conflicting_flags_are_errors_naming_flag_and_source() {
        // (config files, environment, what the error must say)
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 6] = [
            (&[], &[("RUSTFLAGS", "-C relocation-model=pic")], "RUSTFLAGS: `-C relocation-model=pic`"),
            (&[], &[("CARGO_ENCODED_RUSTFLAGS", "-Clink-arg=-Tmy.ld")], "CARGO_ENCODED_RUSTFLAGS: `-Clink-arg=-Tmy.ld`"),
            (
                &["[target.aarch64-unknown-none]\nrustflags = [\"-C\", \"link-arg=-zmax-page-size=65536\"]\n"],
                &[],
                "/c0/.cargo/config.toml (target.'aarch64-unknown-none'.rustflags): `-C link-arg=-zmax-page-size=65536`",
            ),
            (&["[target.'cfg(target_arch = \"aarch64\")']\nrustflags = \"-C panic=unwind\"\n"], &[], "`-C panic=unwind`"),
            (&["[build]\nrustflags = [\"-Clink-args=-pie -zfoo\"]\n"], &[], "(build.rustflags): `-Clink-args=-pie -zfoo`"),
            (&[], &[("RUSTFLAGS", "-C strip=symbols")], "RUSTFLAGS: `-C strip=symbols`"),
        ];
        for (files, env, want) in cases {
            let e = plan_with(Board::QEMU_VIRT_AARCH64, WS, files, env).unwrap_err().to_string();
            assert!(e.contains(want), "{want}\n{e}");
            assert!(e.contains("conflict with what a PD image needs"), "{e}");
        }
        // Another target's flags and non-matching cfgs do not count.
        let other = "[target.x86_64-unknown-none]\nrustflags = [\"-Crelocation-model=pic\"]\n[target.'cfg(unix)']\nrustflags = [\"-Crelocation-model=pic\"]\n";
        assert!(plan_with(Board::QEMU_VIRT_AARCH64, WS, &[other], &[]).is_ok());
    }

    #[test]
    fn cfg_keys_are_evaluated_for_the_pd_targets() {
        for (key, arm, x86) in [
            ("cfg(target_os = \"none\")", true, true),
            ("cfg(all(target_arch = \"aarch64\", target_os = \"none\"))", true, false),
            ("cfg(any(unix, target_arch=\"x86_64\"))", false, true),
            ("cfg(not(target_feature = \"neon\"))", false, true),
            ("cfg(debug_assertions)", true, true),
        ] {
            assert_eq!(cfg_matches(key, "aarch64-unknown-none").unwrap(), arm, "{key}");
            assert_eq!(cfg_matches(key, "x86_64-unknown-none").unwrap(), x86, "{key}");
        }
        assert!(cfg_matches("cfg(target_os = )", "aarch64-unknown-none").is_err());
    }

    #[test]
    fn config_files_are_found_as_cargo_finds_them() {
        let base = std::env::temp_dir().join(format!("tunnelkit-pd-cargo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let ws = base.join("outer/ws");
        let home = base.join("home");
        for d in [ws.join(".cargo"), base.join("outer/.cargo"), home.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(ws.join(".cargo/config.toml"), "[build]\nrustflags = [\"-Dws\"]\n").unwrap();
        std::fs::write(base.join("outer/.cargo/config"), "[build]\nrustflags = [\"-Douter\"]\n").unwrap();
        std::fs::write(base.join("outer/.cargo/config.toml"), "not read").unwrap();
        std::fs::write(home.join("config.toml"), "[build]\nrustflags = [\"-Dhome\"]\n").unwrap();
        let files = config_files(&ws, Some(&home)).unwrap();
        let flags: Vec<_> = files.iter().map(|(_, t)| t["build"]["rustflags"][0].as_str().unwrap().to_string()).collect();
        let _ = std::fs::remove_dir_all(&base);
        assert_eq!(flags, ["-Dhome", "-Douter", "-Dws"]);
    }
}
