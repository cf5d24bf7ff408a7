//! `tunnelkit build`: compile a system's PD images and run the microkit tool.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::board::{Board, KernelConfig, rust_target};
use crate::progress::Step;
use crate::sdf::SystemFile;
use crate::sdk::Sdk;
use crate::supervision;
use crate::workspace::Workspace;

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
}

/// Output directory for a board and config: `target/tunnelkit/<board>/<config>/`.
pub fn output_dir(ws: &Workspace, board: Board, config: KernelConfig) -> PathBuf {
    ws.target_dir.join("tunnelkit").join(board.name()).join(config.name())
}

/// Builds every PD image the system names, then the bootable image.
pub fn build(ws: &Workspace, sdk: &Sdk, req: &BuildRequest) -> Result<Built> {
    sdk.board_dir(req.board, req.config)?;
    let system = SystemFile::read(&req.system)?;
    let mut binaries = BTreeSet::new();
    for img in &system.images {
        match ws.binary_for_image(&img.path) {
            Some(b) => {
                binaries.insert(b.clone().name);
            }
            None => {
                let known: Vec<_> = ws.pd_binaries.iter().map(|b| format!("{}.elf", b.name)).collect();
                bail!(
                    "{}:{}: error: PD '{}' runs '{}', which no PD crate in this workspace builds (PD images: {}); \
                     add a crate with [package.metadata.tunnelkit] pd = true and a binary of that name",
                    system.path.display(),
                    img.position,
                    img.pd,
                    img.path,
                    known.join(", ")
                );
            }
        }
    }
    let packages: BTreeSet<_> = ws.pd_binaries.iter().filter(|b| binaries.contains(&b.name)).map(|b| b.package.clone()).collect();

    let dir = output_dir(ws, req.board, req.config);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let cargo_dir = ws.target_dir.join("tunnelkit").join("cargo").join(format!("{}-{}", req.board.name(), req.config.name()));
    compile(ws, req, &packages, &cargo_dir)?;
    let built_dir = cargo_dir.join(rust_target(req.board)).join("pd");
    for name in &binaries {
        let from = built_dir.join(name);
        let to = dir.join(format!("{name}.elf"));
        fs::copy(&from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }

    let supervised = patch_supervisors(&req.system, &dir)?;

    // Prefill files are looked up relative to the system description and
    // copied beside the images, where the microkit tool searches.
    let base = req.system.parent().unwrap_or(Path::new("."));
    for (file, position) in &system.prefills {
        let from = base.join(file);
        let name = Path::new(file).file_name().with_context(|| format!("prefill_path '{file}' names no file"))?;
        if !from.is_file() {
            bail!("{}:{position}: error: prefill_path '{file}' does not exist (looked for {})", system.path.display(), from.display());
        }
        fs::copy(&from, dir.join(name)).with_context(|| format!("copying {}", from.display()))?;
    }

    let stem = req.system.file_stem().and_then(|s| s.to_str()).unwrap_or("system");
    let image = dir.join(format!("{stem}.img"));
    let report = dir.join(format!("{stem}-report.txt"));
    run_microkit(sdk, req, &dir, &image, &report)?;
    Ok(Built { dir, image, report, supervised })
}

/// Patches each supervisor's image with its table (children, names, call
/// bounds; see [`crate::supervision`]); returns the supervised children.
fn patch_supervisors(system: &Path, dir: &Path) -> Result<Vec<String>> {
    let text = fs::read_to_string(system).with_context(|| format!("reading {}", system.display()))?;
    let tables = supervision::tables(system, &text, |image| supervision::has_table(&dir.join(image)))?;
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

fn compile(ws: &Workspace, req: &BuildRequest, packages: &BTreeSet<String>, cargo_dir: &Path) -> Result<()> {
    let step = Step::start(format!(
        "compiling {} PD crate{} for {} ({})",
        packages.len(),
        if packages.len() == 1 { "" } else { "s" },
        req.board.name(),
        req.config.name()
    ));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&ws.root)
        .args(["build", "--profile", "pd", "--target", rust_target(req.board), "--target-dir"])
        .arg(cargo_dir)
        .env("TUNNELKIT_BOARD", req.board.name())
        .env("TUNNELKIT_CONFIG", req.config.name())
        // The PD flags (static relocation model, linker script) live in
        // .cargo/config.toml; RUSTFLAGS from the environment would replace them.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
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

fn run_microkit(sdk: &Sdk, req: &BuildRequest, dir: &Path, image: &Path, report: &Path) -> Result<()> {
    let step = Step::start(format!("microkit {} --board {} --config {}", req.system.display(), req.board.name(), req.config.name()));
    // The system file goes first: --search-path takes every following argument.
    let out = Command::new(sdk.microkit())
        .arg(&req.system)
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
            req.system.display(),
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
