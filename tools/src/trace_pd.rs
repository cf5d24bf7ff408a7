//! Adding the trace machinery to a system for `tunnelkit build --trace` and
//! `tunnelkit run --trace` (docs/trace.md).
//!
//! Every PD of the system (child PDs and per-core instances included; not
//! the console pod) gets a trace region: a memory region of
//! [`REGION_SIZE`] bytes mapped read/write at [`PD_VADDR`] with
//! `setvar_vaddr="tunnelkit_trace_vaddr" setvar_size="tunnelkit_trace_size"`,
//! which its runtime, built with the `trace` feature, records into. The
//! `<map>` is inserted right after the PD's start tag, on the same line, so
//! every line of the file keeps its number.
//!
//! A dumper PD is added before `</system>`: active, on core 0, at priority
//! [`PRIORITY`] (below a console pod, which it prints through) with a
//! round-robin scheduling context (Microkit's default budget = period), so
//! that nothing below it runs on its core while it prints, running
//! `trace-dump.elf`. It maps region `i` at `DUMPER_VADDR + i ×
//! DUMPER_STRIDE` (`setvar_vaddr="tunnelkit_trace_region_<i>"`). Each traced
//! PD gets a channel to it, on the highest channel id the PD does not use:
//! `notify="true"` with `setvar_id="tunnelkit_trace_channel"` at the PD
//! (its runtime notifies the dumper when the PD ends the run, and leaves
//! the channel out of `notifiable_channels()`), id `i` and
//! `notify="false"` at the dumper, so no PD receives anything new. With a
//! console pod in the system (release configs), the dumper gets a `pp`
//! channel to it (`setvar_id="tunnelkit_console_channel"`) on id 61.

use std::collections::BTreeSet;

use crate::check::Pos;
use crate::check::rules::{MAX_ID, MAX_PDS};
use crate::sdf::parse;
use crate::sdf::rewrite::{before_root_end, escape, free_name, splice};

/// The dumper's program image.
pub const IMAGE: &str = "trace-dump.elf";
/// Bytes of each trace region: a header and 2213 records of 24 bytes
/// (1189 kept from the start, a ring of 1024 for the latest).
pub const REGION_SIZE: u64 = 0xD000;
/// Where each traced PD maps its region.
pub const PD_VADDR: u64 = 0x8_0000_0000;
/// Where the dumper maps region 0; region `i` is `i` strides above.
pub const DUMPER_VADDR: u64 = 0x10_0000_0000;
/// Distance between the dumper's regions.
pub const DUMPER_STRIDE: u64 = 0x10_0000;
/// The dumper's priority (or one below the console pod's, if that is lower).
pub const PRIORITY: u64 = 253;
/// The setvar naming a traced PD's channel to the dumper.
pub const SETVAR: &str = "tunnelkit_trace_channel";
/// The dumper's end of its console channel.
const CONSOLE_ID: u64 = MAX_ID;
/// The console pod's image (see [`crate::console_pod`]).
const CONSOLE_IMAGE: &str = crate::console_pod::IMAGE;

/// Why the system cannot get it, at a position.
pub type AddError = crate::sdf::rewrite::RewriteError;

/// One traced PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    /// Its region's index (what the dumper's lines call `region=`), also
    /// the channel id at the dumper.
    pub region: usize,
    /// The PD.
    pub pd: String,
    /// The memory region.
    pub mr: String,
    /// Its channel id to the dumper.
    pub channel: u64,
}

/// A system description with the trace machinery added.
#[derive(Clone, Debug)]
pub struct Added {
    /// The new system description.
    pub text: String,
    /// The dumper PD's name.
    pub dumper: String,
    /// Its priority.
    pub priority: u64,
    /// Every traced PD, in document order.
    pub traced: Vec<Traced>,
    /// The console pod the dumper prints through, if the system has one.
    pub console: Option<String>,
}

/// Adds the trace regions and the dumper to `text` (a valid system).
pub fn add(text: &str) -> Result<Added, Vec<AddError>> {
    let (sys, doc) = crate::sdf::rewrite::read(text)?;
    let mut errors = Vec::new();
    if sys.pds.len() >= MAX_PDS {
        errors.push(AddError {
            pos: sys.pds[MAX_PDS - 1].pos,
            message: format!(
                "the system has {} PDs, so the trace dumper would make {} (Microkit allows {MAX_PDS})",
                sys.pds.len(),
                sys.pds.len() + 1
            ),
            hint: "merge PDs, or run without --trace".into(),
        });
    }
    let pd_names: BTreeSet<&str> = sys.pds.iter().map(|p| p.name.as_str()).collect();
    let mut mr_names: BTreeSet<String> = sys.mrs.iter().map(|m| m.name.clone()).collect();
    let dumper = free_name("tunnelkit_trace", &pd_names.iter().map(|s| s.to_string()).collect());
    let is_console = |p: &parse::Pd| p.image.as_ref().is_some_and(|i| i.path == CONSOLE_IMAGE);

    // Channel ids in use at each PD (channels and IRQs share them).
    let mut used: Vec<BTreeSet<u64>> = sys.pds.iter().map(|p| p.irq_ids.iter().map(|(id, _)| *id).collect()).collect();
    for ch in &sys.channels {
        for e in &ch.ends {
            if let (Some(i), Some(id)) = (sys.pds.iter().position(|p| p.name == e.pd), e.id) {
                used[i].insert(id);
            }
        }
    }
    // Each traced PD: its region must fit beside its own mappings, and it
    // needs a free channel id.
    let mut traced = Vec::new();
    for (k, pd) in sys.pds.iter().enumerate().filter(|(_, p)| !is_console(p)) {
        let Some(channel) = (0..=MAX_ID).rev().find(|id| !used[k].contains(id)) else {
            errors.push(AddError {
                pos: pd.pos,
                message: format!(
                    "PD '{}' uses every channel id 0..{MAX_ID} (channels and IRQs), so it has none left for the trace dumper",
                    pd.name
                ),
                hint: format!("free one channel id of '{}', or run without --trace", pd.name),
            });
            continue;
        };
        for m in &pd.maps {
            let size = sys.mrs.iter().find(|r| r.name == m.mr).and_then(|r| r.size).unwrap_or(0x1000);
            if let Some(v) = m.vaddr
                && v < PD_VADDR + REGION_SIZE
                && PD_VADDR < v.saturating_add(size)
            {
                errors.push(AddError {
                    pos: m.pos,
                    message: format!(
                        "PD '{}' maps '{}' at {v:#x}, where tunnelkit maps its trace region ({PD_VADDR:#x}..{:#x})",
                        pd.name,
                        m.mr,
                        PD_VADDR + REGION_SIZE
                    ),
                    hint: "map it elsewhere, or run without --trace".into(),
                });
            }
        }
        let mr = free_name(&format!("tunnelkit_trace_{}", traced.len()), &mr_names);
        mr_names.insert(mr.clone());
        traced.push(Traced { region: traced.len(), pd: pd.name.clone(), mr, channel });
    }

    // The console pod it prints through (release configs).
    let (link, link_errors) = crate::console_pod::link_for(&sys, PRIORITY, "the trace dumper", "--trace");
    errors.extend(link_errors);
    let (console, console_id, priority) = (link.pod, link.id, link.priority);
    if traced.len() > CONSOLE_ID as usize {
        errors.push(AddError {
            pos: Pos::default(),
            message: format!("{} PDs to trace, but the dumper has channels for {CONSOLE_ID}", traced.len()),
            hint: "run without --trace".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Each traced PD's map, right after its start tag (same line).
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let pd_nodes: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("protection_domain")).collect();
    for t in &traced {
        let Some(node) = pd_nodes.iter().find(|n| n.attribute("name") == Some(t.pd.as_str())) else { continue };
        let Some(first) = node.first_child() else { continue };
        inserts.push((
            first.range().start,
            format!(
                "<map mr=\"{}\" vaddr=\"{PD_VADDR:#x}\" perms=\"rw\" setvar_vaddr=\"tunnelkit_trace_vaddr\" setvar_size=\"tunnelkit_trace_size\" />",
                escape(&t.mr)
            ),
        ));
    }
    // Before the root's end tag: the regions, the dumper, its console channel.
    let (at, sep) = before_root_end(text, &doc);
    let i = "    ";
    let mut add = format!(
        "{i}<!-- Added by tunnelkit for tracing: a trace region per PD (mapped in each at {PD_VADDR:#x}) and the dumper that prints them at the end. -->\n"
    );
    for t in &traced {
        add.push_str(&format!("{i}<memory_region name=\"{}\" size=\"{REGION_SIZE:#x}\" />\n", escape(&t.mr)));
    }
    add.push_str(&format!(
        "{i}<protection_domain name=\"{}\" priority=\"{priority}\" cpu=\"0\">\n{i}{i}<program_image path=\"{IMAGE}\" />\n",
        escape(&dumper)
    ));
    for t in &traced {
        let size = if t.region == 0 { " setvar_size=\"tunnelkit_trace_region_size\"" } else { "" };
        add.push_str(&format!(
            "{i}{i}<map mr=\"{}\" vaddr=\"{:#x}\" perms=\"rw\" setvar_vaddr=\"tunnelkit_trace_region_{}\"{size} />\n",
            escape(&t.mr),
            DUMPER_VADDR + t.region as u64 * DUMPER_STRIDE,
            t.region
        ));
    }
    add.push_str(&format!("{i}</protection_domain>\n"));
    for t in &traced {
        add.push_str(&format!(
            "{i}<channel>\n{i}{i}<end pd=\"{}\" id=\"{}\" notify=\"true\" setvar_id=\"{SETVAR}\" />\n{i}{i}<end pd=\"{}\" id=\"{}\" notify=\"false\" />\n{i}</channel>\n",
            escape(&t.pd),
            t.channel,
            escape(&dumper),
            t.region
        ));
    }
    if let (Some(c), Some(id)) = (console, console_id) {
        add.push_str(&format!(
            "{i}<channel>\n{i}{i}<end pd=\"{}\" id=\"{CONSOLE_ID}\" pp=\"true\" notify=\"false\" setvar_id=\"{}\" />\n{i}{i}<end pd=\"{}\" id=\"{id}\" notify=\"false\" />\n{i}</channel>\n",
            escape(&dumper),
            crate::console_pod::SETVAR,
            escape(&c.name)
        ));
    }
    inserts.push((at, format!("{sep}{add}")));
    let out = splice(text, inserts);
    Ok(Added { text: out, dumper, priority, traced, console: console.map(|c| c.name.clone()) })
}

/// Summary lines for the build log.
pub fn describe(added: &Added) -> Vec<String> {
    vec![
        format!(
            "tracing {} PD{} ({} records of 24 bytes each): added the dumper '{}' ({IMAGE}, priority {}, round-robin){}",
            added.traced.len(),
            if added.traced.len() == 1 { "" } else { "s" },
            crate::trace::records_per_region(),
            added.dumper,
            added.priority,
            added.console.as_ref().map(|c| format!(", printing through '{c}'")).unwrap_or_default()
        ),
        format!(
            "trace region and channel to the dumper of each PD: {}",
            added.traced.iter().map(|t| format!("{} {} (channel {})", t.region, t.pd, t.channel)).collect::<Vec<_>>().join(", ")
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
    fn the_demo_gets_a_region_per_pd_and_a_dumper_and_keeps_its_lines() {
        let text = repo_file("system.xml");
        let added = add(&text).unwrap();
        let names: Vec<_> = added.traced.iter().map(|t| (t.region, t.pd.as_str())).collect();
        assert_eq!(names, [(0, "client_a"), (1, "client_b"), (2, "crypt"), (3, "crypt_ipc"), (4, "checksum"), (5, "report")]);
        assert_eq!((added.dumper.as_str(), added.priority, added.console.as_deref()), ("tunnelkit_trace", 253, None));
        assert!(added.text.contains(
            "<protection_domain name=\"crypt\" priority=\"110\" passive=\"true\"><map mr=\"tunnelkit_trace_2\" vaddr=\"0x800000000\" perms=\"rw\" setvar_vaddr=\"tunnelkit_trace_vaddr\" setvar_size=\"tunnelkit_trace_size\" />\n"
        ));
        assert!(added.text.contains("<protection_domain name=\"tunnelkit_trace\" priority=\"253\" cpu=\"0\">"));
        // Each PD notifies the dumper on its highest free id (61 here); the dumper's end does not notify.
        assert!(added.text.contains(
            "<end pd=\"crypt\" id=\"61\" notify=\"true\" setvar_id=\"tunnelkit_trace_channel\" />\n        <end pd=\"tunnelkit_trace\" id=\"2\" notify=\"false\" />"
        ));
        assert!(added.traced.iter().all(|t| t.channel == 61));
        assert!(added.text.contains(
            "<map mr=\"tunnelkit_trace_0\" vaddr=\"0x1000000000\" perms=\"rw\" setvar_vaddr=\"tunnelkit_trace_region_0\" setvar_size=\"tunnelkit_trace_region_size\" />"
        ));
        assert!(
            added
                .text
                .contains("<map mr=\"tunnelkit_trace_5\" vaddr=\"0x1000500000\" perms=\"rw\" setvar_vaddr=\"tunnelkit_trace_region_5\" />")
        );
        // Every line keeps its number: the original lines are prefixes of the new ones.
        for (old, new) in text.lines().zip(added.text.lines()) {
            assert!(new.starts_with(old) || old.trim() == "</system>", "{old:?} became {new:?}");
        }
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Debug);
        valid(&added.text, Board::X86_64_GENERIC, KernelConfig::Debug);
        assert_eq!(
            describe(&added)[1],
            "trace region and channel to the dumper of each PD: 0 client_a (channel 61), 1 client_b (channel 61), 2 crypt (channel 61), \
             3 crypt_ipc (channel 61), 4 checksum (channel 61), 5 report (channel 61)"
        );
    }

    #[test]
    fn child_pds_are_traced_and_a_console_pod_is_printed_through_not_traced() {
        let added = add(&repo_file("tests/systems/containment.xml")).unwrap();
        assert_eq!(added.traced.len(), 11);
        assert!(added.traced.iter().any(|t| t.pd == "pod_c"));
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Debug);

        let demo = crate::console_pod::add(&repo_file("system.xml"), Board::QEMU_VIRT_AARCH64, KernelConfig::Release).unwrap();
        let added = add(&demo.text).unwrap();
        assert_eq!(added.traced.len(), 6, "the console pod is not traced");
        assert_eq!((added.priority, added.console.as_deref()), (253, Some("serial")));
        assert!(added.text.contains(
            "<end pd=\"tunnelkit_trace\" id=\"61\" pp=\"true\" notify=\"false\" setvar_id=\"tunnelkit_console_channel\" />\n        <end pd=\"serial\" id=\"6\" notify=\"false\" />"
        ), "{}", added.text);
        assert!(added.traced.iter().all(|t| t.channel == 60), "61 is the console channel: {:?}", added.traced);
        valid(&added.text, Board::QEMU_VIRT_AARCH64, KernelConfig::Release);
    }

    #[test]
    fn a_mapping_where_the_region_goes_is_an_error_at_its_position() {
        let text = "<system>\n  <memory_region name=\"m\" size=\"0x1000\" />\n  <protection_domain name=\"a\" priority=\"1\">\n    <program_image path=\"a.elf\" />\n    <map mr=\"m\" vaddr=\"0x800001000\" />\n  </protection_domain>\n</system>\n";
        let e = add(text).unwrap_err();
        assert_eq!((e[0].pos.line, e[0].pos.col), (5, 5), "{e:?}");
        assert!(e[0].message.contains("PD 'a' maps 'm' at 0x800001000, where tunnelkit maps its trace region"), "{e:?}");
        let pds: String = (0..MAX_PDS)
            .map(|k| format!("  <protection_domain name=\"p{k}\" priority=\"1\"><program_image path=\"p.elf\" /></protection_domain>\n"))
            .collect();
        let e = add(&format!("<system>\n{pds}</system>")).unwrap_err();
        assert!(e[0].message.contains("the system has 63 PDs, so the trace dumper would make 64"), "{e:?}");
        let irqs: String = (0..=MAX_ID).map(|id| format!("    <irq irq=\"{}\" id=\"{id}\" />\n", 100 + id)).collect();
        let text = format!(
            "<system>\n  <protection_domain name=\"full\" priority=\"100\">\n    <program_image path=\"f.elf\" />\n{irqs}  </protection_domain>\n</system>\n"
        );
        let e = add(&text).unwrap_err();
        assert_eq!((e[0].pos.line, e[0].pos.col), (2, 3), "{e:?}");
        assert!(
            e[0].message.contains("PD 'full' uses every channel id 0..61 (channels and IRQs), so it has none left for the trace dumper"),
            "{e:?}"
        );
    }
}
