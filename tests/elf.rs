//! A minimal ELF executable writer for tests: chosen machine, `PT_LOAD`
//! segments and symbols, enough for the microkit tool (which reads the
//! program headers, finds the symbol table through the section headers and
//! patches symbols inside loadable segments) and for `tunnelkit check`.
//!
//! Layout: ELF header, program headers, one section per segment's file data
//! (page-aligned in the file, `p_offset ≡ p_vaddr` mod 0x1000), then
//! `.symtab`, `.strtab`, `.shstrtab` and the section header table. The
//! [`Defect`]s make files the tool cannot read.

/// `e_machine` of AArch64.
pub const EM_AARCH64: u16 = 183;
/// `e_machine` of x86-64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of RISC-V.
pub const EM_RISCV: u16 = 243;

/// Segment flags (`p_flags`).
pub const PF_X: u32 = 1;
/// Writable.
pub const PF_W: u32 = 2;
/// Readable.
pub const PF_R: u32 = 4;

/// The symbols the microkit tool patches into every PD image, with the
/// sizes a Microkit runtime gives them (the checker's own list).
pub use tunnelkit::elf_image::MICROKIT_SYMBOLS;

/// A `PT_LOAD` segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Virtual (and physical) address.
    pub vaddr: u64,
    /// Size in memory.
    pub memsz: u64,
    /// Size in the file (≤ memsz; the rest is zero-filled, like .bss).
    pub filesz: u64,
    /// `PF_R | PF_W | PF_X` bits.
    pub flags: u32,
}

/// A global data symbol (`STT_OBJECT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Name.
    pub name: String,
    /// Address.
    pub value: u64,
    /// Size in bytes.
    pub size: u64,
}

/// What makes an image unreadable to the microkit tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// `\x7fELF` replaced by `\x7fELV`.
    BadMagic,
    /// A real 32-bit (ELFCLASS32) file.
    Elf32,
    /// A real big-endian (ELFDATA2MSB) file.
    BigEndian,
    /// `e_phnum` = 0 (segments still in the sections).
    NoProgramHeaders,
    /// No `.symtab` (and no `.strtab`).
    NoSymbolTable,
}

/// An ELF executable to write.
#[derive(Clone, Debug)]
pub struct Elf {
    /// `e_machine`.
    pub machine: u16,
    /// Entry point (default: the first segment's address).
    pub entry: Option<u64>,
    /// Loadable segments, in order.
    pub segments: Vec<Segment>,
    /// Symbols, in order (a name may repeat).
    pub symbols: Vec<Symbol>,
    /// A deliberate defect, if any.
    pub defect: Option<Defect>,
}

const PAGE: u64 = 0x1000;
const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;

/// Field writer for one ELF class and byte order.
struct Out {
    bytes: Vec<u8>,
    wide: bool,
    big: bool,
}

impl Out {
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&if self.big { v.to_be_bytes() } else { v.to_le_bytes() });
    }
    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&if self.big { v.to_be_bytes() } else { v.to_le_bytes() });
    }
    fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&if self.big { v.to_be_bytes() } else { v.to_le_bytes() });
    }
    /// An address/offset/size field: 8 bytes in ELF64, 4 in ELF32.
    fn word(&mut self, v: u64) {
        if self.wide { self.u64(v) } else { self.u32(u32::try_from(v).expect("value fits an ELF32 field")) }
    }
    fn pad_to(&mut self, offset: u64) {
        assert!(self.bytes.len() as u64 <= offset, "ELF layout overlaps");
        self.bytes.resize(offset as usize, 0);
    }
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// One section header, before serialisation.
struct Section {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

/// A string table under construction.
#[derive(Default)]
struct Strtab(Vec<u8>);

impl Strtab {
    fn add(&mut self, s: &str) -> u32 {
        if self.0.is_empty() {
            self.0.push(0);
        }
        let at = self.0.len() as u32;
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        at
    }
}

impl Elf {
    /// An image for `machine` with `segments`, no symbols yet.
    pub fn new(machine: u16, segments: Vec<Segment>) -> Self {
        Self { machine, entry: None, segments, symbols: Vec::new(), defect: None }
    }

    /// Adds a symbol at `value`.
    pub fn symbol(&mut self, name: &str, value: u64, size: u64) -> &mut Self {
        self.symbols.push(Symbol { name: name.to_string(), value, size });
        self
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wide = self.defect != Some(Defect::Elf32);
        let big = self.defect == Some(Defect::BigEndian);
        let with_phdrs = self.defect != Some(Defect::NoProgramHeaders);
        let with_symtab = self.defect != Some(Defect::NoSymbolTable);
        let (ehsize, phentsize, shentsize, symentsize) = if wide { (64u64, 56u64, 64u64, 24u64) } else { (52, 32, 40, 16) };
        let phnum = if with_phdrs { self.segments.len() as u64 } else { 0 };

        let mut o = Out { bytes: Vec::new(), wide, big };
        let mut shstr = Strtab::default();
        let mut sections =
            vec![Section { name: 0, kind: 0, flags: 0, addr: 0, offset: 0, size: 0, link: 0, info: 0, align: 0, entsize: 0 }];

        // Segment data, each at an offset congruent to its address modulo a page.
        let mut at = ehsize + phnum * phentsize;
        let mut offsets = Vec::new();
        let mut data = Vec::new();
        for (i, s) in self.segments.iter().enumerate() {
            assert!(s.filesz <= s.memsz, "segment {i}: filesz > memsz");
            let page_at = at.div_ceil(PAGE) * PAGE;
            let off = page_at + s.vaddr % PAGE;
            offsets.push(off);
            data.push((off, s.filesz));
            at = off + s.filesz;
            let name = shstr.add(&format!(".seg{i}"));
            let mut flags = SHF_ALLOC;
            if s.flags & PF_W != 0 {
                flags |= SHF_WRITE;
            }
            if s.flags & PF_X != 0 {
                flags |= SHF_EXECINSTR;
            }
            let kind = if s.filesz == 0 { SHT_NOBITS } else { SHT_PROGBITS };
            let size = if kind == SHT_NOBITS { s.memsz } else { s.filesz };
            sections.push(Section { name, kind, flags, addr: s.vaddr, offset: off, size, link: 0, info: 0, align: PAGE, entsize: 0 });
        }

        // Symbol and string tables.
        let mut strtab = Strtab::default();
        let mut symtab = Out { bytes: Vec::new(), wide, big };
        if with_symtab {
            let first_global = 1u32;
            // The null symbol, then globals.
            symtab.bytes.resize(symentsize as usize, 0);
            for sym in &self.symbols {
                let name = strtab.add(&sym.name);
                let shndx = self
                    .segments
                    .iter()
                    .position(|s| sym.value >= s.vaddr && sym.value < s.vaddr + s.memsz)
                    .map_or(0xfff1, |i| i as u16 + 1); // SHN_ABS outside every segment
                let info = (1 << 4) | 1; // STB_GLOBAL, STT_OBJECT
                if wide {
                    symtab.u32(name);
                    symtab.u8(info);
                    symtab.u8(0);
                    symtab.u16(shndx);
                    symtab.u64(sym.value);
                    symtab.u64(sym.size);
                } else {
                    symtab.u32(name);
                    symtab.word(sym.value);
                    symtab.word(sym.size);
                    symtab.u8(info);
                    symtab.u8(0);
                    symtab.u16(shndx);
                }
            }
            if strtab.0.is_empty() {
                strtab.0.push(0);
            }
            let sym_off = at.div_ceil(8) * 8;
            let str_index = sections.len() as u32 + 1;
            let name = shstr.add(".symtab");
            sections.push(Section {
                name,
                kind: SHT_SYMTAB,
                flags: 0,
                addr: 0,
                offset: sym_off,
                size: symtab.len(),
                link: str_index,
                info: first_global,
                align: 8,
                entsize: symentsize,
            });
            let str_off = sym_off + symtab.len();
            let name = shstr.add(".strtab");
            sections.push(Section {
                name,
                kind: SHT_STRTAB,
                flags: 0,
                addr: 0,
                offset: str_off,
                size: strtab.0.len() as u64,
                link: 0,
                info: 0,
                align: 1,
                entsize: 0,
            });
            at = str_off + strtab.0.len() as u64;
        }
        let shstr_name = shstr.add(".shstrtab");
        let shstr_off = at;
        let shstrndx = sections.len() as u16;
        sections.push(Section {
            name: shstr_name,
            kind: SHT_STRTAB,
            flags: 0,
            addr: 0,
            offset: shstr_off,
            size: shstr.0.len() as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        });
        let shoff = (shstr_off + shstr.0.len() as u64).div_ceil(8) * 8;

        // ELF header.
        o.bytes.extend_from_slice(if self.defect == Some(Defect::BadMagic) { b"\x7fELV" } else { b"\x7fELF" });
        o.u8(if wide { 2 } else { 1 }); // EI_CLASS
        o.u8(if big { 2 } else { 1 }); // EI_DATA
        o.u8(1); // EI_VERSION
        o.bytes.resize(16, 0); // OSABI, ABIVERSION, padding
        o.u16(2); // ET_EXEC
        o.u16(self.machine);
        o.u32(1); // EV_CURRENT
        o.word(self.entry.or(self.segments.first().map(|s| s.vaddr)).unwrap_or(0));
        o.word(if phnum > 0 { ehsize } else { 0 });
        o.word(shoff);
        o.u32(0); // e_flags
        o.u16(ehsize as u16);
        o.u16(phentsize as u16);
        o.u16(phnum as u16);
        o.u16(shentsize as u16);
        o.u16(sections.len() as u16);
        o.u16(shstrndx);
        debug_assert_eq!(o.len(), ehsize);

        // Program headers.
        if with_phdrs {
            for (s, &off) in self.segments.iter().zip(&offsets) {
                o.u32(1); // PT_LOAD
                if wide {
                    o.u32(s.flags);
                }
                o.word(off);
                o.word(s.vaddr);
                o.word(s.vaddr);
                o.word(s.filesz);
                o.word(s.memsz);
                if !wide {
                    o.u32(s.flags);
                }
                o.word(PAGE);
            }
        }

        // Segment data: a recognisable non-zero pattern.
        for (off, len) in data {
            o.pad_to(off);
            o.bytes.extend((0..len).map(|i| (i % 251) as u8 + 1));
        }
        if with_symtab {
            o.pad_to(sections[sections.len() - 3].offset);
            o.bytes.extend_from_slice(&symtab.bytes);
            o.bytes.extend_from_slice(&strtab.0);
        }
        o.pad_to(shstr_off);
        o.bytes.extend_from_slice(&shstr.0);
        o.pad_to(shoff);
        for s in &sections {
            o.u32(s.name);
            o.u32(s.kind);
            o.word(s.flags);
            o.word(s.addr);
            o.word(s.offset);
            o.word(s.size);
            o.u32(s.link);
            o.u32(s.info);
            o.word(s.align);
            o.word(s.entsize);
        }
        o.bytes
    }

    /// Writes the file.
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }
}

/// Places `symbols` (name, size) one after another, 8-byte aligned, from
/// `start`; returns where the next one would go.
pub fn place(elf: &mut Elf, start: u64, symbols: &[(&str, u64)]) -> u64 {
    let mut at = start;
    for &(name, size) in symbols {
        elf.symbol(name, at, size);
        at = (at + size).div_ceil(8) * 8;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(defect: Option<Defect>) -> Elf {
        let mut e = Elf::new(
            EM_AARCH64,
            vec![
                Segment { vaddr: 0x200000, memsz: 0x1000, filesz: 0x1000, flags: PF_R | PF_X },
                Segment { vaddr: 0x201000, memsz: 0x3000, filesz: 0x800, flags: PF_R | PF_W },
            ],
        );
        place(&mut e, 0x201000, MICROKIT_SYMBOLS);
        e.symbol("var_a", 0x201100, 8);
        e.defect = defect;
        e
    }

    #[test]
    fn goblin_reads_segments_and_symbols() {
        let bytes = sample(None).to_bytes();
        let elf = goblin::elf::Elf::parse(&bytes).expect("goblin parses it");
        assert!(elf.is_64 && elf.little_endian);
        assert_eq!(elf.header.e_machine, EM_AARCH64);
        assert_eq!(elf.header.e_type, goblin::elf::header::ET_EXEC);
        let loads: Vec<_> = elf.program_headers.iter().filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD).collect();
        assert_eq!(loads.len(), 2);
        assert_eq!((loads[1].p_vaddr, loads[1].p_memsz, loads[1].p_filesz), (0x201000, 0x3000, 0x800));
        assert_eq!(loads[1].p_offset % 0x1000, loads[1].p_vaddr % 0x1000);
        let syms: Vec<(String, u64, u64)> =
            elf.syms.iter().filter_map(|s| Some((elf.strtab.get_at(s.st_name)?.to_string(), s.st_value, s.st_size))).collect();
        assert!(syms.contains(&("microkit_name".into(), 0x201000, 64)), "{syms:?}");
        assert!(syms.contains(&("var_a".into(), 0x201100, 8)), "{syms:?}");
    }

    #[test]
    fn defects_are_what_they_say() {
        let e32 = sample(Some(Defect::Elf32)).to_bytes();
        let g = goblin::elf::Elf::parse(&e32).expect("a real ELF32");
        assert!(!g.is_64 && g.syms.len() == 1 + MICROKIT_SYMBOLS.len() + 1);
        let be = sample(Some(Defect::BigEndian)).to_bytes();
        let g = goblin::elf::Elf::parse(&be).expect("a real big-endian ELF");
        assert!(!g.little_endian && g.header.e_machine == EM_AARCH64 && g.program_headers.len() == 2);
        let g_nophdr = sample(Some(Defect::NoProgramHeaders)).to_bytes();
        assert_eq!(goblin::elf::Elf::parse(&g_nophdr).unwrap().program_headers.len(), 0);
        let nosym = sample(Some(Defect::NoSymbolTable)).to_bytes();
        assert_eq!(goblin::elf::Elf::parse(&nosym).unwrap().syms.len(), 0);
        assert_eq!(&sample(Some(Defect::BadMagic)).to_bytes()[..4], b"\x7fELV");
    }
}
