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
