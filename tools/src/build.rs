//! `tunnelkit build`: compile a system's PD images and run the microkit tool.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::board::{Board, KernelConfig, rust_target};
use crate::check::{self, Target};
use crate::pd_cargo::{self, PdCargo};
use crate::progress::Step;
use crate::sdf::{Parsed, System};
use crate::sdk::Sdk;
use crate::supervision;
use crate::workspace::Workspace;
use crate::{account_pd, console_pod, percore, trace_pd};

/// What a build adds to every PD to observe the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instrument {
    /// Nothing: the system as written.
    None,
    /// Tracing (docs/trace.md): `TUNNELKIT_TRACE=1`, trace regions, the dumper.
    Trace,
    /// Accounting (README "Accounting"): `TUNNELKIT_ACCOUNT=1`, accounting
    /// regions, the accountant.
    Account,
}

impl Instrument {
    /// The suffix of its output and cargo directories (`-trace`, `-account`).
    fn suffix(self) -> &'static str {
        match self {
            Instrument::None => "",
            Instrument::Trace => "-trace",
            Instrument::Account => "-account",
        }
    }
}

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildRequest {
    /// The system description.
    pub system: PathBuf,
    /// The board.
    pub board: Board,
    /// The kernel configuration.
    pub config: KernelConfig,
}

/// What a build produced.
#[derive(Clone, Debug)]
pub struct Built {
    /// Directory holding the PD images, the bootable image and the report.
    pub dir: PathBuf,
    /// The bootable image (ARM: loader image; x86: the initialiser boot module).
    pub image: PathBuf,
    /// The microkit tool's report.
    pub report: PathBuf,
    /// Children of supervisor PDs (their faults and panics are restarted,
    /// not fatal).
    pub supervised: Vec<String>,
    /// The system description the microkit tool built: the given one, or its
    /// expansion (per-core pods) beside the images.
    pub system: PathBuf,
    /// The highest `cpu` of any PD in it (QEMU needs that many cores + 1).
    pub highest_cpu: u64,
    /// The console pod the build added (see [`build_adding_console`]).
    pub console_pod: Option<console_pod::Added>,
    /// The trace regions and dumper a traced build added (see [`build_traced`]).
    pub trace: Option<trace_pd::Added>,
    /// The accounting regions and accountant an accounted build added (see [`build_accounted`]).
    pub account: Option<account_pd::Added>,
}

/// Output directory for a board and config: `target/tunnelkit/<board>/<config>/`.
pub fn output_dir(ws: &Workspace, board: Board, config: KernelConfig) -> PathBuf {
    ws.target_dir.join("tunnelkit").join(board.name()).join(config.name())
}

/// Output directory of a traced build: `target/tunnelkit/<board>/<config>-trace/`.
pub fn output_dir_traced(ws: &Workspace, board: Board, config: KernelConfig) -> PathBuf {
    output_dir_for(ws, board, config, Instrument::Trace)
}

/// Output directory of a build with `instrument`: `target/tunnelkit/<board>/<config><suffix>/`.
pub fn output_dir_for(ws: &Workspace, board: Board, config: KernelConfig, instrument: Instrument) -> PathBuf {
    ws.target_dir.join("tunnelkit").join(board.name()).join(format!("{}{}", config.name(), instrument.suffix()))
}

/// Builds every PD image the system names, then the bootable image; the
/// system is built as written (the benchmarks measure exactly that).
pub fn build(ws: &Workspace, sdk: &Sdk, req: &BuildRequest) -> Result<Built> {
    build_with(ws, sdk, req, false, Instrument::None)
}

/// [`build`], but a system with no console pod, built for a config with no
/// kernel console, first gets one (see [`crate::console_pod`]), so that what
/// it prints is seen: what `tunnelkit run` and `tunnelkit build` do. The
/// system built is then `<output dir>/<stem>.xml`.
pub fn build_adding_console(ws: &Workspace, sdk: &Sdk, req: &BuildRequest) -> Result<Built> {
    build_with(ws, sdk, req, true, Instrument::None)
}

/// [`build_adding_console`] for a traced run (`tunnelkit build --trace`,
/// `tunnelkit run --trace`; docs/trace.md): every PD crate is compiled with
/// `TUNNELKIT_TRACE=1` (the runtime's `trace` feature) into a cargo target
/// directory of its own (`target/tunnelkit/cargo/<board>-<config>-trace`),
/// so that normal builds stay as they are, and the system gets a trace
/// region per PD and the dumper PD (see [`crate::trace_pd`]). Everything is
/// written to [`output_dir_traced`].
pub fn build_traced(ws: &Workspace, sdk: &Sdk, req: &BuildRequest) -> Result<Built> {
    build_with(ws, sdk, req, true, Instrument::Trace)
}

/// [`build_adding_console`] for an accounted run (`tunnelkit build
/// --accounting`, `tunnelkit run --accounting`; README "Accounting"): every
/// PD crate is compiled with `TUNNELKIT_ACCOUNT=1` into a cargo target
/// directory of its own (`…/cargo/<board>-<config>-account`), and the system
/// gets an accounting region per PD and the accountant PD (see
/// [`crate::account_pd`]), into `target/tunnelkit/<board>/<config>-account/`.
pub fn build_accounted(ws: &Workspace, sdk: &Sdk, req: &BuildRequest) -> Result<Built> {
    build_with(ws, sdk, req, true, Instrument::Account)
}

/// [`build_accounted`] without adding a console pod (the benchmarks measure
/// the systems as written, and need no accountant's output).
pub fn build_accounted_as_written(ws: &Workspace, sdk: &Sdk, req: &BuildRequest) -> Result<Built> {
    build_with(ws, sdk, req, false, Instrument::Account)
}

fn build_with(ws: &Workspace, sdk: &Sdk, req: &BuildRequest, add_console: bool, instrument: Instrument) -> Result<Built> {
    let trace = instrument == Instrument::Trace;
    let account = instrument == Instrument::Account;
    sdk.board_dir(req.board, req.config)?;
    let text = fs::read_to_string(&req.system).with_context(|| format!("reading {}", req.system.display()))?;
    let file = req.system.display().to_string();
    let parsed = Parsed::text(&file, &text);
    // Every rule that needs no image, before anything is compiled.
    let target = Target { board: Some(req.board), config: Some(req.config) };
    stop_on_errors(req, &check::check_parsed(&text, parsed.clone(), target, None), "")?;
    let system = parsed.into_valid()?;
    let dir = output_dir_for(ws, req.board, req.config, instrument);
    let stem = req.system.file_stem().and_then(|s| s.to_str()).unwrap_or("system");
    let mut source = Source { path: req.system.clone(), text };
    // (PD, image) pairs to build.
    let mut images: Vec<(String, String, String)> =
        system.images().map(|(pd, img)| (pd.name.clone(), img.path.clone(), system.at(img.pos))).collect();
    if trace {
        images.push((String::new(), trace_pd::IMAGE.into(), String::new()));
    }
    if account {
        images.push((String::new(), account_pd::IMAGE.into(), String::new()));
    }
    let mut console = None;
    if system.kernel_console && !req.config.has_printing() {
        bail!(
            "{}: <?tunnelkit console=\"kernel\"?> asks for the kernel console, but config '{}' has none: use a debug config, or remove the setting (the console pod is then added)",
            system.at(system.pos),
            req.config.name()
        );
    }
    if add_console && console_pod::needed(req.config, &system) {
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        match add_console_pod(req, &source, &dir, stem) {
            Ok(added) => {
                images.push((added.pod.clone(), console_pod::IMAGE.into(), String::new()));
                source = Source { path: dir.join(format!("{stem}.xml")), text: added.text.clone() };
                console = Some(added);
            }
            // With a kernel console the pod only keeps lines whole: build without it.
            Err(e) if req.config.has_printing() => {
                eprintln!(
                    "tunnelkit: warning: {e:#}\ntunnelkit: building without the console pod: PDs print on the kernel console, where lines can interleave"
                );
            }
            Err(e) => return Err(e),
        }
    }
    let mut binaries = BTreeSet::new();
    // The console pod the tool added, when this workspace has no crate for it
    // (a user's own repository): built from tunnelkit's own workspace.
    let mut console_from_tunnelkit = false;
    let mut dumper_from_tunnelkit = false;
    let mut accountant_from_tunnelkit = false;
    for (pd, path, at) in &images {
        match ws.binary_for_image(path) {
            Some(b) => {
                binaries.insert(b.clone().name);
            }
            None if console.is_some() && path == console_pod::IMAGE => console_from_tunnelkit = true,
            None if trace && path == trace_pd::IMAGE => dumper_from_tunnelkit = true,
            None if account && path == account_pd::IMAGE => accountant_from_tunnelkit = true,
            None => {
                bail!(
                    "{at}: error: image-missing: PD '{pd}' runs '{path}', which no PD crate in this workspace builds ({})",
                    ws.missing_image_hint(path)
                );
            }
        }
    }
    let packages: BTreeSet<_> = ws.pd_binaries.iter().filter(|b| binaries.contains(&b.name)).map(|b| b.package.clone()).collect();

    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let cargo_dir = ws.target_dir.join("tunnelkit").join("cargo").join(cargo_dir_name(req, instrument));
    compile(ws, req, &packages, &cargo_dir, instrument)?;
    let built_dir = cargo_dir.join(rust_target(req.board)).join(pd_cargo::PROFILE);
    for name in &binaries {
        let from = built_dir.join(name);
        let to = dir.join(format!("{name}.elf"));
        fs::copy(&from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    if console_from_tunnelkit {
        build_from_tunnelkit(ws, req, console_pod::IMAGE, &dir, instrument)?;
    }
    if dumper_from_tunnelkit {
        build_from_tunnelkit(ws, req, trace_pd::IMAGE, &dir, instrument)?;
    }
    if accountant_from_tunnelkit {
        build_from_tunnelkit(ws, req, account_pd::IMAGE, &dir, instrument)?;
    }

    let mut final_path = expand_per_core(req, &source, &dir, stem)?;
    // The console pod and the trace dumper are added after the last line of
    // the description, so every position of the user's file is the same in
    // what is built: name the user's file in diagnostics unless the per-core
    // expansion rewrote it.
    let positions_kept = final_path == source.path;
    let mut traced = None;
    if trace {
        let added = add_trace(req, &final_path, &dir, stem)?;
        final_path = dir.join(format!("{stem}.xml"));
        traced = Some(added);
    }
    let mut accounted = None;
    if account {
        let added = add_accounting(req, &final_path, &dir, stem)?;
        final_path = dir.join(format!("{stem}.xml"));
        accounted = Some(added);
    }
    // Prefill files are looked up as `tunnelkit check` and the microkit tool
    // do (the system's directory, then the current one) and copied beside the
    // images, where the microkit tool searches.
    let search = check::search_path(&req.system, &[]);
    for (path, pos) in system.prefills() {
        let name =
            Path::new(path).file_name().with_context(|| format!("{}: error: prefill_path '{path}' names no file", system.at(pos)))?;
        let Some(from) = check::images::find(path, &search) else {
            bail!(
                "{}: error: prefill-missing: prefill_path '{path}' is not in {}",
                system.at(pos),
                search.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            );
        };
        fs::copy(&from, dir.join(name)).with_context(|| format!("copying {}", from.display()))?;
    }
    // The rules about images, now that they exist: the system the microkit
    // tool will build, with its search path.
    let final_text = fs::read_to_string(&final_path).with_context(|| format!("reading {}", final_path.display()))?;
    let label = if positions_kept { req.system.display().to_string() } else { final_path.display().to_string() };
    let final_parsed = Parsed::text(&label, &final_text);
    let final_system = final_parsed.clone().into_valid()?;
    stop_on_errors(req, &check::check_parsed(&final_text, final_parsed, target, Some(std::slice::from_ref(&dir))), " (its images)")?;
    let supervised = patch_supervisors(&final_system, &dir)?;

    let image = dir.join(format!("{stem}.img"));
    let report = dir.join(format!("{stem}-report.txt"));
    run_microkit(sdk, req, &final_path, &dir, &image, &report)?;
    let highest_cpu = final_system.highest_cpu();
    Ok(Built { dir, image, report, supervised, system: final_path, highest_cpu, console_pod: console, trace: traced, account: accounted })
}

/// `<board>-<config>`, with `-trace` / `-account` for an instrumented build
/// (its own cargo target directory: the cfg changes every PD crate).
fn cargo_dir_name(req: &BuildRequest, instrument: Instrument) -> String {
    format!("{}-{}{}", req.board.name(), req.config.name(), instrument.suffix())
}

/// Adds the trace regions and the dumper to the system at `path` (the one
/// about to be built: console pod added, per-core pods expanded) into
/// `<dir>/<stem>.xml`, and checks the result.
fn add_trace(req: &BuildRequest, path: &Path, dir: &Path, stem: &str) -> Result<trace_pd::Added> {
    add_machinery(req, path, dir, stem, ("trace", "trace", "the trace machinery"), trace_pd::add, |a| (&a.text, trace_pd::describe(a)))
}

/// Adds the accounting regions and the accountant to the system at `path`
/// into `<dir>/<stem>.xml`, and checks the result.
fn add_accounting(req: &BuildRequest, path: &Path, dir: &Path, stem: &str) -> Result<account_pd::Added> {
    add_machinery(req, path, dir, stem, ("accounting", "account", "the accounting machinery"), account_pd::add, |a| {
        (&a.text, account_pd::describe(a))
    })
}

/// Rewrites the system at `path` with `add` into `<dir>/<stem>.xml`, prints
/// what was added and checks the result; `what` names it in diagnostics
/// (error prefix, verb, noun).
fn add_machinery<A>(
    req: &BuildRequest,
    path: &Path,
    dir: &Path,
    stem: &str,
    (prefix, verb, noun): (&str, &str, &str),
    add: impl Fn(&str) -> Result<A, Vec<crate::sdf::rewrite::RewriteError>>,
    text_and_description: impl Fn(&A) -> (&String, Vec<String>),
) -> Result<A> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let added = add(&text).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| format!("{}:{}:{}: error: {prefix}: {}\n  hint: {}", path.display(), e.pos.line, e.pos.col, e.message, e.hint))
            .collect();
        anyhow::anyhow!("cannot {verb} {}:\n{}", path.display(), lines.join("\n"))
    })?;
    let (new_text, description) = text_and_description(&added);
    let out = dir.join(format!("{stem}.xml"));
    fs::write(&out, new_text).with_context(|| format!("writing {}", out.display()))?;
    for line in description {
        eprintln!("tunnelkit: {line}");
    }
    let target = Target { board: Some(req.board), config: Some(req.config) };
    let report = check::check_file_with(&out, None, target, None);
    let errors: Vec<String> = report.errors().filter(|d| !ADVISORY_WHEN_BUILDING.contains(&d.rule)).map(ToString::to_string).collect();
    if !errors.is_empty() {
        bail!("internal error: adding {noun} to {} gave an invalid system ({}):\n{}", path.display(), out.display(), errors.join("\n"));
    }
    Ok(added)
}

/// A system description's path and text (the given file, or a transformation of it).
struct Source {
    path: PathBuf,
    text: String,
}

/// Adds the console pod to `source` into `<dir>/<stem>.xml` and checks the result.
fn add_console_pod(req: &BuildRequest, source: &Source, dir: &Path, stem: &str) -> Result<console_pod::Added> {
    let added = console_pod::add(&source.text, req.board, req.config).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| {
                format!("{}:{}:{}: error: console pod: {}\n  hint: {}", source.path.display(), e.pos.line, e.pos.col, e.message, e.hint)
            })
            .collect();
        let why = if req.config.has_printing() {
            "keeps lines whole with the console pod"
        } else {
            "has no kernel console, so tunnelkit adds the console pod to"
        };
        anyhow::anyhow!("config '{}' {why} {}, but cannot:\n{}", req.config.name(), source.path.display(), lines.join("\n"))
    })?;
    let out = dir.join(format!("{stem}.xml"));
    fs::write(&out, &added.text).with_context(|| format!("writing {}", out.display()))?;
    for line in console_pod::describe(&added) {
        eprintln!("tunnelkit: {line}");
    }
    let why = if req.config.has_printing() { "whole lines" } else { "no kernel console" };
    eprintln!("tunnelkit: config '{}' ({why}): building {} (the system with the console pod)", req.config.name(), out.display());
    // The result must itself be a valid system (an internal check).
    let target = Target { board: Some(req.board), config: Some(req.config) };
    let report = check::check_file_with(&out, None, target, None);
    let errors: Vec<String> = report.errors().filter(|d| !ADVISORY_WHEN_BUILDING.contains(&d.rule)).map(ToString::to_string).collect();
    if !errors.is_empty() {
        bail!(
            "internal error: adding the console pod to {} gave an invalid system ({}):\n{}",
            source.path.display(),
            out.display(),
            errors.join("\n")
        );
    }
    Ok(added)
}

/// Rules whose errors `build` reports as warnings: an over-committed core
/// is a legitimate experiment (the crosstalk benchmarks make one on
/// purpose); the kernel then just cannot give every reservation its budget.
const ADVISORY_WHEN_BUILDING: &[&str] = &["core-utilisation"];

/// Prints the report's warnings and stops on its errors, with the same
/// diagnostics `tunnelkit check` prints: a system it finds wrong (a pod
/// callers on two cores share, a `cpu` the kernel lacks, a map over the
/// image, …) is not built. `what` qualifies what was checked.
fn stop_on_errors(req: &BuildRequest, report: &check::Report, what: &str) -> Result<()> {
    for w in report.warnings() {
        eprintln!("{w}");
    }
    let (advisory, errors): (Vec<_>, Vec<_>) = report.errors().partition(|d| ADVISORY_WHEN_BUILDING.contains(&d.rule));
    for a in advisory {
        eprintln!("{a}\n  (built anyway: the kernel will not give every reservation on that core its budget)");
    }
    let errors: Vec<String> = errors.into_iter().map(ToString::to_string).collect();
    if !errors.is_empty() {
        bail!(
            "{}{what} has {} error(s) for {} ({}), so it is not built:\n{}",
            req.system.display(),
            errors.len(),
            req.board.name(),
            req.config.name(),
            errors.join("\n")
        );
    }
    Ok(())
}

/// Expands the per-core pods of the system (see [`crate::percore`]) into
/// `<dir>/<stem>.xml`; returns the system description to build.
fn expand_per_core(req: &BuildRequest, source: &Source, dir: &Path, stem: &str) -> Result<PathBuf> {
    let expanded = match percore::expand(&source.text) {
        Ok(None) => return Ok(source.path.clone()),
        Ok(Some(e)) => e,
        Err(errors) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| {
                    format!("{}:{}:{}: error: per-core: {}\n  hint: {}", source.path.display(), e.pos.line, e.pos.col, e.message, e.hint)
                })
                .collect();
            bail!("{}", lines.join("\n"));
        }
    };
    let out = dir.join(format!("{stem}.xml"));
    fs::write(&out, &expanded.text).with_context(|| format!("writing {}", out.display()))?;
    for line in percore::describe(&expanded.pods) {
        eprintln!("tunnelkit: per-core pod {line}");
    }
    // The expansion must itself be a valid system (an internal check).
    let target = Target { board: Some(req.board), config: Some(req.config) };
    let report = check::check_file_with(&out, None, target, None);
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    if !errors.is_empty() {
        bail!(
            "internal error: expanding the per-core pods of {} gave an invalid system ({}):\n{}",
            req.system.display(),
            out.display(),
            errors.join("\n")
        );
    }
    Ok(out)
}

/// Patches each supervisor's image with its table (children, names, call
/// bounds; see [`crate::supervision`]); returns the supervised children.
fn patch_supervisors(system: &System, dir: &Path) -> Result<Vec<String>> {
    let tables = supervision::tables(system, |image| supervision::has_table(&dir.join(image)))?;
    for (i, t) in tables.iter().enumerate() {
        if let Some(other) = tables[..i].iter().find(|o| o.image == t.image) {
            bail!(
                "{}: error: supervisors '{}' and '{}' share the image '{}', but each needs its own table; give one a copy under another name",
                t.position,
                other.pd,
                t.pd,
                t.image
            );
        }
        supervision::patch(&dir.join(&t.image), t)?;
    }
    Ok(tables.iter().flat_map(|t| t.children.iter().map(|c| c.name().to_string())).collect())
}

/// Builds `image`, a PD of tunnelkit's own workspace that the tool added to
/// the system, into `dir` (for a system in another workspace).
fn build_from_tunnelkit(ws: &Workspace, req: &BuildRequest, image: &str, dir: &Path, instrument: Instrument) -> Result<()> {
    let own = Workspace::tunnelkit_own()?;
    let binary = own
        .binary_for_image(image)
        .with_context(|| format!("tunnelkit's own workspace at {} builds no {image}", own.root.display()))?
        .clone();
    let cargo_dir = ws.target_dir.join("tunnelkit").join("cargo-tunnelkit").join(cargo_dir_name(req, instrument));
    compile(&own, req, &BTreeSet::from([binary.package.clone()]), &cargo_dir, instrument)?;
    let from = cargo_dir.join(rust_target(req.board)).join(pd_cargo::PROFILE).join(&binary.name);
    let to = dir.join(image);
    fs::copy(&from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// `cargo build` of PD crates of `ws` for the request's board and config,
/// with every flag a PD needs (profile, rustflags: see [`crate::pd_cargo`])
/// whatever the workspace's own cargo configuration; packages and target
/// directory are the caller's to add. Prints what became of the user's own
/// rustflags, if anything.
pub fn pd_cargo_command(ws: &Workspace, req: &BuildRequest) -> Result<Command> {
    let plan = PdCargo::for_workspace(&ws.root, req.board)
        .with_context(|| format!("setting up the cargo build of the PD crates in {}", ws.root.display()))?;
    for note in &plan.notes {
        eprintln!("tunnelkit: {note}");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&ws.root)
        .args(["build", "--profile", pd_cargo::PROFILE, "--target", rust_target(req.board)])
        .env("TUNNELKIT_BOARD", req.board.name())
        .env("TUNNELKIT_CONFIG", req.config.name());
    // A board that is not built in: its facts, as the SDK gives them.
    match crate::board::facts_env(req.board) {
        Some(facts) => cmd.env("TUNNELKIT_BOARD_FACTS", facts),
        None => cmd.env_remove("TUNNELKIT_BOARD_FACTS"),
    };
    plan.apply(&mut cmd);
    Ok(cmd)
}

fn compile(ws: &Workspace, req: &BuildRequest, packages: &BTreeSet<String>, cargo_dir: &Path, instrument: Instrument) -> Result<()> {
    let mut cmd = pd_cargo_command(ws, req)?;
    cmd.arg("--target-dir").arg(cargo_dir);
    let step = Step::start(format!(
        "compiling {} PD crate{} for {} ({}{})",
        packages.len(),
        if packages.len() == 1 { "" } else { "s" },
        req.board.name(),
        req.config.name(),
        match instrument {
            Instrument::None => "",
            Instrument::Trace => ", traced",
            Instrument::Account => ", accounted",
        }
    ));
    // The runtime's `trace` feature for every PD crate, whichever crate of
    // the PD depends on it (tunnelkit-sys's build script reads it); unset
    // otherwise, as in any other build of the PD crates.
    cmd.env_remove("TUNNELKIT_TRACE").env_remove("TUNNELKIT_ACCOUNT");
    match instrument {
        Instrument::None => {}
        Instrument::Trace => {
            cmd.env("TUNNELKIT_TRACE", "1");
        }
        Instrument::Account => {
            cmd.env("TUNNELKIT_ACCOUNT", "1");
        }
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd.output().context("running cargo to build the PD crates")?;
    if !out.status.success() {
        step.fail();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let failed: Vec<_> = packages.iter().filter(|p| stderr.contains(&format!("could not compile `{p}`"))).cloned().collect();
        bail!(
            "PD crate{} {} failed to build for {}:\n{}",
            if failed.len() == 1 { "" } else { "s" },
            if failed.is_empty() { "(see below)".to_string() } else { failed.join(", ") },
            rust_target(req.board),
            tail(&stderr, 60)
        );
    }
    step.finish("ok");
    Ok(())
}

fn run_microkit(sdk: &Sdk, req: &BuildRequest, system: &Path, dir: &Path, image: &Path, report: &Path) -> Result<()> {
    let step = Step::start(format!("microkit {} --board {} --config {}", system.display(), req.board.name(), req.config.name()));
    // The system file goes first: --search-path takes every following argument.
    let out = Command::new(sdk.microkit())
        .arg(system)
        .args(["--board", req.board.name(), "--config", req.config.name(), "-o"])
        .arg(image)
        .arg("-r")
        .arg(report)
        .arg("--search-path")
        .arg(dir)
        .env("MICROKIT_SDK", sdk.root())
        .output()
        .with_context(|| format!("running {}", sdk.microkit().display()))?;
    if !out.status.success() {
        step.fail();
        bail!(
            "the microkit tool rejected {} for {} ({}):\n{}{}",
            system.display(),
            req.board.name(),
            req.config.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    step.finish(&format!("{} (report: {})", image.display(), report.display()));
    Ok(())
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<_> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
