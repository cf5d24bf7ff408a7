//! The one model of a system description file (SDF): parsed once, with a
//! position for everything, and used by `check`, `build` (images,
//! supervision tables, prefills, setvars), `run` and the generated
//! benchmark systems alike. Numbers are read as the microkit tool reads them
//! ([`number`]); every mistake is a [`Diagnostic`] at `FILE:LINE:COL`.

use std::path::Path;

use anyhow::{Result, bail};

pub mod diag;
pub mod number;
pub mod parse;
pub mod rewrite;

pub use diag::{Diagnostic, Pos, Severity, Sink, pos_at};
pub use number::{parse_dec, parse_num};
pub use parse::{Cap, CapKind, Channel, End, Image, Map, Mr, Pd, Setvar, SetvarKind, System};

/// A system description as read: the model (when the text is well-formed
/// XML with a `<system>` root) and what the parser found wrong.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The model, best effort.
    pub system: Option<System>,
    /// Structural errors and warnings, in document order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Parses `text`, read from the file named `file`.
    pub fn text(file: &str, text: &str) -> Parsed {
        let mut sink = Sink::new(file);
        let system = parse::parse(text, &mut sink);
        Parsed { system, diagnostics: sink.out }
    }

    /// The model, or every structural error as one `FILE:LINE:COL: error: rule: …` message.
    pub fn into_valid(self) -> Result<System> {
        let errors: Vec<String> = self.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(ToString::to_string).collect();
        match self.system {
            Some(s) if errors.is_empty() => Ok(s),
            _ => bail!("{}", errors.join("\n")),
        }
    }
}

impl System {
    /// Reads and parses the file at `path`; errors are the parser's diagnostics.
    pub fn read(path: &Path) -> Result<System> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{file}:1:1: error: io: cannot read the system description: {e}"))?;
        Parsed::text(&file, &text).into_valid()
    }

    /// Parses `text` read from `file`; errors are the parser's diagnostics.
    pub fn from_text(file: &str, text: &str) -> Result<System> {
        Parsed::text(file, text).into_valid()
    }

    /// Index of the PD named `name`.
    pub fn pd_index(&self, name: &str) -> Option<usize> {
        self.pds.iter().position(|p| p.name == name)
    }

    /// Every PD's program image, in document order: (PD, image).
    pub fn images(&self) -> impl Iterator<Item = (&Pd, &Image)> {
        self.pds.iter().filter_map(|p| p.image.as_ref().map(|i| (p, i)))
    }

    /// Files memory regions are prefilled from: (path as written, position of the region).
    pub fn prefills(&self) -> impl Iterator<Item = (&str, Pos)> {
        self.mrs.iter().filter_map(|m| m.prefill_path.as_deref().map(|p| (p, m.pos)))
    }

    /// The highest `cpu` any PD names.
    pub fn highest_cpu(&self) -> u64 {
        self.pds.iter().map(|p| p.cpu).max().unwrap_or(0)
    }

    /// `file:line:col` of `pos` in this system's file.
    pub fn at(&self, pos: Pos) -> String {
        format!("{}:{}:{}", self.file, pos.line, pos.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_images_with_positions() {
        let text = "<system>\n  <protection_domain name=\"a\">\n    <program_image path=\"a.elf\" />\n  </protection_domain>\n</system>\n";
        let s = System::from_text("s.xml", text).unwrap();
        let images: Vec<_> = s.images().map(|(p, i)| (p.name.as_str(), i.path.as_str(), i.pos)).collect();
        assert_eq!(images, vec![("a", "a.elf", Pos { line: 3, col: 5 })]);
    }

    #[test]
    fn reads_run_settings() {
        let text = "<system>\n  <?tunnelkit qemu_icount=\"true\"?>\n  <protection_domain name=\"s\">\n    <program_image path=\"s.elf\" />\n    <protection_domain name=\"c\" id=\"1\"><program_image path=\"c.elf\" /></protection_domain>\n  </protection_domain>\n</system>\n";
        assert!(System::from_text("s.xml", text).unwrap().icount);
        let e = System::from_text("s.xml", &text.replace("qemu_icount", "icount")).unwrap_err();
        assert!(e.to_string().starts_with("s.xml:2:3: error: tunnelkit-setting: unknown system setting 'icount'"), "{e}");
    }

    #[test]
    fn errors_carry_file_line_and_column() {
        let e = System::from_text("s.xml", "<system>\n<protection_domain name=\"a\">\n</system>").unwrap_err();
        assert!(e.to_string().starts_with("s.xml:3:"), "{e}");
        let e = System::from_text("s.xml", "<system>\n  <protection_domain name=\"b\"/>\n</system>").unwrap_err();
        assert!(e.to_string().starts_with("s.xml:2:3: error: program-image: PD 'b' has no <program_image>"), "{e}");
    }

    #[test]
    fn a_child_id_is_a_microkit_number() {
        let text = "<system><protection_domain name=\"p\"><program_image path=\"p.elf\"/>\
            <protection_domain name=\"c\" id=\"0x2\" setvar_id=\"cid\"><program_image path=\"c.elf\"/></protection_domain>\
            </protection_domain></system>";
        let s = System::from_text("s.xml", text).unwrap();
        assert_eq!(s.pds[1].id, Some(2));
        assert_eq!(s.setvars, vec![Setvar { symbol: "cid".into(), pd: 0, kind: SetvarKind::Id(2), pos: s.setvars[0].pos }]);
    }

    #[test]
    fn setvars_are_collected_per_image_and_duplicates_refused() {
        let text = "<system><memory_region name=\"m\" size=\"0x1000\"/><protection_domain name=\"p\"><program_image path=\"p.elf\"/>\
            <map mr=\"m\" vaddr=\"0x1_000_000\" setvar_vaddr=\"v\" setvar_size=\"s\"/><setvar symbol=\"v\" region_paddr=\"m\"/>\
            </protection_domain></system>";
        let p = Parsed::text("s.xml", text);
        let s = p.system.unwrap();
        assert_eq!(s.setvars.iter().map(|v| v.symbol.as_str()).collect::<Vec<_>>(), ["v", "s"]);
        assert_eq!(s.setvars[0].kind, SetvarKind::Vaddr(0x100_0000));
        assert!(p.diagnostics.iter().any(|d| d.rule == "setvar-duplicate"), "{:?}", p.diagnostics);
    }
}
