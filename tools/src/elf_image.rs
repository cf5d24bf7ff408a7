//! PD program images read the way the microkit tool reads them
//! (`tool/microkit/src/elf.rs`): the same acceptance rules, the PT_LOAD
//! segments it maps and the symbol table it patches, so a checker can tell
//! before the tool runs whether an image will be refused, and why.
//!
//! Where the tool would panic on a malformed file (it indexes the bytes
//! without bounds checks), this reader returns [`ImageError::Malformed`].

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use object::LittleEndian as LE;
use object::elf::{
    ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG, EM_AARCH64, EM_RISCV, EM_X86_64, FileHeader64, PT_LOAD, ProgramHeader64,
    SHT_SYMTAB, SectionHeader64, Sym64,
};
use object::pod::{self, Pod};

use crate::board::Arch;

/// The symbols the microkit tool writes into every PD image (`symbols.rs`
/// `patch_symbols`), without checking first: if one is absent, defined more
/// than once, smaller than what it writes, or outside every PT_LOAD segment,
/// the tool panics (`write_symbol(..).unwrap()`).
/// Each with the size a Microkit runtime defines it with (`microkit_name`
/// holds up to 64 bytes of the PD's name; the masks are 64-bit words).
pub const MICROKIT_SYMBOLS: &[(&str, u64)] = &[
    ("microkit_name", 64),
    ("microkit_passive", 1),
    ("microkit_irqs", 8),
    ("microkit_notifications", 8),
    ("microkit_pps", 8),
    ("microkit_ioports", 8),
];

/// Size of the ELF64 header, the part the tool reads before any other check.
const EHDR_SIZE: usize = std::mem::size_of::<FileHeader64<LE>>();

/// Why an image cannot be used as a PD program image by the microkit tool.
/// The text (via `Display`) does not name the file; callers add the path.
#[derive(Debug)]
pub enum ImageError {
    /// The file could not be read at all.
    Io(std::io::Error),
    /// The file ends before the 64-byte ELF header does.
    Truncated {
        /// The file's length in bytes.
        len: usize,
    },
    /// The file does not start with the ELF magic `7f 45 4c 46`.
    NotElf,
    /// A 32-bit ELF file (class 1): the tool only loads 64-bit images.
    Elf32,
    /// An ELF class byte that is neither 1 (32-bit) nor 2 (64-bit).
    InvalidClass(u8),
    /// The data-encoding byte is not 1 (little endian); 2 is big endian.
    NotLittleEndian(u8),
    /// `e_phnum` is 0: there is nothing to load.
    NoProgramHeaders,
    /// Headers, segments or the symbol table point outside the file or have
    /// impossible sizes; the text says which.
    Malformed(String),
    /// No section of type SHT_SYMTAB: the image was stripped.
    NoSymbolTable,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Io(e) => write!(f, "cannot read the file: {e}"),
            ImageError::Truncated { len } => {
                write!(f, "the file is only {len} bytes long, shorter than a 64-bit ELF header ({EHDR_SIZE} bytes)")
            }
            ImageError::NotElf => write!(f, "not an ELF file (it does not start with the bytes 7f 45 4c 46)"),
            ImageError::Elf32 => {
                write!(f, "a 32-bit ELF file; the microkit tool only accepts 64-bit program images")
            }
            ImageError::InvalidClass(c) => {
                write!(f, "invalid ELF class {c} (expected 2, a 64-bit ELF file)")
            }
            ImageError::NotLittleEndian(d) if *d == ELFDATA2MSB => {
                write!(f, "a big-endian ELF file; the microkit tool only accepts little-endian images")
            }
            ImageError::NotLittleEndian(d) => {
                write!(f, "invalid ELF data encoding {d}; the microkit tool only accepts little-endian (1) images")
            }
            ImageError::NoProgramHeaders => {
                write!(f, "the ELF file has no program headers, so there is nothing to load")
            }
            ImageError::Malformed(what) => write!(f, "malformed ELF file: {what}"),
            ImageError::NoSymbolTable => write!(
                f,
                "the ELF file has no symbol table (was it stripped?); the microkit tool needs it to patch microkit_name and the other PD symbols"
            ),
        }
    }
}

impl std::error::Error for ImageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImageError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// A PT_LOAD segment: where it goes and how much memory it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_paddr`.
    pub paddr: u64,
    /// `p_memsz` (file bytes plus zero fill).
    pub mem_size: u64,
}

/// What a symbol lookup finds, with the tool's rule that a name defined more
/// than once (any binding, any type) cannot be used ("multiple symbols with
/// name '…'").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolLookup {
    /// Exactly one symbol has the name.
    Found {
        /// `st_value`.
        vaddr: u64,
        /// `st_size` in bytes.
        size: u64,
    },
    /// No symbol has the name ("no symbol named '…' found").
    Missing,
    /// This many symbols have the name.
    Duplicate(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SymbolEntry {
    vaddr: u64,
    size: u64,
    count: usize,
}

/// A PD program image that the microkit tool would accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    /// Where the image was read from.
    pub path: PathBuf,
    /// ELF class 2; always true for an accepted image.
    pub class64: bool,
    /// Data encoding 1; always true for an accepted image.
    pub little_endian: bool,
    /// `e_machine` (the tool never checks it; see [`ElfImage::machine_matches`]).
    pub machine: u16,
    /// The PT_LOAD segments in program-header order.
    pub segments: Vec<Segment>,
    symbols: HashMap<String, SymbolEntry>,
}

impl ElfImage {
    /// Reads and parses the image at `path`.
    pub fn read(path: &Path) -> Result<ElfImage, ImageError> {
        let bytes = std::fs::read(path).map_err(ImageError::Io)?;
        Self::parse(path, &bytes)
    }

    /// Parses `bytes` (the contents of `path`) with the tool's checks, in its
    /// order: magic, class, header length, endianness, program headers,
    /// symbol table.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<ElfImage, ImageError> {
        let hdr = header(bytes)?;
        let segments = segments(bytes, hdr)?;
        let symbols = symbols(bytes, hdr)?;
        Ok(ElfImage { path: path.to_path_buf(), class64: true, little_endian: true, machine: hdr.e_machine.get(LE), segments, symbols })
    }

    /// Looks `name` up in the symbol table.
    pub fn symbol(&self, name: &str) -> SymbolLookup {
        match self.symbols.get(name) {
            None => SymbolLookup::Missing,
            Some(e) if e.count > 1 => SymbolLookup::Duplicate(e.count),
            Some(e) => SymbolLookup::Found { vaddr: e.vaddr, size: e.size },
        }
    }

    /// Whether the tool can write `len` bytes into symbol `name`
    /// (`ElfFile::write_symbol`): the name is unique, `len` fits its size,
    /// and the whole symbol lies inside one PT_LOAD segment.
    pub fn can_patch(&self, name: &str, len: u64) -> bool {
        let SymbolLookup::Found { vaddr, size } = self.symbol(name) else {
            return false;
        };
        let Some(sym_end) = vaddr.checked_add(size) else {
            return false;
        };
        len <= size && self.segments.iter().any(|s| vaddr >= s.vaddr && s.vaddr.checked_add(s.mem_size).is_some_and(|end| sym_end <= end))
    }

    /// The [`MICROKIT_SYMBOLS`] the tool cannot patch in this image (absent,
    /// duplicated, too small, or outside every segment); the tool panics on
    /// each. `microkit_name` is checked for one byte: the tool writes the PD
    /// name's first 64 bytes, so use [`ElfImage::can_patch`] with that length
    /// for the exact check.
    pub fn missing_microkit_symbols(&self) -> Vec<&'static str> {
        MICROKIT_SYMBOLS.iter().map(|(name, _)| *name).filter(|name| !self.can_patch(name, microkit_symbol_bytes(name))).collect()
    }

    /// Each PT_LOAD segment as the range the tool checks a PD's maps against
    /// (`capdl/builder.rs`): `vaddr .. vaddr + round_up(mem_size, page)`. The
    /// start is not rounded down; empty segments give empty ranges. Sums that
    /// would overflow end at `u64::MAX`; `page` 0 means no rounding.
    pub fn loadable_ranges(&self, page: u64) -> Vec<Range<u64>> {
        self.segments
            .iter()
            .map(|s| {
                let size = match s.mem_size % page.max(1) {
                    0 => s.mem_size,
                    rem => s.mem_size.saturating_add(page - rem),
                };
                s.vaddr..s.vaddr.saturating_add(size)
            })
            .collect()
    }

    /// Whether `e_machine` is the one `arch` runs (EM_AARCH64 183,
    /// EM_X86_64 62). The tool loads an image of any machine without a word.
    pub fn machine_matches(&self, arch: Arch) -> bool {
        self.machine == elf_machine(arch)
    }

    /// `e_machine` in words, e.g. "AArch64 (e_machine 183)".
    pub fn machine_name(&self) -> String {
        let name = match self.machine {
            EM_AARCH64 => "AArch64",
            EM_X86_64 => "x86-64",
            EM_RISCV => "RISC-V",
            _ => "unknown machine",
        };
        format!("{name} (e_machine {})", self.machine)
    }
}

/// The `e_machine` of images for `arch`.
pub const fn elf_machine(arch: Arch) -> u16 {
    match arch {
        Arch::Aarch64 => EM_AARCH64,
        Arch::X86_64 => EM_X86_64,
        Arch::Riscv64 => EM_RISCV,
    }
}

/// Bytes the tool writes into a [`MICROKIT_SYMBOLS`] entry (at least).
fn microkit_symbol_bytes(name: &str) -> u64 {
    match name {
        "microkit_name" | "microkit_passive" => 1,
        _ => 8,
    }
}

fn malformed(what: impl Into<String>) -> ImageError {
    ImageError::Malformed(what.into())
}

/// The ELF identification checks, then the header itself.
fn header(bytes: &[u8]) -> Result<&FileHeader64<LE>, ImageError> {
    let len = bytes.len();
    let magic_len = len.min(ELFMAG.len());
    if bytes[..magic_len] != ELFMAG[..magic_len] {
        return Err(ImageError::NotElf);
    }
    match bytes.get(4) {
        None => return Err(ImageError::Truncated { len }),
        Some(&ELFCLASS64) => {}
        Some(&ELFCLASS32) => return Err(ImageError::Elf32),
        Some(&c) => return Err(ImageError::InvalidClass(c)),
    }
    let (hdr, _) = pod::from_bytes::<FileHeader64<LE>>(bytes).map_err(|()| ImageError::Truncated { len })?;
    if hdr.e_ident.data != ELFDATA2LSB {
        return Err(ImageError::NotLittleEndian(hdr.e_ident.data));
    }
    Ok(hdr)
}

/// A table of `num` entries of `entsize` bytes at `off`; the tool requires
/// the entry size to be exactly the ELF64 struct's.
fn table<'a, T: Pod>(bytes: &'a [u8], off: u64, entsize: u16, num: u16, what: &str) -> Result<&'a [T], ImageError> {
    if num == 0 {
        return Ok(&[]);
    }
    let want = std::mem::size_of::<T>();
    if usize::from(entsize) != want {
        return Err(malformed(format!("{what} entries are {entsize} bytes, expected {want}")));
    }
    let start = usize::try_from(off).ok().filter(|&s| s <= bytes.len());
    let table = start.and_then(|s| pod::slice_from_bytes::<T>(&bytes[s..], usize::from(num)).ok());
    table
        .map(|(t, _)| t)
        .ok_or_else(|| malformed(format!("the {num} {what} at offset {off:#x} run past the end of the file ({} bytes)", bytes.len())))
}

/// `bytes[off .. off + size]`, or why not.
fn range<'a>(bytes: &'a [u8], off: u64, size: u64, what: &str) -> Result<&'a [u8], ImageError> {
    let r = off.checked_add(size).and_then(|end| Some(usize::try_from(off).ok()?..usize::try_from(end).ok()?));
    r.and_then(|r| bytes.get(r))
        .ok_or_else(|| malformed(format!("{what} [{off:#x}..+{size:#x}) runs past the end of the file ({} bytes)", bytes.len())))
}

fn segments(bytes: &[u8], hdr: &FileHeader64<LE>) -> Result<Vec<Segment>, ImageError> {
    let phnum = hdr.e_phnum.get(LE);
    if phnum == 0 {
        return Err(ImageError::NoProgramHeaders);
    }
    let phdrs: &[ProgramHeader64<LE>] = table(bytes, hdr.e_phoff.get(LE), hdr.e_phentsize.get(LE), phnum, "program headers")?;
    let mut segments = Vec::new();
    for (i, ph) in phdrs.iter().enumerate().filter(|(_, ph)| ph.p_type.get(LE) == PT_LOAD) {
        let (filesz, memsz) = (ph.p_filesz.get(LE), ph.p_memsz.get(LE));
        if filesz > memsz {
            return Err(malformed(format!("PT_LOAD segment {i} has more file bytes ({filesz:#x}) than memory bytes ({memsz:#x})")));
        }
        range(bytes, ph.p_offset.get(LE), filesz, &format!("the data of PT_LOAD segment {i}"))?;
        segments.push(Segment { vaddr: ph.p_vaddr.get(LE), paddr: ph.p_paddr.get(LE), mem_size: memsz });
    }
    Ok(segments)
}

fn symbols(bytes: &[u8], hdr: &FileHeader64<LE>) -> Result<HashMap<String, SymbolEntry>, ImageError> {
    let shdrs: &[SectionHeader64<LE>] = table(bytes, hdr.e_shoff.get(LE), hdr.e_shentsize.get(LE), hdr.e_shnum.get(LE), "section headers")?;
    // The tool uses the last SHT_SYMTAB section.
    let symtab = shdrs.iter().rev().find(|s| s.sh_type.get(LE) == SHT_SYMTAB).ok_or(ImageError::NoSymbolTable)?;
    let syms = range(bytes, symtab.sh_offset.get(LE), symtab.sh_size.get(LE), "the symbol table")?;
    let link = symtab.sh_link.get(LE);
    let strtab = usize::try_from(link)
        .ok()
        .and_then(|l| shdrs.get(l))
        .ok_or_else(|| malformed(format!("the symbol table links to section {link}, which does not exist")))?;
    let strs = range(bytes, strtab.sh_offset.get(LE), strtab.sh_size.get(LE), "the symbol string table")?;
    let entry = std::mem::size_of::<Sym64<LE>>();
    if syms.len() % entry != 0 {
        return Err(malformed(format!("the symbol table is {} bytes, not a whole number of {entry}-byte symbols", syms.len())));
    }
    let (syms, _) =
        pod::slice_from_bytes::<Sym64<LE>>(syms, syms.len() / entry).map_err(|()| malformed("the symbol table cannot be read"))?;
    let mut map: HashMap<String, SymbolEntry> = HashMap::new();
    for sym in syms {
        let name = symbol_name(strs, sym.st_name.get(LE))?;
        map.entry(name.to_string()).and_modify(|e| e.count += 1).or_insert(SymbolEntry {
            vaddr: sym.st_value.get(LE),
            size: sym.st_size.get(LE),
            count: 1,
        });
    }
    Ok(map)
}

/// The NUL-terminated UTF-8 name at `idx`; the tool refuses the image when
/// the terminator is missing or the name is not UTF-8.
fn symbol_name(strs: &[u8], idx: u32) -> Result<&str, ImageError> {
    let tail = usize::try_from(idx).ok().and_then(|i| strs.get(i..));
    let name = tail
        .and_then(|t| t.iter().position(|&b| b == 0).map(|n| &t[..n]))
        .ok_or_else(|| malformed(format!("symbol name at string-table index {idx} is not NUL-terminated")))?;
    std::str::from_utf8(name).map_err(|e| malformed(format!("symbol name at string-table index {idx} is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A minimal little-endian ELF64 with PT_LOAD segments (vaddr, filesz,
    /// memsz) and symbols (name, value, size).
    fn tiny_elf(segs: &[(u64, u64, u64)], syms: &[(&str, u64, u64)]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut names = Vec::new();
        for (n, _, _) in syms {
            names.push(strtab.len() as u32);
            strtab.extend_from_slice(n.as_bytes());
            strtab.push(0);
        }
        let data_len = segs.iter().map(|s| s.1).max().unwrap_or(0);
        let phoff = 64u64;
        let data_off = phoff + 56 * segs.len() as u64;
        let symtab_off = data_off + data_len;
        let symtab_len = 24 * (syms.len() as u64 + 1);
        let strtab_off = symtab_off + symtab_len;
        let shoff = strtab_off + strtab.len() as u64;

        let mut b = Vec::new();
        b.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&EM_AARCH64.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&0x200000u64.to_le_bytes());
        b.extend_from_slice(&phoff.to_le_bytes());
        b.extend_from_slice(&shoff.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for v in [64u16, 56, segs.len() as u16, 64, 3, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for &(vaddr, filesz, memsz) in segs {
            b.extend_from_slice(&PT_LOAD.to_le_bytes());
            b.extend_from_slice(&6u32.to_le_bytes());
            for v in [data_off, vaddr, vaddr, filesz, memsz, 0x1000] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b.resize(symtab_off as usize + 24, 0);
        for (i, (_, value, size)) in syms.iter().enumerate() {
            b.extend_from_slice(&names[i].to_le_bytes());
            b.extend_from_slice(&[0x11, 0, 1, 0]);
            b.extend_from_slice(&value.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
        }
        b.extend_from_slice(&strtab);
        b.resize(b.len() + 64, 0);
        for (ty, off, size, link) in [(SHT_SYMTAB, symtab_off, symtab_len, 2u32), (3, strtab_off, strtab.len() as u64, 0)] {
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&ty.to_le_bytes());
            for v in [0u64, 0, off, size] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(&link.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&8u64.to_le_bytes());
            b.extend_from_slice(&24u64.to_le_bytes());
        }
        b
    }

    fn pd_like() -> Vec<u8> {
        let mut syms = vec![("dup", 0x201000, 8), ("dup", 0x201008, 8), ("outside", 0x900000, 8)];
        for (i, (name, _)) in MICROKIT_SYMBOLS.iter().enumerate() {
            syms.push((name, 0x202000 + 0x100 * i as u64, 8));
        }
        tiny_elf(&[(0x200000, 0x10, 0x1800), (0x202000, 0, 0x1000)], &syms)
    }

    fn parse(bytes: &[u8]) -> Result<ElfImage, ImageError> {
        ElfImage::parse(Path::new("test.elf"), bytes)
    }

    #[test]
    fn synthetic_image_parses() {
        let img = parse(&pd_like()).expect("valid");
        assert_eq!(
            img.segments,
            vec![
                Segment { vaddr: 0x200000, paddr: 0x200000, mem_size: 0x1800 },
                Segment { vaddr: 0x202000, paddr: 0x202000, mem_size: 0x1000 }
            ]
        );
        assert_eq!(img.loadable_ranges(0x1000), vec![0x200000..0x202000, 0x202000..0x203000]);
        assert_eq!(img.symbol("microkit_pps"), SymbolLookup::Found { vaddr: 0x202400, size: 8 });
        assert_eq!(img.symbol("dup"), SymbolLookup::Duplicate(2));
        assert_eq!(img.symbol("nope"), SymbolLookup::Missing);
        assert!(img.missing_microkit_symbols().is_empty());
        assert!(!img.can_patch("outside", 8), "outside every segment");
        assert!(!img.can_patch("microkit_pps", 9), "larger than the symbol");
        assert!(img.machine_matches(Arch::Aarch64) && !img.machine_matches(Arch::X86_64));
    }

    #[test]
    fn missing_microkit_symbols_named() {
        let img = parse(&tiny_elf(&[(0x200000, 0, 0x1000)], &[("microkit_name", 0x200000, 64)])).expect("valid");
        assert_eq!(img.missing_microkit_symbols(), MICROKIT_SYMBOLS[1..].iter().map(|(n, _)| *n).collect::<Vec<_>>());
    }

    #[test]
    fn loadable_ranges_round_size_not_start() {
        let img = parse(&tiny_elf(&[(0x200800, 0, 0x1001), (0x300000, 0, 0)], &[])).expect("valid");
        assert_eq!(img.loadable_ranges(0x1000), vec![0x200800..0x202800, 0x300000..0x300000]);
        assert_eq!(img.loadable_ranges(0), vec![0x200800..0x201801, 0x300000..0x300000]);
    }

    #[test]
    fn each_error_is_named() {
        let good = pd_like();
        let with = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            parse(&b).unwrap_err()
        };
        assert!(matches!(parse(&[]), Err(ImageError::Truncated { len: 0 })));
        assert!(matches!(parse(&good[..40]), Err(ImageError::Truncated { len: 40 })));
        assert!(matches!(parse(b"MZ\x90\0"), Err(ImageError::NotElf)));
        assert!(matches!(parse(b"hello, world, this is text"), Err(ImageError::NotElf)));
        assert!(matches!(with(4, 1), ImageError::Elf32));
        assert!(matches!(with(4, 7), ImageError::InvalidClass(7)));
        assert!(matches!(with(5, 2), ImageError::NotLittleEndian(2)));
        assert!(matches!(with(56, 0), ImageError::NoProgramHeaders)); // e_phnum
        assert!(matches!(with(60, 0), ImageError::NoSymbolTable)); // e_shnum
        assert!(matches!(with(54, 40), ImageError::Malformed(_))); // e_phentsize
        assert!(matches!(parse(&good[..good.len() - 1]), Err(ImageError::Malformed(_))));
        let text = with(5, 2).to_string();
        assert!(text.contains("big-endian"), "{text}");
        assert!(with(4, 1).to_string().contains("32-bit"));
        assert!(matches!(ElfImage::read(Path::new("/nonexistent/x.elf")), Err(ImageError::Io(_))));
    }

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn repo_pd_images() {
        for (board, arch) in [("qemu_virt_aarch64", Arch::Aarch64), ("x86_64_generic", Arch::X86_64)] {
            let dir = workspace().join("target/tunnelkit").join(board).join("debug");
            let elfs: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "elf")).collect())
                .unwrap_or_default();
            if elfs.is_empty() {
                println!("skipped: no PD images in {} (run `tunnelkit build` first)", dir.display());
                continue;
            }
            for path in elfs {
                // The x86 build directory also holds the SDK kernel QEMU boots.
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name == "sel4_32.elf" {
                    assert!(matches!(ElfImage::read(&path), Err(ImageError::Elf32)), "{}", path.display());
                    continue;
                }
                if name.starts_with("sel4") {
                    continue;
                }
                let img = ElfImage::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(img.class64 && img.little_endian);
                assert!(img.machine_matches(arch), "{}: {}", path.display(), img.machine_name());
                assert!(img.missing_microkit_symbols().is_empty(), "{}", path.display());
                assert!(img.can_patch("microkit_name", 64), "{}", path.display());
                for (r, s) in img.loadable_ranges(0x1000).iter().zip(&img.segments) {
                    assert_eq!(r.start, s.vaddr);
                    assert_eq!((r.end - r.start) % 0x1000, 0);
                }
                println!("{}: {} segments, {}", path.display(), img.segments.len(), img.machine_name());
            }
        }
    }

    #[test]
    fn sdk_images() {
        let Some(sdk) = std::env::var_os("MICROKIT_SDK") else {
            println!("skipped: MICROKIT_SDK not set");
            return;
        };
        let sdk = PathBuf::from(sdk);
        let monitor = sdk.join("board/qemu_virt_aarch64/debug/elf/monitor.elf");
        let img = ElfImage::read(&monitor).unwrap_or_else(|e| panic!("{}: {e}", monitor.display()));
        assert!(img.machine_matches(Arch::Aarch64));
        assert!(matches!(img.symbol("pd_names"), SymbolLookup::Found { size: 4096, .. }));
        assert!(img.can_patch("pd_names_len", 8));
        assert!(img.missing_microkit_symbols().contains(&"microkit_name"), "the monitor is not a PD");
        // Every ELF the SDK ships: the 32-bit x86 kernel is the one the tool would refuse.
        let mut seen = 0;
        for board in std::fs::read_dir(sdk.join("board")).into_iter().flatten().flatten() {
            for elf in std::fs::read_dir(board.path().join("debug/elf")).into_iter().flatten().flatten() {
                let path = elf.path();
                match ElfImage::read(&path) {
                    Ok(img) => assert!(!img.segments.is_empty(), "{}", path.display()),
                    Err(ImageError::Elf32) => assert!(path.ends_with("sel4_32.elf"), "{}", path.display()),
                    Err(e) => panic!("{}: {e}", path.display()),
                }
                seen += 1;
            }
        }
        println!("read {seen} SDK ELF files");
        assert!(seen > 0);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..400), elf_ident in any::<bool>()) {
            if elf_ident && bytes.len() >= 6 {
                bytes[..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1]);
            }
            let _ = parse(&bytes);
        }

        #[test]
        fn mutated_images_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                                      cut in any::<prop::sample::Index>()) {
            let mut b = pd_like();
            for (i, v) in edits {
                let i = i.index(b.len());
                b[i] = v;
            }
            let _ = parse(&b);
            let len = cut.index(b.len());
            let _ = parse(&b[..len]);
        }
    }
}
