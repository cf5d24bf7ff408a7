//! Selects the seL4 board and kernel configuration a PD is built for, writes
//! the PD linker script, and generates the per-channel lending symbols.
//!
//! Inputs (environment, set by `tunnelkit build`):
//! - `TUNNELKIT_BOARD`: `qemu_virt_aarch64`, `x86_64_generic` or
//!   `qemu_virt_riscv64` (default: the board of the target architecture);
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

const BOARDS: &[(&str, &str)] = &[("qemu_virt_aarch64", "aarch64"), ("x86_64_generic", "x86_64"), ("qemu_virt_riscv64", "riscv64")];
const CONFIGS: &[&str] = &["debug", "release", "benchmark", "smp-debug", "smp-release", "smp-benchmark"];
/// Number of channel ids a Microkit PD can have (0..=61).
const CHANNELS: usize = 62;

fn main() {
    println!("cargo::rerun-if-env-changed=TUNNELKIT_BOARD");
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
    let board_list = BOARDS.iter().map(|(b, _)| format!("\"{b}\"")).collect::<Vec<_>>().join(", ");
    let config_list = CONFIGS.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    println!("cargo::rustc-check-cfg=cfg(tk_board, values({board_list}))");
    println!("cargo::rustc-check-cfg=cfg(tk_config, values({config_list}))");

    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let default_board = BOARDS.iter().find(|(_, a)| *a == arch).map(|(b, _)| *b).unwrap_or("qemu_virt_aarch64");
    let board = env::var("TUNNELKIT_BOARD").unwrap_or_else(|_| default_board.to_string());
    let config = env::var("TUNNELKIT_CONFIG").unwrap_or_else(|_| "debug".to_string());

    let Some((_, board_arch)) = BOARDS.iter().find(|(b, _)| *b == board) else {
        panic!("TUNNELKIT_BOARD={board:?} is not a supported board; expected one of {board_list}");
    };
    if !CONFIGS.contains(&config.as_str()) {
        panic!("TUNNELKIT_CONFIG={config:?} is not a supported config; expected one of {config_list}");
    }
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "none" && *board_arch != arch {
        panic!("TUNNELKIT_BOARD={board} is an {board_arch} board but the crate is built for {arch}");
    }
    println!("cargo::rustc-cfg=tk_board=\"{board}\"");
    println!("cargo::rustc-cfg=tk_config=\"{config}\"");

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("tunnelkit-pd.ld"), LINKER_SCRIPT).expect("write linker script");
    println!("cargo::rustc-link-search=native={}", out.display());
    fs::write(out.join("lend_symbols.rs"), lend_symbols()).expect("write lend symbols");
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
