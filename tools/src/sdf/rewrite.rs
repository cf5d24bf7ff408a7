//! What the tools that add PDs to a system (the console pod, the trace
//! dumper) share: the model and the XML tree of the text they rewrite, the
//! error they report at a position, and names not yet taken.

use std::collections::BTreeSet;

use roxmltree::{Document, ParsingOptions};

use super::{Pos, Sink, System, parse};

/// A reason a system cannot be rewritten, at its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// The model of `text` (a valid system) and its XML tree, for rewriting it.
pub fn read(text: &str) -> Result<(System, Document<'_>), Vec<RewriteError>> {
    let mut sink = Sink::new("");
    let sys = parse::parse(text, &mut sink).ok_or_else(|| {
        vec![RewriteError {
            pos: sink.out.first().map(|d| d.pos).unwrap_or_default(),
            message: "the system description does not parse".into(),
            hint: "run tunnelkit check on it".into(),
        }]
    })?;
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: 1_000_000 };
    let doc = Document::parse_with_options(text, opts).map_err(|e| {
        vec![RewriteError { pos: Pos::default(), message: format!("not well-formed XML: {e}"), hint: "run tunnelkit check on it".into() }]
    })?;
    Ok((sys, doc))
}

/// `base`, or `base_2`, `base_3`, … : the first not in `taken`.
pub fn free_name<S: std::borrow::Borrow<str> + Ord>(base: &str, taken: &BTreeSet<S>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..).map(|n| format!("{base}_{n}")).find(|n| !taken.contains(n.as_str())).unwrap_or_default()
}

/// `v` escaped for an XML attribute value.
pub fn escape(v: &str) -> String {
    v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Where text added before the root's end tag goes: the start of the end
/// tag's line when only indentation precedes it (so the tag keeps its line
/// and indentation), and the separator the added text needs before it.
pub fn before_root_end(text: &str, doc: &Document<'_>) -> (usize, &'static str) {
    let root = doc.root_element().range();
    let at = text[root.clone()].rfind("</").map_or(root.end, |k| root.start + k);
    let before = &text[..at];
    let indent = before.rsplit('\n').next().filter(|l| l.trim().is_empty()).map_or(0, str::len);
    let split = before.len() - indent;
    (split, if split == 0 || text[..split].ends_with('\n') { "" } else { "\n" })
}

/// Inserts each `(byte offset, text)` into `text` (offsets into the original).
pub fn splice(text: &str, mut inserts: Vec<(usize, String)>) -> String {
    inserts.sort_by_key(|(at, _)| *at);
    let mut out = String::with_capacity(text.len() + inserts.iter().map(|(_, s)| s.len()).sum::<usize>());
    let mut from = 0;
    for (at, s) in &inserts {
        out.push_str(&text[from..*at]);
        out.push_str(s);
        from = *at;
    }
    out.push_str(&text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_skip_what_is_taken() {
        let taken: BTreeSet<&str> = ["serial", "serial_2"].into();
        assert_eq!(free_name("serial", &taken), "serial_3");
        assert_eq!(free_name("uart", &taken), "uart");
    }
}
