//! Semantic rules over the parsed model: Microkit 2.3's (docs §7) and tunnelkit's.

use std::collections::{HashMap, HashSet};

use super::parse::System;
use super::{Board, Sink, Target};
use crate::board::{Arch, KernelConfig};

/// Microkit's limit on PDs (children included).
pub const MAX_PDS: usize = 63;
/// Largest channel / IRQ id.
pub const MAX_ID: u64 = 61;

/// Runs every semantic rule on `sys`.
pub(crate) fn check(sys: &System, target: Target, sink: &mut Sink) {
    let board = target.board;
    pds(sys, board, sink);
    cpus(sys, target, sink);
    cross_core_pods(sys, sink);
    regions_and_maps(sys, board, sink);
    phys_regions(sys, target, sink);
    drivers(sys, board, sink);
    channels(sys, sink);
    pp_cycles(sys, sink);
    utilisation(sys, sink);
}

fn pds(sys: &System, board: Option<Board>, sink: &mut Sink) {
    if sys.pds.is_empty() {
        sink.error(
            sys.pos,
            "no-pd",
            "the system has no protection domain",
            "add at least one <protection_domain name=\"…\"><program_image path=\"….elf\" /></protection_domain>",
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, pd) in sys.pds.iter().enumerate() {
        if pd.name == "monitor" {
            sink.error(pd.at("name"), "pd-name-reserved", "the PD name 'monitor' is reserved for Microkit's monitor", "rename the PD");
        }
        if !pd.name.is_empty() {
            if let Some(&j) = seen.get(pd.name.as_str()) {
                let first = sys.pds[j].pos;
                sink.error(
                    pd.at("name"),
                    "pd-name-duplicate",
                    format!("a PD named '{}' already exists (line {}:{})", pd.name, first.line, first.col),
                    "give every PD, children included, a unique name",
                );
            } else {
                seen.insert(&pd.name, i);
            }
        }
        if pd.priority > 254 {
            sink.error(pd.at("priority"), "priority-range", format!("priority {} is above 254", pd.priority), "use a priority in 0..254");
        }
        if pd.budget > pd.period {
            sink.error(
                pd.at("budget"),
                "budget-period",
                format!("budget {} µs exceeds period {} µs", pd.budget, pd.period),
                "make budget ≤ period (period defaults to the budget, budget to 1000)",
            );
        }
        if !(0x1000..=0x100_0000).contains(&pd.stack_size) || pd.stack_size % 0x1000 != 0 {
            sink.error(
                pd.at("stack_size"),
                "stack-size",
                format!("stack_size {:#x} is not a multiple of 0x1000 in 0x1000..0x1000000", pd.stack_size),
                "use a multiple of 0x1000 between 0x1000 and 0x1000000 (16 MiB)",
            );
        }
        // child ids: unique among siblings
        if pd.parent.is_some()
            && let Some(id) = pd.id
            && sys.pds[..i].iter().any(|o| o.parent == pd.parent && o.id == Some(id))
        {
            sink.error(
                pd.at("id"),
                "child-id-duplicate",
                format!("child PD id {id} is already used by a sibling"),
                "give each child of a PD a distinct id",
            );
        }
        // child ids must not clash with the parent's vCPU ids
        if let (Some(parent), Some(id)) = (pd.parent, pd.id)
            && sys.pds[parent].vcpu_ids.iter().any(|(v, _)| *v == id)
        {
            sink.error(
                pd.at("id"),
                "child-id-duplicate",
                format!("child PD id {id} clashes with a vCPU id of its parent"),
                "use an id no vCPU of the parent uses",
            );
        }
        if let Some(b) = board
            && b.arch() != Arch::X86_64
        {
            for p in &pd.x86_irqs {
                sink.error(
                    *p,
                    "irq-arch",
                    "x86 IRQ forms (pin / pcidev) exist only on x86_64",
                    "use the ARM form <irq irq=\"N\" id=\"ID\" />",
                );
            }
        }
        // irq ids
        let mut ids = HashSet::new();
        for (id, p) in &pd.irq_ids {
            if *id > MAX_ID {
                sink.error(*p, "irq-id-range", format!("IRQ id {id} is above {MAX_ID}"), format!("use an id in 0..{MAX_ID}"));
            }
            if !ids.insert(*id) {
                sink.error(
                    pd.pos,
                    "channel-id-duplicate",
                    format!("id {id} (line {}) is used twice in PD '{}'", p.line, pd.name),
                    "IRQ and channel ids of one PD must all differ",
                );
            }
        }
        if let Some(b) = board
            && b.arch() != Arch::X86_64
            && let Some(p) = pd.ioports.first()
        {
            sink.error(
                pd.pos,
                "ioport-arch",
                format!("PD '{}' has an <ioport> (line {}), but I/O ports exist only on x86_64", pd.name, p.line),
                "remove the <ioport> or check for an x86_64 board",
            );
        }
    }
    // IRQ numbers (x86: vectors) unique system-wide; the tool points at the PD.
    let mut irqs: HashMap<u64, ()> = HashMap::new();
    for pd in &sys.pds {
        for (n, p) in &pd.irq_numbers {
            if irqs.insert(*n, ()).is_some() {
                sink.error(
                    pd.pos,
                    "irq-number-duplicate",
                    format!("IRQ {n} of PD '{}' (line {}) is already claimed by a PD", pd.name, p.line),
                    "each hardware IRQ (x86: each vector) can go to one PD only",
                );
            }
        }
    }
    if board.is_some_and(|b| b.arch() == Arch::X86_64) {
        for pd in &sys.pds {
            for p in &pd.arm_irqs {
                sink.error(
                    *p,
                    "irq-arch",
                    "the ARM/RISC-V IRQ form <irq irq=\"N\"> does not exist on x86_64",
                    "use pin=\"…\" vector=\"…\" (IOAPIC) or pcidev=\"…\" handle=\"…\" vector=\"…\" (MSI)",
                );
            }
        }
    }
    ioports(sys, sink);
    if sys.pds.len() > MAX_PDS {
        sink.error(sys.pds[MAX_PDS].pos, "too-many-pds", format!("{} PDs; Microkit allows at most {MAX_PDS}", sys.pds.len()), "merge PDs");
    }
}

/// I/O ports: ids in range and unique per PD, sizes above 0, no range
/// shared by two ports (in any PDs). The tool points at the PD.
fn ioports(sys: &System, sink: &mut Sink) {
    let mut seen: Vec<(&str, u64, u64)> = Vec::new();
    for pd in &sys.pds {
        let mut ids = HashSet::new();
        for &(id, addr, size, pos) in &pd.ioport_ranges {
            if id > MAX_ID {
                sink.error(pos, "ioport-id-range", format!("I/O port id {id} is above {MAX_ID}"), format!("use an id in 0..{MAX_ID}"));
            }
            if size == 0 {
                sink.error(pos, "ioport-size", "an I/O port range of size 0", "give the size of the port range in bytes (> 0)");
                continue;
            }
            if !ids.insert(id) {
                sink.error(
                    pd.pos,
                    "ioport-id-duplicate",
                    format!("I/O port id {id} is used twice in PD '{}'", pd.name),
                    "give each <ioport> of a PD its own id",
                );
            }
            let end = addr.saturating_add(size);
            if let Some((other, s, e)) = seen.iter().find(|(_, s, e)| addr < *e && *s < end) {
                sink.error(
                    pd.pos,
                    "ioport-overlap",
                    format!(
                        "I/O ports [{addr:#x}..{end:#x}) of PD '{}' (line {}) overlap [{s:#x}..{e:#x}) of PD '{other}'",
                        pd.name, pos.line
                    ),
                    "give each port range to one PD, once",
                );
            }
            seen.push((&pd.name, addr, end));
        }
    }
}

/// The cores a `cpu` may name: the kernel's `MAX_NUM_NODES` for the board
/// and config (the microkit tool's rule), as far as the target says.
fn cpus(sys: &System, target: Target, sink: &mut Sink) {
    let (cores, what) = match (target.board, target.config) {
        (Some(b), Some(c)) => (b.cores(c), format!("{}'s {} kernel", b.name(), c.name())),
        (Some(b), None) => (b.cores(KernelConfig::SmpDebug), format!("{}'s largest (smp) kernel", b.name())),
        (None, Some(c)) if !c.is_smp() => (1, format!("the {} kernel of every board", c.name())),
        (None, Some(c)) => (Board::BUILT_IN.iter().map(|b| b.cores(c)).max().unwrap_or(1), format!("every board's {} kernel", c.name())),
        (None, None) => return,
    };
    for pd in &sys.pds {
        if pd.cpu >= u64::from(cores) {
            let hint = match (target.board, target.config) {
                (Some(b), Some(c)) if !c.is_smp() && b.cores(c.smp()) > 1 => {
                    format!("use cpu=\"0\", or build with --config {} ({} cores)", c.smp().name(), b.cores(c.smp()))
                }
                _ if cores == 1 => "use cpu=\"0\"".to_string(),
                _ => format!("use a cpu in 0..{}", cores - 1),
            };
            sink.error(
                pd.at("cpu"),
                "cpu-range",
                format!(
                    "PD '{}' is on cpu {}, which does not exist: {what} has {cores} core{}",
                    pd.name,
                    pd.cpu,
                    if cores == 1 { "" } else { "s" }
                ),
                hint,
            );
        }
    }
}

/// A pod that callers on two cores can reach (directly or through nested
/// pods) must be declared per-core: seL4 16's SMP kernel can strand a pod
/// handed a caller from another core while it serves one (docs/smp.md).
fn cross_core_pods(sys: &System, sink: &mut Sink) {
    let reach = super::cores::reach(sys);
    for (i, pd) in sys.pds.iter().enumerate() {
        if let Some(p) = pd.per_core
            && !pd.passive
        {
            sink.error(
                p,
                "per-core",
                format!(
                    "'{}' is active (it has its own scheduling context on cpu {}): only a passive PD follows its callers' cores",
                    pd.name, pd.cpu
                ),
                "remove the per_core instruction, or make the PD passive=\"true\"",
            );
        }
        if !pd.passive || pd.per_core.is_some() || reach[i].len() < 2 {
            continue;
        }
        let ways: Vec<String> = reach[i].iter().map(|(core, route)| super::cores::describe(sys, *core, route, i)).collect();
        let message = format!(
            "pod '{}' can run on {} cores: {}; a pod that callers on two cores share can hang seL4 16's multicore kernel (docs/smp.md)",
            pd.name,
            reach[i].len(),
            ways.join("; ")
        );
        if pd.cross_core_allowed {
            sink.warning(pd.at("passive"), "pod-cross-core", message, "allowed by its cross_core=\"allow\": this system can hang");
            continue;
        }
        sink.error(
            pd.at("passive"),
            "pod-cross-core",
            message,
            "add <?tunnelkit per_core=\"true\"?> inside its <protection_domain> (tunnelkit build gives each core its own instance), \
             or put every path that reaches it on one core",
        );
    }
}

/// tunnelkit's device drivers only on boards that have their device: the
/// virtio-net driver on the boards QEMU emulates, the console pod's UART
/// where tunnelkit knows the board's UART (`tunnelkit_abi::uart`) or COM1.
fn drivers(sys: &System, board: Option<Board>, sink: &mut Sink) {
    let Some(board) = board else { return };
    for pd in &sys.pds {
        let Some(image) = &pd.image else { continue };
        let file = std::path::Path::new(&image.path).file_name().and_then(|f| f.to_str()).unwrap_or("");
        if file == "virtio-net.elf" && !crate::board::boots_in_qemu(board) {
            sink.error(
                image.pos,
                "device-board",
                format!(
                    "PD '{}' runs tunnelkit's virtio-net driver, but {} is real hardware without QEMU's virtio-net device",
                    pd.name,
                    board.name()
                ),
                "drive the board's own NIC with a driver PD of your own, or build for a QEMU board",
            );
        }
        if file == crate::console_pod::IMAGE && !pd.maps.is_empty() && !crate::console_pod::drives_a_uart(board) {
            sink.error(
                image.pos,
                "device-board",
                format!("PD '{}' runs tunnelkit's console pod on a UART, but tunnelkit has no driver for {}'s UART", pd.name, board.name()),
                "without maps the pod prints on the kernel console (debug configs); or give the PD a driver of your own",
            );
        }
    }
}

/// A fixed `phys_addr` must lie in memory the kernel hands out on the
/// board: a device region or RAM (not, e.g., the interrupt controller the
/// kernel keeps). x86 has no static memory map: nothing to check there.
fn phys_regions(sys: &System, target: Target, sink: &mut Sink) {
    use crate::platform::PhysPlacement;
    let Some(board) = target.board else { return };
    let Some(platform) = crate::platform::for_board(board, target.config.unwrap_or(KernelConfig::Debug)) else { return };
    if let Some(config) = target.config {
        if !platform.hypervisor {
            for pd in sys.pds.iter().filter(|p| p.has_vm) {
                sink.error(
                    pd.pos,
                    "vm-hypervisor",
                    format!(
                        "PD '{}' has a <virtual_machine>, but seL4 for {} ({}) is not built as a hypervisor",
                        pd.name,
                        board.name(),
                        config.name()
                    ),
                    "remove the virtual machine, or use a board whose kernel has hypervisor support",
                );
            }
        }
        if let Some(pos) = sys.domains_pos
            && platform.cores > 1
        {
            sink.error(
                pos,
                "domains-smp",
                format!("the domain scheduler is not supported by the multicore kernel ({})", config.name()),
                format!("drop <domains>, or build with --config {}", config.name().trim_start_matches("smp-")),
            );
        }
    }
    for mr in &sys.mrs {
        let (Some(a), Some(size)) = (mr.phys_addr, mr.size) else { continue };
        let end = a.saturating_add(size);
        if let Some(k) = &platform.kernel_image
            && a < k.end
            && k.start < end
        {
            sink.error(
                mr.phys_pos,
                "mr-phys-region",
                format!(
                    "physical range [{a:#x}..{end:#x}) of '{}' overlaps the kernel image [{:#x}..{:#x}) of {}'s {} kernel, which it keeps",
                    mr.name,
                    k.start,
                    k.end,
                    board.name(),
                    platform.config
                ),
                format!("use RAM above {:#x} (past the kernel and the initial task), or a device region", k.end),
            );
            continue;
        }
        if let PhysPlacement::Outside { below, above } = platform.phys_region(a, end) {
            let near: Vec<String> = [below, above]
                .into_iter()
                .flatten()
                .map(|r| format!("{:?} [{:#x}..{:#x})", r.kind, r.range.start, r.range.end).to_lowercase())
                .collect();
            sink.error(
                mr.phys_pos,
                "mr-phys-region",
                format!(
                    "physical range [{a:#x}..{end:#x}) of '{}' is not memory the kernel hands out on {}: no device region or RAM holds it (the kernel keeps such ranges, e.g. its interrupt controller)",
                    mr.name,
                    board.name()
                ),
                if near.is_empty() { "use an address of a device region or RAM".to_string() } else { format!("nearest usable regions: {}", near.join(", ")) },
            );
        }
    }
}

fn regions_and_maps(sys: &System, board: Option<Board>, sink: &mut Sink) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, mr) in sys.mrs.iter().enumerate() {
        if names.contains_key(mr.name.as_str()) {
            sink.error(
                mr.pos,
                "mr-name-duplicate",
                format!("a memory region named '{}' already exists", mr.name),
                "give every memory region a unique name",
            );
        } else {
            names.insert(&mr.name, i);
        }
        let page = mr.page_size.unwrap_or(0x1000);
        if mr.page_size.is_some_and(|p| p != 0x1000 && p != 0x20_0000) {
            sink.error(mr.pos, "mr-page-size", format!("page_size {page:#x} is not supported"), "use page_size 0x1000 or 0x200000");
            continue;
        }
        if let Some(s) = mr.size
            && (s == 0 || s % page != 0)
        {
            sink.error(
                mr.pos,
                "mr-size",
                format!("size {s:#x} is not a (non-zero) multiple of the page size {page:#x}"),
                "round the size up to the page size",
            );
        }
        if let Some(a) = mr.phys_addr
            && a % page != 0
        {
            sink.error(
                mr.pos,
                "mr-phys-align",
                format!("phys_addr {a:#x} is not aligned to the page size {page:#x}"),
                "align phys_addr to the page size",
            );
        }
    }
    let mut fixed: Vec<(u128, u128, &str)> = Vec::new();
    for mr in &sys.mrs {
        if let (Some(a), Some(size)) = (mr.phys_addr, mr.size) {
            let (s, e) = (u128::from(a), u128::from(a) + u128::from(size));
            if let Some((_, _, other)) = fixed.iter().find(|(fs, fe, _)| s < *fe && *fs < e) {
                sink.error(
                    mr.phys_pos,
                    "mr-phys-overlap",
                    format!("physical range {a:#x}..{e:#x} of '{}' overlaps the region '{other}'", mr.name),
                    "give regions with fixed physical addresses disjoint ranges",
                );
            }
            fixed.push((s, e, &mr.name));
        }
    }
    let mut used = vec![false; sys.mrs.len()];
    for pd in &sys.pds {
        let mut ranges: Vec<(u128, u128, &str, super::Pos)> = Vec::new();
        for m in &pd.maps {
            let Some(&mi) = names.get(m.mr.as_str()) else {
                sink.error(
                    m.pos,
                    "map-mr-unknown",
                    format!("PD '{}' maps '{}', which is not a memory region", pd.name, m.mr),
                    "declare <memory_region name=... /> or fix the name",
                );
                continue;
            };
            used[mi] = true;
            let mr = &sys.mrs[mi];
            if m.perms.is_empty() {
                sink.warning(m.pos, "map-perms", "perms=\"\" maps the region with no access", "use r, rw, rx, ...; or remove the mapping");
            } else if !m.perms.chars().all(|c| "rwx".contains(c)) || m.perms == "w" {
                sink.error(
                    m.pos,
                    "map-perms",
                    format!("perms=\"{}\" is not valid", m.perms),
                    "use a combination of r, w, x (e.g. r, rw, rx); write-only \"w\" is not allowed",
                );
            }
            let page = mr.page_size.unwrap_or(0x1000);
            let Some(v) = m.vaddr else { continue };
            if page != 0 && v % page != 0 {
                sink.error(
                    m.pos,
                    "map-vaddr-align",
                    format!("vaddr {v:#x} is not aligned to the page size {page:#x} of '{}'", m.mr),
                    "align vaddr to the region's page size",
                );
            }
            let size = mr.size.unwrap_or(page);
            let (start, end) = (u128::from(v), u128::from(v) + u128::from(size));
            if let Some(b) = board {
                let bottom = u128::from(b.stack_top()).saturating_sub(u128::from(pd.stack_size));
                if end > bottom {
                    sink.error(
                        m.pos,
                        "map-stack",
                        format!("mapping {v:#x}..{end:#x} reaches the stack (bottom {bottom:#x} on {})", b.name()),
                        "map below the stack",
                    );
                }
            }
            if let Some((_, _, other, _)) = ranges.iter().find(|(s, e, _, _)| start < *e && *s < end) {
                sink.error(
                    m.pos,
                    "map-overlap",
                    format!("mapping of '{}' at {v:#x}..{end:#x} overlaps the mapping of '{other}' in PD '{}'", m.mr, pd.name),
                    "move one mapping to a free virtual address range",
                );
            }
            ranges.push((start, end, &m.mr, m.pos));
        }
    }
    for (r, p) in &sys.vm_maps {
        match names.get(r.as_str()) {
            Some(&mi) => used[mi] = true,
            None => sink.error(
                *p,
                "map-mr-unknown",
                format!("a virtual machine maps '{r}', which is not a memory region"),
                "declare the memory region or fix the name",
            ),
        }
    }
    for s in &sys.setvars {
        if let crate::sdf::SetvarKind::PrefillSize(r) = &s.kind
            && let Some(mr) = sys.mrs.iter().find(|m| &m.name == r)
            && mr.prefill_path.is_none()
        {
            sink.error(
                mr.pos,
                "mr-prefill",
                format!("setvar_prefill_size names '{r}', which has no prefill_path"),
                "give the region a prefill_path, or use setvar_size",
            );
        }
    }
    for (r, p) in &sys.setvar_regions {
        if board.is_some_and(|b| b.arch() == Arch::X86_64)
            && let Some(mr) = sys.mrs.iter().find(|m| &m.name == r)
            && mr.phys_addr.is_none()
        {
            sink.error(
                mr.pos,
                "setvar-paddr-x86",
                format!("region_paddr of '{r}', which has no phys_addr: the microkit tool cannot choose a physical address on x86_64"),
                "give the region a fixed phys_addr",
            );
        }
        match names.get(r.as_str()) {
            Some(&mi) => used[mi] = true,
            None => sink.error(
                *p,
                "setvar-mr-unknown",
                format!("region_paddr names '{r}', which is not a memory region"),
                "declare the memory region or fix the name",
            ),
        }
    }
    if let Some(dpos) = sys.domains_pos {
        // The tool reads <domains> in document order, and then wants every PD to name one.
        for p in sys.domain_attrs.iter().filter(|p| **p < dpos) {
            sink.error(
                *p,
                "domain-without-domains",
                "a PD names a scheduling domain before <domains> declares any",
                "move <domains> above the protection domains",
            );
        }
        for pd in sys.pds.iter().filter(|pd| !pd.attr_pos.iter().any(|(n, _)| *n == "domain")) {
            sink.error(
                pd.pos,
                "missing-attribute",
                format!("PD '{}' names no domain, but the system has <domains>", pd.name),
                "add domain=\"…\" naming one of the <domains>",
            );
        }
    }
    if sys.domains == 0 {
        for p in &sys.domain_attrs {
            sink.error(
                *p,
                "domain-without-domains",
                "a PD names a scheduling domain, but the system has no <domains>",
                "remove the domain attribute, or declare <domains>",
            );
        }
    }
    for (i, mr) in sys.mrs.iter().enumerate() {
        if !used[i] {
            sink.warning(mr.pos, "mr-unused", format!("memory region '{}' is never mapped", mr.name), "map it into a PD or remove it");
        }
    }
}

fn channels(sys: &System, sink: &mut Sink) {
    let by_name: HashMap<&str, usize> = sys.pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let mut ids: HashSet<(usize, u64)> = HashSet::new();
    for (i, pd) in sys.pds.iter().enumerate() {
        for (id, _) in &pd.irq_ids {
            ids.insert((i, *id));
        }
    }
    for ch in &sys.channels {
        if ch.ends.len() != 2 {
            sink.error(
                ch.pos,
                "channel-ends",
                format!("a channel has {} <end>s", ch.ends.len()),
                "give every <channel> exactly two <end> elements",
            );
            continue;
        }
        let mut idx = [None, None];
        for (k, e) in ch.ends.iter().enumerate() {
            let Some(&p) = by_name.get(e.pd.as_str()) else {
                sink.error(
                    e.pos,
                    "channel-pd-unknown",
                    format!("no PD is named '{}'", e.pd),
                    "use the name of a declared <protection_domain>",
                );
                continue;
            };
            idx[k] = Some(p);
            if let Some(id) = e.id {
                if id > MAX_ID {
                    sink.error(
                        e.pos,
                        "channel-id-range",
                        format!("channel id {id} is above {MAX_ID}"),
                        format!("use an id in 0..{MAX_ID}"),
                    );
                }
                if !ids.insert((p, id)) {
                    // The tool points at the PD.
                    sink.error(
                        sys.pds[p].pos,
                        "channel-id-duplicate",
                        format!("id {id} (the <end> at line {}) is already used in PD '{}' (by a channel or an IRQ)", e.pos.line, e.pd),
                        "choose an id not used by another channel or IRQ of that PD",
                    );
                }
            }
        }
        let (a, b) = (&ch.ends[0], &ch.ends[1]);
        if a.pp && b.pp {
            sink.error(ch.pos, "channel-pp-both", "pp=\"true\" on both ends", "only the caller's end may have pp=\"true\"");
            continue;
        }
        if let [Some(ia), Some(ib)] = idx {
            for (caller, callee, e) in [(ia, ib, a), (ib, ia, b)] {
                let (c, d) = (&sys.pds[caller], &sys.pds[callee]);
                if e.pp && c.priority >= d.priority {
                    sink.error(
                        e.pos,
                        "pp-priority",
                        format!(
                            "'{}' (priority {}) pp-calls '{}' (priority {}); the callee needs a strictly higher priority",
                            c.name, c.priority, d.name, d.priority
                        ),
                        format!("raise the priority of '{}' above {}", d.name, c.priority),
                    );
                }
            }
        }
        if !a.pp && !b.pp && !a.notify && !b.notify {
            sink.warning(
                ch.pos,
                "channel-unused",
                "the channel allows neither notify nor pp on either end",
                "set notify or pp on one end, or remove the channel",
            );
        }
    }
}

/// pp edges (caller, callee, position of the caller's end).
pub(crate) fn pp_edges(sys: &System) -> Vec<(usize, usize, super::Pos)> {
    let by_name: HashMap<&str, usize> = sys.pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let mut out = Vec::new();
    for ch in sys.channels.iter().filter(|c| c.ends.len() == 2 && !(c.ends[0].pp && c.ends[1].pp)) {
        let (a, b) = (&ch.ends[0], &ch.ends[1]);
        if let (Some(&ia), Some(&ib)) = (by_name.get(a.pd.as_str()), by_name.get(b.pd.as_str())) {
            if a.pp {
                out.push((ia, ib, a.pos));
            }
            if b.pp {
                out.push((ib, ia, b.pos));
            }
        }
    }
    out
}

fn pp_cycles(sys: &System, sink: &mut Sink) {
    let edges = pp_edges(sys);
    let n = sys.pds.len();
    let mut adj = vec![Vec::new(); n];
    for (a, b, p) in &edges {
        adj[*a].push((*b, *p));
    }
    // iterative DFS with colours; report each cycle found once
    let mut colour = vec![0u8; n];
    for s in 0..n {
        if colour[s] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(s, 0)];
        colour[s] = 1;
        while let Some(&mut (v, ref mut k)) = stack.last_mut() {
            if *k < adj[v].len() {
                let (w, p) = adj[v][*k];
                *k += 1;
                if colour[w] == 1 {
                    let from = stack.iter().position(|(x, _)| *x == w).unwrap_or(0);
                    let mut path: Vec<&str> = stack[from..].iter().map(|(x, _)| sys.pds[*x].name.as_str()).collect();
                    path.push(&sys.pds[w].name);
                    sink.error(
                        p,
                        "pp-cycle",
                        format!("protected calls form a cycle: {}", path.join(" -> ")),
                        "break the cycle; pp calls must go strictly up in priority",
                    );
                } else if colour[w] == 0 {
                    colour[w] = 1;
                    stack.push((w, 0));
                }
            } else {
                colour[v] = 2;
                stack.pop();
            }
        }
    }
}

fn utilisation(sys: &System, sink: &mut Sink) {
    let mut per_core: Vec<(u64, f64, Vec<usize>)> = Vec::new();
    for (i, pd) in sys.pds.iter().enumerate() {
        // A passive PD's SC is idle after init: counted as 0. An SC with
        // budget == period (the default 1000/1000) is a round-robin SC in MCS,
        // not a reservation: it only gets what the reservations leave.
        if pd.passive || pd.period == 0 || pd.budget >= pd.period {
            continue;
        }
        let u = pd.budget as f64 / pd.period as f64;
        match per_core.iter_mut().find(|(c, _, _)| *c == pd.cpu) {
            Some(e) => {
                e.1 += u;
                e.2.push(i);
            }
            None => per_core.push((pd.cpu, u, vec![i])),
        }
    }
    for (cpu, u, members) in per_core {
        if u > 1.0 + 1e-9 {
            let last = sys.pds[*members.last().unwrap_or(&0)].pos;
            let list: Vec<String> =
                members.iter().map(|&i| format!("{} {}/{}", sys.pds[i].name, sys.pds[i].budget, sys.pds[i].period)).collect();
            sink.error(
                last,
                "core-utilisation",
                format!("core {cpu} is over-committed: Σ budget/period = {:.1} % ({})", u * 100.0, list.join(", ")),
                "lower budgets or lengthen periods so the reservations (budget < period) of a core sum to at most 100 % (passive and round-robin PDs count as 0)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::board::{Arch, Board};

    /// tunnelkit's drivers on a real board: an error at the image's line.
    #[test]
    fn drivers_without_their_device_are_errors_at_the_image() {
        let text = "<system>\n  <memory_region name=\"uart\" size=\"0x1000\" phys_addr=\"0x10000000\" />\n  <protection_domain name=\"net\" priority=\"100\">\n    <program_image path=\"virtio-net.elf\" />\n  </protection_domain>\n  <protection_domain name=\"serial\" priority=\"254\" passive=\"true\">\n    <program_image path=\"serial.elf\" />\n    <map mr=\"uart\" vaddr=\"0x20000000\" perms=\"rw\" cached=\"false\" />\n  </protection_domain>\n</system>\n";
        let errors = |board: Board| {
            let r = crate::check::check_bytes("s.xml", text.as_bytes(), Some(board));
            r.errors().filter(|d| d.rule == "device-board").map(|d| (d.pos.line, d.message.clone())).collect::<Vec<_>>()
        };
        assert!(errors(Board::QEMU_VIRT_RISCV64).is_empty());
        let my_board = Board::new("my_board", Arch::Riscv64, 0x3F_FFFF_EFFF, Some(25_000_000), 1, false, false);
        let e = errors(my_board);
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].0, 4);
        assert!(e[0].1.contains("virtio-net driver, but my_board is real hardware"), "{e:?}");
        assert_eq!(e[1].0, 7);
        assert!(e[1].1.contains("no driver for my_board's UART"), "{e:?}");
        let star64 = Board::new("star64", Arch::Riscv64, 0x3F_FFFF_EFFF, Some(4_000_000), 4, false, false);
        assert_eq!(errors(star64).len(), 1, "star64's UART has a driver");
    }
}
