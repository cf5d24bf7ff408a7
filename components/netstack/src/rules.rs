//! Filter rules, given in the system description as a prefilled memory
//! region: one rule per line, `allow arp`, `allow icmp` or `allow udp <port>`;
//! `#` starts a comment; anything not allowed is refused.

use crate::respond::Class;

/// Most rules a filter holds.
pub const MAX_RULES: usize = 32;

/// One rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// ARP requests.
    Arp,
    /// ICMP echo requests.
    Icmp,
    /// UDP to this port.
    Udp(u16),
}

/// A rule file that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong.
    pub what: &'static str,
}

/// Parsed rules.
#[derive(Clone, Debug)]
pub struct Rules {
    rules: [(Rule, u32); MAX_RULES],
    count: usize,
}

impl Rules {
    /// Parses a rule file (NUL bytes after the text are ignored).
    pub fn parse(text: &[u8]) -> Result<Rules, RuleError> {
        let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
        let text = core::str::from_utf8(&text[..end]).map_err(|_| RuleError { line: 1, column: 1, what: "not UTF-8" })?;
        let mut rules = Rules { rules: [(Rule::Arp, 0); MAX_RULES], count: 0 };
        for (i, raw) in text.lines().enumerate() {
            let line = i as u32 + 1;
            let content = raw.split('#').next().unwrap_or("");
            let mut words = content.split_whitespace();
            let column = |w: &str| (w.as_ptr() as usize - raw.as_ptr() as usize) as u32 + 1;
            let Some(verb) = words.next() else { continue };
            if verb != "allow" {
                return Err(RuleError { line, column: column(verb), what: "expected `allow`" });
            }
            let what = words.next().ok_or(RuleError { line, column: raw.len() as u32 + 1, what: "expected arp, icmp or udp" })?;
            let rule = match what {
                "arp" => Rule::Arp,
                "icmp" => Rule::Icmp,
                "udp" => {
                    let port = words.next().ok_or(RuleError { line, column: raw.len() as u32 + 1, what: "expected a port after udp" })?;
                    Rule::Udp(port.parse().map_err(|_| RuleError { line, column: column(port), what: "not a port number (0..65535)" })?)
                }
                other => return Err(RuleError { line, column: column(other), what: "expected arp, icmp or udp" }),
            };
            if let Some(extra) = words.next() {
                return Err(RuleError { line, column: column(extra), what: "unexpected text after the rule" });
            }
            if rules.count == MAX_RULES {
                return Err(RuleError { line, column: 1, what: "too many rules" });
            }
            rules.rules[rules.count] = (rule, line);
            rules.count += 1;
        }
        Ok(rules)
    }

    /// The line of the first rule allowing `class`, if any.
    pub fn allows(&self, class: Class) -> Option<u32> {
        self.rules[..self.count]
            .iter()
            .find(|(r, _)| match (r, class) {
                (Rule::Arp, Class::Arp) | (Rule::Icmp, Class::IcmpEcho) => true,
                (Rule::Udp(p), Class::Udp { port }) => *p == port,
                _ => false,
            })
            .map(|(_, line)| *line)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no rules (everything is refused).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(port: u16) -> Class {
        Class::Udp { port }
    }

    #[test]
    fn allows_what_the_rules_name_and_nothing_else() {
        let r = Rules::parse(b"# net rules\nallow arp\n\n  allow udp 7   # echo\nallow icmp\n\0\0\0").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.allows(Class::Arp), Some(2));
        assert_eq!(r.allows(udp(7)), Some(4));
        assert_eq!(r.allows(udp(8)), None);
        assert_eq!(r.allows(Class::IcmpEcho), Some(5));
    }

    #[test]
    fn errors_have_line_and_column() {
        assert_eq!(Rules::parse(b"allow arp\n  deny udp 7").unwrap_err(), RuleError { line: 2, column: 3, what: "expected `allow`" });
        assert_eq!(Rules::parse(b"allow udp seven").unwrap_err(), RuleError { line: 1, column: 11, what: "not a port number (0..65535)" });
        assert_eq!(Rules::parse(b"allow udp 99999").unwrap_err().column, 11);
        assert_eq!(Rules::parse(b"allow tcp 80").unwrap_err(), RuleError { line: 1, column: 7, what: "expected arp, icmp or udp" });
        assert_eq!(Rules::parse(b"allow icmp please").unwrap_err().what, "unexpected text after the rule");
        assert!(Rules::parse(&[0xff, 0xfe]).is_err());
    }
}
