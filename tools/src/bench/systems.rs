//! The benchmark systems, generated per board: one SDF for the crossing
//! costs and one per design of the crosstalk experiment. Generating them
//! keeps the three designs identical except for what the experiment varies:
//! whether the shared service is a passive pod, an active server, or an
//! active server behind async rings.

use std::fmt::Write as _;

use crate::board::{Arch, Board};

/// A design of the shared service in the crosstalk experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Design {
    /// Passive pods, one instance per path (same image, Expert-style: each
    /// path's thread has its own way into the pod's code): each path's calls
    /// run on that path's budget, and an expiring budget stalls only its path.
    Tunnel,
    /// One passive pod shared by every path: calls still run on the caller's
    /// budget, but one thread serves them all, so a caller whose budget
    /// expires inside the pod stalls the others until its refill.
    TunnelShared,
    /// An active server with its own budget, called by protected calls. Its
    /// budget is the CPU the per-path pods use in [`Design::Tunnel`] (the
    /// paths' budgets together: all of it), so that only who pays differs.
    Ipc,
    /// An active server with its own budget (as large as in [`Design::Ipc`]),
    /// fed through async rings.
    Async,
    /// [`Design::Ipc`] with half the CPU for the server (50 % while the
    /// paths reserve 100 %): capacity and who pays mixed.
    IpcHalf,
    /// [`Design::Async`] with half the CPU for the server.
    AsyncHalf,
}

impl Design {
    /// Every design, in report order.
    pub const ALL: [Design; 6] = [Design::Tunnel, Design::TunnelShared, Design::Ipc, Design::Async, Design::IpcHalf, Design::AsyncHalf];

    /// The name used in results.
    pub fn name(self) -> &'static str {
        match self {
            Design::Tunnel => "tunnel",
            Design::TunnelShared => "tunnel-shared",
            Design::Ipc => "ipc",
            Design::Async => "async",
            Design::IpcHalf => "ipc-half",
            Design::AsyncHalf => "async-half",
        }
    }

    /// The shared server's own budget in µs per [`SERVER_PERIOD_US`], if it
    /// has one (the pods run on their callers' budgets).
    pub fn server_budget_us(self) -> Option<u64> {
        match self {
            Design::Tunnel | Design::TunnelShared => None,
            Design::Ipc | Design::Async => Some(PATHS.iter().map(|p| p.budget_us * SERVER_PERIOD_US / p.period_us).sum()),
            Design::IpcHalf | Design::AsyncHalf => Some(SERVER_PERIOD_US / 2),
        }
    }

    /// Whether the service is reached through async rings.
    fn is_async(self) -> bool {
        matches!(self, Design::Async | Design::AsyncHalf)
    }
}

/// A path of the crosstalk experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathSpec {
    /// PD name.
    pub name: &'static str,
    /// Budget in µs.
    pub budget_us: u64,
    /// Period in µs.
    pub period_us: u64,
}

impl PathSpec {
    /// Budget / period.
    pub fn share(&self) -> f64 {
        self.budget_us as f64 / self.period_us as f64
    }
}

/// The three paths: 10 / 30 / 60 % of one 10 ms period.
pub const PATHS: [PathSpec; 3] = [
    PathSpec { name: "light", budget_us: 1_000, period_us: 10_000 },
    PathSpec { name: "medium", budget_us: 3_000, period_us: 10_000 },
    PathSpec { name: "heavy", budget_us: 6_000, period_us: 10_000 },
];
/// Period of the active shared server (IPC and async designs; its budget is
/// [`Design::server_budget_us`]).
pub const SERVER_PERIOD_US: u64 = 10_000;

/// Channel id every PD uses for the console pod.
const CONSOLE: u8 = 7;

/// A protection domain being described.
struct Pd {
    name: String,
    attrs: String,
    image: String,
    body: Vec<String>,
    next_vaddr: u64,
}

/// A system description under construction (also used by the multicore
/// systems, `super::smp_systems`).
pub(super) struct Sdf {
    board: Board,
    pub(super) regions: Vec<String>,
    pds: Vec<Pd>,
    channels: Vec<String>,
    serial_ids: u8,
}

impl Sdf {
    pub(super) fn new(board: Board) -> Self {
        let mut sdf = Sdf { board, regions: Vec::new(), pds: Vec::new(), channels: Vec::new(), serial_ids: 0 };
        sdf.pd("serial", "serial", r#"priority="254" passive="true""#);
        // The console pod's UART, as `tunnelkit run` adds it (one table
        // with the driver: `tunnelkit_abi::uart`).
        match (board.arch(), tunnelkit_abi::uart::for_board(board.name())) {
            (Arch::X86_64, _) => sdf.body("serial", r#"<ioport id="0" addr="0x3f8" size="8" setvar_addr="uart_port" />"#),
            (_, Some(uart)) => {
                sdf.regions.push(format!(r#"<memory_region name="uart" size="0x1000" phys_addr="{:#x}" />"#, uart.page()));
                sdf.body(
                    "serial",
                    r#"<map mr="uart" vaddr="0x20000000" perms="rw" cached="false" setvar_vaddr="uart_vaddr" setvar_size="uart_size" />"#,
                );
            }
            (_, None) => {}
        }
        sdf
    }

    pub(super) fn pd(&mut self, name: &str, image: &str, attrs: &str) {
        self.pds.push(Pd {
            name: name.into(),
            attrs: attrs.into(),
            image: format!("{image}.elf"),
            body: Vec::new(),
            next_vaddr: 0x1000_0000,
        });
    }

    fn find(&mut self, name: &str) -> &mut Pd {
        self.pds.iter_mut().find(|p| p.name == name).expect("PD declared before use")
    }

    pub(super) fn body(&mut self, pd: &str, line: &str) {
        self.find(pd).body.push(line.into());
    }

    /// Gives `pd` the console on channel [`CONSOLE`].
    pub(super) fn console(&mut self, pd: &str) {
        let id = self.serial_ids;
        self.serial_ids += 1;
        self.channels.push(format!(
            r#"<channel><end pd="{pd}" id="{CONSOLE}" pp="true" notify="false" setvar_id="tunnelkit_console_channel" /><end pd="serial" id="{id}" notify="false" /></channel>"#
        ));
    }

    /// A protected-call channel from `caller` to `callee`.
    pub(super) fn pp(&mut self, caller: &str, caller_id: u8, callee: &str, callee_id: u8) {
        self.channels.push(format!(
            r#"<channel><end pd="{caller}" id="{caller_id}" pp="true" notify="false" /><end pd="{callee}" id="{callee_id}" notify="false" /></channel>"#
        ));
    }

    /// A notification channel both ways.
    pub(super) fn notify(&mut self, a: &str, a_id: u8, b: &str, b_id: u8) {
        self.channels.push(format!(r#"<channel><end pd="{a}" id="{a_id}" /><end pd="{b}" id="{b_id}" /></channel>"#));
    }

    /// A region mapped into both PDs, announced through `<kind>` setvars of
    /// each end's channel id (`kind` is `lend` or `ring`).
    pub(super) fn share(&mut self, kind: &str, a: &str, a_id: u8, b: &str, b_id: u8, size: u64) {
        let mr = format!("{kind}_{a}_{b}");
        self.regions.push(format!(r#"<memory_region name="{mr}" size="{size:#x}" />"#));
        for (pd, id) in [(a, a_id), (b, b_id)] {
            let p = self.find(pd);
            let vaddr = p.next_vaddr;
            p.next_vaddr += size.next_multiple_of(0x1000);
            p.body.push(format!(
                r#"<map mr="{mr}" vaddr="{vaddr:#x}" perms="rw" setvar_vaddr="tunnel_{kind}_vaddr_{id}" setvar_size="tunnel_{kind}_size_{id}" />"#
            ));
        }
    }

    pub(super) fn xml(&self, comment: &str) -> String {
        let mut s = String::new();
        writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#).unwrap();
        writeln!(s, "<!-- Generated by `tunnelkit bench` for {}. {comment} -->", self.board.name()).unwrap();
        writeln!(s, "<system>").unwrap();
        for r in &self.regions {
            writeln!(s, "    {r}").unwrap();
        }
        for p in &self.pds {
            writeln!(s, r#"    <protection_domain name="{}" {}>"#, p.name, p.attrs).unwrap();
            writeln!(s, r#"        <program_image path="{}" />"#, p.image).unwrap();
            for b in &p.body {
                writeln!(s, "        {b}").unwrap();
            }
            writeln!(s, "    </protection_domain>").unwrap();
        }
        for c in &self.channels {
            writeln!(s, "    {c}").unwrap();
        }
        writeln!(s, "</system>").unwrap();
        s
    }
}

/// The crossing-cost system: a client, the raw floor server, the runtime's
/// event loop alone (`bench-loop`), the bench pod as a tunnel (with a nested
/// chain of two more pods), as an active IPC server and as an async server.
/// Budgets are 1 ms × `budget_scale` (the icount slow-down of a board whose
/// counter needs one, see [`super::run::icount_shift`]: the same
/// instructions per budget on every board).
pub fn crossings(board: Board, budget_scale: u64) -> String {
    let mut s = Sdf::new(board);
    let budget = 1000 * budget_scale;
    let active = format!(r#"priority="100" budget="{budget}" period="{budget}""#);
    s.pd("client", "bench-client", &format!(r#"priority="10" budget="{budget}" period="{budget}" stack_size="0x10000""#));
    s.pd("raw", "bench-raw", r#"priority="100" passive="true""#);
    s.pd("loop", "bench-loop", r#"priority="100" passive="true""#);
    s.pd("pod", "bench-pod", r#"priority="100" passive="true""#);
    s.pd("pod2", "bench-pod", r#"priority="110" passive="true""#);
    s.pd("pod3", "bench-pod", r#"priority="120" passive="true""#);
    s.pd("ipc", "bench-pod", &active);
    s.pd("async", "bench-pod", &active);
    for pd in ["client", "pod", "pod2", "pod3", "ipc", "async"] {
        s.console(pd);
    }
    s.pp("client", 1, "raw", 0);
    s.pp("client", 5, "loop", 0);
    s.pp("client", 2, "pod", 0);
    s.share("lend", "client", 2, "pod", 0, 0x1000);
    s.pp("pod", 5, "pod2", 0);
    s.pp("pod2", 5, "pod3", 0);
    s.pp("client", 3, "ipc", 0);
    s.share("lend", "client", 3, "ipc", 0, 0x1000);
    s.notify("client", 4, "async", 0);
    s.share("ring", "client", 4, "async", 0, 0x2000);
    s.share("lend", "client", 4, "async", 0, 0x1000);
    s.xml("Crossing costs: raw floor, tunnel, plain IPC, async; payloads, lending, nesting.")
}

/// The crosstalk system for `design`: three paths with 10 / 30 / 60 % budget
/// shares drive one shared `work` service.
pub fn crosstalk(board: Board, design: Design) -> String {
    let mut s = Sdf::new(board);
    s.regions.push(r#"<memory_region name="start" size="0x1000" />"#.into());
    s.pd("starter", "bench-start", r#"priority="60""#);
    s.body("starter", r#"<map mr="start" vaddr="0x30000000" perms="rw" setvar_vaddr="start_vaddr" setvar_size="start_size" />"#);
    for p in PATHS {
        s.pd(p.name, "bench-path", &format!(r#"priority="50" budget="{}" period="{}" stack_size="0x10000""#, p.budget_us, p.period_us));
    }
    let server = match design.server_budget_us() {
        None => r#"priority="100" passive="true""#.to_string(),
        Some(budget) => format!(r#"priority="100" budget="{budget}" period="{SERVER_PERIOD_US}""#),
    };
    let instances: Vec<String> = match design {
        Design::Tunnel => PATHS.iter().map(|p| format!("work_{}", p.name)).collect(),
        _ => vec!["work".to_string()],
    };
    for w in &instances {
        s.pd(w, "bench-pod", &server);
    }
    for (i, p) in PATHS.iter().enumerate() {
        s.console(p.name);
        s.body(p.name, r#"<map mr="start" vaddr="0x30000000" perms="r" setvar_vaddr="start_vaddr" setvar_size="start_size" />"#);
        let (work, id) = match design {
            Design::Tunnel => (instances[i].as_str(), 0),
            _ => ("work", i as u8),
        };
        if design.is_async() {
            s.notify(p.name, 1, work, id);
            s.share("ring", p.name, 1, work, id, 0x2000);
        } else {
            s.pp(p.name, 1, work, id);
        }
    }
    for w in &instances {
        s.console(w);
    }
    let note = match design.server_budget_us() {
        Some(budget) => format!(
            " Deliberately over-committed (the paths reserve 100 % and the server {} %), so `tunnelkit check` reports core-utilisation.",
            budget * 100 / SERVER_PERIOD_US
        ),
        None => String::new(),
    };
    s.xml(&format!("Crosstalk experiment, design: {}.{note}", design.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_systems_parse_and_name_every_image() {
        for board in Board::BUILT_IN {
            let mut texts = vec![crossings(board, 1 << crate::bench::run::icount_shift(board))];
            texts.extend(Design::ALL.map(|d| crosstalk(board, d)));
            for t in texts {
                let s = crate::sdf::System::from_text("gen.xml", &t).unwrap();
                assert!(s.images().any(|(_, i)| i.path == "serial.elf"));
                assert!(s.images().all(|(_, i)| i.path.starts_with("bench-") || i.path == "serial.elf"));
            }
        }
    }

    #[test]
    fn designs_differ_only_in_the_shared_service() {
        let tunnel = crosstalk(Board::QEMU_VIRT_AARCH64, Design::TunnelShared);
        let ipc = crosstalk(Board::QEMU_VIRT_AARCH64, Design::Ipc);
        let replicas = crosstalk(Board::QEMU_VIRT_AARCH64, Design::Tunnel);
        assert_eq!(replicas.matches(r#"program_image path="bench-pod.elf""#).count(), 3);
        assert!(tunnel.contains(r#"<protection_domain name="work" priority="100" passive="true">"#));
        assert!(ipc.contains(r#"<protection_domain name="work" priority="100" budget="10000" period="10000">"#));
        let half = crosstalk(Board::QEMU_VIRT_AARCH64, Design::IpcHalf);
        assert!(half.contains(r#"<protection_domain name="work" priority="100" budget="5000" period="10000">"#));
        let paths: u64 = PATHS.iter().map(|p| p.budget_us).sum();
        assert_eq!(Design::Ipc.server_budget_us(), Some(paths), "equal capacity: the server has what the paths have together");
        let strip = |t: &str| t.lines().filter(|l| !l.contains("name=\"work\"") && !l.contains("design:")).collect::<Vec<_>>().join("\n");
        assert_eq!(strip(&tunnel), strip(&ipc));
    }
}
