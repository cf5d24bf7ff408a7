//! `tunnelkit check`: a static checker for Microkit 2.3 system description
//! files (SDF). It applies the rules of the microkit tool (docs §7) and
//! tunnelkit's own (utilisation per core, pp cycles, unused channels, policies),
//! reporting every finding with `FILE:LINE:COL`.
//!
//! Every entry point takes arbitrary bytes and never panics.

use std::fmt;
use std::path::Path;

pub use crate::board::{Board, KernelConfig};

pub mod cores;
pub mod graph;
pub mod parse;
pub mod policy;
pub mod rules;

/// A position in a file (1-based line and column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub col: u32,
}

/// Error or warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Makes the system invalid (exit 1).
    Error,
    /// Reported, but the system is still valid.
    Warning,
}

/// One finding.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the position refers to (the SDF or the policy file).
    pub file: String,
    /// Where.
    pub pos: Pos,
    /// The rule id, e.g. `pp-priority` (listed in docs/check.md).
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it (may be empty).
    pub hint: String,
}

/// The result of checking one system.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// The authority graph (present when the file parsed as XML with a `<system>` root).
    pub graph: Option<graph::AuthorityGraph>,
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

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {sev}: {}: {}", self.file, self.pos.line, self.pos.col, self.rule, self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
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

/// Collects diagnostics for one file.
pub(crate) struct Sink<'a> {
    pub file: &'a str,
    pub out: Vec<Diagnostic>,
}

impl Sink<'_> {
    pub fn error(&mut self, pos: Pos, rule: &'static str, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Severity::Error, pos, rule, message.into(), hint.into());
    }
    pub fn warning(&mut self, pos: Pos, rule: &'static str, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Severity::Warning, pos, rule, message.into(), hint.into());
    }
    fn push(&mut self, severity: Severity, pos: Pos, rule: &'static str, message: String, hint: String) {
        self.out.push(Diagnostic { severity, file: self.file.to_string(), pos, rule, message, hint });
    }
}

/// Line/column of byte `offset` in `text` (columns count characters).
pub fn pos_at(text: &str, offset: usize) -> Pos {
    let offset = offset.min(text.len());
    let mut line = 1u32;
    let mut line_start = 0usize;
    for (i, b) in text.as_bytes()[..offset].iter().enumerate() {
        if *b == b'\n' {
            line = line.saturating_add(1);
            line_start = i + 1;
        }
    }
    let prefix = text.get(line_start..offset).map(|s| s.chars().count()).unwrap_or(offset - line_start);
    Pos { line, col: u32::try_from(prefix).unwrap_or(u32::MAX).saturating_add(1) }
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

/// Checks the SDF `bytes` named `file` (no policy) for `target`.
pub fn check_bytes_for(file: &str, bytes: &[u8], target: Target) -> Report {
    let mut sink = Sink { file, out: Vec::new() };
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
            return Report { diagnostics: sink.out, graph: None };
        }
    };
    let system = parse::parse(text, &mut sink);
    let graph = system.map(|s| {
        rules::check(&s, target, &mut sink);
        per_core(text, &mut sink);
        call_bounds(text, &mut sink);
        graph::AuthorityGraph::of(&s)
    });
    Report { diagnostics: sink.out, graph }
}

/// Whether the per-core pods can be expanded, as `tunnelkit build` does it.
fn per_core(text: &str, sink: &mut Sink) {
    if let Err(errors) = crate::percore::expand(text) {
        for e in errors {
            sink.error(e.pos, "per-core", e.message, e.hint);
        }
    }
}

/// The wiring of call bounds (`<?tunnelkit call_bound_us?>`), as `tunnelkit
/// build` checks it, assuming every parent of a bounded pod runs the
/// supervisor image (which only the build can see).
fn call_bounds(text: &str, sink: &mut Sink) {
    if let Err(e) = crate::supervision::tables(Path::new(sink.file), text, |_| true) {
        let (pos, message) = match e.downcast_ref::<crate::supervision::SdfError>() {
            Some(e) => (Pos { line: e.at.line, col: e.at.col }, e.message.clone()),
            None => (Pos { line: 1, col: 1 }, e.to_string()),
        };
        sink.error(pos, "call-bound", message, "see the README's Containment section for a bounded pod's wiring");
    }
}

/// Checks the SDF at `path`, and the policy at `policy` if given.
pub fn check_file(path: &Path, policy: Option<&Path>, target: Target) -> Report {
    let file = path.display().to_string();
    let mut report = match std::fs::read(path) {
        Ok(bytes) => check_bytes_for(&file, &bytes, target),
        Err(e) => {
            let mut sink = Sink { file: &file, out: Vec::new() };
            sink.error(Pos { line: 1, col: 1 }, "io", format!("cannot read the file: {e}"), "check the path");
            return Report { diagnostics: sink.out, graph: None };
        }
    };
    if let Some(p) = policy {
        let pfile = p.display().to_string();
        let mut sink = Sink { file: &pfile, out: Vec::new() };
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
