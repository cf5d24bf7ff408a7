//! The rules about the files a system names: program images and prefill
//! files, found on a search path as the microkit tool finds them. An image
//! must exist and be an ELF the tool reads (for the board's architecture);
//! maps, the stack and the IPC buffer must not overlap its loadable
//! segments; every symbol the tool patches must exist with the size it
//! writes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tunnelkit_abi::supervision::TABLE_SYMBOL;

use super::{Sink, Target};
use crate::elf_image::{ElfImage, SymbolLookup};
use crate::sdf::{Image, Pd, Pos, System};

/// What [`super::Report::skipped`] says when no search path was given.
pub const SKIPPED_WITHOUT_IMAGES: &str = "image rules (image-missing, image-elf, image-arch, image-symbols, map-image-overlap, \
     stack-image-overlap, setvar-symbol, setvar-size, prefill-missing, prefill-empty): no program images to look at (--no-images)";

/// The size in bytes of every symbol a setvar patches (a 64-bit word).
const SETVAR_SIZE: u64 = 8;
/// The smallest page: segments are rounded up to it, as the tool does.
const PAGE: u64 = 0x1000;

/// The program images that carry a supervision table.
#[derive(Clone, Debug, Default)]
pub struct Supervisors(BTreeSet<String>);

impl Supervisors {
    /// Whether the image `path` (as written in the system) has a table.
    pub fn contains(&self, path: &str) -> bool {
        self.0.contains(path)
    }
}

/// The first of `search` holding `name`, as the microkit tool looks it up.
pub fn find(name: &str, search: &[PathBuf]) -> Option<PathBuf> {
    search.iter().map(|d| d.join(name)).find(|p| p.exists())
}

/// Applies the image and prefill rules to `sys`, looking files up on
/// `search`. Returns the images that carry a supervision table.
pub fn check(sys: &System, target: Target, search: &[PathBuf], sink: &mut Sink) -> Option<Supervisors> {
    let mut supervisors = Supervisors::default();
    let looked_in = || search.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
    for (i, pd) in sys.pds.iter().enumerate() {
        let Some(image) = &pd.image else { continue };
        let Some(elf) = load(pd, image, &image.path, search, &looked_in, target, sink) else { continue };
        let symbols = match &image.path_for_symbols {
            None => elf.clone(),
            Some(p) => match load(pd, image, p, search, &looked_in, target, sink) {
                Some(s) => s,
                None => continue,
            },
        };
        if matches!(symbols.symbol(TABLE_SYMBOL), SymbolLookup::Found { .. }) {
            supervisors.0.insert(image.path.clone());
        }
        let missing = symbols.missing_microkit_symbols();
        if !missing.is_empty() {
            sink.error(
                image.pos,
                "image-symbols",
                format!(
                    "'{}' (PD '{}') lacks {}, which the microkit tool writes into every PD's image",
                    image.path,
                    pd.name,
                    missing.join(", ")
                ),
                "link the image against a Microkit runtime (tunnelkit-runtime or libmicrokit) that defines them",
            );
        }
        segments(sys, pd, image, &elf, target, sink);
        setvars(sys, i, pd, image, &symbols, sink);
    }
    for mr in &sys.mrs {
        let Some(path) = &mr.prefill_path else { continue };
        match find(path, search).map(std::fs::metadata) {
            None => sink.error(
                mr.pos,
                "prefill-missing",
                format!("prefill file '{path}' of memory region '{}' is not on the search path (looked in: {})", mr.name, looked_in()),
                "fix prefill_path, or pass the directory holding it with --search-path",
            ),
            Some(Ok(m)) if m.len() == 0 => sink.error(
                mr.pos,
                "prefill-empty",
                format!("prefill file '{path}' of memory region '{}' is empty", mr.name),
                "prefill a region from a file with content, or drop prefill_path",
            ),
            Some(Err(e)) => {
                sink.error(mr.pos, "prefill-missing", format!("cannot read prefill file '{path}': {e}"), "check its permissions")
            }
            Some(Ok(_)) => {}
        }
    }
    Some(supervisors)
}

/// Finds and reads `path` (the image or its symbols file) of `pd`.
fn load(
    pd: &Pd,
    image: &Image,
    path: &str,
    search: &[PathBuf],
    looked_in: &dyn Fn() -> String,
    target: Target,
    sink: &mut Sink,
) -> Option<ElfImage> {
    let Some(found) = find(path, search) else {
        sink.error(
            image.pos,
            "image-missing",
            format!("program image '{path}' of PD '{}' is not on the search path (looked in: {})", pd.name, looked_in()),
            "fix the path, or pass the directory holding it with --search-path (tunnelkit build puts images in target/tunnelkit/BOARD/CONFIG/), or skip the image rules with --no-images",
        );
        return None;
    };
    let elf = match ElfImage::read(&found) {
        Ok(e) => e,
        Err(e) => {
            sink.error(
                image.pos,
                "image-elf",
                format!("program image '{}' of PD '{}' is not an ELF the microkit tool can load: {e}", display(&found), pd.name),
                "give a 64-bit little-endian ELF executable built for a Microkit PD",
            );
            return None;
        }
    };
    if let Some(board) = target.board
        && !elf.machine_matches(board.arch())
    {
        sink.error(
            image.pos,
            "image-arch",
            format!(
                "program image '{}' of PD '{}' is built for ELF machine {}, not for {} ({:?})",
                display(&found),
                pd.name,
                elf.machine,
                board.name(),
                board.arch()
            ),
            format!("build the image for {} (tunnelkit build does)", crate::board::rust_target(board)),
        );
    }
    Some(elf)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Maps, stack and IPC buffer against the image's loadable segments.
fn segments(sys: &System, pd: &Pd, image: &Image, elf: &ElfImage, target: Target, sink: &mut Sink) {
    let loaded = elf.loadable_ranges(PAGE);
    let hit = |start: u64, end: u64| loaded.iter().find(|r| start < r.end && r.start < end).cloned();
    for m in &pd.maps {
        let (Some(vaddr), Some(mr)) = (m.vaddr, sys.mrs.iter().find(|r| r.name == m.mr)) else { continue };
        let Some(size) = mr.size else { continue };
        let end = vaddr.saturating_add(size);
        if let Some(seg) = hit(vaddr, end) {
            sink.error(
                m.pos,
                "map-image-overlap",
                format!(
                    "mapping '{}' at [{vaddr:#x}..{end:#x}) overlaps a loadable segment [{:#x}..{:#x}) of '{}' (PD '{}')",
                    m.mr, seg.start, seg.end, image.path, pd.name
                ),
                format!(
                    "map it outside the image, e.g. at or above {:#x}",
                    round_up(loaded.iter().map(|r| r.end).max().unwrap_or(0), 0x20_0000)
                ),
            );
        }
    }
    if let Some(board) = target.board {
        // The tool maps the image's pages (whole pages around each segment
        // with content) before the IPC buffer and the stack, and a collision
        // there makes it fail.
        let pages: Vec<std::ops::Range<u64>> = elf
            .segments
            .iter()
            .filter(|s| s.mem_size > 0)
            .map(|s| s.vaddr / PAGE * PAGE..round_up(s.vaddr.saturating_add(s.mem_size), PAGE))
            .collect();
        let top = board.stack_top();
        let bottom = top.saturating_sub(pd.stack_size);
        let ipc = top + PAGE;
        for (what, start, end) in [("stack", bottom, top), ("IPC buffer", ipc, ipc + PAGE)] {
            if let Some(seg) = pages.iter().find(|r| start < r.end && r.start < end) {
                sink.error(
                    image.pos,
                    "stack-image-overlap",
                    format!(
                        "the {what} of PD '{}' at [{start:#x}..{end:#x}) overlaps a loadable segment [{:#x}..{:#x}) of '{}'",
                        pd.name, seg.start, seg.end, image.path
                    ),
                    "link the image below the stack (Microkit images start low, e.g. at 0x200000)",
                );
            }
        }
    }
}

/// Every symbol a setvar of PD `index` patches must exist once, 8 bytes wide.
fn setvars(sys: &System, index: usize, pd: &Pd, image: &Image, symbols: &ElfImage, sink: &mut Sink) {
    let file = image.path_for_symbols.as_deref().unwrap_or(&image.path);
    for s in sys.setvars.iter().filter(|s| s.pd == index) {
        let pos: Pos = s.pos;
        match symbols.symbol(&s.symbol) {
            SymbolLookup::Missing => sink.error(
                pos,
                "setvar-symbol",
                format!("PD '{}' sets symbol '{}', which its image '{file}' does not define", pd.name, s.symbol),
                "define it in the PD (a 64-bit variable the tool patches) or fix the name",
            ),
            SymbolLookup::Duplicate(n) => sink.error(
                pos,
                "setvar-symbol",
                format!("PD '{}' sets symbol '{}', which its image '{file}' defines {n} times", pd.name, s.symbol),
                "keep one definition (make the others local or rename them)",
            ),
            SymbolLookup::Found { size, .. } if size != SETVAR_SIZE => sink.error(
                pos,
                "setvar-size",
                format!("PD '{}' sets symbol '{}', which is {size} bytes in '{file}'; the tool writes {SETVAR_SIZE}", pd.name, s.symbol),
                "declare it as a 64-bit variable (u64 / usize / a pointer)",
            ),
            SymbolLookup::Found { .. } => {}
        }
    }
}

fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to).saturating_mul(to)
}
