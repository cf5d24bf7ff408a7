//! Adding the accounting machinery to a system for `tunnelkit build
//! --accounting` and `tunnelkit run --accounting` (README "Accounting").
//!
//! Every PD of the system (child PDs and per-core instances included; not
//! the console pod) gets an accounting region: a memory region of
//! [`REGION_SIZE`] bytes mapped read/write at [`PD_VADDR`] with
//! `setvar_vaddr="tunnelkit_account_vaddr" setvar_size="tunnelkit_account_size"`,
//! where its runtime, built with `TUNNELKIT_ACCOUNT=1`, keeps its counters.
//! Each also maps the accountant's summary read-only at [`SUMMARY_VADDR`]
//! (`setvar_vaddr="tunnelkit_account_summary_vaddr"`): every PD's CPU so
//! far, which a PD may report (the network system's stats port does). The
//! `<map>`s go right after the PD's start tag, on the same line, so every
//! line of the file keeps its number.
//!
//! The accountant PD is added before `</system>`: active, on core 0, at
//! priority [`PRIORITY`] (below a console pod, which it prints through),
//! with a sporadic scheduling context of [`BUDGET_US`] every [`PERIOD_US`]
//! (it yields after each look, so it wakes once a period and takes 1 % of
//! core 0). It maps region `i` read-only at `ACCOUNTANT_VADDR + i ×
//! ACCOUNTANT_STRIDE` (`setvar_vaddr="tunnelkit_account_region_<i>"`) and
//! holds, in its `<cspace>`, the scheduling context of every accounted PD in
//! slot `i + 1` (for a passive PD the one bound to its notification, which
//! pays for its start and its notifications, not for the calls it serves),
//! and its own in slot [`OWN_SC_SLOT`] (to calibrate the TSC on x86_64). With a
//! console pod in the system (release configs), it gets a `pp` channel to
//! it (`setvar_id="tunnelkit_console_channel"`) on id 61. No accounted PD
//! gets a channel: the accountant polls the regions.
//!
//! The accountant holds only the scheduling contexts of core 0's PDs. Every
//! other core that runs an accounted PD gets a meter: the same image, on
//! that core, at the same priority and budget, holding that core's PDs'
//! scheduling contexts (slot `i + 1`) and mapping their regions, and filling
//! a page ([`METER_PAGE_SIZE`] bytes at [`METER_OUT_VADDR`],
//! `setvar_vaddr="tunnelkit_account_meter_out"`) that the accountant maps
//! read-only (it maps the summary read-only, for the clock rate the
//! accountant measured on x86_64) (`tunnelkit_account_meter_<k>` at [`METER_PAGES_VADDR`] + k
//! pages). So no reading of a scheduling context crosses cores: seL4 would
//! stall the core running it with an inter-processor interrupt, and its
//! multicore kernel then loses or misplaces that core's time.

use std::collections::BTreeSet;

use crate::check::rules::{MAX_ID, MAX_PDS};
use crate::sdf::parse;
use crate::sdf::rewrite::{before_root_end, escape, free_name, splice};

/// The accountant's program image.
pub const IMAGE: &str = "account-dump.elf";
/// Bytes of each accounting region (what the layout needs, in whole pages).
pub const REGION_SIZE: u64 = tunnelkit_abi::account::REGION_BYTES.next_multiple_of(0x1000);
/// Where each accounted PD maps its region.
pub const PD_VADDR: u64 = 0x9_0000_0000;
/// Where each accounted PD maps the accountant's summary (read-only).
pub const SUMMARY_VADDR: u64 = PD_VADDR + REGION_SIZE;
/// Bytes of the summary region.
pub const SUMMARY_SIZE: u64 = tunnelkit_abi::account::summary::BYTES;
/// Where the accountant maps the summary (read/write).
pub const ACCOUNTANT_SUMMARY_VADDR: u64 = 0x1F_0000_0000;
/// Where the accountant maps region 0; region `i` is `i` strides above.
pub const ACCOUNTANT_VADDR: u64 = 0x20_0000_0000;
/// Distance between the accountant's regions.
pub const ACCOUNTANT_STRIDE: u64 = 0x10_0000;
/// The accountant's priority (or one below the console pod's, if that is lower).
pub const PRIORITY: u64 = 253;
/// The accountant's budget per period, in microseconds.
pub const BUDGET_US: u64 = 1_000;
/// The accountant's period, in microseconds: how often it looks.
pub const PERIOD_US: u64 = 100_000;
/// The accountant's stack: it copies a whole snapshot (up to 2048 counter
/// pairs) before printing it.
pub const STACK_SIZE: u64 = 0x80000;
/// The `<cspace>` slot of the accountant's own scheduling context.
pub const OWN_SC_SLOT: u64 = 63;
/// Where a meter maps the page it fills (read/write).
pub const METER_OUT_VADDR: u64 = 0x1E_0000_0000;
/// Where the accountant maps meter page 0; page `k` is `k` pages above.
pub const METER_PAGES_VADDR: u64 = 0x1E_0010_0000;
/// Bytes of a meter's page.
pub const METER_PAGE_SIZE: u64 = tunnelkit_abi::account::meter::BYTES;
/// Meters the accountant can read: one per core but core 0.
pub const MAX_METERS: usize = 15;
/// The accountant's end of its console channel.
const CONSOLE_ID: u64 = MAX_ID;
/// The console pod's image (see [`crate::console_pod`]).
const CONSOLE_IMAGE: &str = crate::console_pod::IMAGE;

/// Why the system cannot get it, at a position.
pub type AddError = crate::sdf::rewrite::RewriteError;

/// One accounted PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accounted {
    /// Its region's index (what the accountant's lines call `region=`).
    pub region: usize,
    /// The PD.
    pub pd: String,
    /// The memory region.
    pub mr: String,
    /// The accountant's `<cspace>` slot holding its scheduling context (`region + 1`).
    pub sc_slot: u64,
    /// Whether it is passive (a pod: it runs on its callers' budgets);
    /// otherwise it is a path, with its own.
    pub passive: bool,
    /// The core of its scheduling context (its `cpu`).
    pub cpu: u64,
}

/// A meter: the PD that reads the scheduling contexts of one core but core 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meter {
    /// The PD's name.
    pub pd: String,
    /// Its core.
    pub cpu: u64,
    /// The page it fills.
    pub mr: String,
}

/// A system description with the accounting machinery added.
#[derive(Clone, Debug)]
pub struct Added {
    /// The new system description.
    pub text: String,
    /// The accountant PD's name.
    pub accountant: String,
    /// The meters, by core.
    pub meters: Vec<Meter>,
    /// Its priority.
    pub priority: u64,
    /// Every accounted PD, in document order.
    pub accounted: Vec<Accounted>,
    /// The console pod the accountant prints through, if the system has one.
    pub console: Option<String>,
}

/// Adds the accounting regions and the accountant to `text` (a valid system).
pub fn add(text: &str) -> Result<Added, Vec<AddError>> {
    let (sys, doc) = crate::sdf::rewrite::read(text)?;
    let mut errors = Vec::new();
    let is_console = |p: &parse::Pd| p.image.as_ref().is_some_and(|i| i.path == CONSOLE_IMAGE);
    // A meter for every core but 0 that holds an accounted PD's scheduling context.
    let cores: BTreeSet<u64> = sys.pds.iter().filter(|p| !is_console(p) && p.cpu != 0).map(|p| p.cpu).collect();
    let added_pds = 1 + cores.len();
    if sys.pds.len() + added_pds > MAX_PDS {
        let pd = &sys.pds[sys.pds.len().min(MAX_PDS) - 1];
        errors.push(AddError {
            pos: pd.pos,
            message: format!(
                "the system has {} PDs, so the accountant{} would make {} (Microkit allows {MAX_PDS})",
                sys.pds.len(),
                if cores.is_empty() { String::new() } else { format!(" and a meter for each of cores {}", join(&cores)) },
                sys.pds.len() + added_pds
            ),
            hint: "merge PDs, or run without --accounting".into(),
        });
    }
    if cores.len() > MAX_METERS {
        let pd = sys.pds.iter().find(|p| !is_console(p) && p.cpu != 0).expect("a PD off core 0");
        errors.push(AddError {
            pos: pd.pos,
            message: format!("PDs run on {} cores besides core 0; the accountant reads at most {MAX_METERS} meters", cores.len()),
            hint: "run without --accounting".into(),
        });
    }
    let pd_names: BTreeSet<String> = sys.pds.iter().map(|p| p.name.clone()).collect();
    let mut mr_names: BTreeSet<String> = sys.mrs.iter().map(|m| m.name.clone()).collect();
    let accountant = free_name("tunnelkit_account", &pd_names);
    let summary_mr = free_name("tunnelkit_account_summary", &mr_names);
    mr_names.insert(summary_mr.clone());
    let mut taken = pd_names.clone();
    taken.insert(accountant.clone());
    let mut meters = Vec::new();
    for &cpu in &cores {
        let pd = free_name(&format!("tunnelkit_account_meter_{cpu}"), &taken);
        taken.insert(pd.clone());
        let mr = free_name(&format!("tunnelkit_account_meter_{cpu}"), &mr_names);
        mr_names.insert(mr.clone());
        meters.push(Meter { pd, cpu, mr });
    }

    let mut accounted = Vec::new();
    for pd in sys.pds.iter().filter(|p| !is_console(p)) {
        for m in &pd.maps {
            let size = sys.mrs.iter().find(|r| r.name == m.mr).and_then(|r| r.size).unwrap_or(0x1000);
            if let Some(v) = m.vaddr
                && v < SUMMARY_VADDR + SUMMARY_SIZE
                && PD_VADDR < v.saturating_add(size)
            {
                errors.push(AddError {
                    pos: m.pos,
                    message: format!(
                        "PD '{}' maps '{}' at {v:#x}, where tunnelkit maps its accounting region and summary ({PD_VADDR:#x}..{:#x})",
                        pd.name,
                        m.mr,
                        SUMMARY_VADDR + SUMMARY_SIZE
                    ),
                    hint: "map it elsewhere, or run without --accounting".into(),
                });
            }
        }
        let region = accounted.len();
        let mr = free_name(&format!("tunnelkit_account_{region}"), &mr_names);
        mr_names.insert(mr.clone());
        accounted.push(Accounted { region, pd: pd.name.clone(), mr, sc_slot: region as u64 + 1, passive: pd.passive, cpu: pd.cpu });
    }

    // The console pod it prints through (release configs).
    let (link, link_errors) = crate::console_pod::link_for(&sys, PRIORITY, "the accountant", "--accounting");
    errors.extend(link_errors);
    let (console, console_id, priority) = (link.pod, link.id, link.priority);
    if !errors.is_empty() {
        return Err(errors);
    }

    // Each accounted PD's map, right after its start tag (same line).
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let pd_nodes: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("protection_domain")).collect();
    for a in &accounted {
        let Some(node) = pd_nodes.iter().find(|n| n.attribute("name") == Some(a.pd.as_str())) else { continue };
        let Some(first) = node.first_child() else { continue };
        inserts.push((
            first.range().start,
            format!(
                "<map mr=\"{}\" vaddr=\"{PD_VADDR:#x}\" perms=\"rw\" setvar_vaddr=\"tunnelkit_account_vaddr\" setvar_size=\"tunnelkit_account_size\" /><map mr=\"{}\" vaddr=\"{SUMMARY_VADDR:#x}\" perms=\"r\" setvar_vaddr=\"tunnelkit_account_summary_vaddr\" setvar_size=\"tunnelkit_account_summary_size\" />",
                escape(&a.mr),
                escape(&summary_mr)
            ),
        ));
    }
    // Before the root's end tag: the regions, the accountant, its console channel.
    let (at, sep) = before_root_end(text, &doc);
    let i = "    ";
    let mut add = format!(
        "{sep}{i}<!-- Added by tunnelkit for accounting: a region per PD (mapped in each at {PD_VADDR:#x}) and the accountant, which reads them and every path's scheduling context. -->\n"
    );
    for a in &accounted {
        add.push_str(&format!("{i}<memory_region name=\"{}\" size=\"{REGION_SIZE:#x}\" />\n", escape(&a.mr)));
    }
    add.push_str(&format!("{i}<memory_region name=\"{}\" size=\"{SUMMARY_SIZE:#x}\" />\n", escape(&summary_mr)));
    add.push_str(&format!(
        "{i}<protection_domain name=\"{}\" priority=\"{priority}\" budget=\"{BUDGET_US}\" period=\"{PERIOD_US}\" cpu=\"0\" stack_size=\"{STACK_SIZE:#x}\">\n{i}{i}<program_image path=\"{IMAGE}\" />\n",
        escape(&accountant)
    ));
    add.push_str(&region_maps(accounted.iter()));
    add.push_str(&summary_map(&summary_mr, "rw"));
    for (k, m) in meters.iter().enumerate() {
        let size = if k == 0 { " setvar_size=\"tunnelkit_account_meter_page_bytes\"" } else { "" };
        add.push_str(&format!(
            "{i}{i}<map mr=\"{}\" vaddr=\"{:#x}\" perms=\"r\" setvar_vaddr=\"tunnelkit_account_meter_{k}\"{size} />\n",
            escape(&m.mr),
            METER_PAGES_VADDR + k as u64 * METER_PAGE_SIZE
        ));
    }
    add.push_str(&cspace(accounted.iter().filter(|a| a.cpu == 0), Some(&accountant)));
    add.push_str(&format!("{i}</protection_domain>\n"));
    for m in &meters {
        add.push_str(&format!("{i}<memory_region name=\"{}\" size=\"{METER_PAGE_SIZE:#x}\" />\n", escape(&m.mr)));
        add.push_str(&format!(
            "{i}<protection_domain name=\"{}\" priority=\"{priority}\" budget=\"{BUDGET_US}\" period=\"{PERIOD_US}\" cpu=\"{}\" stack_size=\"{STACK_SIZE:#x}\">\n{i}{i}<program_image path=\"{IMAGE}\" />\n",
            escape(&m.pd),
            m.cpu
        ));
        add.push_str(&region_maps(accounted.iter().filter(|a| a.cpu == m.cpu)));
        add.push_str(&format!(
            "{i}{i}<map mr=\"{}\" vaddr=\"{METER_OUT_VADDR:#x}\" perms=\"rw\" setvar_vaddr=\"tunnelkit_account_meter_out\" setvar_size=\"tunnelkit_account_meter_bytes\" />\n",
            escape(&m.mr)
        ));
        add.push_str(&summary_map(&summary_mr, "r"));
        add.push_str(&cspace(accounted.iter().filter(|a| a.cpu == m.cpu), None));
        add.push_str(&format!("{i}</protection_domain>\n"));
    }
    if let (Some(c), Some(id)) = (console, console_id) {
        add.push_str(&format!(
            "{i}<channel>\n{i}{i}<end pd=\"{}\" id=\"{CONSOLE_ID}\" pp=\"true\" notify=\"false\" setvar_id=\"{}\" />\n{i}{i}<end pd=\"{}\" id=\"{id}\" notify=\"false\" />\n{i}</channel>\n",
            escape(&accountant),
            crate::console_pod::SETVAR,
            escape(&c.name)
        ));
    }
    inserts.push((at, add));
    Ok(Added { text: splice(text, inserts), accountant, meters, priority, accounted, console: console.map(|c| c.name.clone()) })
}

/// Read-only maps of `regions` at the reader's addresses (the accountant's
/// or a meter's), the first with the size setvar.
fn region_maps<'a>(regions: impl Iterator<Item = &'a Accounted>) -> String {
    regions
        .enumerate()
        .map(|(k, a)| {
            let size = if k == 0 { " setvar_size=\"tunnelkit_account_region_size\"" } else { "" };
            format!(
                "        <map mr=\"{}\" vaddr=\"{:#x}\" perms=\"r\" setvar_vaddr=\"tunnelkit_account_region_{}\"{size} />\n",
                escape(&a.mr),
                ACCOUNTANT_VADDR + a.region as u64 * ACCOUNTANT_STRIDE,
                a.region
            )
        })
        .collect()
}

/// The map of the summary in the accountant (`rw`) or a meter (`r`).
fn summary_map(mr: &str, perms: &str) -> String {
    format!(
        "        <map mr=\"{}\" vaddr=\"{ACCOUNTANT_SUMMARY_VADDR:#x}\" perms=\"{perms}\" setvar_vaddr=\"tunnelkit_account_summary\" setvar_size=\"tunnelkit_account_summary_bytes\" />\n",
        escape(mr)
    )
}

/// A reader's `<cspace>`: the scheduling context of each of `regions` in
/// its slot, and the reader's own in [`OWN_SC_SLOT`] if `own` names it.
fn cspace<'a>(regions: impl Iterator<Item = &'a Accounted>, own: Option<&str>) -> String {
    let mut s = String::from("        <cspace>\n");
    for a in regions {
        s.push_str(&format!("            <cap_sc pd=\"{}\" slot=\"{}\" />\n", escape(&a.pd), a.sc_slot));
    }
    if let Some(own) = own {
        s.push_str(&format!("            <cap_sc pd=\"{}\" slot=\"{OWN_SC_SLOT}\" />\n", escape(own)));
    }
    s.push_str("        </cspace>\n");
    s
}

/// The cores, as a list for a message.
fn join(cores: &BTreeSet<u64>) -> String {
    cores.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// Summary lines for the build log.
pub fn describe(added: &Added) -> Vec<String> {
    let paths = added.accounted.iter().filter(|a| !a.passive).count();
    vec![
        format!(
            "accounting {} PD{} ({paths} path{} with their own scheduling context): added the accountant '{}' ({IMAGE}, priority {}, {BUDGET_US} us every {PERIOD_US} us){}",
            added.accounted.len(),
            if added.accounted.len() == 1 { "" } else { "s" },
            if paths == 1 { "" } else { "s" },
            added.accountant,
            added.priority,
            added.console.as_ref().map(|c| format!(", printing through '{c}'")).unwrap_or_default()
        ),
        format!(
            "meters (one per core but 0, reading that core's scheduling contexts): {}",
            if added.meters.is_empty() {
                "none, every PD is on core 0".to_string()
            } else {
                added.meters.iter().map(|m| format!("'{}' on core {}", m.pd, m.cpu)).collect::<Vec<_>>().join(", ")
            }
        ),
        format!(
            "accounting region of each PD: {}",
            added
                .accounted
                .iter()
                .map(|a| format!("{} {}{}", a.region, a.pd, if a.passive { " (passive)" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{Board, KernelConfig};
    use crate::check::{Target, check_bytes_for};

    fn repo_file(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn valid(text: &str, board: Board, config: KernelConfig) {
        let r = check_bytes_for("added.xml", text.as_bytes(), Target { board: Some(board), config: Some(config) });
        assert!(r.is_valid(), "{r}\n{text}");
    }

    #[test]
    fn the_demo_gets_a_region_per_pd_and_the_accountant_holds_every_paths_sc() {
        let text = repo_file("system.xml");
        let added = add(&text).unwrap();
        let got: Vec<_> = added.accounted.iter().map(|a| (a.region, a.pd.as_str(), a.sc_slot, a.passive)).collect();
        assert_eq!(
            got,
            [
                (0, "client_a", 1, false),
                (1, "client_b", 2, false),
                (2, "crypt", 3, true),
                (3, "crypt_ipc", 4, false),
                (4, "checksum", 5, true),
                (5, "report", 6, false)
            ]
        );
        assert!(added.text.contains(
            "<protection_domain name=\"crypt\" priority=\"110\" passive=\"true\"><map mr=\"tunnelkit_account_2\" vaddr=\"0x900000000\" perms=\"rw\" setvar_vaddr=\"tunnelkit_account_vaddr\" setvar_size=\"tunnelkit_account_size\" /><map mr=\"tunnelkit_account_summary\" vaddr=\"0x900010000\" perms=\"r\" setvar_vaddr=\"tunnelkit_account_summary_vaddr\" setvar_size=\"tunnelkit_account_summary_size\" />\n"
        ));
        assert!(added.text.contains(
            "<protection_domain name=\"tunnelkit_account\" priority=\"253\" budget=\"1000\" period=\"100000\" cpu=\"0\" stack_size=\"0x80000\">"
        ));
        assert!(added.text.contains("<cap_sc pd=\"crypt_ipc\" slot=\"4\" />"));
        assert!(added.text.contains("<cap_sc pd=\"tunnelkit_account\" slot=\"63\" />"));
        assert!(
            added.text.contains(
                "<map mr=\"tunnelkit_account_5\" vaddr=\"0x2000500000\" perms=\"r\" setvar_vaddr=\"tunnelkit_account_region_5\" />"
            )
        );
        for (old, new) in text.lines().zip(added.text.lines()) {
            assert!(new.starts_with(old) || old.trim() == "</system>", "{old:?} became {new:?}");
        }
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Debug);
        valid(&added.text, Board::X86_64_GENERIC, KernelConfig::SmpDebug);
    }

    #[test]
    fn a_console_pod_is_printed_through_not_accounted() {
        let demo = crate::console_pod::add(&repo_file("system.xml"), Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap();
        let added = add(&demo.text).unwrap();
        assert_eq!(added.accounted.len(), 6, "the console pod is not accounted");
        assert_eq!((added.priority, added.console.as_deref()), (253, Some("serial")));
        assert!(
            added.text.contains(
                "<end pd=\"tunnelkit_account\" id=\"61\" pp=\"true\" notify=\"false\" setvar_id=\"tunnelkit_console_channel\" />"
            )
        );
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release);
        let added = add(&repo_file("tests/systems/containment.xml")).unwrap();
        assert!(added.accounted.iter().any(|a| a.pd == "pod_c"));
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Debug);
    }

    #[test]
    fn every_core_but_0_gets_a_meter_holding_its_pds_scheduling_contexts() {
        let text = "<system>\n  <protection_domain name=\"a\" priority=\"10\" cpu=\"0\"><program_image path=\"a.elf\" /></protection_domain>\n  <protection_domain name=\"b\" priority=\"10\" cpu=\"1\"><program_image path=\"a.elf\" /></protection_domain>\n  <protection_domain name=\"p\" priority=\"20\" passive=\"true\" cpu=\"3\"><program_image path=\"p.elf\" /></protection_domain>\n  <protection_domain name=\"c\" priority=\"10\" cpu=\"3\"><program_image path=\"a.elf\" /></protection_domain>\n</system>\n";
        let added = add(text).unwrap();
        let meters: Vec<_> = added.meters.iter().map(|m| (m.pd.as_str(), m.cpu)).collect();
        assert_eq!(meters, [("tunnelkit_account_meter_1", 1), ("tunnelkit_account_meter_3", 3)]);
        // The accountant holds core 0's contexts only, and maps every region and both meter pages.
        let accountant = &added.text[added.text.find("<protection_domain name=\"tunnelkit_account\"").unwrap()..];
        let accountant = &accountant[..accountant.find("</protection_domain>").unwrap()];
        assert!(accountant.contains("<cap_sc pd=\"a\" slot=\"1\" />") && !accountant.contains("<cap_sc pd=\"b\""), "{accountant}");
        assert!(accountant.contains("setvar_vaddr=\"tunnelkit_account_region_3\""), "{accountant}");
        assert!(
            accountant.contains(
                "<map mr=\"tunnelkit_account_meter_3\" vaddr=\"0x1e00101000\" perms=\"r\" setvar_vaddr=\"tunnelkit_account_meter_1\" />"
            ),
            "{accountant}"
        );
        // The meter of core 3 holds p's and c's, maps their regions and fills its page.
        let meter = &added.text[added.text.find("<protection_domain name=\"tunnelkit_account_meter_3\"").unwrap()..];
        let meter = &meter[..meter.find("</protection_domain>").unwrap()];
        assert!(meter.contains("cpu=\"3\""), "{meter}");
        assert!(meter.contains("<cap_sc pd=\"p\" slot=\"3\" />") && meter.contains("<cap_sc pd=\"c\" slot=\"4\" />"), "{meter}");
        assert!(!meter.contains("<cap_sc pd=\"b\""), "{meter}");
        assert!(meter.contains("setvar_vaddr=\"tunnelkit_account_region_2\" setvar_size=\"tunnelkit_account_region_size\""), "{meter}");
        assert!(
            meter.contains(
                "<map mr=\"tunnelkit_account_meter_3\" vaddr=\"0x1e00000000\" perms=\"rw\" setvar_vaddr=\"tunnelkit_account_meter_out\""
            ),
            "{meter}"
        );
        assert!(describe(&added)[1].contains("'tunnelkit_account_meter_1' on core 1, 'tunnelkit_account_meter_3' on core 3"));
        valid(&added.text, Board::X86_64_GENERIC, KernelConfig::SmpDebug);
    }

    #[test]
    fn a_mapping_where_the_region_goes_is_an_error_at_its_position() {
        let text = "<system>\n  <memory_region name=\"m\" size=\"0x1000\" />\n  <protection_domain name=\"a\" priority=\"1\">\n    <program_image path=\"a.elf\" />\n    <map mr=\"m\" vaddr=\"0x900001000\" />\n  </protection_domain>\n</system>\n";
        let e = add(text).unwrap_err();
        assert_eq!((e[0].pos.line, e[0].pos.col), (5, 5), "{e:?}");
        assert!(e[0].message.contains("PD 'a' maps 'm' at 0x900001000, where tunnelkit maps its accounting region"), "{e:?}");
        let pds: String = (0..MAX_PDS)
            .map(|k| format!("  <protection_domain name=\"p{k}\" priority=\"1\"><program_image path=\"p.elf\" /></protection_domain>\n"))
            .collect();
        let e = add(&format!("<system>\n{pds}</system>")).unwrap_err();
        assert!(e[0].message.contains("the system has 63 PDs, so the accountant would make 64"), "{e:?}");
    }
}
