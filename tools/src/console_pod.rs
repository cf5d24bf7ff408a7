//! Adding the console pod to every system: whole lines in every config.
//!
//! The release, benchmark, smp-release and smp-benchmark kernels have no
//! kernel console: a PD prints only through the console pod (the serial
//! driver, `serial.elf`), which it calls on the `pp` channel its
//! `tunnelkit_console_channel` setvar names (see the runtime's `printing`
//! and `console` modules). The debug kernels have one, but it prints a byte
//! per system call, so PDs printing at once interleave their characters; the
//! console pod prints each line in one call it serves, one call at a time,
//! so lines stay whole. So `tunnelkit run` and `tunnelkit build` give every
//! system that has no console pod one:
//!
//! - a passive `serial` PD at priority 254 running `serial.elf`: in the
//!   configs without a kernel console it drives the board's UART (the PL011
//!   at 0x9000000 on qemu_virt_aarch64, a device region mapped uncached,
//!   `uart_vaddr` / `uart_size`; COM1 at I/O port 0x3f8 on x86_64_generic,
//!   `<ioport id="0">`, `uart_port`); in the debug configs it prints through
//!   the kernel console (`seL4_DebugPutChar`), which it alone then uses;
//! - for every PD, child PDs included, one channel to it: at the PD, `pp`
//!   on the highest channel id the PD does not use (ids are 0..61 and shared
//!   with its IRQs), with `setvar_id="tunnelkit_console_channel"`; at the
//!   pod, ids 0, 1, 2, … in document order. Neither end notifies, so no PD
//!   sees a new notification channel.
//!
//! Everything is added just before `</system>`, so every line and column of
//! the original file is where it was. A pod is called from a strictly lower
//! priority (`pp-priority`), so a PD at priority 254 cannot print through
//! it; that, a PD with no free channel id, a system with no room for one
//! more PD and a UART some region or I/O port already covers are errors at
//! their position in the configs without a kernel console. In the debug
//! configs such a PD prints on the kernel console directly instead (listed
//! in the build log; its lines may interleave with the pod's), and a system
//! that cannot get the pod at all prints as before. On a multicore kernel,
//! when the callers run on more than one core, a pod that callers on two
//! cores share could hang seL4's multicore kernel (docs/smp.md), so the
//! console is an active server on core 0 instead ([`ACTIVE_BUDGET`] of every
//! [`ACTIVE_PERIOD`] µs): callers on other cores reach it by plain IPC (their
//! printing is paid from its budget, not theirs), and one server prints
//! every core's lines, whole. (Per-core instances would keep printing on each
//! caller's budget, but two cores' lines would interleave byte by byte; on
//! x86_64 only one PD can own COM1 anyway.) The instances of a per-core pod
//! cannot share one channel to the server: an error without a kernel
//! console, direct printing in debug.

use std::collections::{BTreeSet, HashMap};

use tunnelkit_abi::uart::{self, BoardUart};

use crate::board::{Arch, Board, KernelConfig};
use crate::check::rules::{MAX_ID, MAX_PDS};
use crate::check::{Pos, Sink};
use crate::sdf::parse;
use crate::sdf::rewrite::free_name;

/// The console pod's priority: the highest Microkit allows, so that every
/// other PD can call it.
pub const PRIORITY: u64 = 254;
/// The program image of the console pod.
pub const IMAGE: &str = "serial.elf";
/// The setvar naming a PD's console channel.
pub const SETVAR: &str = "tunnelkit_console_channel";
/// What the console pod prints on, without a kernel console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Device {
    /// The board's memory-mapped console UART (`tunnelkit_abi::uart`, the
    /// table the driver reads too).
    Mmio(BoardUart),
    /// COM1's I/O ports (x86).
    Com1,
    /// Nothing tunnelkit drives on this board.
    Missing,
}

/// The console pod's device on `board`.
fn device(board: Board) -> Device {
    match (board.arch(), uart::for_board(board.name())) {
        (Arch::X86_64, _) => Device::Com1,
        (_, Some(u)) => Device::Mmio(u),
        (_, None) => Device::Missing,
    }
}

/// Whether the console pod can drive a UART on `board` (in the configs
/// without a kernel console; with one it prints there on every board).
pub fn drives_a_uart(board: Board) -> bool {
    device(board) != Device::Missing
}

/// The name of the UART the console pod drives on `board`, for messages
/// and the README: "PL011 at 0x9000000", "COM1 (I/O port 0x3f8)".
pub fn uart_description(board: Board) -> Option<String> {
    match device(board) {
        Device::Mmio(u) => Some(format!("{} at {:#x}", u.kind.name(), u.phys)),
        Device::Com1 => Some(format!("16550 COM1 (I/O port {COM1:#x})")),
        Device::Missing => None,
    }
}

/// Budget of the console server (x86_64_generic, callers on several cores), µs.
pub const ACTIVE_BUDGET: u64 = 2000;
/// Its period, µs.
pub const ACTIVE_PERIOD: u64 = 10_000;
/// A UART's register page.
const UART_SIZE: u64 = 0x1000;
/// Where the pod maps it.
const UART_VADDR: u64 = 0x2000_0000;
/// COM1's I/O ports on x86.
const COM1: u64 = 0x3f8;
/// COM1's port count.
const COM1_PORTS: u64 = 8;

/// Why the system cannot get it, at a position.
pub type AddError = crate::sdf::rewrite::RewriteError;

/// One PD's channel to the console pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// The PD.
    pub pd: String,
    /// The channel id at the PD (its `tunnelkit_console_channel`).
    pub id: u64,
    /// The channel id at the pod.
    pub pod_id: u64,
}

/// A system description with the console pod added.
#[derive(Clone, Debug)]
pub struct Added {
    /// The new system description.
    pub text: String,
    /// The pod's name.
    pub pod: String,
    /// Every PD's channel to it, in document order.
    pub clients: Vec<Client>,
    /// How the console PD runs.
    pub kind: Kind,
    /// PDs that print on the kernel console directly (debug configs: they
    /// cannot call the pod), with why.
    pub direct: Vec<(String, &'static str)>,
}

/// How the console PD runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A passive pod: each caller's budget pays for its printing.
    Pod,
    /// A passive pod with one instance per core its callers run on
    /// (multicore kernel on qemu_virt_aarch64 when per-core pods print, which
    /// cannot share a channel to one server): lines whole per core.
    PerCorePod,
    /// An active server on core 0 with its own budget (multicore kernel,
    /// callers on several cores).
    Server,
}

/// Whether a system gets the console pod: no PD of it runs [`IMAGE`], and
/// it does not ask for the kernel console (`<?tunnelkit console="kernel"?>`,
/// honoured in the debug configs). In the configs without a kernel console
/// it is the only way to print; in the debug configs it keeps lines whole.
pub fn needed(config: KernelConfig, system: &crate::sdf::System) -> bool {
    let has_pod = system.images().any(|(_, i)| i.path == IMAGE);
    let keeps_kernel_console = system.kernel_console && config.has_printing();
    !has_pod && !keeps_kernel_console
}

/// Adds the console pod for `board` and `config` to `text` (a valid system
/// with no console pod).
pub fn add(text: &str, board: Board, config: KernelConfig) -> Result<Added, Vec<AddError>> {
    let (sys, doc) = crate::sdf::rewrite::read(text)?;
    // With a kernel console a PD that cannot call the pod prints there instead.
    let kernel_console = config.has_printing();
    let mut direct: Vec<(String, &'static str)> = Vec::new();
    let mut errors = Vec::new();
    let err = |errors: &mut Vec<AddError>, pos: Pos, message: String, hint: String| errors.push(AddError { pos, message, hint });

    if sys.pds.len() >= MAX_PDS {
        err(
            &mut errors,
            sys.pds[MAX_PDS - 1].pos,
            format!(
                "the system has {} PDs, so the console pod would make {} (Microkit allows {MAX_PDS})",
                sys.pds.len(),
                sys.pds.len() + 1
            ),
            format!("merge PDs, or add the serial driver PD ({IMAGE}) yourself in place of one, or use --config debug"),
        );
    }
    if sys.pds.len() > MAX_ID as usize + 1 {
        err(
            &mut errors,
            sys.pds[MAX_ID as usize + 1].pos,
            format!("the console pod has channel ids 0..{MAX_ID}, one per client, but the system has {} PDs", sys.pds.len()),
            "merge PDs, or use --config debug".into(),
        );
    }

    // Names: the pod's and (AArch64) its UART region's.
    let pd_names: BTreeSet<&str> = sys.pds.iter().map(|p| p.name.as_str()).collect();
    let mr_names: BTreeSet<&str> = sys.mrs.iter().map(|m| m.name.as_str()).collect();
    let pod = free_name("serial", &pd_names);
    let uart = free_name("uart", &mr_names);

    // The UART must be free (with a kernel console the pod does not drive it).
    match device(board) {
        _ if kernel_console => {}
        Device::Missing => err(
            &mut errors,
            sys.pos,
            format!(
                "the {} kernel has no console, and tunnelkit has no driver for {}'s UART, so the console pod it adds cannot print",
                config.name(),
                board.name()
            ),
            format!(
                "use --config debug (the kernel console), or add your own console PD running {IMAGE}'s protocol (the drivers tunnelkit has: README \"Boards\")"
            ),
        ),
        Device::Mmio(uart) => {
            for mr in &sys.mrs {
                if let Some(pa) = mr.phys_addr {
                    let size = mr.size.unwrap_or(0x1000).max(1);
                    if pa < uart.page() + UART_SIZE && uart.page() < pa.saturating_add(size) {
                        err(
                            &mut errors,
                            mr.phys_pos,
                            format!(
                                "region '{}' covers the {} at {:#x}, which the console pod added for '{}' would drive",
                                mr.name,
                                uart.kind.name(),
                                uart.phys,
                                config.name()
                            ),
                            format!("let the serial driver PD ({IMAGE}) own the UART: add it yourself, or use --config debug"),
                        );
                    }
                }
            }
        }
        Device::Com1 => {
            for pd in &sys.pds {
                for &(_, addr, size, pos) in &pd.ioport_ranges {
                    if addr < COM1 + COM1_PORTS && COM1 < addr.saturating_add(size) {
                        err(
                            &mut errors,
                            pos,
                            format!(
                                "PD '{}' has I/O ports {addr:#x}..{:#x}, which overlap COM1 ({COM1:#x}), which the console pod added for '{}' would drive",
                                pd.name,
                                addr + size,
                                config.name()
                            ),
                            format!("let the serial driver PD ({IMAGE}) own COM1: add it yourself, or use --config debug"),
                        );
                    }
                }
            }
        }
    }

    // Each PD: below the pod, and a free channel id.
    let mut used: Vec<BTreeSet<u64>> = sys.pds.iter().map(|p| p.irq_ids.iter().map(|(id, _)| *id).collect()).collect();
    let index: HashMap<&str, usize> = sys.pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    for ch in &sys.channels {
        for e in &ch.ends {
            if let (Some(&i), Some(id)) = (index.get(e.pd.as_str()), e.id) {
                used[i].insert(id);
            }
        }
    }
    let mut clients = Vec::new();
    for (i, pd) in sys.pds.iter().enumerate() {
        if pd.priority >= PRIORITY && kernel_console {
            direct.push((pd.name.clone(), "its priority is the pod's"));
            continue;
        }
        if pd.priority >= PRIORITY {
            err(
                &mut errors,
                pd.at("priority"),
                format!(
                    "PD '{}' has priority {}, but it would print by calling the console pod, which needs a strictly higher priority and has {PRIORITY} (the highest)",
                    pd.name, pd.priority
                ),
                format!(
                    "give '{}' a priority below {PRIORITY}, or add the serial driver PD ({IMAGE}) yourself, or use --config debug",
                    pd.name
                ),
            );
            continue;
        }
        match (0..=MAX_ID).rev().find(|id| !used[i].contains(id)) {
            Some(id) => clients.push(Client { pd: pd.name.clone(), id, pod_id: clients.len() as u64 }),
            None if kernel_console => direct.push((pd.name.clone(), "it has no channel id left")),
            None => err(
                &mut errors,
                pd.pos,
                format!("PD '{}' uses every channel id 0..{MAX_ID} (channels and IRQs), so it has none left for the console pod", pd.name),
                format!("free one channel id of '{}', or use --config debug", pd.name),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Insert before the root's end tag.
    let root = doc.root_element().range();
    let at = text[root.clone()].rfind("</").map_or(root.end, |k| root.start + k);
    let text_as = |kind: Kind, clients: &[Client]| render(text, at, board, config, &pod, &uart, clients, kind);
    let mut kind = Kind::Pod;
    if config.is_smp() {
        // Which cores call the pod: one instance per core if more than one.
        let plain = text_as(Kind::Pod, &clients);
        let mut sink = Sink::new("");
        if let Some(s) = parse::parse(&plain, &mut sink)
            && let Some(p) = s.pds.iter().position(|p| p.name == pod)
            && crate::check::cores::reach(&s)[p].len() > 1
        {
            kind = Kind::Server;
            {
                // Instances of a per-core pod would share one channel to the
                // server, which the per-core expansion cannot split.
                let reach = crate::check::cores::reach(&s);
                let split_pods: Vec<(&crate::sdf::Pd, Pos)> = s
                    .pds
                    .iter()
                    .enumerate()
                    .filter_map(|(i, pd)| pd.per_core.filter(|_| pd.passive && reach[i].len() > 1).map(|pos| (pd, pos)))
                    .collect();
                if !split_pods.is_empty() && matches!(device(board), Device::Mmio(_)) {
                    // Several PDs can drive a memory-mapped UART: one instance per core.
                    kind = Kind::PerCorePod;
                } else if kernel_console {
                    for (pd, _) in &split_pods {
                        direct.push((pd.name.clone(), "a per-core pod's instances cannot share its channel"));
                    }
                    clients.retain(|c| !split_pods.iter().any(|(pd, _)| pd.name == c.pd));
                    for (k, c) in clients.iter_mut().enumerate() {
                        c.pod_id = k as u64;
                    }
                }
                let split: Vec<AddError> = split_pods
                    .into_iter()
                    .filter(|_| kind == Kind::Server && !kernel_console)
                    .map(|(pd, pos)| AddError {
                        pos,
                        message: format!(
                            "per-core pod '{}' would print through the console server, but its instances cannot share one channel to it \
                             (the console is one server on a multicore kernel, so that lines stay whole)",
                            pd.name
                        ),
                        hint: format!(
                            "add the serial driver PD ({IMAGE}) yourself, or use --config {}",
                            if config == KernelConfig::SmpBenchmark { "smp-benchmark with a console PD" } else { "smp-debug" }
                        ),
                    })
                    .collect();
                if !split.is_empty() {
                    return Err(split);
                }
            }
        }
    }
    Ok(Added { text: text_as(kind, &clients), pod, clients, kind, direct })
}

/// The system with the pod's elements inserted at `at` (before `</system>`).
#[allow(clippy::too_many_arguments)]
fn render(text: &str, at: usize, board: Board, config: KernelConfig, pod: &str, uart: &str, clients: &[Client], kind: Kind) -> String {
    let mut add = String::new();
    let i = "    ";
    add.push_str(&format!(
        "{i}<!-- Added by tunnelkit for the {} config ({}): the console pod and one channel to it from every PD. -->\n",
        config.name(),
        if config.has_printing() { "whole lines on the kernel console" } else { "no kernel console" }
    ));
    if let Device::Mmio(device) = device(board)
        && !config.has_printing()
    {
        add.push_str(&format!("{i}<memory_region name=\"{uart}\" size=\"{UART_SIZE:#x}\" phys_addr=\"{:#x}\" />\n", device.page()));
    }
    let how = match kind {
        Kind::Pod | Kind::PerCorePod => "passive=\"true\"".to_string(),
        Kind::Server => format!("budget=\"{ACTIVE_BUDGET}\" period=\"{ACTIVE_PERIOD}\" cpu=\"0\""),
    };
    add.push_str(&format!("{i}<protection_domain name=\"{pod}\" priority=\"{PRIORITY}\" {how}>\n"));
    if kind == Kind::PerCorePod {
        add.push_str(&format!("{i}{i}<?tunnelkit per_core=\"true\"?>\n"));
    }
    add.push_str(&format!("{i}{i}<program_image path=\"{IMAGE}\" />\n"));
    match device(board) {
        _ if config.has_printing() => {}
        Device::Missing => {}
        Device::Mmio(_) => add.push_str(&format!(
            "{i}{i}<map mr=\"{uart}\" vaddr=\"{UART_VADDR:#x}\" perms=\"rw\" cached=\"false\" setvar_vaddr=\"uart_vaddr\" setvar_size=\"uart_size\" />\n"
        )),
        Device::Com1 => {
            add.push_str(&format!("{i}{i}<ioport id=\"0\" addr=\"{COM1:#x}\" size=\"{COM1_PORTS}\" setvar_addr=\"uart_port\" />\n"))
        }
    }
    add.push_str(&format!("{i}</protection_domain>\n"));
    for c in clients {
        add.push_str(&format!(
            "{i}<channel>\n{i}{i}<end pd=\"{}\" id=\"{}\" pp=\"true\" notify=\"false\" setvar_id=\"{SETVAR}\" />\n{i}{i}<end pd=\"{pod}\" id=\"{}\" notify=\"false\" />\n{i}</channel>\n",
            escape(&c.pd),
            c.id,
            c.pod_id
        ));
    }
    // Keep `</system>` on a line of its own after what was there.
    let before = &text[..at];
    let indent = before.rsplit('\n').next().filter(|l| l.trim().is_empty()).map_or(0, str::len);
    let (head, indent) = before.split_at(before.len() - indent);
    let sep = if head.is_empty() || head.ends_with('\n') { "" } else { "\n" };
    format!("{head}{sep}{add}{indent}{}", &text[at..])
}

fn escape(v: &str) -> String {
    v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Summary lines for the build log.
pub fn describe(added: &Added) -> Vec<String> {
    let mut lines = vec![format!(
        "added the console pod '{}' ({IMAGE}, priority {PRIORITY}, {}) for {} PD{}",
        added.pod,
        match added.kind {
            Kind::Pod => "passive".to_string(),
            Kind::PerCorePod =>
                "passive, one instance per core (per-core pods print, so lines are whole per core; two cores' may interleave)".to_string(),
            Kind::Server => format!(
                "an active server on core 0 with {ACTIVE_BUDGET} µs every {ACTIVE_PERIOD} µs: a pod shared across cores can hang the kernel, and one server keeps every core's lines whole"
            ),
        },
        added.clients.len(),
        if added.clients.len() == 1 { "" } else { "s" }
    )];
    let list: Vec<String> = added.clients.iter().map(|c| format!("{} {}", c.pd, c.id)).collect();
    lines.push(format!("console channel at each PD: {}", list.join(", ")));
    if !added.direct.is_empty() {
        let list: Vec<String> = added.direct.iter().map(|(pd, why)| format!("{pd} ({why})")).collect();
        lines.push(format!("printing on the kernel console directly: {}", list.join(", ")));
    }
    lines
}

/// How a PD tunnelkit adds to a system (the trace dumper, the accountant)
/// prints through the system's console pod (release configs): the pod (the
/// one on core 0 if it is per-core), a free channel id at it, and the
/// priority the added PD gets (at most `wanted`, below the pod's).
#[derive(Clone, Copy, Debug)]
pub struct Link<'a> {
    /// The console pod (none: the system has none, the PD prints on the kernel console).
    pub pod: Option<&'a parse::Pd>,
    /// Its free channel id for the added PD.
    pub id: Option<u64>,
    /// The added PD's priority.
    pub priority: u64,
}

/// The [`Link`] for an added PD called `who` (in messages), which a user
/// avoids with `flag` (in hints); errors at the console pod's position.
pub fn link_for<'a>(sys: &'a parse::System, wanted: u64, who: &str, flag: &str) -> (Link<'a>, Vec<crate::sdf::rewrite::RewriteError>) {
    use crate::sdf::rewrite::RewriteError;
    let is_console = |p: &parse::Pd| p.image.as_ref().is_some_and(|i| i.path == IMAGE);
    let consoles: Vec<&parse::Pd> = sys.pds.iter().filter(|p| is_console(p)).collect();
    let pod = consoles.iter().find(|p| p.cpu == 0).or(consoles.first()).copied();
    let mut link = Link { pod, id: None, priority: wanted };
    let mut errors = Vec::new();
    let Some(c) = pod else { return (link, errors) };
    if c.priority <= 1 {
        errors.push(RewriteError {
            pos: c.at("priority"),
            message: format!("the console pod '{}' has priority {}, so {who} cannot call it", c.name, c.priority),
            hint: format!("give the console pod a higher priority, or run without {flag}"),
        });
    }
    link.priority = wanted.min(c.priority.saturating_sub(1)).max(1);
    let mut used: BTreeSet<u64> = c.irq_ids.iter().map(|(id, _)| *id).collect();
    for ch in &sys.channels {
        used.extend(ch.ends.iter().filter(|e| e.pd == c.name).filter_map(|e| e.id));
    }
    link.id = (0..=MAX_ID).find(|id| !used.contains(id));
    if link.id.is_none() {
        errors.push(RewriteError {
            pos: c.pos,
            message: format!("the console pod '{}' uses every channel id 0..{MAX_ID}, so it has none left for {who}", c.name),
            hint: format!("run without {flag}, or with --config debug"),
        });
    }
    (link, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Target, check_bytes_for};

    fn repo_file(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn valid(text: &str, board: Board, config: KernelConfig) {
        let r = check_bytes_for("added.xml", text.as_bytes(), Target { board: Some(board), config: Some(config) });
        assert!(r.is_valid(), "{r}\n{text}");
    }

    /// The console channel of each PD: (PD, id at the PD, id at the pod, pod).
    fn console_channels(text: &str) -> Vec<(String, String, String, String)> {
        let doc = roxmltree::Document::parse(text).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("channel"))
            .filter_map(|c| {
                let e: Vec<_> = c.children().filter(|n| n.has_tag_name("end")).collect();
                (e[0].attribute("setvar_id") == Some(SETVAR)).then(|| {
                    assert_eq!(
                        (e[0].attribute("pp"), e[0].attribute("notify"), e[1].attribute("notify")),
                        (Some("true"), Some("false"), Some("false"))
                    );
                    let a = |n: roxmltree::Node, k| n.attribute(k).unwrap().to_string();
                    (a(e[0], "pd"), a(e[0], "id"), a(e[1], "id"), a(e[1], "pd"))
                })
            })
            .collect()
    }

    #[test]
    fn the_demo_gets_a_console_pod_on_both_boards_and_keeps_its_positions() {
        let text = repo_file("system.xml");
        for (board, device) in [(Board::QEMU_VIRT_AARCH64, "phys_addr=\"0x9000000\""), (Board::X86_64_GENERIC, "addr=\"0x3f8\" size=\"8\"")]
        {
            let added = add(&text, board, KernelConfig::Release).unwrap();
            assert_eq!(added.pod, "serial");
            assert_eq!(added.kind, Kind::Pod);
            assert!(added.text.contains(device), "{}", added.text);
            assert!(added.text.contains("<protection_domain name=\"serial\" priority=\"254\" passive=\"true\">"));
            // Every PD, on the highest free id (61: the demo uses only low ids); pod ends 0, 1, ….
            let names = ["client_a", "client_b", "crypt", "crypt_ipc", "checksum", "report"];
            let want: Vec<_> =
                names.iter().enumerate().map(|(k, n)| (n.to_string(), "61".into(), k.to_string(), "serial".into())).collect();
            assert_eq!(console_channels(&added.text), want);
            // The original text is untouched up to its closing tag.
            let end = text.rfind("</system>").unwrap();
            assert_eq!(&added.text[..end], &text[..end]);
            assert!(added.text.trim_end().ends_with("</channel>\n</system>"), "{}", added.text);
            valid(&added.text, board, KernelConfig::Release);
        }
    }

    #[test]
    fn the_network_system_and_child_pds_get_channels_too() {
        let added = add(&repo_file("net.xml"), Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap();
        assert_eq!(added.clients.len(), 10);
        // net uses IRQ id 0 and channels 2..5; everything still gets 61.
        assert!(added.clients.iter().all(|c| c.id == 61));
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release);
        let runtime = repo_file("tests/systems/runtime.xml");
        let added = add(&runtime, Board::QEMU_VIRT_AARCH64, KernelConfig::Benchmark).unwrap();
        assert!(added.clients.iter().any(|c| c.pd == "faulty"), "the child PD has a console channel");
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Benchmark);
        // The containment system's tick PD runs at 254, above every pod.
        let e = add(&repo_file("tests/systems/containment.xml"), Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.starts_with("PD 'tick' has priority 254"), "{e:?}");
    }

    #[test]
    fn the_highest_free_id_is_taken_irqs_included() {
        let text = r#"<system>
  <protection_domain name="a" priority="10">
    <program_image path="a.elf" />
    <irq irq="40" id="61" />
  </protection_domain>
  <protection_domain name="b" priority="20"><program_image path="b.elf" /></protection_domain>
  <channel><end pd="a" id="60" /><end pd="b" id="61" /></channel>
</system>"#;
        let added = add(text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap();
        let got: Vec<_> = added.clients.iter().map(|c| (c.pd.as_str(), c.id, c.pod_id)).collect();
        assert_eq!(got, [("a", 59, 0), ("b", 60, 1)]);
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release);
        assert_eq!(describe(&added)[1], "console channel at each PD: a 59, b 60");
    }

    #[test]
    fn a_pd_at_the_pods_priority_or_without_a_free_id_is_an_error_at_its_position() {
        let irqs: String = (0..=MAX_ID).map(|id| format!("    <irq irq=\"{}\" id=\"{id}\" />\n", 100 + id)).collect();
        let text = format!(
            "<system>\n  <protection_domain name=\"top\" priority=\"254\"><program_image path=\"t.elf\" /></protection_domain>\n  \
             <protection_domain name=\"full\" priority=\"100\">\n    <program_image path=\"f.elf\" />\n{irqs}  </protection_domain>\n</system>\n"
        );
        let errors = add(&text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!((errors[0].pos.line, errors[0].pos.col), (2, 33), "{errors:?}");
        assert!(
            errors[0].message.starts_with("PD 'top' has priority 254, but it would print by calling the console pod"),
            "{}",
            errors[0].message
        );
        assert_eq!((errors[1].pos.line, errors[1].pos.col), (3, 3), "{errors:?}");
        assert!(errors[1].message.contains("PD 'full' uses every channel id 0..61"), "{}", errors[1].message);
    }

    #[test]
    fn every_microkit_board_has_a_console_uart() {
        for name in crate::board::MICROKIT_BOARDS {
            assert!(name.starts_with("x86_64") || uart::for_board(name).is_some(), "{name} has no console UART");
        }
    }

    #[test]
    fn real_boards_get_their_own_uart_and_a_board_without_a_driver_is_an_error() {
        let text =
            "<system>\n  <protection_domain name=\"a\" priority=\"1\"><program_image path=\"a.elf\" /></protection_domain>\n</system>";
        let odroidc2 = Board::new("odroidc2", Arch::Aarch64, 0xFF_FFFF_FFFF, None, 4, true, true);
        let added = add(text, odroidc2, KernelConfig::Release).unwrap();
        assert!(added.text.contains("phys_addr=\"0xc8100000\""), "the page of the UART at 0xc81004c0:\n{}", added.text);
        assert_eq!(uart_description(odroidc2).unwrap(), "Amlogic Meson UART at 0xc81004c0");
        let my_board = Board::new("my_board", Arch::Riscv64, 0x3F_FFFF_EFFF, Some(25_000_000), 1, false, false);
        assert!(!drives_a_uart(my_board));
        let e = add(text, my_board, KernelConfig::Release).unwrap_err();
        assert_eq!((e[0].pos.line, e[0].pos.col), (1, 1), "{e:?}");
        assert!(e[0].message.contains("tunnelkit has no driver for my_board's UART") && e[0].hint.contains("--config debug"), "{e:?}");
        // With a kernel console the pod prints there, on any board.
        assert!(add(text, my_board, KernelConfig::Debug).is_ok());
    }

    #[test]
    fn a_uart_already_claimed_and_too_many_pds_are_errors() {
        let text = "<system>\n  <memory_region name=\"mine\" size=\"0x1000\" phys_addr=\"0x9000000\" />\n  <protection_domain name=\"a\" priority=\"1\"><program_image path=\"a.elf\" /></protection_domain>\n</system>";
        let e = add(text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap_err();
        assert_eq!((e[0].pos.line, e[0].pos.col), (2, 44), "{e:?}");
        assert!(e[0].message.contains("region 'mine' covers the PL011 at 0x9000000"), "{}", e[0].message);
        assert!(add(text, Board::X86_64_GENERIC, KernelConfig::Release).is_ok(), "no PL011 on x86");
        let text = "<system>\n  <protection_domain name=\"a\" priority=\"1\">\n    <program_image path=\"a.elf\" />\n    <ioport id=\"0\" addr=\"0x3f8\" size=\"8\" />\n  </protection_domain>\n</system>";
        let e = add(text, Board::X86_64_GENERIC, KernelConfig::Release).unwrap_err();
        assert_eq!((e[0].pos.line, e[0].pos.col), (4, 5), "{e:?}");
        assert!(e[0].message.contains("PD 'a' has I/O ports 0x3f8..0x400, which overlap COM1"), "{}", e[0].message);

        let pds: String = (0..MAX_PDS)
            .map(|k| format!("  <protection_domain name=\"p{k}\" priority=\"1\"><program_image path=\"p.elf\" /></protection_domain>\n"))
            .collect();
        let e = add(&format!("<system>\n{pds}</system>"), Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap_err();
        assert!(e[0].message.contains("the system has 63 PDs, so the console pod would make 64 (Microkit allows 63)"), "{e:?}");
        assert!(e[1].message.contains("the console pod has channel ids 0..61, one per client, but the system has 63 PDs"), "{e:?}");
        assert_eq!(e[1].pos.line, 64);
    }

    #[test]
    fn names_in_use_are_avoided_and_only_systems_without_a_console_need_one() {
        let text = "<system>\n  <memory_region name=\"uart\" size=\"0x1000\" />\n  <protection_domain name=\"serial\" priority=\"1\"><program_image path=\"s.elf\" /><map mr=\"uart\" vaddr=\"0x1000000\" /></protection_domain>\n</system>";
        let added = add(text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap();
        assert_eq!(added.pod, "serial_2");
        assert!(added.text.contains("<memory_region name=\"uart_2\" size=\"0x1000\" phys_addr=\"0x9000000\" />"));
        assert!(added.text.contains("<end pd=\"serial\" id=\"61\" pp=\"true\""));
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release);

        let images = crate::sdf::System::from_text("s.xml", text).unwrap();
        assert!(needed(KernelConfig::Release, &images));
        assert!(needed(KernelConfig::SmpBenchmark, &images));
        assert!(needed(KernelConfig::Debug, &images), "whole lines in debug too");
        assert!(needed(KernelConfig::SmpDebug, &images));
        let with_pod = repo_file("tests/systems/runtime-console.qemu_virt_aarch64.xml");
        let images = crate::sdf::System::from_text("s.xml", &with_pod).unwrap();
        assert!(!needed(KernelConfig::Release, &images));
    }

    #[test]
    fn on_a_multicore_kernel_callers_on_several_cores_get_a_server_or_per_core_instances() {
        let smp = repo_file("smp.xml");
        let added = add(&smp, Board::QEMU_VIRT_AARCH64, KernelConfig::SmpRelease).unwrap();
        assert_eq!(added.kind, Kind::PerCorePod);
        assert!(added.text.contains("<?tunnelkit per_core=\"true\"?>"));
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::SmpRelease);
        let e = crate::percore::expand(&added.text).unwrap().expect("per-core pods");
        let serial = e.pods.iter().find(|p| p.pod == "serial").expect("the console pod is expanded");
        assert!(serial.instances.len() > 1, "{serial:?}");
        valid(&e.text, Board::QEMU_VIRT_AARCH64, KernelConfig::SmpRelease);
        // Every console channel goes to the instance on its PD's core.
        // On x86 one PD owns COM1: an active server on core 0 instead,
        // which the instances of a per-core pod cannot share.
        let e = add(&smp, Board::X86_64_GENERIC, KernelConfig::SmpRelease).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].message.starts_with("per-core pod 'crypt' would print through the console server"), "{e:?}");
        let text = "<system>\n  <protection_domain name=\"a\" priority=\"1\" cpu=\"0\"><program_image path=\"a.elf\" /></protection_domain>\n  \
                    <protection_domain name=\"b\" priority=\"1\" cpu=\"1\"><program_image path=\"b.elf\" /></protection_domain>\n</system>";
        let added = add(text, Board::X86_64_GENERIC, KernelConfig::SmpRelease).unwrap();
        assert_eq!(added.kind, Kind::Server);
        assert!(added.text.contains("<protection_domain name=\"serial\" priority=\"254\" budget=\"2000\" period=\"10000\" cpu=\"0\">"));
        valid(&added.text, Board::X86_64_GENERIC, KernelConfig::SmpRelease);
        let added = add(text, Board::QEMU_VIRT_AARCH64, KernelConfig::SmpRelease).unwrap();
        assert_eq!(added.kind, Kind::Server, "no per-core pod prints: one server keeps every core's lines whole");
        // In debug the instances of a per-core pod print on the kernel console directly.
        let added = add(&smp, Board::X86_64_GENERIC, KernelConfig::SmpDebug).unwrap();
        assert_eq!(added.kind, Kind::Server);
        assert!(added.direct.iter().any(|(pd, _)| pd == "crypt"), "{:?}", added.direct);
        assert!(!added.clients.iter().any(|c| c.pd == "crypt"));
        valid(&added.text, Board::X86_64_GENERIC, KernelConfig::SmpDebug);
        // One core: a plain pod, as on a single-core kernel.
        let text = repo_file("system.xml");
        let added = add(&text, Board::X86_64_GENERIC, KernelConfig::SmpBenchmark).unwrap();
        assert_eq!(added.kind, Kind::Pod);
        valid(&added.text, Board::X86_64_GENERIC, KernelConfig::SmpBenchmark);
    }

    #[test]
    fn in_debug_the_pod_uses_the_kernel_console_and_a_pd_that_cannot_call_it_prints_directly() {
        let text = repo_file("tests/systems/containment.xml");
        for board in [Board::QEMU_VIRT_AARCH64, Board::X86_64_GENERIC] {
            let added = add(&text, board, KernelConfig::Debug).unwrap();
            assert_eq!(added.direct, [("tick".to_string(), "its priority is the pod's")]);
            assert!(!added.clients.iter().any(|c| c.pd == "tick"));
            assert!(added.clients.iter().any(|c| c.pd == "crashy"), "children print through it too");
            assert!(!added.text.contains("0x9000000") && !added.text.contains("<ioport"), "no UART of its own in debug");
            assert_eq!(describe(&added)[2], "printing on the kernel console directly: tick (its priority is the pod's)");
            valid(&added.text, board, KernelConfig::Debug);
        }
    }

    #[test]
    fn a_system_may_keep_the_kernel_console_in_debug() {
        let text = "<system>\n  <?tunnelkit console=\"kernel\"?>\n  <protection_domain name=\"a\" priority=\"1\"><program_image path=\"a.elf\" /></protection_domain>\n</system>";
        let sys = crate::sdf::System::from_text("s.xml", text).unwrap();
        assert!(sys.kernel_console);
        assert!(!needed(KernelConfig::Debug, &sys));
        assert!(!needed(KernelConfig::SmpDebug, &sys));
        assert!(needed(KernelConfig::Release, &sys), "without a kernel console the setting cannot apply (build refuses it)");
    }
}
