//! What the host tool knows about each board: Rust target and QEMU command line.

use std::path::Path;

pub use tunnelkit_sys::board::{Arch, Board, KernelConfig};

/// The Rust target PD images for `board` are compiled for.
pub fn rust_target(board: Board) -> &'static str {
    match board.arch() {
        Arch::Aarch64 => "aarch64-unknown-none",
        Arch::X86_64 => "x86_64-unknown-none",
    }
}

/// The QEMU binary for `board`.
pub fn qemu_binary(board: Board) -> &'static str {
    match board.arch() {
        Arch::Aarch64 => "qemu-system-aarch64",
        Arch::X86_64 => "qemu-system-x86_64",
    }
}

/// The Debian package that provides [`qemu_binary`].
pub fn qemu_package(board: Board) -> &'static str {
    match board.arch() {
        Arch::Aarch64 => "qemu-system-arm",
        Arch::X86_64 => "qemu-system-x86",
    }
}

/// QEMU arguments that boot `image` (the microkit tool's output) on `board`;
/// `kernel32` is the SDK's 32-bit kernel ELF (x86 only).
pub fn qemu_args(board: Board, image: &Path, kernel32: &Path) -> Vec<String> {
    let s = |v: &str| v.to_string();
    match board {
        Board::QemuVirtAarch64 => vec![
            s("-machine"),
            s("virt,virtualization=on"),
            s("-cpu"),
            s("cortex-a53"),
            s("-m"),
            s("2G"),
            s("-nographic"),
            s("-serial"),
            s("mon:stdio"),
            s("-device"),
            format!("loader,file={},addr=0x70000000,cpu-num=0", image.display()),
        ],
        Board::X86_64Generic => vec![
            s("-cpu"),
            s("qemu64,+fsgsbase,+pdpe1gb,+xsaveopt,+xsave"),
            s("-m"),
            s("1G"),
            s("-display"),
            s("none"),
            s("-serial"),
            s("mon:stdio"),
            s("-kernel"),
            kernel32.display().to_string(),
            s("-initrd"),
            image.display().to_string(),
        ],
    }
}

/// Parses a board name, listing the supported ones on error.
pub fn parse_board(name: &str) -> Result<Board, String> {
    Board::from_name(name).ok_or_else(|| {
        let all: Vec<_> = Board::ALL.iter().map(|b| b.name()).collect();
        format!("unknown board '{name}'; tunnelkit supports: {}", all.join(", "))
    })
}

/// Parses a configuration name, listing the supported ones on error.
pub fn parse_config(name: &str) -> Result<KernelConfig, String> {
    KernelConfig::from_name(name).ok_or_else(|| {
        let all: Vec<_> = KernelConfig::ALL.iter().map(|c| c.name()).collect();
        format!("unknown config '{name}'; tunnelkit supports: {}", all.join(", "))
    })
}
