//! Supervision tables: from a system description's call bounds and restart
//! policies to the table patched into each supervisor's image.
//!
//! A child declares what its supervisor does when it faults or overruns:
//!
//! ```xml
//! <protection_domain name="worker" id="3" priority="20" budget="1000" period="10000">
//!     <?tunnelkit restart="hold" max_restarts="3" window_ms="1000" backoff_ms="10"?>
//! </protection_domain>
//! ```
//!
//! `restart="always"` restarts every time; `restart="hold"` (the default, 5
//! restarts within 1000 ms) holds the child once it would exceed that. Times
//! are counted in the supervisor's tick (the PD notifying it once per period),
//! whose period goes into the table.
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

use std::path::Path;

use anyhow::{Context, Result, bail};
use tunnelkit_abi::supervision::{CALL_STATE_SYMBOL, CHANNELS, CallerSc, MAX_CHILDREN, SupervisedChild, TABLE_SYMBOL, TABLE_WORDS, encode};

use crate::sdf::{CapKind, Pd, Pos, System};

/// Returns an [`SdfError`] at a [`Pos`] of the system, with a formatted message.
macro_rules! fail {
    ($sys:expr, $at:expr, $($msg:tt)*) => {
        return Err(SdfError { file: $sys.file.clone(), at: $at, rule: "call-bound", message: format!($($msg)*) })
    };
}

/// [`fail!`] for a restart policy.
macro_rules! fail_policy {
    ($sys:expr, $at:expr, $($msg:tt)*) => {
        return Err(SdfError { file: $sys.file.clone(), at: $at, rule: "restart-policy", message: format!($($msg)*) })
    };
}

/// A mistake in a system description's supervision wiring, at its position
/// (displayed as `FILE:LINE:COL: error: message`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdfError {
    /// The file, as given.
    pub file: String,
    /// Where.
    pub at: Pos,
    /// The checker's rule: `call-bound` or `restart-policy`.
    pub rule: &'static str,
    /// What.
    pub message: String,
}

impl std::fmt::Display for SdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: error: {}", self.file, self.at.line, self.at.col, self.message)
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
    /// `file:line:column` of the supervisor element.
    pub position: String,
    /// Its children, in document order.
    pub children: Vec<SupervisedChild>,
    /// The period of its tick in µs (0: none notifies it).
    pub tick_us: u64,
}

/// Builds a table for every PD of `sys` with children whose image
/// `is_supervisor` accepts. Bounds under any other parent are an error.
pub fn tables(sys: &System, is_supervisor: impl Fn(&str) -> bool) -> Result<Vec<Table>, SdfError> {
    let pds = &sys.pds;
    if let Some((pd, (_, at, _))) = pds.iter().find_map(|p| p.restart.filter(|_| p.parent.is_none()).map(|r| (p, r))) {
        fail_policy!(
            sys,
            at,
            "'{}' has a restart policy but no parent: the policy is applied by the supervisor PD whose child it is",
            pd.name
        );
    }
    if let Some(pd) = pds.iter().find(|p| p.call_bound.is_some() && p.parent.is_none()) {
        fail!(
            sys,
            bound_pos(pd),
            "'{}' has a call bound but no parent: a bound is enforced by the supervisor PD whose child the pod is",
            pd.name
        );
    }
    let mut out = Vec::new();
    for (s, sup) in pds.iter().enumerate() {
        // Children with a valid id (a missing or out-of-range id is the checker's error).
        let kids: Vec<usize> = (0..pds.len()).filter(|&k| pds[k].parent == Some(s) && pds[k].id.is_some_and(|id| id <= 61)).collect();
        if kids.is_empty() {
            continue;
        }
        let image = sup.image.as_ref().map(|i| i.path.as_str()).unwrap_or("");
        if !is_supervisor(image) {
            if let Some((_, at, _)) = kids.iter().find_map(|&k| pds[k].restart) {
                fail_policy!(
                    sys,
                    at,
                    "this restart policy needs a supervisor, but the parent '{}' runs '{image}', which has no {TABLE_SYMBOL} table (run supervisor.elf there)",
                    sup.name
                );
            }
            if let Some(&k) = kids.iter().find(|&&k| pds[k].call_bound.is_some()) {
                fail!(
                    sys,
                    bound_pos(&pds[k]),
                    "this call bound needs a supervisor, but the parent '{}' runs '{image}', which has no {TABLE_SYMBOL} table (run supervisor.elf there)",
                    sup.name
                );
            }
            continue;
        }
        if kids.len() > MAX_CHILDREN {
            fail!(sys, sup.pos, "supervisor '{}' has {} children; its table holds {MAX_CHILDREN}", sup.name, kids.len());
        }
        let mut children: Vec<SupervisedChild> = Vec::new();
        for &k in &kids {
            let kid = &pds[k];
            let id = kid.id.and_then(|id| u8::try_from(id).ok()).unwrap_or_default();
            let mut c = SupervisedChild::new(id, &kid.name);
            c.policy = kid.restart.map(|(p, _, _)| p).unwrap_or_default();
            c.call_state_vaddr = call_state_vaddr(sys, sup, kid).unwrap_or(0);
            for (ch, caller) in callers(sys, &kid.name) {
                let Some(ci) = sys.pd_index(&caller) else { continue };
                c.callers[usize::from(ch)] = if pds[ci].passive {
                    kids.iter().position(|&q| q == ci).map_or(CallerSc::Unknown, |pos| CallerSc::Child(pos as u8))
                } else {
                    sc_slot(sup, &caller).map_or(CallerSc::Unknown, CallerSc::Cap)
                };
            }
            children.push(c);
        }
        // Bounded children: every caller chain must end at an SC the
        // supervisor can read, through pages it can see.
        for (pos, &k) in kids.iter().enumerate() {
            let Some((us, at)) = pds[k].call_bound else { continue };
            if !pds[k].passive {
                fail!(
                    sys,
                    at,
                    "'{}' is not passive: a call bound applies to pods (passive PDs), which run on their callers' budgets",
                    pds[k].name
                );
            }
            children[pos].bound_us = us;
            if sup.period != sup.budget {
                fail!(
                    sys,
                    sup.pos,
                    "supervisor '{}' enforces call bounds, so it must never run out of budget between deciding that a call overran and restarting the pod (the pod could be serving its next call by then): give it budget equal to period",
                    sup.name
                );
            }
            if pds[k].priority >= sup.priority {
                fail!(
                    sys,
                    sup.pos,
                    "supervisor '{}' (priority {}) must have a higher priority than the pod '{}' it bounds, or a pod that never ends its call would never let the watchdog run",
                    sup.name,
                    sup.priority,
                    pds[k].name
                );
            }
            check_chain(sys, &kids, &children, pos, sup, at)?;
        }
        if let Some(top) = kids.iter().filter(|&&k| pds[k].call_bound.is_some()).map(|&k| pds[k].priority).max() {
            check_tick(sys, sup, top)?;
        }
        let tick_us = tick_period(sys, sup).unwrap_or(0);
        if let Some((kid, (_, at, _))) = kids.iter().find_map(|&k| pds[k].restart.filter(|r| r.2).map(|r| (&pds[k], r)))
            && tick_us == 0
        {
            fail_policy!(
                sys,
                at,
                "'{}' gives its restart policy a window_ms or backoff_ms, which the supervisor '{}' measures in its tick, but no tick PD notifies it (a PD with budget < period, e.g. tick.elf)",
                kid.name,
                sup.name
            );
        }
        out.push(Table { pd: sup.name.clone(), image: image.to_string(), position: sys.at(sup.pos), children, tick_us });
    }
    Ok(out)
}

/// Where a PD's call bound is declared (the PD itself if it has none).
fn bound_pos(pd: &Pd) -> Pos {
    pd.call_bound.map_or(pd.pos, |(_, p)| p)
}

/// The PDs that may notify `sup`.
fn notifiers<'s>(sys: &'s System, sup: &Pd) -> Vec<&'s Pd> {
    let mut out: Vec<&Pd> = Vec::new();
    for ch in &sys.channels {
        if let [a, b] = ch.ends.as_slice() {
            for (me, other) in [(a, b), (b, a)] {
                if me.pd == sup.name && other.notify {
                    out.extend(sys.pds.iter().filter(|p| p.name == other.pd));
                }
            }
        }
    }
    out
}

/// The period in µs of `sup`'s tick: of the PDs notifying it with budget <
/// period (one wake-up per period), the one of highest priority.
fn tick_period(sys: &System, sup: &Pd) -> Option<u64> {
    notifiers(sys, sup).into_iter().filter(|p| p.budget < p.period).max_by_key(|p| p.priority).map(|p| p.period)
}

/// Checks that a tick PD drives the watchdog of `sup`: some PD notifies it,
/// with budget < period (so that it wakes once per period) and a priority
/// above `top`, the highest bounded pod's (an endless call must not starve
/// the tick).
fn check_tick(sys: &System, sup: &Pd, top: u64) -> Result<(), SdfError> {
    let notifiers = notifiers(sys, sup);
    let ticks = |p: &&Pd| p.budget < p.period && p.priority > top;
    if !notifiers.iter().any(ticks) {
        let listed = if notifiers.is_empty() {
            "none".to_string()
        } else {
            notifiers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
        };
        fail!(
            sys,
            sup.pos,
            "supervisor '{}' enforces call bounds, so a tick PD (tick.elf) must notify it: a PD with budget < period (one wake-up per period) and a priority above {top}, the highest bounded pod's; none of its notifiers ({listed}) is one",
            sup.name
        );
    }
    Ok(())
}

/// Checks that calls reaching bounded child `pos` run on SCs the supervisor reads.
fn check_chain(sys: &System, kids: &[usize], children: &[SupervisedChild], pos: usize, sup: &Pd, at: Pos) -> Result<(), SdfError> {
    let mut todo = vec![pos];
    let mut seen = vec![false; children.len()];
    while let Some(p) = todo.pop() {
        if std::mem::replace(&mut seen[p], true) {
            continue;
        }
        let name = &sys.pds[kids[p]].name;
        if children[p].call_state_vaddr == 0 {
            fail!(
                sys,
                at,
                "'{name}' must publish its call state for the watchdog: map a page into it with setvar_vaddr=\"{CALL_STATE_SYMBOL}\" and the same memory region into '{}'",
                sup.name
            );
        }
        for (ch, caller) in callers(sys, name) {
            match children[p].callers[usize::from(ch)] {
                CallerSc::Cap(_) => {}
                CallerSc::Child(q) => todo.push(usize::from(q)),
                CallerSc::Unknown if sys.pds.iter().any(|q| q.name == caller && q.passive) => fail!(
                    sys,
                    at,
                    "'{caller}' calls '{name}' (its channel {ch}) but is a pod that '{}' does not supervise, so the watchdog cannot tell whose budget the call uses; make it a child of '{}'",
                    sup.name,
                    sup.name
                ),
                CallerSc::Unknown => fail!(
                    sys,
                    at,
                    "calls from '{caller}' to '{name}' (its channel {ch}) run on the scheduling context of '{caller}': give '{}' <cspace><cap_sc pd=\"{caller}\" slot=\"…\"/></cspace> so its watchdog can read that CPU time",
                    sup.name
                ),
            }
        }
    }
    Ok(())
}

/// `(channel id at pd, caller)` for every channel on which another PD may call `pd`.
fn callers(sys: &System, pd: &str) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    for ch in &sys.channels {
        if let [a, b] = ch.ends.as_slice() {
            for (me, other) in [(a, b), (b, a)] {
                if me.pd == pd
                    && other.pp
                    && let Some(id) = me.id.and_then(|id| u8::try_from(id).ok()).filter(|&id| usize::from(id) < CHANNELS)
                {
                    out.push((id, other.pd.clone()));
                }
            }
        }
    }
    out
}

/// The supervisor's vaddr of the region `kid` publishes its call state in.
fn call_state_vaddr(_sys: &System, sup: &Pd, kid: &Pd) -> Option<u64> {
    let mr = &kid.maps.iter().find(|m| m.setvar_vaddr.as_deref() == Some(CALL_STATE_SYMBOL))?.mr;
    sup.maps.iter().find(|m| &m.mr == mr)?.vaddr
}

/// The `<cspace>` slot of `caller`'s SC in the supervisor.
fn sc_slot(sup: &Pd, caller: &str) -> Option<u8> {
    sup.caps
        .iter()
        .find(|c| c.kind == CapKind::Sc && c.pd == caller)
        .and_then(|c| c.slot)
        .and_then(|s| u8::try_from(s).ok())
        .filter(|s| (1..64).contains(s))
}

/// Writes `table` into the `tunnelkit_supervision` symbol of the ELF file
/// `elf` (a copy the build owns).
pub fn patch(elf: &Path, table: &Table) -> Result<()> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let mut data = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let words = encode(&table.children, table.tick_us)
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
        let sys = System::from_text("s.xml", text)?;
        Ok(tables(&sys, |img| img == "supervisor.elf")?)
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
        assert!(e.to_string().starts_with("s.xml:12:13: error: call-bound: call_bound_us must be"), "{e}");
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
