//! The system description corpus under tests/sdf: `good/*.xml` (valid),
//! `bad/*.xml` (each violates one rule), and what each file needs to be
//! checked: its board and kernel config, and the program images and prefill
//! files that the test generates into a search directory.
//!
//! A file starts with header comments, one per line, before anything else
//! but an `<?xml …?>` declaration (which must come first when present):
//!
//! ```text
//! <!-- expect: RULE -->                  bad files only, and always the first line
//! <!-- target: BOARD CONFIG -->          default: qemu_virt_aarch64 debug
//! <!-- image: NAME [machine=M] [load=VADDR+MEMSZ[:FLAGS[:FILESZ]]]… [sym=NAME:SIZE[@VADDR]]…
//!             [drop=NAME]… [bare] [defect=D] -->
//! <!-- file: NAME SIZE -->               a file of SIZE bytes (for prefill_path)
//! ```
//!
//! * `image:` (all on one line) generates an ELF executable (see [`crate::elf`]):
//!   `machine` is `aarch64`, `x86_64`, `riscv64` or an `e_machine` number
//!   (default: the board's); each `load` is a `PT_LOAD` segment with `FLAGS`
//!   from `rwx` (default `rw`) and `FILESZ` (default `MEMSZ`); without `load`
//!   the image has the standard layout, text at 0x200000+0x1000 (`rx`) and
//!   data at 0x201000+0x3000 (`rw`). Its symbols are the standard ones,
//!   [`standard_symbols`] (what the tool patches into every PD, then the
//!   8-byte setvar targets `var_a` … `var_f` and the 4-byte `small_var`),
//!   minus each `drop` (all of them with `bare`), then each `sym`, placed
//!   one after another from the start of the first writable segment unless
//!   `@VADDR` is given (a name may be given twice). `defect` is one of
//!   `bad-magic`, `elf32`, `big-endian`, `no-phdrs`, `no-symtab`.
//! * `pd.elf` is always generated with the standard layout and symbols for the
//!   file's board, unless an `image:` line defines it.
//! * Numbers are decimal or `0x` hex, with optional `_` separators.

use std::path::{Path, PathBuf};

use crate::elf::{self, Defect, Elf, PF_R, PF_W, PF_X, Segment};
use crate::repo_root;

/// The setvar targets every generated image has besides the tool's symbols.
const SETVAR_SYMBOLS: &[(&str, u64)] =
    &[("var_a", 8), ("var_b", 8), ("var_c", 8), ("var_d", 8), ("var_e", 8), ("var_f", 8), ("small_var", 4)];

/// The symbols every generated image has unless dropped: the tool's
/// (`tunnelkit::elf_image::MICROKIT_SYMBOLS`), then the setvar targets.
fn standard_symbols() -> impl Iterator<Item = (&'static str, u64)> {
    tunnelkit::elf_image::MICROKIT_SYMBOLS.iter().chain(SETVAR_SYMBOLS).copied()
}

/// The boards the corpus uses.
pub const BOARDS: &[&str] = &["qemu_virt_aarch64", "x86_64_generic"];
/// The kernel configs the corpus may name.
pub const CONFIGS: &[&str] = &["debug", "release", "benchmark", "smp-debug", "smp-release", "smp-benchmark"];

/// One corpus file and what checking it needs.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Absolute path.
    pub path: PathBuf,
    /// `None` for a good file; the rule a bad file violates.
    pub expect: Option<String>,
    /// Board name.
    pub board: String,
    /// Kernel config name.
    pub config: String,
    /// Images to generate: (file name, image).
    pub images: Vec<(String, Elf)>,
    /// Other files to generate: (file name, size).
    pub files: Vec<(String, u64)>,
}

impl Entry {
    /// `good/NAME.xml` or `bad/NAME.xml`.
    pub fn name(&self) -> String {
        let kind = self.path.parent().and_then(Path::file_name).map(|k| k.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{kind}/{}", self.path.file_name().unwrap_or_default().to_string_lossy())
    }

    /// Writes the file's images and other files into `dir` (created).
    pub fn generate(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        for (name, image) in &self.images {
            image.write(&dir.join(name)).unwrap_or_else(|e| panic!("writing {name}: {e}"));
        }
        for (name, size) in &self.files {
            let bytes: Vec<u8> = (0..*size).map(|i| (i % 253) as u8).collect();
            std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("writing {name}: {e}"));
        }
    }
}

/// Every corpus file, good ones first, each kind sorted by name. Panics on a
/// malformed header (the message names the file).
pub fn corpus() -> Vec<Entry> {
    let mut out = Vec::new();
    for kind in ["good", "bad"] {
        let mut files: Vec<_> = std::fs::read_dir(repo_root().join("tests/sdf").join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect();
        files.sort();
        for f in files {
            let entry = parse(&f, kind == "bad").unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            out.push(entry);
        }
    }
    out
}

/// Reads the header of the corpus file at `path`.
pub fn parse(path: &Path, bad: bool) -> Result<Entry, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut entry = Entry {
        path: path.to_path_buf(),
        expect: None,
        board: "qemu_virt_aarch64".into(),
        config: "debug".into(),
        images: Vec::new(),
        files: Vec::new(),
    };
    let mut image_lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if i == 0 && line.starts_with("<?xml") {
            continue;
        }
        let Some((key, value)) = line.strip_prefix("<!-- ").and_then(|l| l.strip_suffix(" -->")).and_then(|l| l.split_once(": ")) else {
            break;
        };
        match key {
            "expect" if i == 0 => entry.expect = Some(value.trim().to_string()),
            "expect" => return Err("<!-- expect: RULE --> must be the first line".into()),
            "target" => {
                let mut words = value.split_whitespace();
                let (Some(board), Some(config), None) = (words.next(), words.next(), words.next()) else {
                    return Err(format!("target: wants BOARD CONFIG, not '{value}'"));
                };
                if !BOARDS.contains(&board) || !CONFIGS.contains(&config) {
                    return Err(format!("target: unknown board or config in '{value}'"));
                }
                (entry.board, entry.config) = (board.into(), config.into());
            }
            "image" => image_lines.push(value.to_string()),
            "file" => {
                let mut words = value.split_whitespace();
                let (Some(name), Some(size), None) = (words.next(), words.next(), words.next()) else {
                    return Err(format!("file: wants NAME SIZE, not '{value}'"));
                };
                entry.files.push((name.into(), number(size)?));
            }
            _ => break, // an ordinary comment: the header is over
        }
    }
    if bad != entry.expect.is_some() {
        return Err(if bad { "the first line must be <!-- expect: RULE -->".into() } else { "a good file has no expect line".into() });
    }
    for line in &image_lines {
        let (name, elf) = image(line, &entry.board)?;
        if entry.images.iter().any(|(n, _)| *n == name) {
            return Err(format!("image {name} defined twice"));
        }
        entry.images.push((name, elf));
    }
    if !entry.images.iter().any(|(n, _)| n == "pd.elf") {
        let (name, elf) = image("pd.elf", &entry.board)?;
        entry.images.push((name, elf));
    }
    Ok(entry)
}

/// A number: decimal or `0x` hex, `_` allowed.
fn number(s: &str) -> Result<u64, String> {
    let t: String = s.chars().filter(|&c| c != '_').collect();
    let r = match t.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| format!("not a number: '{s}'"))
}

/// The `e_machine` of `board`'s PDs.
pub fn board_machine(board: &str) -> u16 {
    if board.starts_with("x86_64") {
        elf::EM_X86_64
    } else if board.contains("riscv") {
        elf::EM_RISCV
    } else {
        elf::EM_AARCH64
    }
}

/// Parses an `image:` value into (file name, image).
fn image(spec: &str, board: &str) -> Result<(String, Elf), String> {
    let mut words = spec.split_whitespace();
    let name = words.next().ok_or("image: wants a file name")?.to_string();
    let mut machine = board_machine(board);
    let mut segments = Vec::new();
    let mut extra: Vec<(String, u64, Option<u64>)> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    let mut bare = false;
    let mut defect = None;
    for w in words {
        let (key, value) = w.split_once('=').unwrap_or((w, ""));
        match key {
            "machine" => {
                machine = match value {
                    "aarch64" => elf::EM_AARCH64,
                    "x86_64" => elf::EM_X86_64,
                    "riscv64" => elf::EM_RISCV,
                    n => u16::try_from(number(n)?).map_err(|_| format!("machine {n} out of range"))?,
                }
            }
            "load" => {
                let mut parts = value.split(':');
                let range = parts.next().unwrap_or("");
                let (vaddr, memsz) = range.split_once('+').ok_or_else(|| format!("load wants VADDR+MEMSZ, not '{range}'"))?;
                let (vaddr, memsz) = (number(vaddr)?, number(memsz)?);
                let flags = parts.next().unwrap_or("rw");
                let mut f = 0;
                for c in flags.chars() {
                    f |= match c {
                        'r' => PF_R,
                        'w' => PF_W,
                        'x' => PF_X,
                        _ => return Err(format!("load flags are from rwx, not '{flags}'")),
                    };
                }
                let filesz = parts.next().map(number).transpose()?.unwrap_or(memsz);
                segments.push(Segment { vaddr, memsz, filesz, flags: f });
            }
            "sym" => {
                let (sym, rest) = value.split_once(':').ok_or_else(|| format!("sym wants NAME:SIZE[@VADDR], not '{value}'"))?;
                let (size, at) = match rest.split_once('@') {
                    Some((s, a)) => (number(s)?, Some(number(a)?)),
                    None => (number(rest)?, None),
                };
                extra.push((sym.to_string(), size, at));
            }
            "drop" => {
                if !standard_symbols().any(|(s, _)| s == value) {
                    return Err(format!("drop={value}: not a standard symbol"));
                }
                dropped.push(value.to_string());
            }
            "bare" => bare = true,
            "defect" => {
                defect = Some(match value {
                    "bad-magic" => Defect::BadMagic,
                    "elf32" => Defect::Elf32,
                    "big-endian" => Defect::BigEndian,
                    "no-phdrs" => Defect::NoProgramHeaders,
                    "no-symtab" => Defect::NoSymbolTable,
                    d => return Err(format!("unknown defect '{d}'")),
                })
            }
            _ => return Err(format!("image {name}: unknown setting '{w}'")),
        }
    }
    if segments.is_empty() {
        segments = vec![
            Segment { vaddr: 0x200000, memsz: 0x1000, filesz: 0x1000, flags: PF_R | PF_X },
            Segment { vaddr: 0x201000, memsz: 0x3000, filesz: 0x3000, flags: PF_R | PF_W },
        ];
    }
    let data = segments.iter().find(|s| s.flags & PF_W != 0).unwrap_or(&segments[segments.len() - 1]).vaddr;
    let mut elf = Elf::new(machine, segments);
    elf.defect = defect;
    let standard: Vec<(&str, u64)> = standard_symbols().filter(|(s, _)| !bare && !dropped.iter().any(|d| d == s)).collect();
    let mut next = elf::place(&mut elf, data, &standard);
    for (sym, size, at) in extra {
        match at {
            Some(a) => {
                elf.symbol(&sym, a, size);
            }
            None => next = elf::place(&mut elf, next, &[(sym.as_str(), size)]),
        }
    }
    Ok((name, elf))
}
