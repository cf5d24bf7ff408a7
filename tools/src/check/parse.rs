//! XML → SDF model with positions, plus the structural rules: well-formed
//! XML, root, known elements and attributes, text, required attributes,
//! number and boolean syntax.

use roxmltree::{Document, Node, ParsingOptions};

use super::{Pos, Sink, pos_at};

/// A `<map>`.
#[derive(Clone, Debug)]
pub struct Map {
    /// Region name.
    pub mr: String,
    /// Virtual address (None if missing or malformed).
    pub vaddr: Option<u64>,
    /// Permissions as written (default `rw`).
    pub perms: String,
    /// Position of the element.
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
    /// Mappings.
    pub maps: Vec<Map>,
    /// IRQ ids with their positions.
    pub irq_ids: Vec<(u64, Pos)>,
    /// IRQ numbers (ARM form) with their positions.
    pub irq_numbers: Vec<(u64, Pos)>,
    /// `<ioport>` elements (x86 only).
    pub ioports: Vec<Pos>,
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

/// Attribute kinds for syntax checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Num,
    Dec,
    Bool,
    Other,
}

fn kind(elem: &str, attr: &str) -> Kind {
    match (elem, attr) {
        ("protection_domain", "priority" | "budget" | "period" | "stack_size" | "cpu" | "id") => Kind::Num,
        ("protection_domain", "passive" | "smc" | "fpu") => Kind::Bool,
        ("memory_region", "size" | "page_size" | "phys_addr") => Kind::Num,
        ("map", "vaddr") => Kind::Num,
        ("map", "cached") => Kind::Bool,
        ("end", "id") => Kind::Dec,
        ("end", "notify" | "pp") => Kind::Bool,
        ("irq", "irq" | "id" | "pin" | "vector" | "ioapic" | "handle") => Kind::Dec,
        ("ioport", "id" | "size") => Kind::Dec,
        ("ioport", "addr") => Kind::Num,
        ("vcpu", "id") => Kind::Dec,
        ("vcpu", "cpu") => Kind::Num,
        ("virtual_machine", "priority" | "budget" | "period") => Kind::Num,
        ("cap_tcb" | "cap_sc" | "cap_vspace", "slot") => Kind::Num,
        ("io_address_space", "domain_id") => Kind::Num,
        ("iomap", "iovaddr") => Kind::Num,
        ("domain", "id") => Kind::Num,
        ("domain_schedule", "start_index" | "index_shift") => Kind::Num,
        _ => Kind::Other,
    }
}

/// Microkit's "num" syntax: decimal or `0x` hex, `_` separators allowed.
pub fn parse_num(s: &str) -> Option<u64> {
    let t = s.replace('_', "");
    match t.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse::<u64>().ok(),
    }
}

/// Microkit's "dec" syntax: plain decimal.
pub fn parse_dec(s: &str) -> Option<u64> {
    s.parse::<u64>().ok()
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
            match kind(elem, a.name()) {
                Kind::Num if parse_num(v).is_none() => self.sink.error(
                    apos,
                    "number-syntax",
                    format!("{}=\"{v}\" is not a number", a.name()),
                    "write a decimal or 0x-prefixed hexadecimal number (`_` separators allowed) that fits in 64 bits",
                ),
                Kind::Dec if parse_dec(v).is_none() => self.sink.error(
                    apos,
                    "number-syntax",
                    format!("{}=\"{v}\" is not a decimal number (the microkit tool parses this attribute as plain decimal)", a.name()),
                    "write a plain decimal number: no 0x, no `_`",
                ),
                Kind::Bool if v != "true" && v != "false" => self.sink.error(
                    apos,
                    "bool-syntax",
                    format!("{}=\"{v}\" is not a boolean", a.name()),
                    "write exactly `true` or `false`",
                ),
                _ => {}
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
        match kind(node.tag_name().name(), name) {
            Kind::Dec => parse_dec(v),
            _ => parse_num(v),
        }
    }
    fn boolean(&self, node: Node, name: &str, default: bool) -> bool {
        match node.attribute(name) {
            Some("true") => true,
            Some("false") => false,
            _ => default,
        }
    }

    /// The value (and position) of the tunnelkit `key` among the PD's
    /// `<?tunnelkit …?>` instructions, checked: `per_core` is `true` or
    /// `false`, `cross_core` is `allow`. Other keys belong to `crate::supervision`.
    fn setting<'n>(&mut self, node: Node<'n, '_>, key: &str) -> Option<(&'n str, Pos)> {
        let mut out = None;
        for pi_node in node.children().filter(|c| c.is_pi()) {
            let Some(pi) = pi_node.pi().filter(|pi| pi.target == "tunnelkit") else { continue };
            let pos = self.pos(pi_node);
            let Ok(pairs) = crate::supervision::attributes(pi.value.unwrap_or("")) else { continue };
            for (k, value) in pairs.into_iter().filter(|(k, _)| *k == key) {
                let (ok, hint) = match k {
                    "per_core" => (matches!(value, "true" | "false"), "write <?tunnelkit per_core=\"true\"?>"),
                    _ => (value == "allow", "write <?tunnelkit cross_core=\"allow\"?> (only for reproducers: such a pod can hang)"),
                };
                if ok {
                    out = Some((value, pos));
                } else {
                    self.sink.error(pos, "per-core", format!("{k}=\"{value}\" is not a setting tunnelkit knows"), hint);
                }
            }
        }
        out
    }

    fn pd(&mut self, node: Node, parent: Option<usize>, sys: &mut System) {
        let budget = self.num(node, "budget").unwrap_or(1000);
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
            x86_irqs: Vec::new(),
            vcpu_ids: Vec::new(),
            per_core: self.setting(node, "per_core").and_then(|(v, p)| (v == "true").then_some(p)),
            cross_core_allowed: self.setting(node, "cross_core").is_some_and(|(v, _)| v == "allow"),
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
                    if images == 2 {
                        self.sink.error(
                            cpos,
                            "program-image",
                            format!("PD '{}' has more than one <program_image>", sys.pds[idx].name),
                            "keep exactly one <program_image>",
                        );
                    }
                }
                "map" => {
                    let m = Map {
                        mr: c.attribute("mr").unwrap_or("").to_string(),
                        vaddr: self.num(c, "vaddr"),
                        perms: c.attribute("perms").unwrap_or("rw").to_string(),
                        pos: cpos,
                    };
                    sys.pds[idx].maps.push(m);
                }
                "irq" => {
                    if c.has_attribute("pin") || c.has_attribute("pcidev") {
                        sys.pds[idx].x86_irqs.push(cpos);
                    }
                    if let Some(id) = self.num(c, "id") {
                        let p = self.attr_pos(c, "id");
                        sys.pds[idx].irq_ids.push((id, p));
                    }
                    if let Some(n) = self.num(c, "irq") {
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
                "ioport" => sys.pds[idx].ioports.push(cpos),
                "virtual_machine" => {
                    sys.pds[idx].has_vm = true;
                    vms += 1;
                    if vms == 2 {
                        self.sink.error(cpos, "vm-count", "a PD has more than one <virtual_machine>", "keep one virtual machine per PD");
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
                    }
                }
                "setvar" => {
                    if let Some(r) = c.attribute("region_paddr") {
                        let p = self.attr_pos(c, "region_paddr");
                        sys.setvar_regions.push((r.to_string(), p));
                    }
                }
                "cspace" => {
                    let mut slots = Vec::new();
                    for cap in c.children().filter(|n| n.is_element()) {
                        if let Some(other) = cap.attribute("pd") {
                            let p = self.attr_pos(cap, "pd");
                            sys.pds[idx].cap_pds.push((other.to_string(), p));
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
                        } else if slots.contains(&slot) {
                            self.sink.error(
                                p,
                                "cspace-slot",
                                format!("cap slot {slot} is used twice in this <cspace>"),
                                "give each cap its own slot",
                            );
                        }
                        slots.push(slot);
                    }
                }
                "protection_domain" => self.pd(c, Some(idx), sys),
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
                pos: self.pos(c),
            });
        }
        sys.channels.push(Channel { ends, pos: self.pos(node) });
    }
}

/// Parses `text`; reports XML and structural errors into `sink`. Returns the
/// model (best effort) unless the XML is not well-formed or the root is wrong.
pub(crate) fn parse(text: &str, sink: &mut Sink) -> Option<System> {
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
            let pos = pos_at(text, c.range().start + lead.min(t.len()));
            ctx.sink.error(pos, "text-content", "text inside <system>", "remove the text or turn it into an XML comment <!-- ... -->");
        }
    }
    let mut sys = System::default();
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
                    pos,
                };
                sys.mrs.push(mr);
            }
            "channel" => ctx.channel(c, &mut sys),
            "domains" => {
                domains += 1;
                sys.domains = domains;
                if domains == 2 {
                    ctx.sink.error(pos, "unknown-element", "more than one <domains>", "keep one <domains> element");
                }
            }
            _ => {}
        }
    }
    Some(sys)
}
