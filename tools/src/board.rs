//! What the host tool knows about each board: Rust target, QEMU command
//! line, and the facts of any board the SDK holds (see [`board_from_sdk`]).

use std::path::Path;

pub use tunnelkit_abi::board::{Arch, Board, KernelConfig};
pub use tunnelkit_abi::uart;

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
/// 32-bit kernel ELF (x86 only). An error for a board QEMU does not
/// emulate ([`boots_in_qemu`]).
pub fn qemu_args(board: Board, image: &Path, kernel32: &Path, cores: u32) -> Result<Vec<String>, String> {
    let mut args = qemu_board_args(board, image, kernel32).ok_or_else(|| not_in_qemu(board))?;
    if cores > 1 {
        args.extend(["-smp".to_string(), cores.to_string()]);
    }
    Ok(args)
}

/// Whether tunnelkit boots `board`'s images in QEMU: the QEMU `virt` boards
/// (AArch64 at EL2 or EL1, RISC-V) and x86_64_generic. Every other board is
/// real hardware: `tunnelkit build` makes its image, README "Boards" says
/// how to boot it.
pub fn boots_in_qemu(board: Board) -> bool {
    qemu_board_args(board, Path::new(""), Path::new("")).is_some()
}

/// Ok when [`boots_in_qemu`], else what to do instead.
pub fn require_qemu(board: Board) -> Result<(), String> {
    if boots_in_qemu(board) { Ok(()) } else { Err(not_in_qemu(board)) }
}

fn not_in_qemu(board: Board) -> String {
    let qemu = QEMU_BOARDS;
    format!(
        "board '{}' is real hardware, which tunnelkit does not boot in QEMU (it boots {}): `tunnelkit build --board {}` makes its image, and README \"Boards\" says how to boot it",
        board.name(),
        qemu.join(", "),
        board.name()
    )
}

/// The boards QEMU emulates.
const QEMU_BOARDS: [&str; 4] = ["qemu_virt_aarch64", "qemu_virt_aarch64_el1", "x86_64_generic", "qemu_virt_riscv64"];

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

fn qemu_board_args(board: Board, image: &Path, kernel32: &Path) -> Option<Vec<String>> {
    let s = |v: &str| v.to_string();
    if !QEMU_BOARDS.contains(&board.name()) {
        return None;
    }
    Some(match board.arch() {
        // The Microkit manual's command: the loader's raw image at its link
        // address, started on CPU 0. With EL2 for qemu_virt_aarch64_el1 too:
        // its loader calls PSCI through SMC, which QEMU's virt machine
        // answers only with virtualization on (as KVM, the board's target,
        // does); the loader then drops to EL1 itself.
        Arch::Aarch64 => vec![
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
        Arch::X86_64 => vec![
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
        Arch::Riscv64 => vec![
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
    })
}

/// Parses a board name: a built-in board, or any board the SDK named by
/// `$MICROKIT_SDK` holds, with its facts read from the SDK
/// ([`board_from_sdk`]). On error it says which boards the SDK holds, or
/// that it lacks a board Microkit has, or that a board needs the SDK.
pub fn parse_board(name: &str) -> Result<Board, String> {
    if let Some(b) = Board::from_name(name) {
        return Ok(b);
    }
    match crate::sdk::Sdk::from_env() {
        Ok(sdk) if sdk.boards().iter().any(|b| b == name) => board_from_sdk(&sdk, name),
        Ok(sdk) => Err(unknown_board(name, Some((sdk.root().to_path_buf(), sdk.boards())))),
        Err(_) => Err(unknown_board(name, None)),
    }
}

/// The boards of Microkit 2.3.0 (its `build_sdk.py`), to tell a board an SDK
/// was built without from a name that is no board at all.
pub const MICROKIT_BOARDS: [&str; 28] = [
    "ariane",
    "cheshire",
    "hifive_p550",
    "imx8mm_evk",
    "imx8mp_evk",
    "imx8mp_iotgate",
    "imx8mq_evk",
    "kria_k26",
    "maaxboard",
    "odroidc2",
    "odroidc4",
    "qemu_virt_aarch64",
    "qemu_virt_aarch64_el1",
    "qemu_virt_riscv64",
    "rock3b",
    "rockpro64",
    "rpi4b_1gb",
    "rpi4b_2gb",
    "rpi4b_4gb",
    "rpi4b_8gb",
    "serengeti",
    "star64",
    "stm32mp2",
    "tqma8xqp1gb",
    "ultra96v2",
    "x86_64_generic",
    "x86_64_generic_vtx",
    "zcu102",
];

/// The message for a board name that is neither built in nor in the SDK,
/// given the SDK's root and boards if one is set.
fn unknown_board(name: &str, sdk: Option<(std::path::PathBuf, Vec<String>)>) -> String {
    let built_in: Vec<_> = Board::BUILT_IN.iter().map(|b| b.name()).collect();
    let microkit = MICROKIT_BOARDS.contains(&name);
    match sdk {
        Some((root, boards)) if microkit => format!(
            "the SDK at {} has no board '{name}' (it has {}); '{name}' is a Microkit 2.3.0 board: build the SDK with it (build_sdk.py --boards ...,{name})",
            root.display(),
            if boards.is_empty() { "none".to_string() } else { boards.join(", ") },
        ),
        Some((root, boards)) => format!(
            "unknown board '{name}': the SDK at {} has {}",
            root.display(),
            if boards.is_empty() { "no boards".to_string() } else { boards.join(", ") },
        ),
        None if microkit => format!(
            "board '{name}': tunnelkit reads its facts from the Microkit SDK, and MICROKIT_SDK is not set; set it to an SDK built with '{name}' (without an SDK tunnelkit knows {})",
            built_in.join(", ")
        ),
        None => format!(
            "unknown board '{name}'; Microkit 2.3.0 has {} (set MICROKIT_SDK to the SDK you build with; without one tunnelkit knows {})",
            MICROKIT_BOARDS.join(", "),
            built_in.join(", ")
        ),
    }
}

/// A board's facts as the SDK gives them: the architecture and
/// `vspace_user_top` of its first config (`debug` first), the rate of the
/// `time` CSR on RISC-V (`TIMER_FREQUENCY`) and the cores of its smp
/// kernels (`MAX_NUM_NODES` of the first `smp-` config; 1 without one).
/// For a built-in board it must give the same facts. The name is leaked: a
/// board lives as long as the process.
pub fn board_from_sdk(sdk: &crate::sdk::Sdk, name: &str) -> Result<Board, String> {
    use crate::platform::{PlatformArch, from_sdk};
    let dir = sdk.root().join("board").join(name);
    let platform = |configs: &[KernelConfig]| {
        configs.iter().map(|c| dir.join(c.name())).find(|d| d.is_dir()).map(|d| from_sdk(&d).map(|p| (p, d))).transpose()
    };
    use KernelConfig::*;
    let (base, base_dir) = platform(&[Debug, Release, Benchmark, SmpDebug, SmpRelease, SmpBenchmark])?
        .ok_or_else(|| format!("the SDK's {} holds no configuration (debug, release, …)", dir.display()))?;
    let arch = match base.arch {
        PlatformArch::Aarch64 => Arch::Aarch64,
        PlatformArch::X86_64 => Arch::X86_64,
        PlatformArch::Riscv64 => Arch::Riscv64,
    };
    let gen_config = |dir: &Path| {
        let path = dir.join("include/kernel/gen_config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        serde_json::from_str::<serde_json::Value>(&text)
            .map(|j| (j, path.clone()))
            .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))
    };
    let timer_hz = match arch {
        Arch::Riscv64 => {
            let (json, path) = gen_config(&base_dir)?;
            let hz = json.get("TIMER_FREQUENCY").and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64()));
            Some(hz.ok_or_else(|| format!("{}: no TIMER_FREQUENCY, which a RISC-V PD needs to read its clock", path.display()))?)
        }
        _ => None,
    };
    // Whether the debug kernel has the hardware debug API (it moves TCB
    // labels); without a debug config it does not matter.
    let debug_dir = dir.join(KernelConfig::Debug.name());
    let debug_api =
        debug_dir.is_dir() && gen_config(&debug_dir)?.0.get("HARDWARE_DEBUG_API").and_then(serde_json::Value::as_bool) == Some(true);
    let smp_cores = platform(&[SmpDebug, SmpRelease, SmpBenchmark])?.map_or(1, |(p, _)| p.cores);
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    let board = Board::new(leaked, arch, base.vspace_user_top, timer_hz, smp_cores, base.hypervisor, debug_api);
    if let Some(own) = Board::from_name(name)
        && (own.arch(), own.vspace_user_top(), own.timer_hz(), own.hypervisor(), own.has_hardware_debug_api(KernelConfig::Debug))
            != (board.arch(), board.vspace_user_top(), board.timer_hz(), board.hypervisor(), debug_api)
    {
        return Err(format!(
            "the SDK at {} describes '{name}' unlike tunnelkit's built-in facts ({board:?} against {own:?}); is it Microkit 2.3.0?",
            sdk.root().display()
        ));
    }
    Ok(board)
}

/// `TUNNELKIT_BOARD_FACTS` for a PD build (see `tunnelkit-sys`'s build
/// script): `None` for a built-in board, whose facts the PD crates carry.
pub fn facts_env(board: Board) -> Option<String> {
    if board.is_built_in() {
        return None;
    }
    let arch = match board.arch() {
        Arch::Aarch64 => "aarch64",
        Arch::X86_64 => "x86_64",
        Arch::Riscv64 => "riscv64",
    };
    Some(format!(
        "arch={arch} vspace_user_top={:#x} timer_hz={} smp_cores={} hypervisor={} hardware_debug_api={}",
        board.vspace_user_top(),
        board.timer_hz().map_or("-".to_string(), |h| h.to_string()),
        board.cores(KernelConfig::SmpDebug),
        u8::from(board.hypervisor()),
        u8::from(board.has_hardware_debug_api(KernelConfig::Debug))
    ))
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
        assert_eq!(qemu_cores(Board::QEMU_VIRT_AARCH64, Debug, None, 0), Ok(1));
        assert_eq!(qemu_cores(Board::QEMU_VIRT_AARCH64, SmpDebug, None, 0), Ok(4));
        assert_eq!(qemu_cores(Board::QEMU_VIRT_AARCH64, SmpRelease, Some(4), 3), Ok(4));
        let e = qemu_cores(Board::QEMU_VIRT_AARCH64, SmpDebug, Some(2), 0).unwrap_err();
        assert!(e.contains("starts all 4 cores it was built for"), "{e}");
        assert_eq!(qemu_cores(Board::X86_64_GENERIC, SmpDebug, None, 0), Ok(4));
        assert_eq!(qemu_cores(Board::X86_64_GENERIC, SmpDebug, None, 6), Ok(7));
        assert_eq!(qemu_cores(Board::X86_64_GENERIC, SmpBenchmark, Some(2), 1), Ok(2));
        let e = qemu_cores(Board::X86_64_GENERIC, SmpDebug, Some(2), 5).unwrap_err();
        assert!(e.contains("a PD is on cpu 5, but QEMU would get 2 cores") && e.contains("--cores 6"), "{e}");
        assert!(qemu_cores(Board::X86_64_GENERIC, SmpDebug, Some(17), 0).unwrap_err().contains("1..16"));
        let e = qemu_cores(Board::X86_64_GENERIC, Release, Some(4), 0).unwrap_err();
        assert!(e.contains("the release kernel runs on one core; build with --config smp-release"), "{e}");
    }

    #[test]
    fn an_unknown_board_names_the_sdks_boards() {
        let sdk = Some((std::path::PathBuf::from("/sdk"), vec!["maaxboard".to_string(), "qemu_virt_aarch64".to_string()]));
        let e = unknown_board("zcu102", sdk.clone());
        assert!(
            e.starts_with(
                "the SDK at /sdk has no board 'zcu102' (it has maaxboard, qemu_virt_aarch64); 'zcu102' is a Microkit 2.3.0 board"
            ),
            "{e}"
        );
        let e = unknown_board("pi5", sdk);
        assert_eq!(e, "unknown board 'pi5': the SDK at /sdk has maaxboard, qemu_virt_aarch64");
        let e = unknown_board("pi5", None);
        assert!(e.starts_with("unknown board 'pi5'; Microkit 2.3.0 has ariane, cheshire"), "{e}");
        let e = unknown_board("star64", None);
        assert!(e.contains("reads its facts from the Microkit SDK, and MICROKIT_SDK is not set"), "{e}");
    }

    #[test]
    fn real_boards_do_not_boot_in_qemu() {
        let maaxboard = Board::new("maaxboard", Arch::Aarch64, 0xFF_FFFF_FFFF, None, 4, true, true);
        assert!(!boots_in_qemu(maaxboard));
        let e = qemu_args(maaxboard, Path::new("i"), Path::new(""), 1).unwrap_err();
        assert!(e.contains("'maaxboard' is real hardware") && e.contains("tunnelkit build --board maaxboard"), "{e}");
        let el1 = Board::new("qemu_virt_aarch64_el1", Arch::Aarch64, 0x7F_FFFF_FFFF, None, 4, false, true);
        assert!(qemu_args(el1, Path::new("i"), Path::new(""), 1).unwrap().contains(&"virt,virtualization=on".to_string()));
        assert!(Board::BUILT_IN.into_iter().all(boots_in_qemu));
    }

    #[test]
    fn facts_only_for_boards_that_are_not_built_in() {
        assert_eq!(facts_env(Board::QEMU_VIRT_RISCV64), None);
        let star64 = Board::new("star64", Arch::Riscv64, 0x3F_FFFF_EFFF, Some(4_000_000), 4, false, false);
        assert_eq!(
            facts_env(star64).unwrap(),
            "arch=riscv64 vspace_user_top=0x3fffffefff timer_hz=4000000 smp_cores=4 hypervisor=0 hardware_debug_api=0"
        );
    }

    #[test]
    fn smp_args_only_with_more_than_one_core() {
        let img = Path::new("i.img");
        assert!(!qemu_args(Board::QEMU_VIRT_AARCH64, img, Path::new(""), 1).unwrap().contains(&"-smp".to_string()));
        let a = qemu_args(Board::X86_64_GENERIC, img, Path::new("k"), 4).unwrap();
        assert_eq!(&a[a.len() - 2..], ["-smp", "4"]);
    }
}
