//! Lines a PD prints for a host tool to parse (the trace dumper's, the
//! accountant's): each ends with ` #` and the CRC-16 of what precedes it, so
//! a line another PD's output broke into is recognised and dropped.

use core::fmt;

use tunnelkit_abi::trace::crc16;

/// A line being formatted, cut at 240 bytes.
pub struct CheckedLine {
    buf: [u8; 240],
    len: usize,
}

impl Default for CheckedLine {
    fn default() -> Self {
        Self::new()
    }
}

impl CheckedLine {
    /// An empty line.
    pub const fn new() -> Self {
        Self { buf: [0; 240], len: 0 }
    }

    /// What was written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// What was written so far, as text (`?` if a cut split a character).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// Prints the line with its check.
    pub fn emit(&self) {
        crate::debug_println!("{} #{:04x}", self.as_str(), crc16(self.as_bytes()));
    }
}

impl fmt::Write for CheckedLine {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() { Err(fmt::Error) } else { Ok(()) }
    }
}

/// Formats `args` and prints it as a [`CheckedLine`].
pub fn print(args: fmt::Arguments<'_>) {
    let mut line = CheckedLine::new();
    let _ = fmt::Write::write_fmt(&mut line, args);
    line.emit();
}

/// A NUL-padded name (as the PDs write theirs into shared regions).
#[derive(Clone, Copy, Debug)]
pub struct PaddedName<const N: usize>(pub [u8; N]);

impl<const N: usize> PaddedName<N> {
    /// The name up to its first NUL (`?` if empty or not UTF-8).
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        match core::str::from_utf8(&self.0[..len]) {
            Ok("") | Err(_) => "?",
            Ok(s) => s,
        }
    }
}

impl<const N: usize> fmt::Display for PaddedName<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    #[test]
    fn lines_are_cut_at_their_capacity_and_names_at_their_nul() {
        let mut l = CheckedLine::new();
        assert!(write!(l, "{}", "x".repeat(300)).is_err());
        assert_eq!(l.as_bytes().len(), 240);
        let mut n = [0u8; 8];
        n[..3].copy_from_slice(b"pod");
        assert_eq!(PaddedName(n).as_str(), "pod");
        assert_eq!(PaddedName([0u8; 4]).as_str(), "?");
    }
}
