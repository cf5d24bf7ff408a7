//! `tunnelkit check`: a static checker for Microkit 2.3 system description
//! files (SDF). It applies the rules of the microkit tool (docs §7) and
//! tunnelkit's own (utilisation per core, pp cycles, unused channels, policies),
//! reporting every finding with `FILE:LINE:COL`.
//!
//! Every entry point takes arbitrary bytes and never panics.

use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::board::{Board, KernelConfig};

pub mod cores;
pub mod graph;
pub mod images;
pub mod policy;
pub mod rules;

pub use crate::sdf::parse;
pub use crate::sdf::{Diagnostic, Pos, Severity, Sink, pos_at};

/// The result of checking one system.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// The authority graph (present when the file parsed as XML with a `<system>` root).
    pub graph: Option<graph::AuthorityGraph>,
    /// Rules that were not applied, each with the reason (e.g. no program
    /// images to look at).
    pub skipped: Vec<&'static str>,
}

impl Report {
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error)
    }
    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Warning)
    }
    /// True if there is no error.
    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }
    /// True if some error has rule id `rule`.
    pub fn has_error(&self, rule: &str) -> bool {
        self.errors().any(|d| d.rule == rule)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// What a system is checked for: board and kernel configuration, each
/// optional (rules that need one are skipped without it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The board.
    pub board: Option<Board>,
    /// The kernel configuration (its core count bounds `cpu`).
    pub config: Option<KernelConfig>,
}

/// Checks the SDF `bytes` named `file` (no policy) for `board`, any config.
pub fn check_bytes(file: &str, bytes: &[u8], board: Option<Board>) -> Report {
    check_bytes_for(file, bytes, Target { board, config: None })
}

/// Checks the SDF `bytes` named `file` (no policy) for `target`, without
/// program images (the image rules are skipped; see [`Report::skipped`]).
pub fn check_bytes_for(file: &str, bytes: &[u8], target: Target) -> Report {
    check_bytes_with(file, bytes, target, None)
}

/// Checks the SDF `bytes` named `file` (no policy) for `target`; with
/// `search` (directories, in order), also its program images and prefill
/// files, found as the microkit tool finds them.
pub fn check_bytes_with(file: &str, bytes: &[u8], target: Target, search: Option<&[PathBuf]>) -> Report {
    let mut sink = Sink::new(file);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
            sink.error(
                pos_at(good, good.len()),
                "xml-utf8",
                format!("the file is not valid UTF-8 (invalid byte 0x{:02x})", bytes.get(e.valid_up_to()).copied().unwrap_or(0)),
                "save the system description as UTF-8",
            );
            return Report { diagnostics: sink.out, graph: None, skipped: Vec::new() };
        }
    };
    let parsed = crate::sdf::Parsed::text(file, text);
    check_parsed(text, parsed, target, search)
}

/// Checks an already parsed system (`text` is what `parsed` was read from).
pub fn check_parsed(text: &str, parsed: crate::sdf::Parsed, target: Target, search: Option<&[PathBuf]>) -> Report {
    let file =
        parsed.system.as_ref().map(|s| s.file.clone()).or_else(|| parsed.diagnostics.first().map(|d| d.file.clone())).unwrap_or_default();
    let mut sink = Sink { file: &file, out: parsed.diagnostics };
    let mut skipped = Vec::new();
    if target.board.is_none() {
        skipped.push(NO_BOARD);
    }
    let graph = parsed.system.map(|s| {
        rules::check(&s, target, &mut sink);
        per_core(text, &s, &mut sink);
        let supervisors = match search {
            Some(dirs) => images::check(&s, target, dirs, &mut sink),
            None => {
                skipped.push(images::SKIPPED_WITHOUT_IMAGES);
                None
            }
        };
        call_bounds(&s, supervisors.as_ref(), &mut sink);
        graph::AuthorityGraph::of(&s)
    });
    Report { diagnostics: sink.out, graph, skipped }
}

/// What [`Report::skipped`] says without a board.
const NO_BOARD: &str =
    "board rules (map-stack, stack-image-overlap, mr-phys-region, device-board, image-arch, irq-arch, ioport-arch): no --board";

/// Whether the per-core pods can be expanded, as `tunnelkit build` does it.
fn per_core(text: &str, sys: &crate::sdf::System, sink: &mut Sink) {
    if let Err(errors) = crate::percore::expand_system(text, sys) {
        for e in errors {
            sink.error(e.pos, "per-core", e.message, e.hint);
        }
    }
}

/// The wiring of call bounds (`<?tunnelkit call_bound_us?>`), as `tunnelkit
/// build` checks it. `supervisors` are the images that carry a supervision
/// table; without images, every parent of a bounded pod is assumed to run one.
fn call_bounds(sys: &crate::sdf::System, supervisors: Option<&images::Supervisors>, sink: &mut Sink) {
    let is_supervisor = |image: &str| supervisors.is_none_or(|s| s.contains(image));
    if let Err(e) = crate::supervision::tables(sys, is_supervisor) {
        let hint = if e.rule == "restart-policy" {
            "see the README's Containment section for restart policies"
        } else {
            "see the README's Containment section for a bounded pod's wiring"
        };
        sink.error(e.at, e.rule, e.message, hint);
    }
}

/// Checks the SDF at `path`, and the policy at `policy` if given.
/// Program images are looked for as the microkit tool does, on
/// [`search_path`]`(path, &[])`.
pub fn check_file(path: &Path, policy: Option<&Path>, target: Target) -> Report {
    let search = search_path(path, &[]);
    check_file_with(path, policy, target, Some(&search))
}

/// Where program images and prefill files are looked for: the directories
/// `given` (`--search-path`), in order, then the current directory, as the
/// microkit tool does; with none given, the system file's directory and then
/// the current directory.
pub fn search_path(system: &Path, given: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = given.to_vec();
    if given.is_empty() {
        let dir = system.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        out.push(dir.to_path_buf());
    }
    out.push(std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")));
    out
}

/// Checks the SDF at `path` for `target`, its images on `search` (None:
/// the image rules are skipped), and the policy at `policy` if given.
pub fn check_file_with(path: &Path, policy: Option<&Path>, target: Target, search: Option<&[PathBuf]>) -> Report {
    let file = path.display().to_string();
    let mut report = match std::fs::read(path) {
        Ok(bytes) => check_bytes_with(&file, &bytes, target, search),
        Err(e) => {
            let mut sink = Sink::new(&file);
            sink.error(Pos { line: 1, col: 1 }, "io", format!("cannot read the file: {e}"), "check the path");
            return Report { diagnostics: sink.out, graph: None, skipped: Vec::new() };
        }
    };
    if let Some(p) = policy {
        let pfile = p.display().to_string();
        let mut sink = Sink::new(&pfile);
        match std::fs::read(p) {
            Ok(bytes) => {
                if let Some(pol) = policy::parse(&bytes, &mut sink)
                    && let Some(g) = &report.graph
                {
                    policy::apply(&pol, g, &mut sink);
                }
            }
            Err(e) => sink.error(Pos { line: 1, col: 1 }, "policy-io", format!("cannot read the policy: {e}"), "check the path"),
        }
        report.diagnostics.extend(sink.out);
    }
    report
}
