//! The multicore benchmark systems (`tunnelkit bench --config
//! smp-benchmark`), generated per board like [`super::systems`]:
//!
//! - **migration**: one passive pod (`cross_core="allow"`) called by `mig0`
//!   on core 0 and `mig1` on core 1 in strict alternation (handover by
//!   notification, so the two cores never call it at once and seL4 16's
//!   cross-core pod hang cannot strike), plus one own pod per caller as a
//!   control;
//! - **crosstalk** on two cores: the three paths of the single-core
//!   experiment (same budgets) with `light` on core 0 and `medium`, `heavy`
//!   on core 1, by design: per-core pods (`per_core="true"`), one shared
//!   active server, one shared async server (both on core 2);
//! - **throughput**: workers on cores 0..3, driven in phases by a
//!   conductor, through per-core pods, one shared active server (core 0) or
//!   one async server (core 0).
//!
//! Only PDs of core 0 call the console pod (a passive pod reached from two
//! cores is the very thing the kernel can hang on): the others post their
//! lines to a reporter on core 0.

use super::systems::{Design, PATHS, SERVER_PERIOD_US, Sdf};
use crate::board::Board;

/// Budget of the shared active server of the two-core crosstalk experiment:
/// the CPU the per-core pods use (the paths' budgets together), as in the
/// single-core experiment's equal-capacity designs.
pub fn crosstalk_server_budget_us() -> u64 {
    Design::Ipc.server_budget_us().expect("an active server has a budget")
}

/// A design of the shared service in the multicore experiments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpDesign {
    /// Passive pods declared once with `per_core="true"`: one instance per
    /// caller core, each running on its caller's budget and core.
    Tunnel,
    /// One shared active server with its own budget, called by protected calls.
    Ipc,
    /// One shared active server with its own budget, fed through async rings.
    Async,
}

impl SmpDesign {
    /// Every design, in report order (the throughput conductor's order too).
    pub const ALL: [SmpDesign; 3] = [SmpDesign::Tunnel, SmpDesign::Ipc, SmpDesign::Async];

    /// The name used in results.
    pub fn name(self) -> &'static str {
        match self {
            SmpDesign::Tunnel => "tunnel",
            SmpDesign::Ipc => "ipc",
            SmpDesign::Async => "async",
        }
    }

    /// What the design is, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            SmpDesign::Tunnel => "per-core pods (one `per_core` pod, an instance on each caller's core)",
            SmpDesign::Ipc => "one shared active server (plain IPC)",
            SmpDesign::Async => "one shared active server behind async rings",
        }
    }
}

/// The core each crosstalk path runs on (by [`PATHS`] order).
pub const CROSSTALK_CORES: [u64; 3] = [0, 1, 1];
/// The core of the shared server in the two-core crosstalk experiment (a
/// core of its own, as in the single-core experiment it has its own budget).
pub const CROSSTALK_SERVER_CORE: u64 = 2;
/// Workers of the throughput experiment (worker k on core k): N = 1 ..= this.
pub const WORKERS: u64 = 4;
/// Budget = period of each throughput worker (a full core, and a timer
/// interrupt per 100 ms instead of per 1 ms: every kernel entry takes the
/// multicore kernel's one lock, which a vCPU the host has descheduled can
/// hold up for every other core).
pub const WORKER_BUDGET_US: u64 = 100_000;
/// The core of the shared server (IPC and async) in the throughput experiment.
pub const THROUGHPUT_SERVER_CORE: u64 = 0;

const PER_CORE: &str = r#"<?tunnelkit per_core="true"?>"#;
const CROSS_CORE: &str = r#"<?tunnelkit cross_core="allow"?>"#;

/// Maps region `mr` into `pd` at `vaddr` with the setvars `<var>_vaddr` / `<var>_size`.
fn map(s: &mut Sdf, pd: &str, mr: &str, vaddr: u64, perms: &str, var: &str) {
    s.body(pd, &format!(r#"<map mr="{mr}" vaddr="{vaddr:#x}" perms="{perms}" setvar_vaddr="{var}_vaddr" setvar_size="{var}_size" />"#));
}

/// The migration system.
pub fn migration(board: Board) -> String {
    let mut s = Sdf::new(board);
    s.regions.push(r#"<memory_region name="samples" size="0x4000" />"#.into());
    for k in 0..2 {
        let mig = format!("mig{k}");
        s.pd(&mig, "bench-migrate", &format!(r#"priority="50" cpu="{k}" stack_size="0x20000""#));
        map(&mut s, &mig, "samples", 0x3000_0000, "rw", "samples");
    }
    s.pd("pod", "bench-pod", r#"priority="100" passive="true""#);
    s.body("pod", CROSS_CORE);
    for k in 0..2 {
        s.pd(&format!("own{k}"), "bench-pod", &format!(r#"priority="100" passive="true" cpu="{k}""#));
    }
    s.console("mig0");
    s.pp("mig0", 1, "pod", 0);
    s.pp("mig1", 1, "pod", 1);
    s.pp("mig0", 2, "own0", 0);
    s.pp("mig1", 2, "own1", 0);
    s.notify("mig0", 3, "mig1", 3);
    s.xml(
        "Migration: one pod called from cores 0 and 1 in strict alternation (never at once: cross_core=\"allow\" is safe here), \
         and one own pod per caller as the control.",
    )
}

/// The two-core crosstalk system for `design`.
pub fn crosstalk(board: Board, design: SmpDesign) -> String {
    let mut s = Sdf::new(board);
    s.regions.push(r#"<memory_region name="barrier" size="0x1000" />"#.into());
    for core in 0..2 {
        s.regions.push(format!(r#"<memory_region name="start{core}" size="0x1000" />"#));
        let starter = format!("starter{core}");
        s.pd(&starter, "bench-smp-start", &format!(r#"priority="60" cpu="{core}""#));
        map(&mut s, &starter, "barrier", 0x3000_0000, "rw", "barrier");
        map(&mut s, &starter, &format!("start{core}"), 0x3000_1000, "rw", "start");
    }
    for (p, core) in PATHS.iter().zip(CROSSTALK_CORES) {
        s.pd(
            p.name,
            "bench-smp-path",
            &format!(r#"priority="50" budget="{}" period="{}" cpu="{core}" stack_size="0x10000""#, p.budget_us, p.period_us),
        );
        map(&mut s, p.name, &format!("start{core}"), 0x3000_0000, "r", "start");
    }
    match design {
        SmpDesign::Tunnel => {
            s.pd("work", "bench-pod", r#"priority="100" passive="true""#);
            s.body("work", PER_CORE);
        }
        SmpDesign::Ipc | SmpDesign::Async => s.pd(
            "work",
            "bench-pod",
            &format!(
                r#"priority="100" budget="{}" period="{SERVER_PERIOD_US}" cpu="{CROSSTALK_SERVER_CORE}""#,
                crosstalk_server_budget_us()
            ),
        ),
    }
    s.pd("report", "bench-smp-report", r#"priority="1" cpu="0""#);
    s.console("report");
    for (i, p) in PATHS.iter().enumerate() {
        let id = i as u8;
        match design {
            SmpDesign::Tunnel | SmpDesign::Ipc => s.pp(p.name, 1, "work", id),
            SmpDesign::Async => {
                s.notify(p.name, 1, "work", id);
                s.share("ring", p.name, 1, "work", id, 0x2000);
            }
        }
        s.notify(p.name, 2, "report", id);
        s.share("lend", p.name, 2, "report", id, 0x1000);
    }
    let place = match design {
        SmpDesign::Tunnel => "per-core pods".to_string(),
        _ => format!("the shared server on core {CROSSTALK_SERVER_CORE}"),
    };
    s.xml(&format!("Two-core crosstalk, design: {} (light on core 0, medium and heavy on core 1, {place}).", design.name()))
}

/// The throughput system: every design, N = 1 ..= [`WORKERS`], in phases.
pub fn throughput(board: Board) -> String {
    let mut s = Sdf::new(board);
    s.regions.push(r#"<memory_region name="ctl" size="0x1000" />"#.into());
    s.pd("conductor", "bench-smp-conduct", r#"priority="40" cpu="0""#);
    map(&mut s, "conductor", "ctl", 0x3000_0000, "rw", "ctl");
    s.console("conductor");
    for k in 0..WORKERS {
        let w = format!("worker{k}");
        s.pd(
            &w,
            "bench-smp-worker",
            &format!(r#"priority="50" budget="{WORKER_BUDGET_US}" period="{WORKER_BUDGET_US}" cpu="{k}" stack_size="0x10000""#),
        );
        map(&mut s, &w, "ctl", 0x3000_0000, "rw", "ctl");
    }
    s.pd("work", "bench-pod", r#"priority="100" passive="true""#);
    s.body("work", PER_CORE);
    let server = format!(r#"priority="100" cpu="{THROUGHPUT_SERVER_CORE}""#);
    s.pd("ipc", "bench-pod", &server);
    s.pd("async", "bench-pod", &server);
    for k in 0..WORKERS {
        let w = format!("worker{k}");
        let id = k as u8;
        s.notify("conductor", id, &w, 0);
        s.pp(&w, 1, "work", id);
        s.pp(&w, 2, "ipc", id);
        s.notify(&w, 3, "async", id);
        s.share("ring", &w, 3, "async", id, 0x2000);
    }
    s.xml(&format!(
        "Throughput scaling: worker k on core k (k < {WORKERS}) calls work through per-core pods, one shared active server or \
         one async server (both on core {THROUGHPUT_SERVER_CORE}); a conductor runs N = 1..{WORKERS} per design."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::KernelConfig;
    use crate::check::Target;

    fn check(name: &str, text: &str, board: Board) -> crate::check::Report {
        let dir = std::env::temp_dir().join(format!("tunnelkit-smp-systems-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.xml"));
        std::fs::write(&path, text).unwrap();
        let report =
            crate::check::check_file_with(&path, None, Target { board: Some(board), config: Some(KernelConfig::SmpBenchmark) }, None);
        let _ = std::fs::remove_dir_all(&dir);
        report
    }

    fn all(board: Board) -> Vec<(String, String)> {
        let mut v = vec![("migration".to_string(), migration(board)), ("throughput".to_string(), throughput(board))];
        v.extend(SmpDesign::ALL.map(|d| (format!("crosstalk-{}", d.name()), crosstalk(board, d))));
        v
    }

    #[test]
    fn generated_systems_are_valid_for_smp_benchmark() {
        for board in Board::BUILT_IN {
            for (name, text) in all(board) {
                let report = check(&name, &text, board);
                let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
                assert!(errors.is_empty(), "{name} on {}: {errors:?}\n{text}", board.name());
                let s = crate::sdf::System::from_text("gen.xml", &text).unwrap();
                assert!(s.images().all(|(_, i)| i.path.starts_with("bench-") || i.path == "serial.elf"));
            }
        }
    }

    #[test]
    fn only_core_0_prints_and_per_core_pods_expand() {
        for (name, text) in all(Board::QEMU_VIRT_AARCH64) {
            // Every PD with a console channel is on core 0 (the default).
            let doc = roxmltree::Document::parse(&text).unwrap();
            let cpu_of = |pd: &str| {
                doc.descendants()
                    .find(|n| n.has_tag_name("protection_domain") && n.attribute("name") == Some(pd))
                    .and_then(|n| n.attribute("cpu"))
                    .unwrap_or("0")
                    .to_string()
            };
            for ch in doc.descendants().filter(|n| n.has_tag_name("channel")) {
                let ends: Vec<_> = ch.children().filter(|n| n.has_tag_name("end")).collect();
                if ends[1].attribute("pd") == Some("serial") {
                    assert_eq!(cpu_of(ends[0].attribute("pd").unwrap()), "0", "{name}");
                }
            }
            if name == "throughput" || name == "crosstalk-tunnel" {
                let e = crate::percore::expand(&text).unwrap().expect("per-core pods");
                let cores = if name == "throughput" { WORKERS as usize } else { 2 };
                assert_eq!(e.pods[0].instances.len(), cores, "{name}");
            }
        }
        assert!(migration(Board::X86_64_GENERIC).contains(CROSS_CORE));
    }
}
