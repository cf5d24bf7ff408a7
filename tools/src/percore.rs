//! Per-core pod instances: a pod declared once with
//! `<?tunnelkit per_core="true"?>` becomes one PD per core its callers run on.
//!
//! Instance `k` is pinned to core `k` (`cpu="k"`: its `init` runs there, so
//! it never migrates), is named `<pod>@k` (the original name when there is
//! only one core), and serves exactly the callers whose scheduling contexts
//! live on core `k`. Its state is its own: its image's data, and every
//! memory region no caller maps (such a region `R` becomes `R@k`; a
//! non-caller that maps it, such as a supervisor reading call-state pages,
//! maps every copy, one after the other from its original address). Two
//! per-core PDs connected by a channel are connected core by core, so nested
//! pods follow their caller's core too. Regions that callers map (lent
//! windows) and device regions stay shared. Whatever cannot be split this way
//! is an error at its position, with a hint.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use roxmltree::{Document, Node, ParsingOptions};

use crate::check::cores;
use crate::sdf::{Pos, System, parse_num};

/// A mistake that prevents expansion, at its position.
pub type ExpandError = crate::sdf::rewrite::RewriteError;

/// One expanded pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instances {
    /// The pod as declared.
    pub pod: String,
    /// Its instances: (core, name).
    pub instances: Vec<(u64, String)>,
}

/// A system description with its per-core pods expanded.
#[derive(Clone, Debug)]
pub struct Expanded {
    /// The expanded system description (a plain Microkit SDF).
    pub text: String,
    /// What became of each per-core pod.
    pub pods: Vec<Instances>,
}

/// Smallest page the tools assume when stacking region copies.
const PAGE: u64 = 0x1000;
/// Largest child id Microkit allows.
const MAX_CHILD_ID: u64 = 61;

/// Expands the per-core pods of `text`. `Ok(None)` when it declares none
/// (or does not parse: `check` reports that).
pub fn expand(text: &str) -> Result<Option<Expanded>, Vec<ExpandError>> {
    match crate::sdf::Parsed::text("", text).system {
        Some(sys) => expand_system(text, &sys),
        None => Ok(None),
    }
}

/// Expands the per-core pods of `sys`, the model of `text` (which the
/// expansion rewrites). `Ok(None)` when it declares none.
pub fn expand_system(text: &str, sys: &System) -> Result<Option<Expanded>, Vec<ExpandError>> {
    if !sys.pds.iter().any(|p| p.per_core.is_some() && p.passive) {
        return Ok(None);
    }
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: 1_000_000 };
    let Ok(doc) = Document::parse_with_options(text, opts) else { return Ok(None) };
    let plan = Plan::new(sys)?;
    let pd_nodes: Vec<Node> = doc.descendants().filter(|n| n.has_tag_name("protection_domain")).collect();
    let channel_nodes: Vec<Node> = doc.root_element().children().filter(|n| n.has_tag_name("channel")).collect();
    let mut w = Writer { text, plan: &plan, pd_nodes: &pd_nodes, channel_nodes: &channel_nodes, out: String::new() };
    for n in doc.root().children() {
        w.node(n, None);
    }
    let pods = plan
        .instances
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(i, v)| Instances { pod: sys.pds[i].name.clone(), instances: v.iter().map(|x| (x.core, x.name.clone())).collect() })
        .collect();
    Ok(Some(Expanded { text: w.out, pods }))
}

/// One instance of a per-core pod.
#[derive(Clone, Debug)]
struct Instance {
    core: u64,
    name: String,
    /// Child id (children of a supervisor only).
    id: Option<u64>,
}

/// What the writer does to each element.
struct Plan {
    /// Per PD: its instances (empty: not per-core).
    instances: Vec<Vec<Instance>>,
    /// Regions copied per core: name → (cores, stride between a non-caller's copies).
    split_regions: HashMap<String, (Vec<u64>, u64)>,
    /// Per channel (document order): the end PD names of each copy.
    channels: Vec<Vec<[String; 2]>>,
}

impl Plan {
    fn new(sys: &System) -> Result<Plan, Vec<ExpandError>> {
        let mut errors = Vec::new();
        let reach = cores::reach(sys);
        let n = sys.pds.len();
        let by_name: HashMap<&str, usize> = sys.pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
        let per_core: Vec<bool> = sys.pds.iter().map(|p| p.per_core.is_some() && p.passive).collect();
        let cores_of = |i: usize| -> Vec<u64> { reach[i].keys().copied().collect() };
        let multi = |i: usize| per_core[i] && reach[i].len() > 1;

        // Instances, with child ids for children of a parent.
        let mut instances = vec![Vec::new(); n];
        for i in (0..n).filter(|&i| per_core[i]) {
            let pd = &sys.pds[i];
            let cores = cores_of(i);
            let many = cores.len() > 1;
            let mut err = |pos: Pos, message: String, hint: &str| errors.push(ExpandError { pos, message, hint: hint.into() });
            if many {
                if !pd.irq_ids.is_empty() {
                    err(
                        pd.irq_ids[0].1,
                        format!("per-core pod '{}' has an IRQ, which only one instance could own", pd.name),
                        "move the IRQ to a driver PD and notify the pod's callers from there",
                    );
                }
                if pd.has_vm {
                    err(
                        pd.pos,
                        format!("per-core pod '{}' has a virtual machine, which only one instance could own", pd.name),
                        "give the virtual machine to an active PD",
                    );
                }
                if let Some(kid) = sys.pds.iter().find(|k| k.parent == Some(i)) {
                    err(
                        kid.pos,
                        format!("per-core pod '{}' has child '{}', which only one instance could own", pd.name, kid.name),
                        "make the children PDs of their own, or the pod's parent their parent",
                    );
                }
                for (j, other) in sys.pds.iter().enumerate() {
                    if let Some((_, p)) = other.cap_pds.iter().find(|(name, _)| *name == pd.name) {
                        let _ = j;
                        err(
                            *p,
                            format!("'{}' holds a cap of per-core pod '{}', which has {} instances", other.name, pd.name, cores.len()),
                            "name the caps of each instance (tunnelkit build prints their names), or do not make the pod per-core",
                        );
                    }
                }
            }
            let mut inst: Vec<Instance> = cores
                .iter()
                .map(|&core| Instance { core, name: if many { format!("{}@{core}", pd.name) } else { pd.name.clone() }, id: pd.id })
                .collect();
            if let Some(parent) = pd.parent
                && many
            {
                let mut used: BTreeSet<u64> = sys.pds.iter().filter(|k| k.parent == Some(parent)).filter_map(|k| k.id).collect();
                used.extend(sys.pds[parent].vcpu_ids.iter().map(|(v, _)| *v));
                for x in inst.iter_mut().skip(1) {
                    match (0..=MAX_CHILD_ID).find(|id| !used.contains(id)) {
                        Some(id) => {
                            used.insert(id);
                            x.id = Some(id);
                        }
                        None => errors.push(ExpandError {
                            pos: pd.at("id"),
                            message: format!("'{}' has no child id left for instance '{}' of '{}'", sys.pds[parent].name, x.name, pd.name),
                            hint: format!("a PD has at most {} children; give fewer cores to the pod's callers", MAX_CHILD_ID + 1),
                        }),
                    }
                }
            }
            instances[i] = inst;
        }

        // Channels.
        let name_on = |i: usize, core: u64| -> String {
            instances[i].iter().find(|x| x.core == core).map(|x| x.name.clone()).unwrap_or_else(|| sys.pds[i].name.clone())
        };
        let mut channels = Vec::new();
        for ch in &sys.channels {
            let ends: Option<Vec<usize>> =
                (ch.ends.len() == 2).then(|| ch.ends.iter().filter_map(|e| by_name.get(e.pd.as_str()).copied()).collect());
            let Some(ends) = ends.filter(|e| e.len() == 2) else {
                channels.push(vec![[
                    ch.ends.first().map(|e| e.pd.clone()).unwrap_or_default(),
                    ch.ends.get(1).map(|e| e.pd.clone()).unwrap_or_default(),
                ]]);
                continue;
            };
            let (a, b) = (ends[0], ends[1]);
            let copies = match (per_core[a], per_core[b]) {
                (false, false) => vec![[sys.pds[a].name.clone(), sys.pds[b].name.clone()]],
                (true, true) => {
                    let (ka, kb) = (cores_of(a), cores_of(b));
                    let pp = ch.ends[0].pp || ch.ends[1].pp;
                    if !pp && ka != kb {
                        errors.push(ExpandError {
                            pos: ch.pos,
                            message: format!(
                                "per-core PDs '{}' (cores {}) and '{}' (cores {}) share a notification channel, but not their cores",
                                sys.pds[a].name,
                                list(&ka),
                                sys.pds[b].name,
                                list(&kb)
                            ),
                            hint: "connect per-core PDs by pp channels, or give both the same callers' cores".into(),
                        });
                    }
                    ka.iter().filter(|k| kb.contains(k)).map(|&k| [name_on(a, k), name_on(b, k)]).collect()
                }
                (pa, _) => {
                    let (p, other, p_end, other_end) = if pa { (a, b, 0, 1) } else { (b, a, 1, 0) };
                    if !multi(p) {
                        let mut names = [sys.pds[a].name.clone(), sys.pds[b].name.clone()];
                        names[p_end] = instances[p][0].name.clone();
                        vec![names]
                    } else if ch.ends[other_end].pp && !ch.ends[p_end].pp {
                        // A caller: its calls go to the instance on its core.
                        let core = reach[other].keys().next().copied().unwrap_or(sys.pds[other].cpu);
                        let mut names = [sys.pds[a].name.clone(), sys.pds[b].name.clone()];
                        names[p_end] = name_on(p, core);
                        vec![names]
                    } else {
                        if !sys.pds[other].passive || !ch.ends[p_end].pp {
                            // (A passive callee reached from several cores is
                            // reported by check's pod-cross-core rule.)
                            errors.push(ExpandError {
                                pos: ch.ends[p_end].pos,
                                message: format!(
                                    "per-core pod '{}' has {} instances, but its channel to '{}' has one end there: '{}' cannot tell the instances apart",
                                    sys.pds[p].name,
                                    instances[p].len(),
                                    sys.pds[other].name,
                                    sys.pds[other].name
                                ),
                                hint: format!(
                                    "make '{}' per-core too (instances then pair core by core), or move the channel to the pod's callers",
                                    sys.pds[other].name
                                ),
                            });
                        }
                        vec![[sys.pds[a].name.clone(), sys.pds[b].name.clone()]]
                    }
                }
            };
            channels.push(copies);
        }

        // Regions: split those no caller of a per-core mapper maps.
        let mut callers_of = vec![BTreeSet::new(); n];
        for (from, to, _) in crate::check::rules::pp_edges(sys) {
            callers_of[to].insert(from);
        }
        let mut split_regions = HashMap::new();
        for mr in &sys.mrs {
            let mappers: Vec<(usize, &crate::sdf::Map)> =
                sys.pds.iter().enumerate().flat_map(|(i, p)| p.maps.iter().filter(|m| m.mr == mr.name).map(move |m| (i, m))).collect();
            let split: Vec<usize> = mappers.iter().map(|(i, _)| *i).filter(|&i| multi(i)).collect();
            if split.is_empty() || mr.phys_addr.is_some() {
                continue;
            }
            let others: Vec<&(usize, &crate::sdf::Map)> = mappers.iter().filter(|(i, _)| !multi(*i)).collect();
            if others.iter().any(|(o, _)| split.iter().any(|&s| callers_of[s].contains(o))) {
                continue; // a caller's lent window: shared
            }
            let cores: Vec<u64> = split.iter().flat_map(|&i| cores_of(i)).collect::<BTreeSet<_>>().into_iter().collect();
            let stride = mr.size.map(|s| s.div_ceil(PAGE) * PAGE).unwrap_or(0);
            for (o, m) in &others {
                let pd = &sys.pds[*o];
                if stride == 0 {
                    errors.push(ExpandError {
                        pos: mr.pos,
                        message: format!(
                            "region '{}' is copied per core for '{}', but has no size to stack its copies by",
                            mr.name, pd.name
                        ),
                        hint: "give the region a size".into(),
                    });
                    continue;
                }
                let Some(base) = m.vaddr else { continue };
                let end = base.saturating_add(stride.saturating_mul(cores.len() as u64));
                if let Some(clash) = pd.maps.iter().find(|x| {
                    x.mr != mr.name
                        && x.vaddr.is_some_and(|v| {
                            let size = sys.mrs.iter().find(|r| r.name == x.mr).and_then(|r| r.size).unwrap_or(PAGE);
                            v < end && base < v.saturating_add(size)
                        })
                }) {
                    errors.push(ExpandError {
                        pos: m.pos,
                        message: format!(
                            "'{}' maps one copy of region '{}' per core ({} copies from {base:#x} to {end:#x}), but its map of '{}' is in that range",
                            pd.name,
                            mr.name,
                            cores.len(),
                            clash.mr
                        ),
                        hint: format!("leave {:#x} bytes free from {base:#x} in '{}'", end - base, pd.name),
                    });
                }
            }
            split_regions.insert(mr.name.clone(), (cores, stride));
        }
        if errors.is_empty() { Ok(Plan { instances, split_regions, channels }) } else { Err(errors) }
    }
}

fn list(cores: &[u64]) -> String {
    cores.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// Writes the expanded document.
struct Writer<'a, 'input> {
    text: &'a str,
    plan: &'a Plan,
    pd_nodes: &'a [Node<'a, 'input>],
    channel_nodes: &'a [Node<'a, 'input>],
    out: String,
}

impl Writer<'_, '_> {
    /// Writes `n`; `inst` is the instance being written when inside one.
    fn node(&mut self, n: Node, inst: Option<&Instance>) {
        if !n.is_element() {
            self.out.push_str(&self.text[n.range()]);
            return;
        }
        match n.tag_name().name() {
            "protection_domain" => {
                let idx = self.pd_nodes.iter().position(|x| *x == n).unwrap_or(usize::MAX);
                let instances = self.plan.instances.get(idx).cloned().unwrap_or_default();
                if instances.is_empty() {
                    self.element(n, &[], None);
                } else {
                    let sep = indentation(n);
                    for (k, x) in instances.iter().enumerate() {
                        if k > 0 {
                            self.out.push_str(&sep);
                        }
                        let mut set = vec![("name", x.name.clone()), ("cpu", x.core.to_string())];
                        if let Some(id) = x.id {
                            set.push(("id", id.to_string()));
                        }
                        self.element(n, &set, Some(x));
                    }
                }
            }
            "memory_region" if n.parent().is_some_and(|p| p.has_tag_name("system")) => {
                let name = n.attribute("name").unwrap_or("");
                match self.plan.split_regions.get(name) {
                    Some((cores, _)) => {
                        let sep = indentation(n);
                        for (k, core) in cores.iter().enumerate() {
                            if k > 0 {
                                self.out.push_str(&sep);
                            }
                            self.element(n, &[("name", format!("{name}@{core}"))], inst);
                        }
                    }
                    None => self.element(n, &[], inst),
                }
            }
            "map" if n.parent().is_some_and(|p| p.has_tag_name("protection_domain")) => {
                let mr = n.attribute("mr").unwrap_or("");
                match (self.plan.split_regions.get(mr), inst) {
                    (None, _) => self.element(n, &[], inst),
                    (Some(_), Some(x)) => self.element(n, &[("mr", format!("{mr}@{}", x.core))], inst),
                    (Some((cores, stride)), None) => {
                        // A non-caller (e.g. a supervisor) maps every copy.
                        let base = n.attribute("vaddr").and_then(parse_num).unwrap_or(0);
                        let sep = indentation(n);
                        for (k, core) in cores.iter().enumerate() {
                            if k > 0 {
                                self.out.push_str(&sep);
                            }
                            let vaddr = base + stride * k as u64;
                            self.element(n, &[("mr", format!("{mr}@{core}")), ("vaddr", format!("{vaddr:#x}"))], None);
                        }
                    }
                }
            }
            "channel" => {
                let idx = self.channel_nodes.iter().position(|x| *x == n);
                let copies = idx.and_then(|i| self.plan.channels.get(i)).cloned().unwrap_or_default();
                let sep = indentation(n);
                for (k, names) in copies.iter().enumerate() {
                    if k > 0 {
                        self.out.push_str(&sep);
                    }
                    self.channel(n, names);
                }
            }
            _ => self.element(n, &[], inst),
        }
    }

    fn channel(&mut self, n: Node, names: &[String; 2]) {
        self.start_tag(n, &[]);
        let mut end = 0;
        for c in n.children() {
            if c.has_tag_name("end") {
                let name = names.get(end).cloned().unwrap_or_default();
                end += 1;
                self.element(c, &[("pd", name)], None);
            } else {
                self.node(c, None);
            }
        }
        self.end_tag(n);
    }

    /// Writes element `n` with attributes in `set` replaced (or added).
    fn element(&mut self, n: Node, set: &[(&str, String)], inst: Option<&Instance>) {
        self.start_tag(n, set);
        if n.has_children() {
            for c in n.children() {
                self.node(c, inst);
            }
            self.end_tag(n);
        }
    }

    fn start_tag(&mut self, n: Node, set: &[(&str, String)]) {
        let _ = write!(self.out, "<{}", n.tag_name().name());
        for a in n.attributes() {
            let v = set.iter().find(|(k, _)| *k == a.name()).map(|(_, v)| v.as_str()).unwrap_or(a.value());
            let _ = write!(self.out, " {}=\"{}\"", a.name(), escape(v));
        }
        for (k, v) in set.iter().filter(|(k, _)| n.attribute(*k).is_none()) {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v));
        }
        self.out.push_str(if n.has_children() { ">" } else { " />" });
    }

    fn end_tag(&mut self, n: Node) {
        let _ = write!(self.out, "</{}>", n.tag_name().name());
    }
}

/// The whitespace before `n` on its line, as a separator between copies.
fn indentation(n: Node) -> String {
    match n.prev_sibling().and_then(|p| p.text()).filter(|t| t.trim().is_empty()) {
        Some(t) => format!("\n{}", t.rsplit('\n').next().unwrap_or("")),
        None => "\n".to_string(),
    }
}

fn escape(v: &str) -> String {
    v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Summary lines for the build log: `crypt → crypt@1 (cpu 1), crypt@2 (cpu 2)`.
pub fn describe(pods: &[Instances]) -> Vec<String> {
    pods.iter()
        .map(|p| {
            let list: Vec<String> = p.instances.iter().map(|(core, name)| format!("{name} (cpu {core})")).collect();
            format!("{} → {}", p.pod, list.join(", "))
        })
        .collect::<Vec<_>>()
}

/// The cores of each per-core pod, by name (for tests and reports).
pub fn cores_by_pod(pods: &[Instances]) -> BTreeMap<String, Vec<u64>> {
    pods.iter().map(|p| (p.pod.clone(), p.instances.iter().map(|(c, _)| *c).collect())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{Board, KernelConfig};
    use crate::check::{Target, check_bytes_for};

    fn smp_xml() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../smp.xml")).unwrap()
    }

    fn ends(text: &str) -> Vec<(String, String)> {
        let doc = Document::parse(text).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("channel"))
            .map(|c| {
                let e: Vec<_> = c.children().filter(|n| n.has_tag_name("end")).map(|n| n.attribute("pd").unwrap().to_string()).collect();
                (e[0].clone(), e[1].clone())
            })
            .collect()
    }

    #[test]
    fn the_smp_demo_expands_into_one_pod_per_caller_core() {
        let e = expand(&smp_xml()).unwrap().unwrap();
        let cores = cores_by_pod(&e.pods);
        assert_eq!(cores["crypt"], vec![0, 1, 2]);
        assert_eq!(cores["checksum"], vec![0, 1, 2, 3]);
        let ch = ends(&e.text);
        for (a, b) in [("client_a", "crypt@0"), ("client_b", "crypt@1"), ("client_c", "crypt@2"), ("crypt_ipc", "checksum@3")] {
            assert!(ch.contains(&(a.into(), b.into())), "{a} -> {b} missing in {ch:?}");
        }
        for k in 0..3 {
            assert!(ch.contains(&(format!("crypt@{k}"), format!("checksum@{k}"))), "crypt@{k} -> checksum@{k}");
        }
        // The pods' own region is per core; the callers' windows are shared.
        assert!(e.text.contains("name=\"crypt_sum@1\"") && !e.text.contains("name=\"crypt_sum\""));
        assert!(e.text.contains("<memory_region name=\"a_crypt\""));
        assert!(e.text.contains("name=\"crypt@2\" priority=\"110\" passive=\"true\" cpu=\"2\""), "{}", e.text);
        // The expansion is a valid smp system, with no pod shared across cores.
        let r = check_bytes_for(
            "x.xml",
            e.text.as_bytes(),
            Target { board: Some(Board::QEMU_VIRT_AARCH64), config: Some(KernelConfig::SmpDebug) },
        );
        assert!(r.is_valid(), "{r}");
    }

    #[test]
    fn without_per_core_the_shared_pods_are_refused_and_nothing_expands() {
        let shared = smp_xml().replace("<?tunnelkit per_core=\"true\"?>", "");
        assert!(expand(&shared).unwrap().is_none());
        let r = crate::check::check_bytes("s.xml", shared.as_bytes(), None);
        let errs: Vec<_> = r.errors().filter(|d| d.rule == "pod-cross-core").collect();
        assert_eq!(errs.len(), 2, "{r}");
        assert!(errs[1].message.contains("core 3 via crypt_ipc → checksum"), "{}", errs[1].message);
    }

    /// A supervised per-core pod with a call-state page: each instance gets
    /// its own page and child id, and the supervisor maps every page.
    #[test]
    fn supervised_instances_get_ids_and_pages_of_their_own() {
        let text = r#"<system>
  <memory_region name="calls" size="0x1000" />
  <protection_domain name="sup" priority="200">
    <program_image path="supervisor.elf" />
    <map mr="calls" vaddr="0x3000000" perms="r" />
    <protection_domain name="pod" id="1" priority="150" passive="true">
      <?tunnelkit per_core="true"?>
      <program_image path="pod.elf" />
      <map mr="calls" vaddr="0x3000000" perms="rw" setvar_vaddr="tunnelkit_call_state" />
    </protection_domain>
    <protection_domain name="other" id="0" priority="100"><program_image path="o.elf" /></protection_domain>
  </protection_domain>
  <protection_domain name="a" priority="10" cpu="0"><program_image path="c.elf" /></protection_domain>
  <protection_domain name="b" priority="10" cpu="1"><program_image path="c.elf" /></protection_domain>
  <channel><end pd="a" id="0" pp="true" /><end pd="pod" id="0" /></channel>
  <channel><end pd="b" id="0" pp="true" /><end pd="pod" id="1" /></channel>
</system>"#;
        let e = expand(text).unwrap().unwrap();
        assert!(e.text.contains(r#"name="pod@0" id="1""#), "{}", e.text);
        assert!(e.text.contains(r#"name="pod@1" id="2""#), "{}", e.text);
        assert!(e.text.contains(r#"<map mr="calls@0" vaddr="0x3000000" perms="r" />"#), "{}", e.text);
        assert!(e.text.contains(r#"<map mr="calls@1" vaddr="0x3001000" perms="r" />"#), "{}", e.text);
        assert!(e.text.contains(r#"<map mr="calls@1" vaddr="0x3000000" perms="rw" setvar_vaddr="tunnelkit_call_state" />"#), "{}", e.text);
        let r = crate::check::check_bytes("x.xml", e.text.as_bytes(), None);
        assert!(r.is_valid(), "{r}");
    }

    #[test]
    fn what_cannot_be_split_is_an_error_at_its_position() {
        let text = r#"<system>
  <protection_domain name="log" priority="200"><program_image path="l.elf" /></protection_domain>
  <protection_domain name="pod" priority="150" passive="true">
    <?tunnelkit per_core="true"?>
    <program_image path="pod.elf" />
  </protection_domain>
  <protection_domain name="a" priority="10" cpu="0"><program_image path="c.elf" /></protection_domain>
  <protection_domain name="b" priority="10" cpu="1"><program_image path="c.elf" /></protection_domain>
  <channel><end pd="a" id="0" pp="true" /><end pd="pod" id="0" /></channel>
  <channel><end pd="b" id="0" pp="true" /><end pd="pod" id="1" /></channel>
  <channel><end pd="pod" id="2" /><end pd="log" id="0" /></channel>
</system>"#;
        let errors = expand(text).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].pos.line, errors[0].pos.col), (11, 12));
        assert!(errors[0].message.contains("'log' cannot tell the instances apart"), "{}", errors[0].message);
        let r = crate::check::check_bytes("s.xml", text.as_bytes(), None);
        assert!(r.has_error("per-core"), "{r}");
    }
}
