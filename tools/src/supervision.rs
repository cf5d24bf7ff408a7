//! Supervision tables: from a system description's call bounds to the table
//! patched into each supervisor's image.
//!
//! A pod declares its bound with a processing instruction, which the
//! microkit tool ignores:
//!
//! ```xml
//! <protection_domain name="pod_c" id="2" passive="true" priority="160">
//!     <?tunnelkit call_bound_us="1000"?>
//!     <map mr="pod_c_calls" vaddr="0x3000000" setvar_vaddr="tunnelkit_call_state" />
//! </protection_domain>
//! ```
//!
//! Its parent must run the `supervisor` image (it has the
//! `tunnelkit_supervision` symbol), map the same call-state page, and hold
//! a `<cspace><cap_sc pd="…">` for every active PD whose calls can reach the
//! pod. Every mistake is reported at the line and column it is about.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use roxmltree::{Document, Node};
use tunnelkit_sys::supervision::{CALL_STATE_SYMBOL, CHANNELS, CallerSc, MAX_CHILDREN, SupervisedChild, TABLE_SYMBOL, TABLE_WORDS, encode};

/// Returns an [`SdfError`] at a [`Position`], with a formatted message.
macro_rules! fail {
    ($at:expr, $($msg:tt)*) => {
        return Err($at.error(format!($($msg)*)).into())
    };
}

/// Where something is in a system description file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The file, as given.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl Position {
    fn of(path: &Path, doc: &Document, node: Node) -> Self {
        let p = doc.text_pos_at(node.range().start);
        Self { file: path.display().to_string(), line: p.row, col: p.col }
    }

    /// An error at this position.
    pub fn error(&self, message: impl Into<String>) -> SdfError {
        SdfError { at: self.clone(), message: message.into() }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A mistake in a system description, at its position (displayed as
/// `FILE:LINE:COL: error: message`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdfError {
    /// Where.
    pub at: Position,
    /// What.
    pub message: String,
}

impl std::fmt::Display for SdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: error: {}", self.at, self.message)
    }
}

impl std::error::Error for SdfError {}

/// The table of one supervisor PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The supervisor's name.
    pub pd: String,
    /// Its program image as written.
    pub image: String,
    /// `line:column` of the supervisor element.
    pub position: String,
    /// Its children, in document order.
    pub children: Vec<SupervisedChild>,
}

/// A PD as far as supervision cares.
struct PdInfo<'a> {
    node: Node<'a, 'a>,
    name: String,
    passive: bool,
    parent: Option<usize>,
}

/// Reads the call bounds of `text` (read from `path`) and builds a table
/// for every PD with children whose image `is_supervisor` accepts. Bounds
/// under any other parent are an error.
pub fn tables(path: &Path, text: &str, is_supervisor: impl Fn(&str) -> bool) -> Result<Vec<Table>> {
    let doc = Document::parse(text).map_err(|e| {
        Position { file: path.display().to_string(), line: e.pos().row, col: e.pos().col }.error(format!("not well-formed XML: {e}"))
    })?;
    let at = |node: Node| Position::of(path, &doc, node);

    let pds: Vec<PdInfo> = doc
        .descendants()
        .filter(|n| n.has_tag_name("protection_domain"))
        .map(|node| PdInfo {
            node,
            name: node.attribute("name").unwrap_or("?").to_string(),
            passive: node.attribute("passive") == Some("true"),
            parent: None,
        })
        .collect();
    let pds: Vec<PdInfo> = pds
        .iter()
        .map(|p| PdInfo {
            node: p.node,
            name: p.name.clone(),
            passive: p.passive,
            parent: p.node.parent_element().and_then(|par| pds.iter().position(|q| q.node == par)),
        })
        .collect();
    let index_of = |name: &str| pds.iter().position(|p| p.name == name);

    // Bounds declared by processing instructions.
    let mut bounds: BTreeMap<usize, (u64, Node)> = BTreeMap::new();
    for pi_node in doc.descendants().filter(|n| n.is_pi()) {
        let Some(pi) = pi_node.pi() else { continue };
        if pi.target != "tunnelkit" {
            continue;
        }
        let parent = pi_node.parent_element();
        if parent.is_some_and(|p| p.has_tag_name("system")) {
            continue; // run settings: crate::sdf reads them
        }
        let Some(pd) = parent.filter(|p| p.has_tag_name("protection_domain")) else {
            fail!(
                at(pi_node),
                "a <?tunnelkit …?> instruction belongs inside <system> (run settings) or a pod's <protection_domain> (its call bound)"
            );
        };
        let index = pds.iter().position(|p| p.node == pd).context("PD index")?;
        for (key, value) in attributes(pi.value.unwrap_or("")).map_err(|e| at(pi_node).error(e))? {
            match key {
                "call_bound_us" => match value.parse::<u64>() {
                    Ok(us) if us > 0 => {
                        bounds.insert(index, (us, pi_node));
                    }
                    _ => {
                        fail!(at(pi_node), "call_bound_us must be a whole number of microseconds above 0, not '{value}'");
                    }
                },
                "per_core" | "cross_core" => {} // pod instances: crate::check and crate::percore read them
                other => fail!(at(pi_node), "unknown tunnelkit setting '{other}' (known here: call_bound_us, per_core, cross_core)"),
            }
        }
    }

    if let Some((k, (_, pi))) = bounds.iter().find(|(k, _)| pds[**k].parent.is_none()) {
        fail!(
            at(*pi),
            "'{}' has a call bound but no parent: a bound is enforced by the supervisor PD whose child the pod is",
            pds[*k].name
        );
    }
    let mut out = Vec::new();
    for (s, sup) in pds.iter().enumerate() {
        let kids: Vec<usize> = (0..pds.len()).filter(|&k| pds[k].parent == Some(s)).collect();
        if kids.is_empty() {
            continue;
        }
        let image = sup.node.children().find(|n| n.has_tag_name("program_image")).and_then(|n| n.attribute("path")).unwrap_or("");
        if !is_supervisor(image) {
            if let Some((_, pi)) = kids.iter().find_map(|k| bounds.get(k)) {
                fail!(
                    at(*pi),
                    "this call bound needs a supervisor, but the parent '{}' runs '{image}', which has no {TABLE_SYMBOL} table (run supervisor.elf there)",
                    sup.name
                );
            }
            continue;
        }
        if kids.len() > MAX_CHILDREN {
            fail!(at(sup.node), "supervisor '{}' has {} children; its table holds {MAX_CHILDREN}", sup.name, kids.len());
        }
        let mut children: Vec<SupervisedChild> = Vec::new();
        for &k in &kids {
            let kid = &pds[k];
            let id = kid.node.attribute("id").and_then(|v| v.parse::<u8>().ok()).unwrap_or(0);
            let mut c = SupervisedChild::new(id, &kid.name);
            c.call_state_vaddr = call_state_vaddr(sup.node, kid.node).unwrap_or(0);
            for (ch, caller) in callers(&doc, &kid.name) {
                let Some(ci) = index_of(&caller) else { continue };
                c.callers[usize::from(ch)] = if pds[ci].passive {
                    kids.iter().position(|&q| q == ci).map_or(CallerSc::Unknown, |pos| CallerSc::Child(pos as u8))
                } else {
                    sc_slot(sup.node, &caller).map_or(CallerSc::Unknown, CallerSc::Cap)
                };
            }
            children.push(c);
        }
        let number = |n: Node, a: &str| n.attribute(a).and_then(parse_number);
        // Bounded children: every caller chain must end at an SC the
        // supervisor can read, through pages it can see.
        for (pos, &k) in kids.iter().enumerate() {
            let Some(&(us, pi)) = bounds.get(&k) else { continue };
            if !pds[k].passive {
                fail!(
                    at(pi),
                    "'{}' is not passive: a call bound applies to pods (passive PDs), which run on their callers' budgets",
                    pds[k].name
                );
            }
            children[pos].bound_us = us;
            let budget = number(sup.node, "budget").unwrap_or(1000);
            if number(sup.node, "period").unwrap_or(budget) != budget {
                fail!(
                    at(sup.node),
                    "supervisor '{}' enforces call bounds, so it must never run out of budget between deciding that a call overran and restarting the pod (the pod could be serving its next call by then): give it budget equal to period",
                    sup.name
                );
            }
            let sup_priority = number(sup.node, "priority").unwrap_or(0);
            if number(pds[k].node, "priority").unwrap_or(0) >= sup_priority {
                fail!(
                    at(sup.node),
                    "supervisor '{}' (priority {sup_priority}) must have a higher priority than the pod '{}' it bounds, or a pod that never ends its call would never let the watchdog run",
                    sup.name,
                    pds[k].name
                );
            }
            check_chain(&doc, &pds, &kids, &children, pos, sup, &at, pi)?;
        }
        if let Some(top) = kids.iter().filter(|k| bounds.contains_key(k)).map(|&k| number(pds[k].node, "priority").unwrap_or(0)).max() {
            check_tick(&doc, &pds, sup, top, &at)?;
        }
        out.push(Table { pd: sup.name.clone(), image: image.to_string(), position: at(sup.node).to_string(), children });
    }
    Ok(out)
}

/// Checks that a tick PD drives the watchdog of `sup`: some PD notifies it,
/// with budget < period (so that it wakes once per period) and a priority
/// above `top`, the highest bounded pod's (an endless call must not starve
/// the tick).
fn check_tick(doc: &Document, pds: &[PdInfo], sup: &PdInfo, top: u64, at: &dyn Fn(Node) -> Position) -> Result<()> {
    let number = |n: Node, a: &str| n.attribute(a).and_then(parse_number);
    let mut notifiers = Vec::new();
    for ch in doc.descendants().filter(|n| n.has_tag_name("channel")) {
        let ends: Vec<Node> = ch.children().filter(|n| n.has_tag_name("end")).collect();
        if let [a, b] = ends.as_slice() {
            for (me, other) in [(a, b), (b, a)] {
                if me.attribute("pd") == Some(sup.name.as_str()) && other.attribute("notify") != Some("false") {
                    notifiers.extend(pds.iter().filter(|p| Some(p.name.as_str()) == other.attribute("pd")));
                }
            }
        }
    }
    let ticks = |p: &&PdInfo| {
        let budget = number(p.node, "budget").unwrap_or(1000);
        budget < number(p.node, "period").unwrap_or(budget) && number(p.node, "priority").unwrap_or(0) > top
    };
    if !notifiers.iter().any(ticks) {
        let listed = if notifiers.is_empty() {
            "none".to_string()
        } else {
            notifiers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
        };
        fail!(
            at(sup.node),
            "supervisor '{}' enforces call bounds, so a tick PD (tick.elf) must notify it: a PD with budget < period (one wake-up per period) and a priority above {top}, the highest bounded pod's; none of its notifiers ({listed}) is one",
            sup.name
        );
    }
    Ok(())
}

/// Checks that calls reaching bounded child `pos` run on SCs the supervisor reads.
#[allow(clippy::too_many_arguments)]
fn check_chain(
    doc: &Document,
    pds: &[PdInfo],
    kids: &[usize],
    children: &[SupervisedChild],
    pos: usize,
    sup: &PdInfo,
    at: &dyn Fn(Node) -> Position,
    pi: Node,
) -> Result<()> {
    let mut todo = vec![pos];
    let mut seen = vec![false; children.len()];
    while let Some(p) = todo.pop() {
        if std::mem::replace(&mut seen[p], true) {
            continue;
        }
        let name = &pds[kids[p]].name;
        if children[p].call_state_vaddr == 0 {
            fail!(
                at(pi),
                "'{name}' must publish its call state for the watchdog: map a page into it with setvar_vaddr=\"{CALL_STATE_SYMBOL}\" and the same memory region into '{}'",
                sup.name
            );
        }
        for (ch, caller) in callers(doc, name) {
            match children[p].callers[usize::from(ch)] {
                CallerSc::Cap(_) => {}
                CallerSc::Child(q) => todo.push(usize::from(q)),
                CallerSc::Unknown if pds.iter().any(|q| q.name == caller && q.passive) => fail!(
                    at(pi),
                    "'{caller}' calls '{name}' (its channel {ch}) but is a pod that '{}' does not supervise, so the watchdog cannot tell whose budget the call uses; make it a child of '{}'",
                    sup.name,
                    sup.name
                ),
                CallerSc::Unknown => fail!(
                    at(pi),
                    "calls from '{caller}' to '{name}' (its channel {ch}) run on the scheduling context of '{caller}': give '{}' <cspace><cap_sc pd=\"{caller}\" slot=\"…\"/></cspace> so its watchdog can read that CPU time",
                    sup.name
                ),
            }
        }
    }
    Ok(())
}

/// `(channel id at pd, caller)` for every channel on which another PD may call `pd`.
fn callers(doc: &Document, pd: &str) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    for ch in doc.descendants().filter(|n| n.has_tag_name("channel")) {
        let ends: Vec<Node> = ch.children().filter(|n| n.has_tag_name("end")).collect();
        if let [a, b] = ends.as_slice() {
            for (me, other) in [(a, b), (b, a)] {
                if me.attribute("pd") == Some(pd)
                    && other.attribute("pp") == Some("true")
                    && let Some(id) = me.attribute("id").and_then(|v| v.parse::<u8>().ok()).filter(|&id| usize::from(id) < CHANNELS)
                {
                    out.push((id, other.attribute("pd").unwrap_or("?").to_string()));
                }
            }
        }
    }
    out
}

/// The supervisor's vaddr of the region `kid` publishes its call state in.
fn call_state_vaddr(sup: Node, kid: Node) -> Option<u64> {
    let mr = kid.children().find(|m| m.has_tag_name("map") && m.attribute("setvar_vaddr") == Some(CALL_STATE_SYMBOL))?.attribute("mr")?;
    let vaddr = sup.children().find(|m| m.has_tag_name("map") && m.attribute("mr") == Some(mr))?.attribute("vaddr")?;
    parse_number(vaddr)
}

/// The `<cspace>` slot of `caller`'s SC in the supervisor.
fn sc_slot(sup: Node, caller: &str) -> Option<u8> {
    sup.children()
        .filter(|n| n.has_tag_name("cspace"))
        .flat_map(|c| c.children())
        .find(|n| n.has_tag_name("cap_sc") && n.attribute("pd") == Some(caller))
        .and_then(|n| n.attribute("slot"))
        .and_then(parse_number)
        .and_then(|s| u8::try_from(s).ok())
        .filter(|s| (1..64).contains(s))
}

fn parse_number(v: &str) -> Option<u64> {
    let v = v.replace('_', "");
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `key="value"` pairs of a processing instruction.
pub(crate) fn attributes(text: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(|| format!("expected key=\"value\" in '{text}'"))?;
        let after =
            after.trim_start().strip_prefix('"').ok_or_else(|| format!("the value of '{}' must be in double quotes", key.trim()))?;
        let (value, tail) = after.split_once('"').ok_or_else(|| format!("unterminated value of '{}'", key.trim()))?;
        out.push((key.trim(), value));
        rest = tail.trim_start();
    }
    Ok(out)
}

/// Writes `table` into the `tunnelkit_supervision` symbol of the ELF file
/// `elf` (a copy the build owns).
pub fn patch(elf: &Path, table: &Table) -> Result<()> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let mut data = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let words = encode(&table.children)
        .map_err(|n| anyhow::anyhow!("{}: error: {n} children; a supervisor holds {MAX_CHILDREN}", table.position))?;
    let offset = {
        let file = object::File::parse(&*data).with_context(|| format!("parsing {}", elf.display()))?;
        let sym = file.symbol_by_name(TABLE_SYMBOL).with_context(|| format!("{} has no {TABLE_SYMBOL} symbol", elf.display()))?;
        if sym.size() != (TABLE_WORDS * 8) as u64 {
            bail!(
                "{}: {TABLE_SYMBOL} is {} bytes, expected {} (rebuild it with this tool's tunnelkit-sys)",
                elf.display(),
                sym.size(),
                TABLE_WORDS * 8
            );
        }
        let section = file.section_by_index(sym.section_index().context("symbol without section")?)?;
        let (file_offset, size) = section.file_range().with_context(|| format!("{TABLE_SYMBOL} is not in a loaded section"))?;
        let start = file_offset + (sym.address() - section.address());
        if start + (TABLE_WORDS * 8) as u64 > file_offset + size {
            bail!("{TABLE_SYMBOL} runs past its section in {}", elf.display());
        }
        usize::try_from(start)?
    };
    for (i, w) in words.iter().enumerate() {
        data[offset + 8 * i..offset + 8 * (i + 1)].copy_from_slice(&w.to_le_bytes());
    }
    std::fs::write(elf, data).with_context(|| format!("writing {}", elf.display()))
}

/// Whether the ELF file at `path` carries a supervision table.
pub fn has_table(path: &Path) -> bool {
    use object::Object;
    std::fs::read(path).ok().is_some_and(|d| object::File::parse(&*d).is_ok_and(|f| f.symbol_by_name(TABLE_SYMBOL).is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: &str = r#"<system>
    <memory_region name="c_calls" size="0x1000" />
    <protection_domain name="sup" priority="200" budget="500" period="500">
        <program_image path="supervisor.elf" />
        <map mr="c_calls" vaddr="0x3000000" perms="r" />
        <cspace><cap_sc pd="client" slot="3" /></cspace>
        <protection_domain name="pod_b" id="1" priority="150" passive="true">
            <program_image path="pod.elf" />
        </protection_domain>
        <protection_domain name="pod_c" id="2" priority="160" passive="true">
            <program_image path="pod.elf" />
            <?tunnelkit call_bound_us="1000"?>
            <map mr="c_calls" vaddr="0x3000000" setvar_vaddr="tunnelkit_call_state" />
        </protection_domain>
    </protection_domain>
    <protection_domain name="client" priority="10"><program_image path="client.elf" /></protection_domain>
    <protection_domain name="tick" priority="254" budget="100" period="1000"><program_image path="tick.elf" /></protection_domain>
    <channel><end pd="tick" id="0" /><end pd="sup" id="0" notify="false" /></channel>
    <channel><end pd="client" id="2" pp="true" /><end pd="pod_c" id="0" /></channel>
    BTWEEN
</system>"#;

    fn run(text: &str) -> Result<Vec<Table>> {
        tables(Path::new("s.xml"), text, |img| img == "supervisor.elf")
    }

    #[test]
    fn bounds_callers_and_pages_become_a_table() {
        let t = run(&SYSTEM.replace("BTWEEN", "")).unwrap();
        assert_eq!(t.len(), 1);
        let c = &t[0].children;
        assert_eq!((c[0].name(), c[0].bound_us), ("pod_b", 0));
        assert_eq!((c[1].name(), c[1].id, c[1].bound_us, c[1].call_state_vaddr), ("pod_c", 2, 1000, 0x300_0000));
        assert_eq!(c[1].callers[0], CallerSc::Cap(3));
    }

    #[test]
    fn a_nested_caller_without_its_own_call_state_is_an_error_at_the_bound() {
        let nested = r#"<channel><end pd="pod_b" id="1" pp="true" /><end pd="pod_c" id="1" /></channel>"#;
        let e = run(&SYSTEM.replace("BTWEEN", nested)).unwrap_err().to_string();
        assert!(e.starts_with("s.xml:12:13: error: 'pod_b' must publish its call state"), "{e}");
    }

    #[test]
    fn a_bound_needs_a_parent_and_a_tick() {
        let e =
            run(&SYSTEM.replace("BTWEEN", "").replace(r#"priority="254" budget="100" period="1000""#, r#"priority="254""#)).unwrap_err();
        assert!(e.to_string().starts_with("s.xml:3:5: error: supervisor 'sup' enforces call bounds, so a tick PD"), "{e}");
        let e = run(&SYSTEM.replace("BTWEEN", "").replace(r#"priority="254""#, r#"priority="100""#)).unwrap_err();
        assert!(e.to_string().contains("a priority above 160"), "{e}");
        let orphan = r#"<system><protection_domain name="p" passive="true"><program_image path="p.elf" /><?tunnelkit call_bound_us="9"?></protection_domain></system>"#;
        let e = run(orphan).unwrap_err();
        assert!(e.to_string().contains("'p' has a call bound but no parent"), "{e}");
        let wide = SYSTEM.replace("BTWEEN", r#"<channel><end pd="client" id="3" pp="true" /><end pd="pod_c" id="99" /></channel>"#);
        // Channel ids beyond 61 (the checker reports them) must not panic here.
        let _ = run(&wide);
    }

    #[test]
    fn a_caller_whose_sc_is_not_held_is_an_error() {
        let e = run(&SYSTEM.replace("BTWEEN", "").replace(r#"<cspace><cap_sc pd="client" slot="3" /></cspace>"#, "")).unwrap_err();
        assert!(e.to_string().contains("give 'sup' <cspace><cap_sc pd=\"client\""), "{e}");
    }

    #[test]
    fn check_reports_call_bound_wiring_at_its_position() {
        let text = SYSTEM.replace("BTWEEN", "").replace(r#"<cspace><cap_sc pd="client" slot="3" /></cspace>"#, "");
        let report = crate::check::check_bytes("s.xml", text.as_bytes(), None);
        let d = report.errors().next().expect("an error");
        assert_eq!((d.rule, d.pos.line, d.pos.col), ("call-bound", 12, 13), "{d}");
        assert!(d.message.starts_with("calls from 'client' to 'pod_c'"), "{d}");
        assert!(crate::check::check_bytes("s.xml", SYSTEM.replace("BTWEEN", "").as_bytes(), None).is_valid());
    }

    #[test]
    fn malformed_bounds_are_errors_at_their_position() {
        let e = run(&SYSTEM.replace("BTWEEN", "").replace("call_bound_us=\"1000\"", "call_bound_us=\"soon\"")).unwrap_err();
        assert!(e.to_string().starts_with("s.xml:12:13: error: call_bound_us must be"), "{e}");
        let e = run(&SYSTEM.replace("BTWEEN", "").replace("call_bound_us", "bound")).unwrap_err();
        assert!(e.to_string().contains("unknown tunnelkit setting 'bound'"), "{e}");
        let e = run(&SYSTEM.replace("BTWEEN", "").replace("period=\"500\"", "period=\"1000\"")).unwrap_err();
        assert!(e.to_string().starts_with("s.xml:3:5: error: supervisor 'sup' enforces call bounds"), "{e}");
        let e = run(&SYSTEM.replace("BTWEEN", "").replace("priority=\"200\"", "priority=\"100\"")).unwrap_err();
        assert!(e.to_string().contains("must have a higher priority than the pod 'pod_c'"), "{e}");
        let e = run(&SYSTEM.replace("BTWEEN", "").replace("supervisor.elf", "other.elf")).unwrap_err();
        assert!(e.to_string().contains("the parent 'sup' runs 'other.elf'"), "{e}");
    }
}
