//! Positions and diagnostics: the one way every part of the tool says where
//! something is in a system description and what is wrong with it.

use std::fmt;

/// A position in a file (1-based line and column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
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

/// Collects diagnostics for one file.
pub struct Sink<'a> {
    /// The file the diagnostics are about.
    pub file: &'a str,
    /// What was found, in order.
    pub out: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    /// An empty sink for `file`.
    pub fn new(file: &'a str) -> Self {
        Sink { file, out: Vec::new() }
    }
    /// Records an error.
    pub fn error(&mut self, pos: Pos, rule: &'static str, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Severity::Error, pos, rule, message.into(), hint.into());
    }
    /// Records a warning.
    pub fn warning(&mut self, pos: Pos, rule: &'static str, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Severity::Warning, pos, rule, message.into(), hint.into());
    }
    /// Whether an error was recorded.
    pub fn has_errors(&self) -> bool {
        self.out.iter().any(|d| d.severity == Severity::Error)
    }
    fn push(&mut self, severity: Severity, pos: Pos, rule: &'static str, message: String, hint: String) {
        self.out.push(Diagnostic { severity, file: self.file.to_string(), pos, rule, message, hint });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_one() {
        let t = "ab\nçd<x";
        assert_eq!(pos_at(t, 0), Pos { line: 1, col: 1 });
        assert_eq!(pos_at(t, t.find('<').unwrap()), Pos { line: 2, col: 3 });
        assert_eq!(pos_at(t, 999), Pos { line: 2, col: 5 });
    }
}
