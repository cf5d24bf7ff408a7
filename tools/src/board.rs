//! What the host tool knows about each board: Rust target and QEMU command line.

use std::path::Path;

pub use tunnelkit_abi::board::{Arch, Board, KernelConfig};

/// The Rust target PD images for `board` are compiled for.
pub fn rust_target(board: Board) -> &'static str {
    match board.arch() {
        Arch::Aarch64 => "aarch64-unknown-none",
        Arch::X86_64 => "x86_64-unknown-none",
        Arch::Riscv64 => "riscv64gc-unknown-none-elf",
    }
}

/// The QEMU binary for `board`.
pub fn qemu_binary(board: Board) -> &'static str {
    match board.arch() {
        Arch::Aarch64 => "qemu-system-aarch64",
        Arch::X86_64 => "qemu-system-x86_64",
        Arch::Riscv64 => "qemu-system-riscv64",
    }
}

/// The Debian package that provides [`qemu_binary`].
pub fn qemu_package(board: Board) -> &'static str {
    match board.arch() {
        Arch::Aarch64 => "qemu-system-arm",
        Arch::X86_64 => "qemu-system-x86",
        Arch::Riscv64 => "qemu-system-misc",
    }
}

/// QEMU arguments that boot `image` (the microkit tool's output) on `board`
/// with `cores` CPUs (`-smp`, given when above 1); `kernel32` is the SDK's
/// 32-bit kernel ELF (x86 only).
pub fn qemu_args(board: Board, image: &Path, kernel32: &Path, cores: u32) -> Vec<String> {
    let s = |v: &str| v.to_string();
    let mut args = qemu_board_args(board, image, kernel32);
    if cores > 1 {
        args.extend([s("-smp"), cores.to_string()]);
    }
    args
}

/// The cores QEMU gives a system built for `config` on `board`: every core
/// of an ARM smp kernel (it waits for each), on x86 `requested` or 4, never
/// fewer than the highest `cpu` any PD uses + 1. Errors name what is wrong.
pub fn qemu_cores(board: Board, config: KernelConfig, requested: Option<u32>, highest_cpu: u64) -> Result<u32, String> {
    let max = board.cores(config);
    if !config.is_smp() {
        return match requested {
            Some(n) if n != 1 => Err(format!(
                "--cores {n}: the {} kernel runs on one core; build with --config {} for {} cores",
                config.name(),
                config.smp().name(),
                board.cores(config.smp())
            )),
            _ => Ok(1),
        };
    }
    let need = u32::try_from(highest_cpu.saturating_add(1)).unwrap_or(u32::MAX);
    let cores = match requested {
        Some(n) if !board.cores_are_a_choice() && n != max => {
            return Err(format!(
                "--cores {n}: {}'s {} kernel starts all {max} cores it was built for and waits for each, so QEMU gets -smp {max}",
                board.name(),
                config.name()
            ));
        }
        Some(n) if n == 0 || n > max => {
            return Err(format!("--cores {n}: {}'s {} kernel supports 1..{max} cores", board.name(), config.name()));
        }
        Some(n) => n,
        None if board.cores_are_a_choice() => need.clamp(4.min(max), max),
        None => max,
    };
    if need > cores {
        return Err(format!(
            "a PD is on cpu {highest_cpu}, but QEMU would get {cores} core{} (the kernel supports {max}); {}",
            if cores == 1 { "" } else { "s" },
            if board.cores_are_a_choice() { format!("pass --cores {need} or more") } else { "use a lower cpu".to_string() }
        ));
    }
    Ok(cores)
}

fn qemu_board_args(board: Board, image: &Path, kernel32: &Path) -> Vec<String> {
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
        // The Microkit manual's command: QEMU's OpenSBI starts the loader.
        Board::QemuVirtRiscv64 => vec![
            s("-machine"),
            s("virt"),
            s("-m"),
            s("size=2G"),
            s("-nographic"),
            s("-serial"),
            s("mon:stdio"),
            s("-kernel"),
            image.display().to_string(),
        ],
    }
}

/// Parses a board name. On error it says what tunnelkit builds for and,
/// when `$MICROKIT_SDK` names an SDK, which boards that SDK holds and
/// whether it has this one.
pub fn parse_board(name: &str) -> Result<Board, String> {
    Board::from_name(name)
        .ok_or_else(|| unknown_board(name, crate::sdk::Sdk::from_env().ok().map(|s| (s.root().to_path_buf(), s.boards()))))
}

/// The message for a board tunnelkit does not build for, given the SDK's
/// root and boards if one is set.
fn unknown_board(name: &str, sdk: Option<(std::path::PathBuf, Vec<String>)>) -> String {
    let ours: Vec<_> = Board::ALL.iter().map(|b| b.name()).collect();
    match sdk {
        Some((root, boards)) if boards.iter().any(|b| b == name) => {
            format!("the SDK at {} has board '{name}', but tunnelkit builds only for {} so far", root.display(), ours.join(", "))
        }
        Some((root, boards)) => format!(
            "unknown board '{name}': the SDK at {} has {}; tunnelkit builds for {}",
            root.display(),
            if boards.is_empty() { "no boards".to_string() } else { boards.join(", ") },
            ours.join(", ")
        ),
        None => format!("unknown board '{name}'; tunnelkit builds for {}", ours.join(", ")),
    }
}

/// Parses a configuration name, listing the supported ones on error.
pub fn parse_config(name: &str) -> Result<KernelConfig, String> {
    KernelConfig::from_name(name).ok_or_else(|| {
        let all: Vec<_> = KernelConfig::ALL.iter().map(|c| c.name()).collect();
        format!("unknown config '{name}'; tunnelkit supports: {}", all.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_gets_the_cores_the_kernel_and_the_system_need() {
        use KernelConfig::*;
        assert_eq!(qemu_cores(Board::QemuVirtAarch64, Debug, None, 0), Ok(1));
        assert_eq!(qemu_cores(Board::QemuVirtAarch64, SmpDebug, None, 0), Ok(4));
        assert_eq!(qemu_cores(Board::QemuVirtAarch64, SmpRelease, Some(4), 3), Ok(4));
        let e = qemu_cores(Board::QemuVirtAarch64, SmpDebug, Some(2), 0).unwrap_err();
        assert!(e.contains("starts all 4 cores it was built for"), "{e}");
        assert_eq!(qemu_cores(Board::X86_64Generic, SmpDebug, None, 0), Ok(4));
        assert_eq!(qemu_cores(Board::X86_64Generic, SmpDebug, None, 6), Ok(7));
        assert_eq!(qemu_cores(Board::X86_64Generic, SmpBenchmark, Some(2), 1), Ok(2));
        let e = qemu_cores(Board::X86_64Generic, SmpDebug, Some(2), 5).unwrap_err();
        assert!(e.contains("a PD is on cpu 5, but QEMU would get 2 cores") && e.contains("--cores 6"), "{e}");
        assert!(qemu_cores(Board::X86_64Generic, SmpDebug, Some(17), 0).unwrap_err().contains("1..16"));
        let e = qemu_cores(Board::X86_64Generic, Release, Some(4), 0).unwrap_err();
        assert!(e.contains("the release kernel runs on one core; build with --config smp-release"), "{e}");
    }

    #[test]
    fn an_unknown_board_names_the_sdks_boards() {
        let sdk = Some((std::path::PathBuf::from("/sdk"), vec!["maaxboard".to_string(), "qemu_virt_aarch64".to_string()]));
        let e = unknown_board("maaxboard", sdk.clone());
        assert_eq!(
            e,
            "the SDK at /sdk has board 'maaxboard', but tunnelkit builds only for qemu_virt_aarch64, x86_64_generic, qemu_virt_riscv64 so far"
        );
        let e = unknown_board("pi5", sdk);
        assert!(e.starts_with("unknown board 'pi5': the SDK at /sdk has maaxboard, qemu_virt_aarch64; tunnelkit builds for"), "{e}");
        assert!(unknown_board("pi5", None).starts_with("unknown board 'pi5'; tunnelkit builds for qemu_virt_aarch64"));
    }

    #[test]
    fn smp_args_only_with_more_than_one_core() {
        let img = Path::new("i.img");
        assert!(!qemu_args(Board::QemuVirtAarch64, img, Path::new(""), 1).contains(&"-smp".to_string()));
        let a = qemu_args(Board::X86_64Generic, img, Path::new("k"), 4);
        assert_eq!(&a[a.len() - 2..], ["-smp", "4"]);
    }
}
