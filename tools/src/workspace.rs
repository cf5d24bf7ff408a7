//! The cargo workspace: its root and the PD binaries it builds.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A PD binary: a `[[bin]]` of a package marked `[package.metadata.tunnelkit] pd = true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdBinary {
    /// The package.
    pub package: String,
    /// The binary name (its image is `<name>.elf`).
    pub name: String,
}

/// The workspace the tool runs in.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// Root directory (holds the workspace Cargo.toml).
    pub root: PathBuf,
    /// Cargo's target directory.
    pub target_dir: PathBuf,
    /// Every PD binary.
    pub pd_binaries: Vec<PdBinary>,
}

impl Workspace {
    /// The workspace containing the current directory.
    pub fn current() -> Result<Workspace> {
        Self::read(cargo_metadata::MetadataCommand::new().no_deps())
            .context("reading the cargo workspace (run tunnelkit inside a cargo workspace: tunnelkit's or your own)")
    }

    /// tunnelkit's own workspace (the one this tool was built from), which
    /// builds the PDs the tool adds to a system, such as the console pod.
    pub fn tunnelkit_own() -> Result<Workspace> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")));
        Self::read(cargo_metadata::MetadataCommand::new().manifest_path(root.join("Cargo.toml")).no_deps())
            .with_context(|| format!("reading tunnelkit's own workspace at {} (this tool was built from it)", root.display()))
    }

    fn read(cmd: &cargo_metadata::MetadataCommand) -> Result<Workspace> {
        let meta = cmd.exec()?;
        let mut pd_binaries = Vec::new();
        for pkg in meta.workspace_packages() {
            let is_pd = pkg.metadata.get("tunnelkit").and_then(|t| t.get("pd")).and_then(|v| v.as_bool()).unwrap_or(false);
            if !is_pd {
                continue;
            }
            for target in pkg.targets.iter().filter(|t| t.is_bin()) {
                pd_binaries.push(PdBinary { package: pkg.name.to_string(), name: target.name.clone() });
            }
        }
        pd_binaries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Workspace { root: meta.workspace_root.into_std_path_buf(), target_dir: meta.target_directory.into_std_path_buf(), pd_binaries })
    }

    /// The PD binary whose image is `image` (`<name>.elf`).
    pub fn binary_for_image(&self, image: &str) -> Option<&PdBinary> {
        let stem = image.strip_suffix(".elf")?;
        self.pd_binaries.iter().find(|b| b.name == stem)
    }
}
