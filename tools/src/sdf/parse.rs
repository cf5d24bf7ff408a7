//! XML → the system model, with positions, plus the structural rules: well-formed
//! XML, root, known elements and attributes, text, required attributes,
//! number and boolean syntax, tunnelkit's processing instructions.

use roxmltree::{Document, Node, ParsingOptions};

use super::diag::{Pos, Sink, pos_at};
use super::number::{Syntax, parse_dec, parse_num, syntax};
use tunnelkit_abi::supervision::RestartPolicy;

/// A `<map>`.
#[derive(Clone, Debug)]
pub struct Map {
    /// Region name.
    pub mr: String,
    /// Virtual address (None if missing or malformed).
    pub vaddr: Option<u64>,
    /// Permissions as written (default `rw`).
    pub perms: String,
    /// Cached (default true).
    pub cached: bool,
    /// `setvar_vaddr`: the symbol patched with the vaddr.
    pub setvar_vaddr: Option<String>,
    /// Position of the element.
    pub pos: Pos,
}

/// A PD's `<program_image>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// The image path as written.
    pub path: String,
    /// `path_for_symbols`: where the symbols are read from instead.
    pub path_for_symbols: Option<String>,
    /// Position of the element.
    pub pos: Pos,
}

/// What a setvar patches into its symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetvarKind {
    /// The vaddr of a mapping (`<map setvar_vaddr>`).
    Vaddr(u64),
    /// The size of a region (`<map setvar_size>`).
    Size(String),
    /// The prefill size of a region (`<map setvar_prefill_size>`).
    PrefillSize(String),
    /// The physical address of a region (`<setvar region_paddr>`).
    Paddr(String),
    /// An id: channel end, IRQ, I/O port, child PD or vCPU (`setvar_id`).
    Id(u64),
    /// An I/O port's address (`<ioport setvar_addr>`).
    IoPortAddr(u64),
}

/// One symbol the microkit tool patches into a PD's image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setvar {
    /// The symbol's name.
    pub symbol: String,
    /// Index of the PD whose image holds the symbol.
    pub pd: usize,
    /// What is written.
    pub kind: SetvarKind,
    /// Position of the element that asks for it.
    pub pos: Pos,
}

/// Which capability a `<cspace>` entry grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapKind {
    /// `<cap_tcb>`.
    Tcb,
    /// `<cap_sc>`: the PD's scheduling context.
    Sc,
    /// `<cap_vspace>`.
    Vspace,
}

/// A `<cspace>` entry: a capability to another PD's object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cap {
    /// Which object.
    pub kind: CapKind,
    /// The PD it belongs to.
    pub pd: String,
    /// The cap slot (None if missing or malformed).
    pub slot: Option<u64>,
    /// Position of the `pd` attribute.
    pub pos: Pos,
}

/// A `<protection_domain>`.
#[derive(Clone, Debug)]
pub struct Pd {
    /// Name.
    pub name: String,
    /// Index of the parent PD, for child PDs.
    pub parent: Option<usize>,
    /// Priority (default 0).
    pub priority: u64,
    /// Budget in µs (default 1000).
    pub budget: u64,
    /// Period in µs (default = budget).
    pub period: u64,
    /// Passive PD.
    pub passive: bool,
    /// Stack size (default 0x2000).
    pub stack_size: u64,
    /// Core.
    pub cpu: u64,
    /// Child id (children only).
    pub id: Option<u64>,
    /// Its program image (None if missing: an error).
    pub image: Option<Image>,
    /// `<?tunnelkit call_bound_us="…"?>`: the bound in µs and its position.
    pub call_bound: Option<(u64, Pos)>,
    /// `<?tunnelkit restart="…" max_restarts="…" window_ms="…" backoff_ms="…"?>`: the restart
    /// policy its supervisor applies, where it is declared, and whether it names a time
    /// (`window_ms` or `backoff_ms`, which need the supervisor's tick).
    pub restart: Option<(RestartPolicy, Pos, bool)>,
    /// `<cspace>` entries.
    pub caps: Vec<Cap>,
    /// Mappings.
    pub maps: Vec<Map>,
    /// IRQ ids with their positions.
    pub irq_ids: Vec<(u64, Pos)>,
    /// IRQ numbers (ARM form) with their positions.
    pub irq_numbers: Vec<(u64, Pos)>,
    /// `<ioport>` elements (x86 only).
    pub ioports: Vec<Pos>,
    /// `<ioport>` ranges: (id, addr, size, position of the element).
    pub ioport_ranges: Vec<(u64, u64, u64, Pos)>,
    /// ARM-form `<irq irq=…>` elements.
    pub arm_irqs: Vec<Pos>,
    /// x86-form `<irq>` elements (`pin` or `pcidev`).
    pub x86_irqs: Vec<Pos>,
    /// vCPU ids of its virtual machine.
    pub vcpu_ids: Vec<(u64, Pos)>,
    /// `<?tunnelkit per_core="true"?>`: one instance per caller core (its position).
    pub per_core: Option<Pos>,
    /// `<?tunnelkit cross_core="allow"?>`: a pod shared across cores on
    /// purpose (the reproducers of docs/smp.md); reported as a warning.
    pub cross_core_allowed: bool,
    /// `<cspace>` caps that name another PD: (that PD, position).
    pub cap_pds: Vec<(String, Pos)>,
    /// Whether it has a `<virtual_machine>`.
    pub has_vm: bool,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of attributes by name (for precise diagnostics).
    pub attr_pos: Vec<(&'static str, Pos)>,
}

impl Pd {
    /// Position of attribute `name`, or of the element.
    pub fn at(&self, name: &str) -> Pos {
        self.attr_pos.iter().find(|(n, _)| *n == name).map(|(_, p)| *p).unwrap_or(self.pos)
    }
}

/// A `<memory_region>`.
#[derive(Clone, Debug)]
pub struct Mr {
    /// Name.
    pub name: String,
    /// Size (None if missing/malformed or given by a prefill).
    pub size: Option<u64>,
    /// Explicit page size.
    pub page_size: Option<u64>,
    /// Fixed physical address.
    pub phys_addr: Option<u64>,
    /// Position of `phys_addr`.
    pub phys_pos: Pos,
    /// `prefill_path` as written.
    pub prefill_path: Option<String>,
    /// Position of the element.
    pub pos: Pos,
}

/// One `<end>` of a channel.
#[derive(Clone, Debug)]
pub struct End {
    /// PD name.
    pub pd: String,
    /// Channel id (None if missing/malformed).
    pub id: Option<u64>,
    /// May notify the other end (default true).
    pub notify: bool,
    /// May pp-call the other end (default false).
    pub pp: bool,
    /// `setvar_id`: symbol patched with the id in this end's PD.
    pub setvar_id: Option<String>,
    /// Position of the element.
    pub pos: Pos,
}

/// A `<channel>`.
#[derive(Clone, Debug)]
pub struct Channel {
    /// Its `<end>`s (exactly two in a valid system).
    pub ends: Vec<End>,
    /// Position of the element.
    pub pos: Pos,
}

/// The parsed system.
#[derive(Clone, Debug, Default)]
pub struct System {
    /// The file it was read from, as given.
    pub file: String,
    /// Position of the `<system>` element.
    pub pos: Pos,
    /// `<?tunnelkit qemu_icount="true"?>` under `<system>`: boot it with
    /// QEMU's instruction counter as its clock (deterministic time, as the
    /// benchmarks run), on boards where seL4's timer works that way.
    pub icount: bool,
    /// `<?tunnelkit console="kernel"?>` under `<system>`: print on the kernel
    /// console directly, with no console pod added (debug configs only; lines
    /// of PDs printing at once can interleave). For experiments whose
    /// scheduling a console pod would change.
    pub kernel_console: bool,
    /// Every symbol the microkit tool patches into a PD image, in document order.
    pub setvars: Vec<Setvar>,
    /// Every PD, children included, in document order.
    pub pds: Vec<Pd>,
    /// Every memory region.
    pub mrs: Vec<Mr>,
    /// Every channel.
    pub channels: Vec<Channel>,
    /// `<setvar region_paddr>` MR names with positions.
    pub setvar_regions: Vec<(String, Pos)>,
    /// MR names mapped into virtual machines, with positions.
    pub vm_maps: Vec<(String, Pos)>,
    /// Positions of PDs with a `domain` attribute.
    pub domain_attrs: Vec<Pos>,
    /// Number of `<domains>` elements.
    pub domains: usize,
    /// Position of the first `<domains>` element.
    pub domains_pos: Option<Pos>,
}

/// Attributes allowed on `elem` whose parent is `parent` (None = unknown element there).
fn allowed(parent: &str, elem: &str, node: Node) -> Option<&'static [&'static str]> {
    const PD: &[&str] = &["name", "priority", "budget", "period", "passive", "stack_size", "cpu", "smc", "fpu", "domain"];
    const CHILD_PD: &[&str] =
        &["name", "priority", "budget", "period", "passive", "stack_size", "cpu", "smc", "fpu", "domain", "id", "setvar_id"];
    Some(match (parent, elem) {
        ("system", "protection_domain") => PD,
        ("protection_domain", "protection_domain") => CHILD_PD,
        ("system", "memory_region") => &["name", "size", "page_size", "phys_addr", "prefill_path", "prefill_bootinfo"],
        ("system", "channel") => &[],
        ("channel", "end") => &["pd", "id", "notify", "pp", "setvar_id"],
        ("system", "io_address_space") => &["name", "peripheral_id", "domain_id"],
        ("io_address_space", "iomap") => &["mr", "iovaddr", "perms"],
        ("system", "domains") => &[],
        ("domains", "domain") => &["name", "id"],
        ("domains", "domain_schedule") => &["start_index", "index_shift"],
        ("domain_schedule", "schedule_entry") => &["domain", "duration"],
        ("domain_schedule", "schedule_end_marker") => &[],
        ("protection_domain", "program_image") => &["path", "path_for_symbols"],
        ("protection_domain", "map") => &["mr", "vaddr", "perms", "cached", "setvar_vaddr", "setvar_size", "setvar_prefill_size"],
        ("protection_domain", "irq") => {
            if node.has_attribute("pin") {
                &["id", "pin", "vector", "ioapic", "trigger", "polarity", "setvar_id"]
            } else if node.has_attribute("pcidev") {
                &["id", "pcidev", "handle", "vector", "setvar_id"]
            } else {
                &["irq", "id", "trigger", "setvar_id"]
            }
        }
        ("protection_domain", "ioport") => &["id", "addr", "size", "setvar_id", "setvar_addr"],
        ("protection_domain", "setvar") => &["symbol", "region_paddr"],
        ("protection_domain", "virtual_machine") => &["name", "priority", "budget", "period"],
        ("virtual_machine", "vcpu") => &["id", "cpu", "setvar_id"],
        ("virtual_machine", "map") => &["mr", "vaddr", "perms", "cached"],
        ("protection_domain", "cspace") => &[],
        ("cspace", "cap_tcb" | "cap_sc" | "cap_vspace") => &["pd", "slot"],
        _ => return None,
    })
}

/// Attributes that must be present.
fn required(parent: &str, elem: &str, node: Node) -> &'static [&'static str] {
    match (parent, elem) {
        ("system", "protection_domain") => &["name"],
        ("protection_domain", "protection_domain") => &["name", "id"],
        ("channel", "end") => &["pd", "id"],
        ("protection_domain", "program_image") => &["path"],
        ("protection_domain" | "virtual_machine", "map") => &["mr", "vaddr"],
        ("protection_domain", "irq") => {
            if node.has_attribute("pin") {
                &["id", "vector"]
            } else if node.has_attribute("pcidev") {
                &["id", "handle", "vector"]
            } else {
                &["irq", "id"]
            }
        }
        ("protection_domain", "ioport") => &["id", "addr", "size"],
        ("protection_domain", "setvar") => &["symbol", "region_paddr"],
        ("protection_domain", "virtual_machine") => &["name"],
        ("virtual_machine", "vcpu") => &["id"],
        ("cspace", _) => &["pd", "slot"],
        ("io_address_space", "iomap") => &["mr", "iovaddr"],
        ("domains", "domain") => &["name"],
        ("domain_schedule", "schedule_entry") => &["domain", "duration"],
        ("system", "memory_region") => &["name"],
        _ => &[],
    }
}

struct Ctx<'a, 'b, 'f> {
    doc: &'a Document<'b>,
    text: &'b str,
    sink: &'a mut Sink<'f>,
}

impl<'b> Ctx<'_, 'b, '_> {
    fn pos(&self, node: Node) -> Pos {
        pos_at(self.text, node.range().start)
    }
    fn attr_pos(&self, node: Node, name: &str) -> Pos {
        node.attributes().find(|a| a.name() == name).map(|a| pos_at(self.text, a.range().start)).unwrap_or_else(|| self.pos(node))
    }
    /// Checks the element's attributes and children kinds; returns false for an unknown element.
    fn element(&mut self, node: Node, parent: &str) -> bool {
        let elem = node.tag_name().name();
        let pos = self.pos(node);
        if node.tag_name().namespace().is_some() {
            self.sink.error(pos, "unknown-element", format!("<{elem}> has a namespace; SDF elements have none"), "remove the namespace");
            return false;
        }
        let Some(attrs) = allowed(parent, elem, node) else {
            self.sink.error(
                pos,
                "unknown-element",
                format!("<{elem}> is not allowed inside <{parent}>"),
                "see docs/check.md (Microkit 2.3 SDF) for the elements each element may contain",
            );
            return false;
        };
        for a in node.attributes() {
            let apos = pos_at(self.text, a.range().start);
            if a.namespace().is_some() || !attrs.contains(&a.name()) {
                let list = if attrs.is_empty() { "none".to_string() } else { attrs.join(", ") };
                self.sink.error(
                    apos,
                    "unknown-attribute",
                    format!("<{elem}> has no attribute '{}'", a.name()),
                    format!("the attributes of <{elem}> here are: {list}"),
                );
                continue;
            }
            let v = a.value();
            match syntax(elem, a.name()) {
                Syntax::Num if parse_num(v).is_none() => self.sink.error(
                    apos,
                    "number-syntax",
                    format!("{}=\"{v}\" is not a number", a.name()),
                    "write a decimal or 0x-prefixed hexadecimal number (`_` separators allowed) that fits in 64 bits",
                ),
                Syntax::Dec if parse_dec(v).is_none() => self.sink.error(
                    apos,
                    "number-syntax",
                    format!("{}=\"{v}\" is not a decimal number (the microkit tool parses this attribute as plain decimal)", a.name()),
                    "write a plain decimal number: no 0x, no `_`",
                ),
                Syntax::Bool if v != "true" && v != "false" => self.sink.error(
                    apos,
                    "bool-syntax",
                    format!("{}=\"{v}\" is not a boolean", a.name()),
                    "write exactly `true` or `false`",
                ),
                _ => {}
            }
        }
        if elem == "schedule_entry"
            && let Some(d) = node.attribute("duration")
        {
            let ok = d.split_once(' ').is_some_and(|(n, unit)| parse_num(n).is_some_and(|n| n > 0) && matches!(unit, "us" | "ticks"));
            if !ok {
                self.sink.error(
                    pos,
                    "invalid-value",
                    format!("duration=\"{d}\" is not a non-zero number and a unit"),
                    "write e.g. duration=\"1000 us\" or duration=\"2 ticks\"",
                );
            }
        }
        for r in required(parent, elem, node) {
            if !node.has_attribute(*r) {
                self.sink.error(pos, "missing-attribute", format!("<{elem}> needs the attribute '{r}'"), format!("add {r}=\"...\""));
            }
        }
        for c in node.children() {
            if c.is_text() && c.text().is_some_and(|t| !t.trim().is_empty()) {
                // The microkit tool ignores text below the top level: a warning.
                self.sink.warning(
                    self.pos(c),
                    "text-content",
                    format!("text inside <{elem}> is ignored: '{}'", c.text().unwrap_or("").trim().chars().take(30).collect::<String>()),
                    "remove the text or turn it into an XML comment <!-- ... -->",
                );
            }
        }
        // Elements without a dedicated model walker: check their children generically.
        if !matches!(elem, "protection_domain" | "channel" | "system") {
            for c in node.children().filter(|c| c.is_element()) {
                self.element(c, elem);
            }
        }
        true
    }

    fn num(&mut self, node: Node, name: &str) -> Option<u64> {
        let v = node.attribute(name)?;
        super::number::parse_attr(node.tag_name().name(), name, v)
    }
    fn boolean(&self, node: Node, name: &str, default: bool) -> bool {
        match node.attribute(name) {
            Some("true") => true,
            Some("false") => false,
            _ => default,
        }
    }

    /// The PD's `<?tunnelkit …?>` instructions, checked: `per_core` is
    /// `true` or `false`, `cross_core` is `allow`, `call_bound_us` a
    /// number above 0; any other key is an error.
    fn settings(&mut self, node: Node) -> PdSettings {
        let mut out = PdSettings::default();
        for pi_node in node.children().filter(|c| c.is_pi()) {
            let Some(pi) = pi_node.pi().filter(|pi| pi.target == "tunnelkit") else { continue };
            let pos = self.pos(pi_node);
            let pairs = match instruction_pairs(pi.value.unwrap_or("")) {
                Ok(p) => p,
                Err(e) => {
                    self.sink.error(pos, "tunnelkit-setting", e, "write <?tunnelkit key=\"value\"?>");
                    continue;
                }
            };
            for (k, value) in pairs {
                match k {
                    "per_core" if matches!(value, "true" | "false") => out.per_core = (value == "true").then_some(pos),
                    "cross_core" if value == "allow" => out.cross_core = true,
                    "per_core" => self.sink.error(
                        pos,
                        "per-core",
                        format!("per_core=\"{value}\" is not a setting tunnelkit knows"),
                        "write <?tunnelkit per_core=\"true\"?>",
                    ),
                    "cross_core" => self.sink.error(
                        pos,
                        "per-core",
                        format!("cross_core=\"{value}\" is not a setting tunnelkit knows"),
                        "write <?tunnelkit cross_core=\"allow\"?> (only for reproducers: such a pod can hang)",
                    ),
                    "restart" | "max_restarts" | "window_ms" | "backoff_ms" => {
                        let keys = out.restart.get_or_insert(RestartKeys {
                            at: pos,
                            mode: None,
                            max_restarts: None,
                            window_ms: None,
                            backoff_ms: None,
                        });
                        if k == "restart" {
                            keys.mode = Some(value.to_string());
                            continue;
                        }
                        let Some(n) = parse_num(value) else {
                            self.sink.error(
                                pos,
                                "restart-policy",
                                format!("{k} must be a whole number, not '{value}'"),
                                "write e.g. <?tunnelkit restart=\"hold\" max_restarts=\"3\" window_ms=\"1000\"?>",
                            );
                            continue;
                        };
                        match k {
                            "max_restarts" => keys.max_restarts = Some(n),
                            "window_ms" => keys.window_ms = Some(n),
                            _ => keys.backoff_ms = Some(n),
                        }
                    }
                    "call_bound_us" => match parse_num(value) {
                        Some(us) if us > 0 => out.call_bound = Some((us, pos)),
                        _ => self.sink.error(
                            pos,
                            "call-bound",
                            format!("call_bound_us must be a whole number of microseconds above 0, not '{value}'"),
                            "write e.g. <?tunnelkit call_bound_us=\"1000\"?>",
                        ),
                    },
                    other => self.sink.error(
                        pos,
                        "tunnelkit-setting",
                        format!(
                            "unknown tunnelkit setting '{other}' in a <protection_domain> (known here: call_bound_us, per_core, cross_core, restart, max_restarts, window_ms, backoff_ms)"
                        ),
                        "fix the key; qemu_icount goes directly inside <system>",
                    ),
                }
            }
        }
        out
    }

    /// Records a setvar of PD `pd`, refusing a symbol it already patches.
    fn setvar(&mut self, sys: &mut System, pd: usize, symbol: &str, kind: SetvarKind, pos: Pos) {
        if sys.setvars.iter().any(|s| s.pd == pd && s.symbol == symbol) {
            self.sink.error(
                pos,
                "setvar-duplicate",
                format!("PD '{}' already has a setvar on symbol '{symbol}'", sys.pds[pd].name),
                "each symbol of an image can be patched once; use another symbol",
            );
            return;
        }
        sys.setvars.push(Setvar { symbol: symbol.to_string(), pd, kind, pos });
    }

    fn pd(&mut self, node: Node, parent: Option<usize>, sys: &mut System) {
        let budget = self.num(node, "budget").unwrap_or(1000);
        let settings = self.settings(node);
        let mut attr_pos = Vec::new();
        for n in ["name", "priority", "budget", "period", "stack_size", "cpu", "passive", "id", "smc", "domain"] {
            if node.has_attribute(n) {
                attr_pos.push((n, self.attr_pos(node, n)));
            }
        }
        let pd = Pd {
            name: node.attribute("name").unwrap_or("").to_string(),
            parent,
            priority: self.num(node, "priority").unwrap_or(0),
            budget,
            period: self.num(node, "period").unwrap_or(budget),
            passive: self.boolean(node, "passive", false),
            stack_size: self.num(node, "stack_size").unwrap_or(0x2000),
            cpu: self.num(node, "cpu").unwrap_or(0),
            id: self.num(node, "id"),
            maps: Vec::new(),
            irq_ids: Vec::new(),
            irq_numbers: Vec::new(),
            ioports: Vec::new(),
            ioport_ranges: Vec::new(),
            arm_irqs: Vec::new(),
            x86_irqs: Vec::new(),
            vcpu_ids: Vec::new(),
            image: None,
            call_bound: settings.call_bound,
            restart: settings.restart.and_then(|r| r.policy(self.sink)),
            caps: Vec::new(),
            per_core: settings.per_core,
            cross_core_allowed: settings.cross_core,
            cap_pds: Vec::new(),
            has_vm: false,
            pos: self.pos(node),
            attr_pos,
        };
        let idx = sys.pds.len();
        if node.has_attribute("domain") {
            sys.domain_attrs.push(pd.at("domain"));
        }
        sys.pds.push(pd);
        let mut images = 0;
        let mut vms = 0;
        for c in node.children().filter(|c| c.is_element()) {
            if !self.element(c, "protection_domain") {
                continue;
            }
            let cpos = self.pos(c);
            match c.tag_name().name() {
                "program_image" => {
                    images += 1;
                    if images == 1
                        && let Some(path) = c.attribute("path")
                    {
                        sys.pds[idx].image = Some(Image {
                            path: path.to_string(),
                            path_for_symbols: c.attribute("path_for_symbols").map(str::to_string),
                            pos: cpos,
                        });
                    }
                    if images == 2 {
                        let pd_pos = sys.pds[idx].pos;
                        self.sink.error(
                            pd_pos,
                            "program-image",
                            format!("PD '{}' has more than one <program_image> (the second at line {})", sys.pds[idx].name, cpos.line),
                            "keep exactly one <program_image>",
                        );
                    }
                }
                "map" => {
                    let m = Map {
                        mr: c.attribute("mr").unwrap_or("").to_string(),
                        vaddr: self.num(c, "vaddr"),
                        perms: c.attribute("perms").unwrap_or("rw").to_string(),
                        cached: self.boolean(c, "cached", true),
                        setvar_vaddr: c.attribute("setvar_vaddr").map(str::to_string),
                        pos: cpos,
                    };
                    if let Some(sym) = c.attribute("setvar_vaddr") {
                        self.setvar(sys, idx, sym, SetvarKind::Vaddr(m.vaddr.unwrap_or(0)), cpos);
                    }
                    if let Some(sym) = c.attribute("setvar_size") {
                        self.setvar(sys, idx, sym, SetvarKind::Size(m.mr.clone()), cpos);
                    }
                    if let Some(sym) = c.attribute("setvar_prefill_size") {
                        self.setvar(sys, idx, sym, SetvarKind::PrefillSize(m.mr.clone()), cpos);
                    }
                    sys.pds[idx].maps.push(m);
                }
                "irq" => {
                    if c.has_attribute("pin") || c.has_attribute("pcidev") {
                        sys.pds[idx].x86_irqs.push(cpos);
                        // The tool numbers x86 interrupts by their vector.
                        if let Some(v) = self.num(c, "vector") {
                            if v > X86_IRQ_VECTOR_MAX {
                                self.sink.error(
                                    cpos,
                                    "irq-vector-range",
                                    format!("vector {v} is above {X86_IRQ_VECTOR_MAX}"),
                                    format!("use a vector in 0..{X86_IRQ_VECTOR_MAX}"),
                                );
                            }
                            sys.pds[idx].irq_numbers.push((v, self.attr_pos(c, "vector")));
                        }
                        if c.has_attribute("irq") {
                            self.sink.error(
                                cpos,
                                "unknown-attribute",
                                "an x86 <irq> (pin or pcidev) has no attribute 'irq'",
                                "use either irq=\"N\" (ARM, RISC-V) or pin/pcidev with vector (x86)",
                            );
                        }
                        if let Some(dev) = c.attribute("pcidev").filter(|_| !c.has_attribute("pin"))
                            && let Err(e) = pci_device(dev)
                        {
                            self.sink.error(
                                cpos,
                                "irq-pcidev",
                                format!("pcidev=\"{dev}\": {e}"),
                                "write BUS:DEVICE.FUNCTION in hex, e.g. 00:03.0",
                            );
                        }
                    } else if c.has_attribute("irq") {
                        sys.pds[idx].arm_irqs.push(cpos);
                    }
                    if let Some(id) = self.num(c, "id") {
                        let p = self.attr_pos(c, "id");
                        sys.pds[idx].irq_ids.push((id, p));
                        if let Some(sym) = c.attribute("setvar_id") {
                            self.setvar(sys, idx, sym, SetvarKind::Id(id), cpos);
                        }
                    }
                    if let Some(n) = self.num(c, "irq").filter(|_| !c.has_attribute("pin") && !c.has_attribute("pcidev")) {
                        let p = self.attr_pos(c, "irq");
                        sys.pds[idx].irq_numbers.push((n, p));
                    }
                    for (a, allowed) in [("trigger", &["level", "edge"][..]), ("polarity", &["high", "low"][..])] {
                        if let Some(v) = c.attribute(a)
                            && !allowed.contains(&v)
                        {
                            self.sink.error(
                                self.attr_pos(c, a),
                                "invalid-value",
                                format!("{a}=\"{v}\" is not one of {}", allowed.join(", ")),
                                format!("write {a}=\"{}\"", allowed[0]),
                            );
                        }
                    }
                }
                "ioport" => {
                    sys.pds[idx].ioports.push(cpos);
                    if let (Some(id), Some(addr), Some(size)) = (self.num(c, "id"), self.num(c, "addr"), self.num(c, "size")) {
                        sys.pds[idx].ioport_ranges.push((id, addr, size, cpos));
                    }
                    if let (Some(sym), Some(id)) = (c.attribute("setvar_id"), self.num(c, "id")) {
                        self.setvar(sys, idx, sym, SetvarKind::Id(id), cpos);
                    }
                    if let (Some(sym), Some(addr)) = (c.attribute("setvar_addr"), self.num(c, "addr")) {
                        self.setvar(sys, idx, sym, SetvarKind::IoPortAddr(addr), cpos);
                    }
                }
                "virtual_machine" => {
                    sys.pds[idx].has_vm = true;
                    vms += 1;
                    if vms == 2 {
                        let pd_pos = sys.pds[idx].pos;
                        self.sink.error(
                            pd_pos,
                            "vm-count",
                            format!("a PD has more than one <virtual_machine> (the second at line {})", cpos.line),
                            "keep one virtual machine per PD",
                        );
                    }
                    let budget = self.num(c, "budget").unwrap_or(1000);
                    let period = self.num(c, "period").unwrap_or(budget);
                    if budget > period {
                        let p = self.attr_pos(c, "budget");
                        self.sink.error(
                            p,
                            "budget-period",
                            format!("VM budget {budget} µs exceeds period {period} µs"),
                            "make budget ≤ period",
                        );
                    }
                    for m in c.children().filter(|n| n.has_tag_name("map")) {
                        let p = self.pos(m);
                        sys.vm_maps.push((m.attribute("mr").unwrap_or("").to_string(), p));
                    }
                    let vcpus: Vec<Node> = c.children().filter(|n| n.has_tag_name("vcpu")).collect();
                    if vcpus.is_empty() {
                        self.sink.error(cpos, "vm-vcpu", "a <virtual_machine> without <vcpu>", "add <vcpu id=\"0\" />");
                    }
                    for v in vcpus {
                        let Some(id) = self.num(v, "id") else { continue };
                        let p = self.attr_pos(v, "id");
                        if id > 61 {
                            self.sink.error(p, "vcpu-id-range", format!("vCPU id {id} is above 61"), "use an id in 0..61");
                        }
                        if sys.pds[idx].vcpu_ids.iter().any(|(o, _)| *o == id) {
                            self.sink.error(p, "vcpu-id-duplicate", format!("vCPU id {id} is used twice"), "give each vCPU its own id");
                        }
                        sys.pds[idx].vcpu_ids.push((id, p));
                        if let Some(sym) = v.attribute("setvar_id") {
                            let vpos = self.pos(v);
                            self.setvar(sys, idx, sym, SetvarKind::Id(id), vpos);
                        }
                    }
                }
                "setvar" => {
                    if let Some(r) = c.attribute("region_paddr") {
                        let p = self.attr_pos(c, "region_paddr");
                        sys.setvar_regions.push((r.to_string(), p));
                        if let Some(sym) = c.attribute("symbol") {
                            self.setvar(sys, idx, sym, SetvarKind::Paddr(r.to_string()), cpos);
                        }
                    }
                }
                "cspace" => {
                    let mut slots = Vec::new();
                    for cap in c.children().filter(|n| n.is_element()) {
                        if let Some(other) = cap.attribute("pd") {
                            let p = self.attr_pos(cap, "pd");
                            sys.pds[idx].cap_pds.push((other.to_string(), p));
                            let kind = match cap.tag_name().name() {
                                "cap_tcb" => CapKind::Tcb,
                                "cap_sc" => CapKind::Sc,
                                _ => CapKind::Vspace,
                            };
                            let slot = self.num(cap, "slot");
                            sys.pds[idx].caps.push(Cap { kind, pd: other.to_string(), slot, pos: p });
                        }
                        let Some(slot) = self.num(cap, "slot") else { continue };
                        let p = self.attr_pos(cap, "slot");
                        if !(1..=127).contains(&slot) {
                            self.sink.error(
                                p,
                                "cspace-slot",
                                format!("cap slot {slot} is outside 1..127"),
                                "use a slot in 1..63 (slot 0 is reserved)",
                            );
                        } else if let Some((_, first)) = slots.iter().find(|(s, _)| *s == slot) {
                            // The tool points at the first cap in the slot.
                            self.sink.error(
                                *first,
                                "cspace-slot",
                                format!("cap slot {slot} is used twice in this <cspace> (again at line {})", p.line),
                                "give each cap its own slot",
                            );
                        }
                        slots.push((slot, self.pos(cap)));
                    }
                }
                "protection_domain" => {
                    let child = sys.pds.len();
                    self.pd(c, Some(idx), sys);
                    if let (Some(sym), Some(id)) = (c.attribute("setvar_id"), sys.pds.get(child).and_then(|p| p.id)) {
                        self.setvar(sys, idx, sym, SetvarKind::Id(id), cpos);
                    }
                }
                _ => {}
            }
        }
        if images == 0 {
            self.sink.error(
                sys.pds[idx].pos,
                "program-image",
                format!("PD '{}' has no <program_image>", sys.pds[idx].name),
                "add <program_image path=\"NAME.elf\" />",
            );
        }
    }

    fn channel(&mut self, node: Node, sys: &mut System) {
        let mut ends = Vec::new();
        for c in node.children().filter(|c| c.is_element()) {
            if !self.element(c, "channel") {
                continue;
            }
            ends.push(End {
                pd: c.attribute("pd").unwrap_or("").to_string(),
                id: self.num(c, "id"),
                notify: self.boolean(c, "notify", true),
                pp: self.boolean(c, "pp", false),
                setvar_id: c.attribute("setvar_id").map(str::to_string),
                pos: self.pos(c),
            });
        }
        sys.channels.push(Channel { ends, pos: self.pos(node) });
    }
}

/// Parses `text`; reports XML and structural errors into `sink`. Returns the
/// model (best effort) unless the XML is not well-formed or the root is wrong.
pub fn parse(text: &str, sink: &mut Sink) -> Option<System> {
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: 1_000_000 };
    let doc = match Document::parse_with_options(text, opts) {
        Ok(d) => d,
        Err(e) => {
            let p = e.pos();
            sink.error(
                Pos { line: p.row, col: p.col },
                "xml-syntax",
                format!("not well-formed XML: {e}"),
                "fix the XML syntax (matching tags, quoted attribute values, no DTD)",
            );
            return None;
        }
    };
    let root = doc.root_element();
    let mut ctx = Ctx { doc: &doc, text, sink };
    let _ = ctx.doc;
    if root.tag_name().name() != "system" || root.tag_name().namespace().is_some() {
        let pos = ctx.pos(root);
        ctx.sink.error(
            pos,
            "root-element",
            format!("the root element is <{}>, not <system>", root.tag_name().name()),
            "wrap the system in <system> ... </system>",
        );
        return None;
    }
    for a in root.attributes() {
        let pos = pos_at(text, a.range().start);
        // The microkit tool does not look at <system>'s attributes: a warning.
        ctx.sink.warning(
            pos,
            "unknown-attribute",
            format!("<system> has no attribute '{}' (ignored)", a.name()),
            "remove it; <system> takes no attributes",
        );
    }
    for c in root.children() {
        if let Some(t) = c.text().filter(|t| c.is_text() && !t.trim().is_empty()) {
            let lead = text.get(c.range()).map(|raw| raw.len() - raw.trim_start().len()).unwrap_or(0);
            let at = pos_at(text, c.range().start + lead.min(t.len()));
            // The tool points at <system>.
            let pos = ctx.pos(root);
            ctx.sink.error(
                pos,
                "text-content",
                format!("text inside <system> (line {}:{}): '{}'", at.line, at.col, t.trim().chars().take(30).collect::<String>()),
                "remove the text or turn it into an XML comment <!-- ... -->",
            );
        }
    }
    let mut sys = System { file: ctx.sink.file.to_string(), pos: ctx.pos(root), ..System::default() };
    let mut domains = 0;
    for c in root.children().filter(|c| c.is_element()) {
        if !ctx.element(c, "system") {
            continue;
        }
        let pos = ctx.pos(c);
        match c.tag_name().name() {
            "protection_domain" => ctx.pd(c, None, &mut sys),
            "memory_region" => {
                let has_prefill = c.has_attribute("prefill_path") || c.has_attribute("prefill_bootinfo");
                if c.has_attribute("prefill_path") && c.has_attribute("prefill_bootinfo") {
                    ctx.sink.error(pos, "mr-prefill", "prefill_path and prefill_bootinfo are exclusive", "keep one of them");
                }
                if !c.has_attribute("size") && !has_prefill {
                    ctx.sink.error(
                        pos,
                        "missing-attribute",
                        "<memory_region> needs the attribute 'size'",
                        "add size=\"0x1000\" (a multiple of the page size)",
                    );
                }
                let mr = Mr {
                    name: c.attribute("name").unwrap_or("").to_string(),
                    size: ctx.num(c, "size"),
                    page_size: ctx.num(c, "page_size"),
                    phys_addr: ctx.num(c, "phys_addr"),
                    phys_pos: ctx.attr_pos(c, "phys_addr"),
                    prefill_path: c.attribute("prefill_path").map(str::to_string),
                    pos,
                };
                sys.mrs.push(mr);
            }
            "channel" => ctx.channel(c, &mut sys),
            "domains" => {
                domains += 1;
                sys.domains = domains;
                sys.domains_pos.get_or_insert(pos);
                if domains == 2 {
                    ctx.sink.error(pos, "unknown-element", "more than one <domains>", "keep one <domains> element");
                }
            }
            _ => {}
        }
    }
    // Channel ends' setvar_id: patched into the end's PD (after every PD is known).
    for ch in 0..sys.channels.len() {
        for e in 0..sys.channels[ch].ends.len() {
            let end = &sys.channels[ch].ends[e];
            let (Some(sym), Some(id)) = (end.setvar_id.clone(), end.id) else { continue };
            let Some(pd) = sys.pds.iter().position(|p| p.name == end.pd) else { continue };
            let pos = sys.channels[ch].pos;
            ctx.setvar(&mut sys, pd, &sym, SetvarKind::Id(id), pos);
        }
    }
    system_settings(&mut ctx, root, &mut sys);
    Some(sys)
}

/// The highest x86 interrupt vector a PD may use.
pub const X86_IRQ_VECTOR_MAX: u64 = 107;

/// Checks a `pcidev` value (`BUS:DEVICE.FUNCTION`, hexadecimal) as the tool does.
fn pci_device(s: &str) -> Result<(), String> {
    let (bus, rest) = s.split_once(':').ok_or("malformed PCI device (expected BUS:DEVICE.FUNCTION)")?;
    let (dev, func) = rest.split_once('.').ok_or("malformed PCI device (expected BUS:DEVICE.FUNCTION)")?;
    for (what, v, max) in [("bus", bus, 255), ("device", dev, 31), ("function", func, 7)] {
        match i64::from_str_radix(v.trim(), 16) {
            Ok(n) if (0..=max).contains(&n) => {}
            Ok(_) => return Err(format!("PCI {what} must be within [0..{max}]")),
            Err(_) => return Err(format!("failed to parse PCI {what}")),
        }
    }
    Ok(())
}

/// Settings of a PD from its processing instructions.
#[derive(Default)]
struct PdSettings {
    per_core: Option<Pos>,
    cross_core: bool,
    call_bound: Option<(u64, Pos)>,
    restart: Option<RestartKeys>,
}

/// The restart keys of a PD's `<?tunnelkit …?>` instructions, before they are combined.
struct RestartKeys {
    at: Pos,
    mode: Option<String>,
    max_restarts: Option<u64>,
    window_ms: Option<u64>,
    backoff_ms: Option<u64>,
}

/// Most restarts a `hold` policy may allow within its window (the supervisor keeps that many
/// restart times per child).
pub const MAX_RESTARTS: u64 = 16;

impl RestartKeys {
    /// The policy the keys describe, or an error at their position.
    fn policy(self, sink: &mut Sink) -> Option<(RestartPolicy, Pos, bool)> {
        let timed = self.window_ms.is_some() || self.backoff_ms.is_some();
        let Some(backoff_ms) = self.backoff_ms.unwrap_or(0).try_into().ok().filter(|&b: &u32| b <= 60_000) else {
            sink.error(self.at, "restart-policy", "backoff_ms must be at most 60000 (a minute)", "write e.g. backoff_ms=\"10\"");
            return None;
        };
        let defaults = RestartPolicy::default();
        let RestartPolicy::Hold { max_restarts: default_max, window_ms: default_window, .. } = defaults else { unreachable!() };
        match self.mode.as_deref() {
            Some("always") => {
                if self.max_restarts.is_some() || self.window_ms.is_some() {
                    sink.error(
                        self.at,
                        "restart-policy",
                        "restart=\"always\" restarts every time: max_restarts and window_ms belong to restart=\"hold\"",
                        "remove them, or write restart=\"hold\"",
                    );
                    return None;
                }
                Some((RestartPolicy::Always { backoff_ms }, self.at, timed))
            }
            None | Some("hold") => {
                let max = self.max_restarts.unwrap_or(u64::from(default_max));
                if !(1..=MAX_RESTARTS).contains(&max) {
                    sink.error(
                        self.at,
                        "restart-policy",
                        format!("max_restarts must be 1 to {MAX_RESTARTS}, not {max}"),
                        "write e.g. max_restarts=\"5\"",
                    );
                    return None;
                }
                let window = self.window_ms.unwrap_or(u64::from(default_window));
                let Some(window_ms) = u32::try_from(window).ok().filter(|&w| w > 0) else {
                    sink.error(
                        self.at,
                        "restart-policy",
                        format!("window_ms must be 1 to {}, not {window}", u32::MAX),
                        "write e.g. window_ms=\"1000\"",
                    );
                    return None;
                };
                Some((RestartPolicy::Hold { max_restarts: max as u16, window_ms, backoff_ms }, self.at, timed))
            }
            Some(other) => {
                sink.error(
                    self.at,
                    "restart-policy",
                    format!("restart=\"{other}\" is not a restart policy"),
                    "write restart=\"always\" or restart=\"hold\" (the default: hold after max_restarts within window_ms)",
                );
                None
            }
        }
    }
}

/// `<?tunnelkit …?>` directly under `<system>` (run settings), and any
/// placed where tunnelkit does not read it.
fn system_settings(ctx: &mut Ctx, root: Node, sys: &mut System) {
    for pi_node in root.descendants().filter(|n| n.is_pi()) {
        let Some(pi) = pi_node.pi().filter(|pi| pi.target == "tunnelkit") else { continue };
        let pos = ctx.pos(pi_node);
        let parent = pi_node.parent_element().map(|p| p.tag_name().name()).unwrap_or("");
        if parent == "protection_domain" {
            continue; // the PD's settings: read with the PD
        }
        if parent != "system" {
            ctx.sink.error(
                pos,
                "tunnelkit-setting",
                format!("a <?tunnelkit …?> instruction inside <{parent}> is never read"),
                "put run settings directly inside <system> and a pod's settings directly inside its <protection_domain>",
            );
            continue;
        }
        let pairs = match instruction_pairs(pi.value.unwrap_or("")) {
            Ok(p) => p,
            Err(e) => {
                ctx.sink.error(pos, "tunnelkit-setting", e, "write <?tunnelkit key=\"value\"?>");
                continue;
            }
        };
        for (key, value) in pairs {
            match (key, value) {
                ("qemu_icount", "true") => sys.icount = true,
                ("qemu_icount", "false") => sys.icount = false,
                ("qemu_icount", other) => ctx.sink.error(
                    pos,
                    "tunnelkit-setting",
                    format!("qemu_icount must be true or false, not '{other}'"),
                    "write <?tunnelkit qemu_icount=\"true\"?>",
                ),
                ("console", "kernel") => sys.kernel_console = true,
                ("console", "pod") => sys.kernel_console = false,
                ("console", other) => ctx.sink.error(
                    pos,
                    "tunnelkit-setting",
                    format!("console must be pod or kernel, not '{other}'"),
                    "write <?tunnelkit console=\"kernel\"?> to print on the kernel console directly (debug configs)",
                ),
                (other, _) => ctx.sink.error(
                    pos,
                    "tunnelkit-setting",
                    format!("unknown system setting '{other}' (known here: qemu_icount, console; call_bound_us and per_core go inside a pod's <protection_domain>)"),
                    "fix the key or move it into the <protection_domain> it is about",
                ),
            }
        }
    }
}

/// `key="value"` pairs of a processing instruction.
pub fn instruction_pairs(text: &str) -> Result<Vec<(&str, &str)>, String> {
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
