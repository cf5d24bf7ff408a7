//! Finding and checking the Microkit SDK (`$MICROKIT_SDK`, Microkit's own convention).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::board::{Board, KernelConfig};

/// Where an SDK comes from, for error messages.
pub const SDK_HINT: &str = "a Microkit 2.3.0 SDK is a directory with bin/microkit and board/<board>/<config>/; \
build one from github.com/seL4/microkit (tag 2.3.0, with seL4 16.0.0) following its DEVELOPER.md, or unpack a release, \
then `export MICROKIT_SDK=/path/to/microkit-sdk-2.3.0`";

/// A Microkit SDK on disk.
#[derive(Clone, Debug)]
pub struct Sdk {
    root: PathBuf,
}

impl Sdk {
    /// The SDK named by `$MICROKIT_SDK`.
    pub fn from_env() -> Result<Sdk> {
        match std::env::var_os("MICROKIT_SDK") {
            None => bail!("MICROKIT_SDK is not set; {SDK_HINT}"),
            Some(p) if p.is_empty() => bail!("MICROKIT_SDK is empty; {SDK_HINT}"),
            Some(p) => Sdk::at(Path::new(&p)),
        }
    }

    /// The SDK at `root`, checked to look like one.
    pub fn at(root: &Path) -> Result<Sdk> {
        if !root.is_dir() {
            bail!("MICROKIT_SDK={} is not a directory; {SDK_HINT}", root.display());
        }
        let tool = root.join("bin").join("microkit");
        if !tool.is_file() {
            bail!("MICROKIT_SDK={} has no bin/microkit, so it is not a Microkit SDK; {SDK_HINT}", root.display());
        }
        if !root.join("board").is_dir() {
            bail!("MICROKIT_SDK={} has no board/ directory; {SDK_HINT}", root.display());
        }
        Ok(Sdk { root: root.to_path_buf() })
    }

    /// The SDK's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `microkit` tool.
    pub fn microkit(&self) -> PathBuf {
        self.root.join("bin").join("microkit")
    }

    /// The SDK's `VERSION` file, if present.
    pub fn version(&self) -> Option<String> {
        fs::read_to_string(self.root.join("VERSION")).ok().map(|v| v.trim().to_string())
    }

    /// `board/<board>/<config>/`, or an error naming what the SDK has.
    pub fn board_dir(&self, board: Board, config: KernelConfig) -> Result<PathBuf> {
        let board_dir = self.root.join("board").join(board.name());
        if !board_dir.is_dir() {
            bail!(
                "the SDK at {} has no board '{}' (it has: {}); rebuild it with that board",
                self.root.display(),
                board.name(),
                list_dirs(&self.root.join("board")).join(", ")
            );
        }
        let dir = board_dir.join(config.name());
        if !dir.is_dir() {
            bail!(
                "the SDK at {} has board '{}' but not config '{}' (it has: {}); {}",
                self.root.display(),
                board.name(),
                config.name(),
                list_dirs(&board_dir).join(", "),
                if config.is_smp() {
                    "build the SDK with the multicore configs too (microkit's build_sdk.py --configs debug,release,benchmark,smp-debug,smp-release,smp-benchmark)"
                } else {
                    "rebuild the SDK with that config"
                }
            );
        }
        Ok(dir)
    }

    /// Every board the SDK holds (its `board/` directories), sorted.
    pub fn boards(&self) -> Vec<String> {
        let mut boards = list_dirs(&self.root.join("board"));
        // `list_dirs` says "nothing" for an empty directory.
        boards.retain(|b| b != "nothing");
        boards
    }

    /// Every board of the SDK with its facts ([`crate::board::board_from_sdk`]),
    /// or the first error reading them.
    pub fn all_boards(&self) -> Result<Vec<Board>> {
        self.boards()
            .iter()
            .map(|name| match Board::from_name(name) {
                Some(b) => Ok(b),
                None => crate::board::board_from_sdk(self, name).map_err(anyhow::Error::msg),
            })
            .collect()
    }

    /// Every board and config the SDK holds (tunnelkit's configurations
    /// only), boards with their facts read from the SDK.
    pub fn supported_board_configs(&self) -> Vec<(Board, KernelConfig)> {
        self.all_boards()
            .unwrap_or_default()
            .into_iter()
            .flat_map(|b| KernelConfig::ALL.into_iter().map(move |c| (b, c)))
            .filter(|(b, c)| self.board_dir(*b, *c).is_ok())
            .collect()
    }

    /// The 32-bit copy of the kernel QEMU's `-kernel` accepts (x86 only).
    pub fn kernel32(&self, board: Board, config: KernelConfig) -> Result<PathBuf> {
        let k = self.board_dir(board, config)?.join("elf").join("sel4_32.elf");
        if !k.is_file() {
            bail!("the SDK has no {}", k.display());
        }
        Ok(k)
    }

    /// What QEMU's `-kernel` needs besides the image: the 32-bit kernel on
    /// x86, nothing (an empty path) on boards that boot the image itself.
    pub fn qemu_kernel32(&self, board: Board, config: KernelConfig) -> Result<PathBuf> {
        match board.arch() {
            crate::board::Arch::X86_64 => self.kernel32(board, config),
            _ => Ok(PathBuf::new()),
        }
    }

    /// Reads a JSON file of `board/<board>/<config>/`.
    pub fn board_json(&self, board: Board, config: KernelConfig, relative: &str) -> Result<serde_json::Value> {
        let path = self.board_dir(board, config)?.join(relative);
        let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

fn list_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        names.push("nothing".into());
    }
    names
}
