//! Selects the seL4 board and kernel configuration a PD is built for, writes
//! the PD linker script, and generates the per-channel lending symbols.
//!
//! Inputs (environment, set by `tunnelkit build`):
//! - `TUNNELKIT_BOARD`: the board's microkit name (default: the built-in
//!   board of the target architecture: `qemu_virt_aarch64`,
//!   `x86_64_generic` or `qemu_virt_riscv64`);
//! - `TUNNELKIT_BOARD_FACTS`: required for any other board, which the host
//!   tool reads from the SDK: `arch=<aarch64|x86_64|riscv64>
//!   vspace_user_top=<hex> timer_hz=<decimal or -> smp_cores=<decimal>
//!   hypervisor=<0|1> hardware_debug_api=<0|1>`
//!   (see `tunnelkit_abi::board::Board::new`); for a built-in board they
//!   must agree with the built-in facts (checked when the crate compiles);
//! - `TUNNELKIT_CONFIG`: `debug`, `release`, `benchmark` or their `smp-`
//!   twins (default `debug`);
//! - `TUNNELKIT_TRACE=1` (or the crate's `trace` feature): record trace
//!   events (`cfg(tk_trace)`, see `src/trace.rs`).
//! - `TUNNELKIT_ACCOUNT=1` (or the crate's `account` feature): keep
//!   accounting counters (`cfg(tk_account)`, see `src/account.rs`).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

/// The built-in boards: name, `Board` constant, architecture.
const BUILT_IN: &[(&str, &str, &str)] = &[
    ("qemu_virt_aarch64", "QEMU_VIRT_AARCH64", "aarch64"),
    ("x86_64_generic", "X86_64_GENERIC", "x86_64"),
    ("qemu_virt_riscv64", "QEMU_VIRT_RISCV64", "riscv64"),
];
const CONFIGS: &[&str] = &["debug", "release", "benchmark", "smp-debug", "smp-release", "smp-benchmark"];
/// Number of channel ids a Microkit PD can have (0..=61).
const CHANNELS: usize = 62;

fn main() {
    println!("cargo::rerun-if-env-changed=TUNNELKIT_BOARD");
    println!("cargo::rerun-if-env-changed=TUNNELKIT_BOARD_FACTS");
    println!("cargo::rerun-if-env-changed=TUNNELKIT_CONFIG");
    println!("cargo::rerun-if-env-changed=TUNNELKIT_TRACE");
    println!("cargo::rerun-if-env-changed=TUNNELKIT_ACCOUNT");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(tk_trace)");
    if env::var_os("CARGO_FEATURE_TRACE").is_some() || matches!(env::var("TUNNELKIT_TRACE").as_deref(), Ok("1" | "true")) {
        println!("cargo::rustc-cfg=tk_trace");
    }
    println!("cargo::rustc-check-cfg=cfg(tk_account)");
    if env::var_os("CARGO_FEATURE_ACCOUNT").is_some() || matches!(env::var("TUNNELKIT_ACCOUNT").as_deref(), Ok("1" | "true")) {
        println!("cargo::rustc-cfg=tk_account");
    }
    let config_list = CONFIGS.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    println!("cargo::rustc-check-cfg=cfg(tk_config, values({config_list}))");

    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let default_board = BUILT_IN.iter().find(|(_, _, a)| *a == arch).map(|(b, _, _)| *b).unwrap_or("qemu_virt_aarch64");
    let board = env::var("TUNNELKIT_BOARD").unwrap_or_else(|_| default_board.to_string());
    let config = env::var("TUNNELKIT_CONFIG").unwrap_or_else(|_| "debug".to_string());
    if !CONFIGS.contains(&config.as_str()) {
        panic!("TUNNELKIT_CONFIG={config:?} is not a supported config; expected one of {config_list}");
    }
    let built_in = BUILT_IN.iter().find(|(b, _, _)| *b == board);
    let facts =
        env::var("TUNNELKIT_BOARD_FACTS").ok().map(|f| Facts::parse(&f).unwrap_or_else(|e| panic!("TUNNELKIT_BOARD_FACTS={f:?}: {e}")));
    let board_arch = match (built_in, &facts) {
        (_, Some(f)) => f.arch.clone(),
        (Some((_, _, a)), None) => a.to_string(),
        (None, None) => {
            let names: Vec<_> = BUILT_IN.iter().map(|(b, _, _)| *b).collect();
            panic!(
                "TUNNELKIT_BOARD={board:?} is not a built-in board ({}): its facts come from the Microkit SDK; \
                 build with `tunnelkit build --board {board}`, which reads them, or set TUNNELKIT_BOARD_FACTS",
                names.join(", ")
            )
        }
    };
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "none" && board_arch != arch {
        panic!("TUNNELKIT_BOARD={board} is an {board_arch} board but the crate is built for {arch}");
    }
    println!("cargo::rustc-cfg=tk_config=\"{config}\"");

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("tunnelkit-pd.ld"), LINKER_SCRIPT).expect("write linker script");
    println!("cargo::rustc-link-search=native={}", out.display());
    fs::write(out.join("lend_symbols.rs"), lend_symbols()).expect("write lend symbols");
    fs::write(out.join("board.rs"), board_source(&board, built_in.map(|(_, c, _)| *c), facts.as_ref())).expect("write board");
}

/// A board's facts as `TUNNELKIT_BOARD_FACTS` gives them.
struct Facts {
    arch: String,
    vspace_user_top: u64,
    timer_hz: Option<u64>,
    smp_cores: u32,
    hypervisor: bool,
    debug_api: bool,
}

impl Facts {
    /// Parses `key=value` words; every key once, no others.
    fn parse(text: &str) -> Result<Facts, String> {
        let mut words = std::collections::BTreeMap::new();
        for word in text.split_whitespace() {
            let (k, v) = word.split_once('=').ok_or_else(|| format!("'{word}' is not key=value"))?;
            if words.insert(k, v).is_some() {
                return Err(format!("'{k}' is given twice"));
            }
        }
        let mut take = |k: &str| words.remove(k).ok_or_else(|| format!("'{k}' is missing"));
        let arch = take("arch")?.to_string();
        if !["aarch64", "x86_64", "riscv64"].contains(&arch.as_str()) {
            return Err(format!("arch '{arch}' is not aarch64, x86_64 or riscv64"));
        }
        let top = take("vspace_user_top")?;
        let vspace_user_top = u64::from_str_radix(top.trim_start_matches("0x"), 16)
            .map_err(|e| format!("vspace_user_top '{top}' is not hexadecimal: {e}"))?;
        let hz = take("timer_hz")?;
        let timer_hz = match hz {
            "-" => None,
            n => Some(n.parse().map_err(|e| format!("timer_hz '{n}': {e}"))?),
        };
        let cores = take("smp_cores")?;
        let smp_cores = cores.parse().map_err(|e| format!("smp_cores '{cores}': {e}"))?;
        let mut flag = |k: &str| match take(k)? {
            "0" => Ok(false),
            "1" => Ok(true),
            v => Err(format!("{k} '{v}' is not 0 or 1")),
        };
        let hypervisor = flag("hypervisor")?;
        let debug_api = flag("hardware_debug_api")?;
        if let Some(k) = words.keys().next() {
            return Err(format!("unknown key '{k}'"));
        }
        Ok(Facts { arch, vspace_user_top, timer_hz, smp_cores, hypervisor, debug_api })
    }
}

/// `BOARD`: the built-in constant, or one made of the given facts (checked
/// against the built-in ones when the board has them).
fn board_source(name: &str, built_in: Option<&str>, facts: Option<&Facts>) -> String {
    let mut s = String::from("/// The board this PD is built for.\n");
    match (built_in, facts) {
        (Some(c), None) => writeln!(s, "pub const BOARD: Board = Board::{c};").unwrap(),
        (_, Some(f)) => {
            let arch = match f.arch.as_str() {
                "aarch64" => "Aarch64",
                "x86_64" => "X86_64",
                _ => "Riscv64",
            };
            let hz = f.timer_hz.map_or("None".to_string(), |h| format!("Some({h})"));
            writeln!(
                s,
                "pub const BOARD: Board = Board::new({name:?}, Arch::{arch}, {:#x}, {hz}, {}, {}, {});",
                f.vspace_user_top, f.smp_cores, f.hypervisor, f.debug_api
            )
            .unwrap();
            if let Some(c) = built_in {
                writeln!(
                    s,
                    "const _: () = assert!(BOARD.same_facts(Board::{c}), \"TUNNELKIT_BOARD_FACTS disagree with the built-in facts of {name}\");"
                )
                .unwrap();
            }
        }
        (None, None) => unreachable!("checked in main"),
    }
    s
}

/// One `(vaddr, size)` pair of patched words per channel id, named so that an
/// SDF `<map setvar_vaddr=… setvar_size=…>` can point them at a shared region.
fn lend_symbols() -> String {
    let mut s = String::new();
    for (kind, what) in [("lend", "Lent-region"), ("ring", "Async-ring region")] {
        for ch in 0..CHANNELS {
            writeln!(s, "/// {what} base for channel {ch} (patched by the microkit tool).").unwrap();
            writeln!(s, "#[unsafe(no_mangle)] #[used] static tunnel_{kind}_vaddr_{ch}: Patched<u64> = Patched::new(0);").unwrap();
            writeln!(s, "/// {what} size for channel {ch} (patched by the microkit tool).").unwrap();
            writeln!(s, "#[unsafe(no_mangle)] #[used] static tunnel_{kind}_size_{ch}: Patched<u64> = Patched::new(0);").unwrap();
        }
        writeln!(s, "/// The {kind} symbols, indexed by channel id.").unwrap();
        writeln!(s, "static {}_TABLE: [(&Patched<u64>, &Patched<u64>); {CHANNELS}] = [", kind.to_uppercase()).unwrap();
        for ch in 0..CHANNELS {
            writeln!(s, "    (&tunnel_{kind}_vaddr_{ch}, &tunnel_{kind}_size_{ch}),").unwrap();
        }
        writeln!(s, "];").unwrap();
    }
    s
}

/// Static ELF layout for a Microkit PD: base 0x200000, text / rodata / data
/// each in its own page-aligned PT_LOAD (the tool maps segments page by page and
/// rejects two segments sharing a page), entry `_start` first.
const LINKER_SCRIPT: &str = r#"
ENTRY(_start)
PHDRS
{
    text   PT_LOAD FLAGS(5);
    rodata PT_LOAD FLAGS(4);
    data   PT_LOAD FLAGS(6);
}
SECTIONS
{
    . = 0x200000; /* IMAGE_BASE in src/lib.rs */
    .text : {
        KEEP(*(.text.start))
        *(.text .text.*)
    } :text
    . = ALIGN(4096);
    .rodata : {
        *(.rodata .rodata.*)
        *(.eh_frame_hdr) *(.eh_frame)
    } :rodata
    . = ALIGN(4096);
    .data : {
        *(.data .data.*)
        *(.got .got.*)
    } :data
    .bss : {
        *(.bss .bss.*)
        *(COMMON)
    } :data
    /DISCARD/ : { *(.comment) *(.note .note.*) }
}
"#;
