//! Every PD crate cross-compiles for both seL4 targets, and every image has
//! the layout the microkit tool needs. No SDK needed.

use std::collections::HashMap;
use std::path::PathBuf;

use goblin::elf::{Elf, header, program_header};
use tunnelkit::board::{Arch, Board, KernelConfig, rust_target};
use tunnelkit::build::{BuildRequest, pd_cargo_command};
use tunnelkit::pd_cargo::PROFILE;
use tunnelkit::workspace::Workspace;
use tunnelkit_tests::repo_root;

/// Builds all PD crates for `board` the way `tunnelkit build` does and returns
/// `(binary name, image path)`.
fn build_all(board: Board) -> Vec<(String, PathBuf)> {
    let ws = Workspace::current().expect("workspace");
    assert!(ws.pd_binaries.len() >= 5, "PD binaries found: {:?}", ws.pd_binaries);
    let target_dir = ws.target_dir.join("tunnelkit").join("cargo").join(format!("{}-{}", board.name(), KernelConfig::Debug.name()));
    let request = BuildRequest { system: PathBuf::from("system.xml"), board, config: KernelConfig::Debug };
    let mut cmd = pd_cargo_command(&ws, &request).expect("the PD build command");
    cmd.arg("--target-dir").arg(&target_dir);
    for b in &ws.pd_binaries {
        cmd.args(["-p", &b.package]);
    }
    let out = cmd.output().expect("cargo");
    assert!(out.status.success(), "PD crates failed to build for {}:\n{}", rust_target(board), String::from_utf8_lossy(&out.stderr));
    ws.pd_binaries.iter().map(|b| (b.name.clone(), target_dir.join(rust_target(board)).join(PROFILE).join(&b.name))).collect()
}

fn check_image(board: Board, name: &str, bytes: &[u8]) {
    let elf = Elf::parse(bytes).unwrap_or_else(|e| panic!("{name}: not an ELF: {e}"));
    assert!(elf.is_64 && elf.little_endian, "{name}: must be ELF64 little-endian");
    assert_eq!(elf.header.e_type, header::ET_EXEC, "{name}: must be a static ET_EXEC (no relocations are applied)");
    let machine = match board.arch() {
        Arch::Aarch64 => header::EM_AARCH64,
        Arch::X86_64 => header::EM_X86_64,
        Arch::Riscv64 => header::EM_RISCV,
    };
    assert_eq!(elf.header.e_machine, machine, "{name}: wrong machine");
    assert!(
        !elf.program_headers.iter().any(|p| p.p_type == program_header::PT_DYNAMIC || p.p_type == program_header::PT_INTERP),
        "{name}: must not be dynamic"
    );

    let loads: Vec<_> = elf.program_headers.iter().filter(|p| p.p_type == program_header::PT_LOAD).collect();
    assert!(!loads.is_empty(), "{name}: no PT_LOAD");
    let stack_bottom = board.stack_top() - 0x2000;
    let mut pages = HashMap::new();
    for (i, p) in loads.iter().enumerate() {
        assert!(p.p_vaddr + p.p_memsz <= stack_bottom, "{name}: segment {i} reaches the stack");
        if p.p_memsz == 0 {
            continue;
        }
        for page in (p.p_vaddr / 4096)..=((p.p_vaddr + p.p_memsz - 1) / 4096) {
            if let Some(other) = pages.insert(page, i) {
                panic!("{name}: segments {other} and {i} share page {:#x}; the tool maps each page once", page * 4096);
            }
        }
    }

    let mut symbols: HashMap<&str, Vec<(u64, u64)>> = HashMap::new();
    for s in elf.syms.iter() {
        if let Some(n) = elf.strtab.get_at(s.st_name) {
            symbols.entry(n).or_default().push((s.st_value, s.st_size));
        }
    }
    let start = symbols.get("_start").unwrap_or_else(|| panic!("{name}: no _start"));
    assert_eq!(elf.entry, start[0].0, "{name}: entry must be _start");
    assert_eq!(elf.entry, tunnelkit_sys::IMAGE_BASE, "{name}: _start must be the first byte of the image");
    let in_load = |addr: u64, size: u64| loads.iter().any(|p| addr >= p.p_vaddr && addr + size <= p.p_vaddr + p.p_memsz);
    let writable =
        |addr: u64| loads.iter().any(|p| addr >= p.p_vaddr && addr < p.p_vaddr + p.p_memsz && p.p_flags & program_header::PF_W != 0);
    let mut patched = tunnelkit::elf_image::MICROKIT_SYMBOLS.to_vec();
    let lend: Vec<String> = (0..62).flat_map(|c| [format!("tunnel_lend_vaddr_{c}"), format!("tunnel_lend_size_{c}")]).collect();
    if name != "panicker" && name != "demo-report" {
        patched.extend(lend.iter().map(|s| (s.as_str(), 8)));
    }
    for (sym, size) in patched {
        let found = symbols.get(sym).unwrap_or_else(|| panic!("{name}: symbol {sym} missing (the microkit tool patches it)"));
        assert_eq!(found.len(), 1, "{name}: {sym} defined {} times; the tool needs it exactly once", found.len());
        let (addr, st_size) = found[0];
        assert_eq!(st_size, size, "{name}: {sym} is {st_size} bytes, the tool writes {size}");
        assert!(in_load(addr, st_size), "{name}: {sym} at {addr:#x} is not inside one PT_LOAD");
        assert!(writable(addr), "{name}: {sym} must be in a writable segment (it is read with volatile loads)");
    }
}

fn check_board(board: Board) {
    let images = build_all(board);
    for (name, path) in &images {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check_image(board, name, &bytes);
        // Only the supervisor carries a supervision table: that is how
        // `tunnelkit build` tells it from other parents.
        assert_eq!(tunnelkit::supervision::has_table(path), name == "supervisor", "{name}: supervision table");
    }
    assert!(repo_root().join("system.xml").is_file());
}

#[test]
fn pd_crates_build_for_aarch64_with_microkit_layout() {
    check_board(Board::QEMU_VIRT_AARCH64);
}

#[test]
fn pd_crates_build_for_x86_64_with_microkit_layout() {
    check_board(Board::X86_64_GENERIC);
}

#[test]
fn pd_crates_build_for_riscv64_with_microkit_layout() {
    check_board(Board::QEMU_VIRT_RISCV64);
}
