//! The cargo workspace: its root and the PD binaries it builds.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

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
    /// The binaries of the workspace's other packages (those without
    /// `[package.metadata.tunnelkit] pd = true`), for hints.
    pub other_binaries: Vec<PdBinary>,
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
        let mut other_binaries = Vec::new();
        for pkg in meta.workspace_packages() {
            let pd = pkg.metadata.get("tunnelkit").and_then(|t| t.get("pd"));
            let is_pd = match pd {
                None => false,
                Some(v) => v
                    .as_bool()
                    .with_context(|| format!("{}: [package.metadata.tunnelkit] pd = {v}: expected true or false", pkg.manifest_path))?,
            };
            let list = if is_pd { &mut pd_binaries } else { &mut other_binaries };
            for target in pkg.targets.iter().filter(|t| t.is_bin()) {
                list.push(PdBinary { package: pkg.name.to_string(), name: target.name.clone() });
            }
        }
        pd_binaries.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = pd_binaries.windows(2).find(|w| w[0].name == w[1].name) {
            bail!(
                "PD crates '{}' and '{}' both have a binary '{}': an image name (<binary>.elf) must name one binary",
                w[0].package,
                w[1].package,
                w[0].name
            );
        }
        Ok(Workspace {
            root: meta.workspace_root.into_std_path_buf(),
            target_dir: meta.target_directory.into_std_path_buf(),
            pd_binaries,
            other_binaries,
        })
    }

    /// The PD binary whose image is `image` (`<name>.elf`).
    pub fn binary_for_image(&self, image: &str) -> Option<&PdBinary> {
        let stem = image.strip_suffix(".elf")?;
        self.pd_binaries.iter().find(|b| b.name == stem)
    }

    /// Why no PD crate builds `image` and what to do, for an error message
    /// that begins "… runs '<image>', which no PD crate in this workspace builds".
    pub fn missing_image_hint(&self, image: &str) -> String {
        let known: Vec<_> = self.pd_binaries.iter().map(|b| format!("{}.elf", b.name)).collect();
        let known = if known.is_empty() {
            format!("it has no PD crate at all ({})", self.root.join("Cargo.toml").display())
        } else {
            format!("PD images: {}", known.join(", "))
        };
        let stem = image.strip_suffix(".elf");
        if let Some(b) = stem.and_then(|s| self.other_binaries.iter().find(|b| b.name == s)) {
            return format!(
                "{known}; package '{}' has a binary '{}' but is not a PD crate: add `[package.metadata.tunnelkit] pd = true` to its Cargo.toml",
                b.package, b.name
            );
        }
        if stem.is_none() {
            return format!("{known}; a PD image is named <binary>.elf");
        }
        format!("{known}; add a workspace member with [package.metadata.tunnelkit] pd = true and a binary '{}'", stem.unwrap_or(image))
    }
}
