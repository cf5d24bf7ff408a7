//! Authority policies (TOML):
//!
//! ```toml
//! no_write  = [{ pd = "report", region = "a_crypt" }]   # pd must not map region writable
//! no_path   = [{ from = "report", to = "crypt" }]       # no pp/notify path from → to
//! only_via  = [{ from = "client_a", to = "checksum", via = "crypt" }]
//! max_share = [{ pd = "client_a", percent = 30 }]       # budget/period ≤ percent
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::graph::AuthorityGraph;
use super::{Pos, Sink, pos_at};

/// `no_write` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoWrite {
    /// PD.
    pub pd: String,
    /// Region.
    pub region: String,
}

/// `no_path` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoPath {
    /// Source PD.
    pub from: String,
    /// Target PD.
    pub to: String,
}

/// `only_via` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlyVia {
    /// Source PD.
    pub from: String,
    /// Target PD.
    pub to: String,
    /// The PD every path must pass.
    pub via: String,
}

/// `max_share` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxShare {
    /// PD.
    pub pd: String,
    /// Largest allowed budget/period in percent.
    pub percent: f64,
}

/// A policy file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Rules.
    #[serde(default)]
    pub no_write: Vec<Spanned<NoWrite>>,
    /// Rules.
    #[serde(default)]
    pub no_path: Vec<Spanned<NoPath>>,
    /// Rules.
    #[serde(default)]
    pub only_via: Vec<Spanned<OnlyVia>>,
    /// Rules.
    #[serde(default)]
    pub max_share: Vec<Spanned<MaxShare>>,
    /// The text (for positions).
    #[serde(skip)]
    pub text: String,
}

/// Parses a policy; errors go to `sink` with line:col.
pub(crate) fn parse(bytes: &[u8], sink: &mut Sink) -> Option<Policy> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
            sink.error(pos_at(good, good.len()), "policy-syntax", "the policy is not valid UTF-8", "save it as UTF-8");
            return None;
        }
    };
    match toml::from_str::<Policy>(text) {
        Ok(mut p) => {
            p.text = text.to_string();
            Some(p)
        }
        Err(e) => {
            let pos = e.span().map(|s| pos_at(text, s.start)).unwrap_or(Pos { line: 1, col: 1 });
            sink.error(
                pos,
                "policy-syntax",
                e.message().trim().replace('\n', "; "),
                "the policy has arrays no_write [{pd, region}], no_path [{from, to}], only_via [{from, to, via}], max_share [{pd, percent}]",
            );
            None
        }
    }
}

/// Checks `policy` against `g`.
pub(crate) fn apply(policy: &Policy, g: &AuthorityGraph, sink: &mut Sink) {
    let at = |s: &std::ops::Range<usize>| pos_at(&policy.text, s.start);
    let pd = |name: &str, pos: Pos, sink: &mut Sink| {
        let r = g.pd(name);
        if r.is_none() {
            sink.error(pos, "policy-unknown-pd", format!("the policy names PD '{name}', which the system does not have"), "fix the name");
        }
        r
    };
    for r in &policy.no_write {
        let pos = at(&r.span());
        let Some(p) = pd(&r.get_ref().pd, pos, sink) else { continue };
        for m in g.maps.iter().filter(|m| m.pd == p && m.mr == r.get_ref().region && m.perms.contains('w')) {
            sink.error(
                pos,
                "policy-no-write",
                format!("PD '{}' maps region '{}' with perms \"{}\" (writable)", g.pds[p].name, m.mr, m.perms),
                "map it with perms=\"r\" or change the policy",
            );
        }
    }
    for r in &policy.no_path {
        let pos = at(&r.span());
        let (Some(a), Some(b)) = (pd(&r.get_ref().from, pos, sink), pd(&r.get_ref().to, pos, sink)) else { continue };
        if let Some(path) = g.path(a, b, None) {
            sink.error(pos, "policy-no-path", format!("path {}", g.show_path(&path)), "remove a channel (or its pp/notify) on this path");
        }
    }
    for r in &policy.only_via {
        let pos = at(&r.span());
        let v = r.get_ref();
        let (Some(a), Some(b), Some(c)) = (pd(&v.from, pos, sink), pd(&v.to, pos, sink), pd(&v.via, pos, sink)) else { continue };
        if a != c
            && b != c
            && let Some(path) = g.path(a, b, Some(c))
        {
            sink.error(
                pos,
                "policy-only-via",
                format!("path {} bypasses '{}'", g.show_path(&path), v.via),
                "route the calls through the named PD",
            );
        }
    }
    for r in &policy.max_share {
        let pos = at(&r.span());
        let Some(p) = pd(&r.get_ref().pd, pos, sink) else { continue };
        let n = &g.pds[p];
        let share = if n.passive || n.period == 0 { 0.0 } else { n.budget as f64 * 100.0 / n.period as f64 };
        if share > r.get_ref().percent + 1e-9 {
            sink.error(
                pos,
                "policy-max-share",
                format!("PD '{}' has budget/period {}/{} = {share:.1} % > {} %", n.name, n.budget, n.period, r.get_ref().percent),
                "lower its budget or lengthen its period",
            );
        }
    }
}
