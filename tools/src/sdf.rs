//! The parts of a system description the build needs, with source positions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A `<program_image>` of a PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramImage {
    /// The PD's name.
    pub pd: String,
    /// The image path as written.
    pub path: String,
    /// `line:column` of the element in the file.
    pub position: String,
}

/// A parsed system description file.
#[derive(Clone, Debug)]
pub struct SystemFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Every PD's program image, in document order (children included).
    pub images: Vec<ProgramImage>,
    /// Files memory regions are prefilled from: (path as written, `line:column`).
    pub prefills: Vec<(String, String)>,
    /// `<?tunnelkit qemu_icount="true"?>` under `<system>`: boot it with
    /// QEMU's instruction counter as its clock (deterministic time, as the
    /// benchmarks run), on boards where seL4's timer works that way.
    pub icount: bool,
}

impl SystemFile {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<SystemFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading system description {}", path.display()))?;
        Self::parse(path, &text)
    }

    /// Parses `text` read from `path`; errors are `FILE:LINE:COL: message`.
    pub fn parse(path: &Path, text: &str) -> Result<SystemFile> {
        let doc = roxmltree::Document::parse(text).map_err(|e| {
            let p = e.pos();
            anyhow::anyhow!("{}:{}:{}: error: not well-formed XML: {e}", path.display(), p.row, p.col)
        })?;
        let root = doc.root_element();
        let at = |node: roxmltree::Node| {
            let p = doc.text_pos_at(node.range().start);
            format!("{}:{}", p.row, p.col)
        };
        if root.tag_name().name() != "system" {
            bail!("{}:{}: error: the root element is <{}>, expected <system>", path.display(), at(root), root.tag_name().name());
        }
        let mut images = Vec::new();
        for pd in root.descendants().filter(|n| n.has_tag_name("protection_domain")) {
            let name = pd.attribute("name").unwrap_or("?").to_string();
            let imgs: Vec<_> = pd.children().filter(|n| n.has_tag_name("program_image")).collect();
            match imgs.as_slice() {
                [img] => match img.attribute("path") {
                    Some(p) => images.push(ProgramImage { pd: name, path: p.to_string(), position: at(*img) }),
                    None => bail!("{}:{}: error: <program_image> of PD '{name}' has no path attribute", path.display(), at(*img)),
                },
                [] => bail!("{}:{}: error: PD '{name}' has no <program_image>", path.display(), at(pd)),
                [_, second, ..] => bail!("{}:{}: error: PD '{name}' has more than one <program_image>", path.display(), at(*second)),
            }
        }
        let prefills = root
            .children()
            .filter(|n| n.has_tag_name("memory_region"))
            .filter_map(|n| n.attribute("prefill_path").map(|p| (p.to_string(), at(n))))
            .collect();
        let mut icount = false;
        for pi_node in root.children().filter(|n| n.is_pi()) {
            let Some(pi) = pi_node.pi().filter(|pi| pi.target == "tunnelkit") else { continue };
            let here = || format!("{}:{}", path.display(), at(pi_node));
            for (key, value) in
                crate::supervision::attributes(pi.value.unwrap_or("")).map_err(|e| anyhow::anyhow!("{}: error: {e}", here()))?
            {
                match (key, value) {
                    ("qemu_icount", "true") => icount = true,
                    ("qemu_icount", "false") => icount = false,
                    ("qemu_icount", other) => bail!("{}: error: qemu_icount must be true or false, not '{other}'", here()),
                    (other, _) => bail!(
                        "{}: error: unknown system setting '{other}' (known here: qemu_icount; call_bound_us goes inside a pod's <protection_domain>)",
                        here()
                    ),
                }
            }
        }
        Ok(SystemFile { path: path.to_path_buf(), images, prefills, icount })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_images_with_positions() {
        let text = "<system>\n  <protection_domain name=\"a\">\n    <program_image path=\"a.elf\" />\n  </protection_domain>\n</system>\n";
        let s = SystemFile::parse(Path::new("s.xml"), text).unwrap();
        assert_eq!(s.images, vec![ProgramImage { pd: "a".into(), path: "a.elf".into(), position: "3:5".into() }]);
    }

    #[test]
    fn reads_run_settings() {
        let text = "<system>\n  <?tunnelkit qemu_icount=\"true\"?>\n  <protection_domain name=\"s\">\n    <program_image path=\"s.elf\" />\n    <protection_domain name=\"c\" id=\"1\"><program_image path=\"c.elf\" /></protection_domain>\n  </protection_domain>\n</system>\n";
        let s = SystemFile::parse(Path::new("s.xml"), text).unwrap();
        assert!(s.icount);
        let e = SystemFile::parse(Path::new("s.xml"), &text.replace("qemu_icount", "icount")).unwrap_err();
        assert!(e.to_string().starts_with("s.xml:2:3: error: unknown system setting 'icount'"), "{e}");
    }

    #[test]
    fn errors_carry_file_line_and_column() {
        let e = SystemFile::parse(Path::new("s.xml"), "<system>\n<protection_domain name=\"a\">\n</system>").unwrap_err();
        assert!(e.to_string().starts_with("s.xml:3:"), "{e}");
        let e = SystemFile::parse(Path::new("s.xml"), "<system>\n  <protection_domain name=\"b\"/>\n</system>").unwrap_err();
        assert_eq!(e.to_string(), "s.xml:2:3: error: PD 'b' has no <program_image>");
    }
}
