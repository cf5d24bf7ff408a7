//! `tunnelkit bench`: build the benchmark systems in the `benchmark` config,
//! boot each in QEMU under `-icount shift=0` (one counter cycle per
//! instruction, deterministic), twice, and turn the console lines into
//! [`Results`].

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::model::{Crossing, CrosstalkPath, Cycles, Latency, QemuInfo, Results, SplitPart};
use super::systems::{self, Design, PATHS};
use crate::board::{Board, KernelConfig, qemu_args};
use crate::build::{BuildRequest, build};
use crate::console::Judge;
use crate::progress::Step;
use crate::qemu;
use crate::sdk::Sdk;
use crate::workspace::Workspace;

/// QEMU flags added for benchmarks: one instruction per nanosecond of
/// virtual time, and idle time skipped instead of following the host clock
/// (`sleep=off`), so that every run executes exactly the same instructions.
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,sleep=off"];

/// The `-icount` shift at which one tick of `board`'s benchmark counter
/// is at most one instruction: 0 where the counter counts instructions
/// under icount (AArch64's `PMCCNTR_EL0`, the x86 TSC); for RISC-V, whose
/// PDs can read only the `time` CSR at the kernel's timer rate `f`, the
/// smallest with `2^shift` ns per instruction ≥ `1e9 / f` ns per tick (7 at
/// QEMU's 10 MHz: 128 ns per instruction, 100 ns per tick).
pub fn icount_shift(board: Board) -> u32 {
    match board.timer_hz() {
        Some(hz) if hz > 0 => {
            let tick_ns = 1_000_000_000u64.div_ceil(hz);
            tick_ns.next_power_of_two().trailing_zeros()
        }
        _ => 0,
    }
}

/// The `-icount` flags at `shift`: `2^shift` ns of virtual time per
/// instruction, idle time skipped.
pub fn icount_args(shift: u32) -> [String; 2] {
    ["-icount".into(), format!("shift={shift},sleep=off")]
}

/// Instructions per tick of `board`'s counter under `-icount shift=shift`,
/// as a fraction: 1 for a counter that counts instructions; on RISC-V the
/// tick's nanoseconds over the instruction's (100 / 128 at shift 7, 100 / 1
/// at shift 0).
pub fn instructions_per_tick(board: Board, shift: u32) -> (u64, u64) {
    match board.timer_hz() {
        Some(hz) if hz > 0 => (1_000_000_000 / hz, 1 << shift),
        _ => (1, 1),
    }
}

/// What the figures of `board` count, for the report (`None`: the cycle
/// counter, one per instruction under icount, as everywhere before).
pub fn counter_note(board: Board) -> Option<String> {
    let hz = board.timer_hz()?;
    let shift = icount_shift(board);
    let (n, d) = instructions_per_tick(board, shift);
    Some(format!(
        "PDs on {} can read only the `time` CSR ({} MHz), so the crossings boot under `-icount shift={shift}` ({d} ns per instruction, {n} ns per tick) with every budget {d} times longer (the same instructions per budget as at shift 0), and each figure is ticks × {n}/{d}: instructions, to within one tick ({:.2} instructions). The crosstalk systems boot at shift 0, so the light path's latency there counts in steps of {n} instructions.",
        board.name(),
        hz as f64 / 1e6,
        n as f64 / d as f64
    ))
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchRequest {
    /// The board.
    pub board: Board,
    /// Boots per system (2 checks instruction-exact repeatability).
    pub runs: u32,
    /// Timeout per boot.
    pub timeout: Duration,
    /// Only these systems (all when `None`).
    pub only: Option<Only>,
    /// Build every system with accounting (README "Accounting"), to
    /// measure what it costs.
    pub accounting: bool,
}

/// A part of the benchmark systems ([`BenchRequest::only`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Only {
    /// The crossings system.
    Crossings,
    /// The crosstalk systems.
    Crosstalk,
}

/// What a benchmark run produced.
#[derive(Clone, Debug)]
pub struct BenchOutcome {
    /// The parsed results (of the first run).
    pub results: Results,
    /// Per system booted more than once: whether every run printed identical
    /// measurement lines.
    pub repeatable: Vec<(String, bool)>,
}

struct BenchSystem {
    name: String,
    xml: String,
    judge: Judge,
    design: Option<Design>,
    /// Booted under icount (instruction-exact); otherwise on host time.
    icount: bool,
}

/// Whether budgets are enforced under `-icount` on `board`. On
/// `x86_64_generic` seL4 arms the TSC-deadline timer, which QEMU 7.2 does not
/// fire under icount, so budgets never expire: the crosstalk systems
/// (which depend on budgets) must run on host time there. On
/// `qemu_virt_riscv64` the kernel's timer is SBI's, on QEMU's virtual clock.
pub fn budgets_work_under_icount(board: Board) -> bool {
    matches!(board, Board::QEMU_VIRT_AARCH64 | Board::QEMU_VIRT_RISCV64)
}

/// Runs the benchmark systems and parses their output.
pub fn run(ws: &Workspace, sdk: &Sdk, req: &BenchRequest) -> Result<BenchOutcome> {
    let config = KernelConfig::Benchmark;
    let dir = ws.target_dir.join("tunnelkit").join("bench").join(req.board.name());
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bench_systems = Vec::new();
    let shift = icount_shift(req.board);
    bench_systems.push(BenchSystem {
        name: "crossings".into(),
        xml: systems::crossings(req.board, 1 << shift),
        judge: Judge::new("bench: crossings done"),
        design: None,
        icount: true,
    });
    for d in Design::ALL {
        bench_systems.push(BenchSystem {
            name: format!("crosstalk-{}", d.name()),
            xml: systems::crosstalk(req.board, d),
            judge: Judge::counting("bench crosstalk path=", PATHS.len()),
            design: Some(d),
            icount: budgets_work_under_icount(req.board),
        });
    }

    bench_systems.retain(|s| match req.only {
        None => true,
        Some(Only::Crossings) => s.design.is_none(),
        Some(Only::Crosstalk) => s.design.is_some(),
    });
    let kernel32 = sdk.qemu_kernel32(req.board, config)?;
    let mut results = Results {
        board: req.board.name().into(),
        config: config.name().into(),
        qemu: QemuInfo { version: qemu::version(req.board)?, flags: describe_flags(req.board) },
        counter: counter_note(req.board),
        crossings: Vec::new(),
        crosstalk: Vec::new(),
        light_path_latency: Vec::new(),
        user_mode: Vec::new(),
        split: Vec::new(),
    };
    let mut repeatable = Vec::new();
    for sys in bench_systems {
        let path = dir.join(format!("{}.xml", sys.name));
        fs::write(&path, &sys.xml).with_context(|| format!("writing {}", path.display()))?;
        let request = BuildRequest { system: path.clone(), board: req.board, config };
        let built = if req.accounting { crate::build::build_accounted_as_written(ws, sdk, &request)? } else { build(ws, sdk, &request)? };
        let mut runs: Vec<Vec<String>> = Vec::new();
        let boots = if sys.icount { req.runs } else { 1 };
        // The crossings at the board's shift, the crosstalk systems (whose
        // budgets must mean what they say) at 0.
        let sys_shift = if sys.design.is_none() { shift } else { 0 };
        let extra: Vec<String> = if sys.icount { icount_args(sys_shift).to_vec() } else { Vec::new() };
        for i in 0..boots {
            let clock = if sys.icount { "icount" } else { "host time" };
            let step = Step::start(format!("{} run {}/{} on {} ({clock})", sys.name, i + 1, boots, req.board.name()));
            let mut judge = sys.judge.clone();
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            let run = qemu::run(req.board, 1, &built.image, &kernel32, &extra, &mut judge, req.timeout, &mut std::io::sink())?;
            if let Err(e) = qemu::require_pass(&run, judge.pass_line(), req.timeout) {
                step.fail();
                return Err(e.context(format!("benchmark system {}", path.display())));
            }
            step.finish(&format!("{:.1}s", run.elapsed.as_secs_f64()));
            runs.push(run.console.into_iter().filter(|l| l.starts_with("bench ")).collect());
        }
        if runs.len() > 1 {
            repeatable.push((sys.name.clone(), runs.windows(2).all(|w| w[0] == w[1])));
        }
        let lines = &runs[0];
        let (n, d) = if sys.icount { instructions_per_tick(req.board, sys_shift) } else { (1, 1) };
        match sys.design {
            None => {
                results.crossings = parse_crossings(lines)?;
                results.user_mode = parse_user_mode(lines)?;
                results.split = parse_split(lines)?;
                for c in results.crossings.iter_mut().chain(results.user_mode.iter_mut()) {
                    c.cycles = c.cycles.scaled(n, d);
                }
                for p in &mut results.split {
                    p.cycles = p.cycles.scaled(n, d);
                    p.user = p.user.map(|u| u.scaled(n, d));
                }
            }
            Some(design) => {
                let (paths, light) = parse_crosstalk(design, lines)?;
                results.crosstalk.extend(paths);
                results.light_path_latency.extend(light.into_iter().map(|mut l| {
                    l.cycles = l.cycles.scaled(n, d);
                    l
                }));
            }
        }
    }
    Ok(BenchOutcome { results, repeatable })
}

/// The QEMU flags of a benchmark boot of the crossings, with the image
/// paths abstracted.
pub fn flags(board: Board) -> String {
    flags_at(board, icount_shift(board))
}

fn flags_at(board: Board, shift: u32) -> String {
    let mut args = qemu_args(board, Path::new("<image>"), Path::new("<sdk>/board/x86_64_generic/benchmark/elf/sel4_32.elf"), 1)
        .unwrap_or_else(|e| vec![e]);
    args.extend(icount_args(shift));
    args.join(" ")
}

/// The flags as reported: with `-icount` for everything that runs under it.
pub fn describe_flags(board: Board) -> String {
    let shift = icount_shift(board);
    if budgets_work_under_icount(board) && shift != 0 {
        format!("{} (crossings); {} (crosstalk)", flags(board), flags_at(board, 0))
    } else if budgets_work_under_icount(board) {
        flags(board)
    } else {
        let plain = qemu_args(board, Path::new("<image>"), Path::new("<sdk>/board/x86_64_generic/benchmark/elf/sel4_32.elf"), 1)
            .unwrap_or_else(|e| vec![e])
            .join(" ");
        format!("{} (crossings); {plain} ({}, budgets need the timer)", flags(board), super::report::HOST_TIME_CROSSTALK)
    }
}

/// `key=value` fields of a measurement line.
fn fields(line: &str) -> BTreeMap<&str, &str> {
    line.split_whitespace().filter_map(|f| f.split_once('=')).collect()
}

fn num(f: &BTreeMap<&str, &str>, key: &str, line: &str) -> Result<u64> {
    let v = f.get(key).with_context(|| format!("no {key}= in '{line}'"))?;
    v.parse().with_context(|| format!("{key}={v} is not a number in '{line}'"))
}

fn cycles(f: &BTreeMap<&str, &str>, line: &str) -> Result<Cycles> {
    Ok(Cycles { min: num(f, "min", line)?, median: num(f, "median", line)?, max: num(f, "max", line)? })
}

/// Parses `bench crossing …` lines.
pub fn parse_crossings(lines: &[String]) -> Result<Vec<Crossing>> {
    let mut out = Vec::new();
    for line in lines.iter().filter(|l| l.starts_with("bench crossing ")) {
        let f = fields(line);
        out.push(Crossing {
            transport: f.get("transport").with_context(|| format!("no transport= in '{line}'"))?.to_string(),
            payload_bytes: num(&f, "payload_bytes", line)?,
            lent_bytes: num(&f, "lent_bytes", line)?,
            depth: num(&f, "depth", line)? as u32,
            batch: f.get("batch").map(|b| b.parse()).transpose().with_context(|| format!("bad batch= in '{line}'"))?.unwrap_or(1),
            iterations: num(&f, "iterations", line)?,
            cycles: cycles(&f, line)?,
        });
    }
    if out.is_empty() {
        bail!("the crossings system printed no measurements");
    }
    Ok(out)
}

/// Parses `bench user …` lines (user-mode-only null crossings; AArch64).
pub fn parse_user_mode(lines: &[String]) -> Result<Vec<Crossing>> {
    let user: Vec<String> = lines.iter().filter_map(|l| l.strip_prefix("bench user ")).map(|l| format!("bench crossing {l}")).collect();
    if user.is_empty() { Ok(Vec::new()) } else { parse_crossings(&user) }
}

/// Parses `bench split …` and `bench split-user …` lines (the crossing split).
pub fn parse_split(lines: &[String]) -> Result<Vec<SplitPart>> {
    let mut parts: Vec<SplitPart> = Vec::new();
    for line in lines.iter().filter(|l| l.starts_with("bench split part=")) {
        let f = fields(line);
        let part = f.get("part").with_context(|| format!("no part= in '{line}'"))?.to_string();
        parts.push(SplitPart { part, cycles: cycles(&f, line)?, user: None });
    }
    for line in lines.iter().filter(|l| l.starts_with("bench split-user part=")) {
        let f = fields(line);
        let part = f.get("part").with_context(|| format!("no part= in '{line}'"))?;
        let p =
            parts.iter_mut().find(|p| p.part == *part).with_context(|| format!("user-mode split of '{part}' without its cycles line"))?;
        p.user = Some(cycles(&f, line)?);
    }
    Ok(parts)
}

/// Parses `bench crosstalk …` lines of one design.
pub fn parse_crosstalk(design: Design, lines: &[String]) -> Result<(Vec<CrosstalkPath>, Vec<Latency>)> {
    let mut paths = Vec::new();
    let mut light = Vec::new();
    for spec in PATHS {
        let prefix = format!("bench crosstalk path={} ", spec.name);
        let line = lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .with_context(|| format!("{}: no result from path {}", design.name(), spec.name))?;
        let f = fields(line);
        let window = num(&f, "window", line)?;
        let work = num(&f, "work_cycles", line)?;
        let completed = num(&f, "completed", line)?;
        paths.push(CrosstalkPath {
            design: design.name().into(),
            path: spec.name.into(),
            configured_share: spec.share(),
            // CPU the service spent on this path's work: calls × the cost of
            // one uninterrupted call, over the window.
            achieved_share: if window == 0 { 0.0 } else { (completed * work) as f64 / window as f64 },
            completed,
            server_share: design.server_budget_us().map(|b| b as f64 / systems::SERVER_PERIOD_US as f64),
        });
        if spec.name == PATHS[0].name {
            light.push(Latency { design: design.name().into(), cycles: cycles(&f, line)? });
        }
    }
    Ok((paths, light))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_measurement_lines() {
        let lines: Vec<String> = [
            "bench crossing transport=raw payload_bytes=0 lent_bytes=0 depth=1 iterations=1000 min=700 median=710 max=900",
            "bench crossing transport=tunnel payload_bytes=512 lent_bytes=0 depth=1 iterations=1000 min=800 median=810 max=990",
        ]
        .map(String::from)
        .to_vec();
        let c = parse_crossings(&lines).unwrap();
        assert_eq!(c[1].transport, "tunnel");
        assert_eq!(c[1].payload_bytes, 512);
        assert_eq!(c[1].cycles, Cycles { min: 800, median: 810, max: 990 });

        let lines: Vec<String> = ["light", "medium", "heavy"]
            .iter()
            .map(|p| format!("bench crosstalk path={p} completed=10 work_cycles=25 window=1000 samples=10 min=1 median=2 max=3"))
            .collect();
        let (paths, light) = parse_crosstalk(Design::Ipc, &lines).unwrap();
        assert_eq!(paths.len(), 3);
        assert!((paths[0].achieved_share - 0.25).abs() < 1e-9);
        assert!((paths[2].configured_share - 0.6).abs() < 1e-9);
        assert_eq!(light[0].cycles.median, 2);
    }

    #[test]
    fn riscv_counts_in_instructions_at_a_shift_that_resolves_them() {
        assert_eq!(icount_shift(Board::QEMU_VIRT_AARCH64), 0);
        assert_eq!(icount_shift(Board::X86_64_GENERIC), 0);
        assert_eq!(icount_shift(Board::QEMU_VIRT_RISCV64), 7);
        assert_eq!(instructions_per_tick(Board::QEMU_VIRT_RISCV64, 7), (100, 128));
        assert_eq!(instructions_per_tick(Board::QEMU_VIRT_AARCH64, 0), (1, 1));
        assert_eq!(Cycles { min: 1280, median: 1281, max: 12800 }.scaled(100, 128), Cycles { min: 1000, median: 1001, max: 10000 });
        let f = describe_flags(Board::QEMU_VIRT_RISCV64);
        assert!(f.contains("shift=7,sleep=off (crossings)") && f.contains("shift=0,sleep=off (crosstalk)"), "{f}");
        assert!(counter_note(Board::QEMU_VIRT_AARCH64).is_none());
    }

    #[test]
    fn missing_paths_and_garbage_are_errors() {
        assert!(parse_crossings(&[]).is_err());
        assert!(parse_crosstalk(Design::Tunnel, &["bench crosstalk path=light completed=x".into()]).is_err());
    }
}
