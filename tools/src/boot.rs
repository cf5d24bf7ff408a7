//! How to boot a built image on a board QEMU does not emulate, as the
//! Microkit manual gives it per board: the facts come from the image and
//! the SDK (the loader's link address in its `loader.elf`), not a table.

use std::path::Path;

use anyhow::{Context, Result};

use crate::board::{Arch, Board, KernelConfig};
use crate::sdk::Sdk;

/// The U-Boot legacy image magic (`IH_MAGIC`), big-endian at offset 0.
const UIMAGE_MAGIC: u32 = 0x2705_1956;

/// What kind of file the microkit tool wrote, which decides how it boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// A raw binary of the loader, to be placed at its link address and
    /// jumped to (ARM boards).
    Raw {
        /// The loader's link address (its `loader.elf`'s first segment).
        load: u64,
    },
    /// A U-Boot legacy image (RISC-V boards): `bootm` places it itself.
    UImage {
        /// The entry point its header names (the loader's link address).
        entry: u64,
    },
    /// x86: the initialiser, a Multiboot module next to the kernel ELFs.
    Multiboot,
}

/// Tells the kind of `image`, built for `board` and `config` with `sdk`.
pub fn image_kind(sdk: &Sdk, board: Board, config: KernelConfig, image: &Path) -> Result<ImageKind> {
    if board.arch() == Arch::X86_64 {
        return Ok(ImageKind::Multiboot);
    }
    let bytes = std::fs::read(image).with_context(|| format!("reading {}", image.display()))?;
    let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if word(0) == Some(UIMAGE_MAGIC) {
        return Ok(ImageKind::UImage { entry: u64::from(word(24).unwrap_or(0)) });
    }
    let loader = sdk.board_dir(board, config)?.join("elf").join("loader.elf");
    let elf = crate::elf_image::ElfImage::read(&loader).map_err(|e| anyhow::anyhow!("{}: {e}", loader.display()))?;
    let load = elf.segments.first().map(|s| s.paddr).with_context(|| format!("{}: no loadable segment", loader.display()))?;
    Ok(ImageKind::Raw { load })
}

/// The steps that boot `image` of `kind` on `board`, as lines to print.
pub fn instructions(board: Board, image: &Path, kind: ImageKind) -> Vec<String> {
    let file = image.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = image.parent().unwrap_or(Path::new(".")).display().to_string();
    match kind {
        ImageKind::Raw { load } => vec![
            format!("{} boots {file} from U-Boot: load it at {load:#x}, the loader's link address, and jump there:", board.name()),
            format!("  => fatload mmc 0 {load:#x} {file}     (or: tftpboot {load:#x} {file})"),
            format!("  => go {load:#x}"),
        ],
        ImageKind::UImage { entry } => vec![
            format!(
                "{} boots {file} (a uImage; bootm copies it to its entry {entry:#x}) from U-Boot with the board's device tree \
                 (dtc -I dts -O dtb seL4/tools/dts/<board>.dts), each at a free RAM address:",
                board.name()
            ),
            format!("  => tftpboot ${{imgaddr}} {file}"),
            "  => tftpboot ${dtbaddr} <board>.dtb".to_string(),
            "  => bootm ${imgaddr} - ${dtbaddr}".to_string(),
        ],
        ImageKind::Multiboot => vec![
            format!("{} boots with a Multiboot 2 compliant boot loader, given:", board.name()),
            format!("  the kernel {dir}/sel4.elf (or {dir}/sel4_32.elf where the loader needs a 32-bit ELF)"),
            format!("  the boot module {dir}/{file}"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_images_say_the_load_address_and_uimages_bootm() {
        let b = Board::new("maaxboard", Arch::Aarch64, 0xFF_FFFF_FFFF, None, 4, true, true);
        let lines = instructions(b, Path::new("/x/system.img"), ImageKind::Raw { load: 0x5000_0000 });
        assert_eq!(lines[2], "  => go 0x50000000");
        assert!(lines[0].contains("load it at 0x50000000"), "{lines:?}");
        let s = Board::new("star64", Arch::Riscv64, 0x3F_FFFF_EFFF, Some(4_000_000), 4, false, false);
        let lines = instructions(s, Path::new("/x/system.img"), ImageKind::UImage { entry: 0x6000_0000 });
        assert_eq!(lines.last().unwrap(), "  => bootm ${imgaddr} - ${dtbaddr}");
    }
}
