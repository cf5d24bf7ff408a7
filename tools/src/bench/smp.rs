//! `tunnelkit bench --config smp-benchmark`: the multicore measurements.
//!
//! Builds the systems of [`super::smp_systems`] in the `smp-benchmark`
//! config and boots each `runs` times in QEMU with `-smp` (multi-threaded
//! TCG, which has no `-icount`: every figure is on host time and varies with
//! the host's load). The runs are interleaved (run 1 of every system, then
//! run 2, …) so that a burst of host load spreads over the systems. Each
//! boot yields per-run figures; the results are their median and spread
//! (min–max) over the runs, and ratios computed within a run (where the
//! host's speed at that moment cancels out).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::model::{Cycles, QemuInfo};
use super::smp_systems::{self, CROSSTALK_CORES, SmpDesign, WORKERS};
use super::systems::PATHS;
use crate::board::{Board, KernelConfig, qemu_args, qemu_cores};
use crate::build::{BuildRequest, build};
use crate::console::Judge;
use crate::progress::Step;
use crate::qemu;
use crate::sdk::Sdk;
use crate::workspace::Workspace;

/// Default boots per system.
pub const DEFAULT_RUNS: u32 = 5;
/// Boots of one run of one system before giving up.
pub const MAX_ATTEMPTS: u32 = 2;
/// Default time allowed per boot.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// Everything one `tunnelkit bench --config smp-benchmark` measured: `smp.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmpResults {
    /// Board name.
    pub board: String,
    /// Kernel configuration (`smp-benchmark`).
    pub config: String,
    /// QEMU version and the exact flags (with `-smp`).
    pub qemu: QemuInfo,
    /// Cores QEMU gave the guest (`-smp`).
    pub cores: u32,
    /// Cores of the host that ran QEMU (what its vCPU threads share).
    pub host_cores: usize,
    /// Boots per system.
    pub runs: u32,
    /// What the cycle counter counts on this board under MTTCG.
    pub counter: String,
    /// Wall-clock seconds per boot, per system.
    pub boot_seconds: Vec<BootTime>,
    /// The migration experiment (rows per core and pooled).
    pub migration: Vec<MigrationRow>,
    /// Per-run ratios of the migration experiment (pooled over both cores).
    pub migration_ratios: Vec<MigrationRatio>,
    /// The two-core crosstalk experiment, per design and path.
    pub crosstalk: Vec<SmpCrosstalkPath>,
    /// The light path's latency per design in the two-core crosstalk experiment.
    pub light_path_latency: Vec<SmpLatency>,
    /// Throughput per design and number of cores.
    pub throughput: Vec<Throughput>,
    /// Work loop rounds per `work` call in the throughput experiment.
    #[serde(default)]
    pub throughput_units: u64,
    /// Boots that failed and were repeated (system, run, why).
    #[serde(default)]
    pub retried: Vec<String>,
    /// The host's load averages (`/proc/loadavg`: 1, 5, 15 minutes) before
    /// the first boot and after the last: other work on the host slows the
    /// virtual CPUs down, and the figures with them.
    #[serde(default)]
    pub host_load: Vec<String>,
}

/// Median and spread of one figure over the runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median over the runs (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (NaN-free); `None` if empty.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1] })
    }
}

/// Wall-clock time of the boots of one system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootTime {
    /// System name.
    pub system: String,
    /// Seconds per boot.
    pub seconds: Spread,
}

/// One kind of call of the migration experiment, on one core or pooled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MigrationRow {
    /// `0`, `1` (the caller's core) or `all` (both pooled).
    pub core: String,
    /// `same` (shared pod, previous call from the same core), `first`
    /// (shared pod, first call after the other core called it: the pod
    /// migrates) or `wake` (the caller's own pod, first call after the
    /// handover: the control).
    pub kind: String,
    /// Samples per run.
    pub samples: u64,
    /// The per-run medians (round-trip counter cycles), over the runs.
    pub median: Spread,
    /// Each run's min / median / max.
    pub per_run: Vec<Cycles>,
}

/// A ratio of the migration experiment, computed per run from the pooled medians.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MigrationRatio {
    /// `first/same` (the cost of migrating, the result), `wake/same` (the
    /// control) or `first/wake` (migrating against a cold call that does not migrate).
    pub ratio: String,
    /// Over the runs.
    pub value: Spread,
}

/// One path of one design in the two-core crosstalk experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmpCrosstalkPath {
    /// `tunnel`, `ipc` or `async`.
    pub design: String,
    /// `light`, `medium` or `heavy`.
    pub path: String,
    /// The core the path runs on.
    pub core: u64,
    /// Budget / period.
    pub configured_share: f64,
    /// Service CPU spent on the path's work over the window (fraction of one CPU), over the runs.
    pub achieved_share: Spread,
    /// Work calls completed in the window, over the runs.
    pub completed: Spread,
}

/// The light path's latency in one design of the two-core crosstalk experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmpLatency {
    /// `tunnel`, `ipc` or `async`.
    pub design: String,
    /// The per-run median latency (cycles per work call), over the runs.
    pub median: Spread,
    /// The per-run largest latency, over the runs.
    pub max: Spread,
    /// Per run: this design's median over the tunnel design's median of the same run index.
    pub vs_tunnel: Option<Spread>,
}

/// Throughput of one design with N workers on N cores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// `tunnel` (per-core pods), `ipc` (one shared active server) or `async`.
    pub design: String,
    /// Workers (and cores) calling at once.
    pub n: u32,
    /// Aggregate `work` calls per 10^6 counter cycles (sum over the workers of calls / window), over the runs.
    pub calls_per_mcycle: Spread,
    /// Per run: throughput(N) / throughput(1) of the same design.
    pub scaling: Spread,
    /// Per run: this design's throughput over the shared active server's at the same N.
    pub vs_ipc: Option<Spread>,
    /// Each run's aggregate calls per 10^6 cycles.
    pub per_run: Vec<f64>,
    /// Smallest uninterrupted `work` call seen (cycles), over all runs.
    pub work_cycles: u64,
}

// ---------------------------------------------------------------------------
// Parsing the console lines of one boot.

/// `key=value` fields of a measurement line.
fn fields(line: &str) -> BTreeMap<&str, &str> {
    line.split_whitespace().filter_map(|f| f.split_once('=')).collect()
}

fn text<'a>(f: &BTreeMap<&str, &'a str>, key: &str, line: &str) -> Result<&'a str> {
    f.get(key).copied().with_context(|| format!("no {key}= in '{line}'"))
}

fn num(f: &BTreeMap<&str, &str>, key: &str, line: &str) -> Result<u64> {
    let v = text(f, key, line)?;
    v.parse().with_context(|| format!("{key}={v} is not a number in '{line}'"))
}

fn cycles(f: &BTreeMap<&str, &str>, line: &str) -> Result<Cycles> {
    Ok(Cycles { min: num(f, "min", line)?, median: num(f, "median", line)?, max: num(f, "max", line)? })
}

/// One `bench migrate …` line.
#[derive(Clone, Debug, PartialEq)]
pub struct MigrationLine {
    /// `0`, `1` or `all`.
    pub core: String,
    /// `wake`, `first` or `same`.
    pub kind: String,
    /// Samples.
    pub samples: u64,
    /// Round-trip cycles.
    pub cycles: Cycles,
}

/// Parses the `bench migrate …` lines of one boot; every kind must be there pooled.
pub fn parse_migration(lines: &[String]) -> Result<Vec<MigrationLine>> {
    let mut out = Vec::new();
    for line in lines.iter().filter(|l| l.starts_with("bench migrate ")) {
        let f = fields(line);
        out.push(MigrationLine {
            core: text(&f, "core", line)?.to_string(),
            kind: text(&f, "kind", line)?.to_string(),
            samples: num(&f, "samples", line)?,
            cycles: cycles(&f, line)?,
        });
    }
    for kind in ["wake", "first", "same"] {
        if !out.iter().any(|m| m.core == "all" && m.kind == kind) {
            bail!("the migration system printed no pooled '{kind}' measurement");
        }
    }
    Ok(out)
}

/// One path's `bench crosstalk …` line.
#[derive(Clone, Debug, PartialEq)]
pub struct CrosstalkLine {
    /// Path name.
    pub path: String,
    /// Work calls completed in the window.
    pub completed: u64,
    /// The smallest time one work call took the service.
    pub work_cycles: u64,
    /// The window (cycles).
    pub window: u64,
    /// Call latency.
    pub latency: Cycles,
}

impl CrosstalkLine {
    /// Service CPU spent on this path's work over the window.
    pub fn achieved_share(&self) -> f64 {
        if self.window == 0 { f64::NAN } else { (self.completed as f64 * self.work_cycles as f64) / self.window as f64 }
    }
}

/// Parses the crosstalk lines of one boot: one per path of [`PATHS`], in that order.
pub fn parse_crosstalk(lines: &[String]) -> Result<Vec<CrosstalkLine>> {
    PATHS
        .iter()
        .map(|spec| {
            let prefix = format!("bench crosstalk path={} ", spec.name);
            let line = lines.iter().find(|l| l.starts_with(&prefix)).with_context(|| format!("no result from path {}", spec.name))?;
            let f = fields(line);
            Ok(CrosstalkLine {
                path: spec.name.to_string(),
                completed: num(&f, "completed", line)?,
                work_cycles: num(&f, "work_cycles", line)?,
                window: num(&f, "window", line)?,
                latency: cycles(&f, line)?,
            })
        })
        .collect()
}

/// One worker's `bench throughput …` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThroughputLine {
    /// Design name.
    pub design: String,
    /// Workers in the phase.
    pub n: u32,
    /// This worker.
    pub worker: u32,
    /// Work loop rounds per call.
    pub units: u64,
    /// Calls completed in its window.
    pub completed: u64,
    /// Its window (cycles of its core's counter).
    pub window: u64,
    /// Smallest work call.
    pub work_cycles: u64,
}

/// Parses the `bench throughput …` lines of one boot; every phase must have
/// a line from each of its workers.
pub fn parse_throughput(lines: &[String]) -> Result<Vec<ThroughputLine>> {
    let mut out = Vec::new();
    for line in lines.iter().filter(|l| l.starts_with("bench throughput ")) {
        let f = fields(line);
        out.push(ThroughputLine {
            design: text(&f, "design", line)?.to_string(),
            n: u32::try_from(num(&f, "n", line)?).context("n")?,
            worker: u32::try_from(num(&f, "worker", line)?).context("worker")?,
            units: num(&f, "units", line)?,
            completed: num(&f, "completed", line)?,
            window: num(&f, "window", line)?,
            work_cycles: num(&f, "work_cycles", line)?,
        });
    }
    for d in SmpDesign::ALL {
        for n in 1..=WORKERS as u32 {
            let got = out.iter().filter(|t| t.design == d.name() && t.n == n).count();
            if got != n as usize {
                bail!("throughput: design {} with {n} workers printed {got} worker lines", d.name());
            }
        }
    }
    Ok(out)
}

/// Aggregate calls per 10^6 cycles of one phase: the sum over its workers.
pub fn phase_rate(lines: &[ThroughputLine], design: &str, n: u32) -> Option<f64> {
    let phase: Vec<_> = lines.iter().filter(|t| t.design == design && t.n == n).collect();
    if phase.is_empty() || phase.iter().any(|t| t.window == 0) {
        return None;
    }
    Some(phase.iter().map(|t| t.completed as f64 * 1e6 / t.window as f64).sum())
}

// ---------------------------------------------------------------------------
// From runs to results.

/// What each boot printed, per experiment, one entry per run.
#[derive(Clone, Debug, Default)]
pub struct Runs {
    /// Migration boots.
    pub migration: Vec<Vec<MigrationLine>>,
    /// Crosstalk boots per design name.
    pub crosstalk: BTreeMap<String, Vec<Vec<CrosstalkLine>>>,
    /// Throughput boots.
    pub throughput: Vec<Vec<ThroughputLine>>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { f64::NAN } else { a as f64 / b as f64 }
}

/// Fills the measurement fields of `results` from the runs.
pub fn aggregate(results: &mut SmpResults, runs: &Runs) {
    // Migration.
    results.migration.clear();
    results.migration_ratios.clear();
    for core in ["0", "1", "all"] {
        for kind in ["same", "first", "wake"] {
            let per_run: Vec<&MigrationLine> =
                runs.migration.iter().filter_map(|r| r.iter().find(|m| m.core == core && m.kind == kind)).collect();
            let medians: Vec<f64> = per_run.iter().map(|m| m.cycles.median as f64).collect();
            if let Some(median) = Spread::of(&medians) {
                results.migration.push(MigrationRow {
                    core: core.into(),
                    kind: kind.into(),
                    samples: per_run[0].samples,
                    median,
                    per_run: per_run.iter().map(|m| m.cycles).collect(),
                });
            }
        }
    }
    let pooled = |r: &[MigrationLine], kind: &str| r.iter().find(|m| m.core == "all" && m.kind == kind).map(|m| m.cycles.median);
    for (name, kind, base) in [("first/same", "first", "same"), ("wake/same", "wake", "same"), ("first/wake", "first", "wake")] {
        let values: Vec<f64> = runs.migration.iter().filter_map(|r| Some(ratio(pooled(r, kind)?, pooled(r, base)?))).collect();
        if let Some(value) = Spread::of(&values) {
            results.migration_ratios.push(MigrationRatio { ratio: name.into(), value });
        }
    }

    // Crosstalk.
    results.crosstalk.clear();
    results.light_path_latency.clear();
    let tunnel = runs.crosstalk.get(SmpDesign::Tunnel.name());
    for d in SmpDesign::ALL {
        let Some(boots) = runs.crosstalk.get(d.name()) else { continue };
        for (i, (spec, core)) in PATHS.iter().zip(CROSSTALK_CORES).enumerate() {
            let shares: Vec<f64> = boots.iter().filter_map(|b| b.get(i)).map(CrosstalkLine::achieved_share).collect();
            let completed: Vec<f64> = boots.iter().filter_map(|b| b.get(i)).map(|l| l.completed as f64).collect();
            if let (Some(achieved_share), Some(completed)) = (Spread::of(&shares), Spread::of(&completed)) {
                results.crosstalk.push(SmpCrosstalkPath {
                    design: d.name().into(),
                    path: spec.name.into(),
                    core,
                    configured_share: spec.share(),
                    achieved_share,
                    completed,
                });
            }
        }
        let light = |b: &Vec<CrosstalkLine>| b.first().map(|l| l.latency);
        let medians: Vec<f64> = boots.iter().filter_map(light).map(|c| c.median as f64).collect();
        let maxima: Vec<f64> = boots.iter().filter_map(light).map(|c| c.max as f64).collect();
        let vs_tunnel = tunnel.and_then(|t| {
            let v: Vec<f64> = boots.iter().zip(t).filter_map(|(b, t)| Some(ratio(light(b)?.median, light(t)?.median))).collect();
            Spread::of(&v)
        });
        if let (Some(median), Some(max)) = (Spread::of(&medians), Spread::of(&maxima)) {
            results.light_path_latency.push(SmpLatency { design: d.name().into(), median, max, vs_tunnel });
        }
    }

    // Throughput.
    results.throughput.clear();
    results.throughput_units = runs.throughput.iter().flatten().map(|t| t.units).max().unwrap_or(0);
    for d in SmpDesign::ALL {
        for n in 1..=WORKERS as u32 {
            let rates: Vec<f64> = runs.throughput.iter().filter_map(|r| phase_rate(r, d.name(), n)).collect();
            let scaling: Vec<f64> =
                runs.throughput.iter().filter_map(|r| Some(phase_rate(r, d.name(), n)? / phase_rate(r, d.name(), 1)?)).collect();
            let vs_ipc: Vec<f64> = runs
                .throughput
                .iter()
                .filter_map(|r| Some(phase_rate(r, d.name(), n)? / phase_rate(r, SmpDesign::Ipc.name(), n)?))
                .collect();
            let work_cycles =
                runs.throughput.iter().flatten().filter(|t| t.design == d.name() && t.n == n).map(|t| t.work_cycles).min().unwrap_or(0);
            if let (Some(calls_per_mcycle), Some(scaling)) = (Spread::of(&rates), Spread::of(&scaling)) {
                results.throughput.push(Throughput {
                    design: d.name().into(),
                    n,
                    calls_per_mcycle,
                    scaling,
                    vs_ipc: if d == SmpDesign::Ipc { None } else { Spread::of(&vs_ipc) },
                    per_run: rates,
                    work_cycles,
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Running.

/// What to run.
#[derive(Clone, Debug)]
pub struct SmpRequest {
    /// The board.
    pub board: Board,
    /// Boots per system.
    pub runs: u32,
    /// Timeout per boot.
    pub timeout: Duration,
}

/// What the cycle counter counts on `board` under multi-threaded TCG.
pub fn counter(board: Board) -> &'static str {
    match board {
        Board::QEMU_VIRT_AARCH64 => {
            "PMCCNTR_EL0, which QEMU without icount advances by one per nanosecond of its virtual clock (host time): cycles are nanoseconds"
        }
        Board::X86_64_GENERIC => "the TSC, which QEMU's TCG takes from the host's TSC: cycles are host TSC ticks",
        Board::QEMU_VIRT_RISCV64 => "the time CSR (10 MHz), which QEMU without icount advances with its virtual clock (host time)",
        _ => "the board's cycle counter",
    }
}

/// The QEMU flags of a multicore benchmark boot, with the image paths abstracted.
pub fn flags(board: Board, cores: u32) -> String {
    qemu_args(board, Path::new("<image>"), Path::new("<sdk>/board/x86_64_generic/smp-benchmark/elf/sel4_32.elf"), cores)
        .unwrap_or_else(|e| vec![e])
        .join(" ")
}

/// The host's core count.
pub fn host_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// One system to boot.
struct System {
    name: String,
    xml: String,
    pass: &'static str,
}

fn systems(board: Board) -> Vec<System> {
    let mut v = vec![System { name: "migration".into(), xml: smp_systems::migration(board), pass: "bench: migration done" }];
    for d in SmpDesign::ALL {
        v.push(System { name: format!("crosstalk-{}", d.name()), xml: smp_systems::crosstalk(board, d), pass: "bench: reports done" });
    }
    v.push(System { name: "throughput".into(), xml: smp_systems::throughput(board), pass: "bench: throughput done" });
    v
}

/// Builds and boots the multicore benchmark systems and aggregates their output.
pub fn run(ws: &Workspace, sdk: &Sdk, req: &SmpRequest) -> Result<SmpResults> {
    let config = KernelConfig::SmpBenchmark;
    let dir = ws.target_dir.join("tunnelkit").join("bench").join(req.board.name()).join("smp");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let kernel32 = sdk.qemu_kernel32(req.board, config)?;
    let mut built = Vec::new();
    let mut cores = 0;
    for sys in systems(req.board) {
        let path = dir.join(format!("{}.xml", sys.name));
        fs::write(&path, &sys.xml).with_context(|| format!("writing {}", path.display()))?;
        let b = build(ws, sdk, &BuildRequest { system: path.clone(), board: req.board, config })?;
        let c = qemu_cores(req.board, config, None, b.highest_cpu).map_err(anyhow::Error::msg)?;
        cores = cores.max(c);
        built.push((sys, path, b));
    }
    let mut results = SmpResults {
        board: req.board.name().into(),
        config: config.name().into(),
        qemu: QemuInfo { version: qemu::version(req.board)?, flags: flags(req.board, cores) },
        cores,
        host_cores: host_cores(),
        runs: req.runs,
        counter: counter(req.board).into(),
        boot_seconds: Vec::new(),
        migration: Vec::new(),
        migration_ratios: Vec::new(),
        crosstalk: Vec::new(),
        light_path_latency: Vec::new(),
        throughput: Vec::new(),
        throughput_units: 0,
        retried: Vec::new(),
        host_load: vec![format!("before: {}", load_average())],
    };
    let mut runs = Runs::default();
    let mut seconds: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for i in 0..req.runs {
        for (sys, path, b) in &built {
            let mut attempt = 0;
            let run = loop {
                attempt += 1;
                let step = Step::start(format!(
                    "{} run {}/{} on {} (-smp {cores}, host time){}",
                    sys.name,
                    i + 1,
                    req.runs,
                    req.board.name(),
                    if attempt > 1 { ", again" } else { "" }
                ));
                let mut judge = Judge::new(sys.pass);
                let run = qemu::run(req.board, cores, &b.image, &kernel32, &[], &mut judge, req.timeout, &mut std::io::sink())?;
                match qemu::require_pass(&run, judge.pass_line(), req.timeout) {
                    Ok(()) => {
                        step.finish(&format!("{:.1}s", run.elapsed.as_secs_f64()));
                        break run;
                    }
                    // One more boot: on host time a boot can starve (see the README).
                    Err(e) if attempt < MAX_ATTEMPTS => {
                        step.fail();
                        let why = format!("{e:#}");
                        let first = why.lines().next().unwrap_or("").to_string();
                        eprintln!("tunnelkit: {} run {} failed ({first}); booting it again", sys.name, i + 1);
                        results.retried.push(format!("{} run {}: {first}", sys.name, i + 1));
                    }
                    Err(e) => {
                        step.fail();
                        return Err(e.context(format!("multicore benchmark system {} (run {})", path.display(), i + 1)));
                    }
                }
            };
            seconds.entry(sys.name.clone()).or_default().push(run.elapsed.as_secs_f64());
            let lines: Vec<String> = run.console.into_iter().filter(|l| l.starts_with("bench ")).collect();
            let context = || format!("{} run {}", sys.name, i + 1);
            if sys.name == "migration" {
                runs.migration.push(parse_migration(&lines).with_context(context)?);
            } else if sys.name == "throughput" {
                runs.throughput.push(parse_throughput(&lines).with_context(context)?);
            } else if let Some(design) = sys.name.strip_prefix("crosstalk-") {
                runs.crosstalk.entry(design.to_string()).or_default().push(parse_crosstalk(&lines).with_context(context)?);
            }
        }
    }
    for (sys, _, _) in &built {
        if let Some(s) = seconds.get(&sys.name).and_then(|v| Spread::of(v)) {
            results.boot_seconds.push(BootTime { system: sys.name.clone(), seconds: s });
        }
    }
    results.host_load.push(format!("after: {}", load_average()));
    aggregate(&mut results, &runs);
    Ok(results)
}

/// The host's 1, 5 and 15 minute load averages, or "unknown".
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn lines(text: &str) -> Vec<String> {
        text.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
    }

    pub(crate) fn migration_boot(same: u64, first: u64, wake: u64) -> Vec<String> {
        let mut v = Vec::new();
        for core in ["0", "1", "all"] {
            let n = if core == "all" { 600 } else { 300 };
            for (kind, m) in [("wake", wake), ("first", first), ("same", same)] {
                let samples = if kind == "same" { 2 * n } else { n };
                v.push(format!("bench migrate core={core} kind={kind} samples={samples} min={} median={m} max={}", m - 1, m * 10));
            }
        }
        v
    }

    pub(crate) fn crosstalk_boot(light_median: u64, completed: [u64; 3]) -> Vec<String> {
        PATHS
            .iter()
            .zip(completed)
            .map(|(p, c)| {
                format!(
                    "bench crosstalk path={} completed={c} work_cycles=100000 window=1000000000 samples=10 min=1 median={light_median} max=99999",
                    p.name
                )
            })
            .collect()
    }

    /// A throughput boot where per-core pods scale by `tunnel_scale` per worker and the servers stay flat.
    pub(crate) fn throughput_boot(base: u64, tunnel_scale: f64) -> Vec<String> {
        let mut v = Vec::new();
        for d in SmpDesign::ALL {
            for n in 1..=WORKERS {
                for k in 0..n {
                    let per_worker = match d {
                        SmpDesign::Tunnel => (base as f64 * (1.0 + tunnel_scale * (n - 1) as f64) / n as f64) as u64,
                        _ => base / n,
                    };
                    v.push(format!(
                        "bench throughput design={} n={n} worker={k} units=100000 completed={per_worker} window=200000000 work_cycles=50000",
                        d.name()
                    ));
                }
            }
        }
        v
    }

    pub(crate) fn sample_results() -> SmpResults {
        let mut r = SmpResults {
            board: "qemu_virt_aarch64".into(),
            config: "smp-benchmark".into(),
            qemu: QemuInfo { version: "QEMU emulator version 7.2.22".into(), flags: "-machine virt -smp 4".into() },
            cores: 4,
            host_cores: 2,
            runs: 3,
            counter: counter(Board::QEMU_VIRT_AARCH64).into(),
            boot_seconds: vec![BootTime { system: "migration".into(), seconds: Spread { median: 3.0, min: 2.5, max: 4.0 } }],
            migration: Vec::new(),
            migration_ratios: Vec::new(),
            crosstalk: Vec::new(),
            light_path_latency: Vec::new(),
            throughput: Vec::new(),
            throughput_units: 0,
            retried: Vec::new(),
            host_load: vec!["before: 0.50 0.40 0.30".into(), "after: 1.00 0.50 0.30".into()],
        };
        let mut runs = Runs::default();
        for (i, scale) in [0.9, 1.0, 0.8].into_iter().enumerate() {
            let i = i as u64;
            runs.migration.push(parse_migration(&migration_boot(1000 + i, 3000 + 2 * i, 1100)).unwrap());
            runs.throughput.push(parse_throughput(&throughput_boot(1000 + 100 * i, scale)).unwrap());
            for (d, light) in [("tunnel", 100_000), ("ipc", 400_000), ("async", 800_000)] {
                runs.crosstalk.entry(d.into()).or_default().push(parse_crosstalk(&crosstalk_boot(light + i, [1000, 3000, 6000])).unwrap());
            }
        }
        aggregate(&mut r, &runs);
        r
    }

    #[test]
    fn spread_is_median_and_range() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { median: 2.0, min: 1.0, max: 3.0 }));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]), Some(Spread { median: 2.5, min: 1.0, max: 4.0 }));
        assert_eq!(Spread::of(&[f64::NAN, 5.0]), Some(Spread { median: 5.0, min: 5.0, max: 5.0 }));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn parses_migration_lines() {
        let m = parse_migration(&migration_boot(1000, 2500, 1200)).unwrap();
        assert_eq!(m.len(), 9);
        let first = m.iter().find(|l| l.core == "all" && l.kind == "first").unwrap();
        assert_eq!(first.cycles, Cycles { min: 2499, median: 2500, max: 25000 });
        assert_eq!(first.samples, 600);
        assert!(parse_migration(&lines("bench migrate core=0 kind=same samples=1 min=1 median=1 max=1")).is_err());
        assert!(parse_migration(&lines("bench migrate core=all kind=same samples=x min=1 median=1 max=1")).is_err());
    }

    #[test]
    fn parses_crosstalk_and_throughput_lines() {
        let c = parse_crosstalk(&crosstalk_boot(5, [10, 30, 60])).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].path, "light");
        assert!((c[2].achieved_share() - 60.0 * 100_000.0 / 1e9).abs() < 1e-12);
        assert!(parse_crosstalk(&crosstalk_boot(5, [1, 2, 3])[..2]).is_err());

        let t = parse_throughput(&throughput_boot(1000, 1.0)).unwrap();
        assert_eq!(t.len(), 3 * (1 + 2 + 3 + 4));
        assert!((phase_rate(&t, "tunnel", 1).unwrap() - 5.0).abs() < 1e-9);
        assert!((phase_rate(&t, "tunnel", 4).unwrap() - 20.0).abs() < 1e-9);
        assert!((phase_rate(&t, "ipc", 4).unwrap() - 5.0).abs() < 1e-9);
        // A phase missing a worker is an error.
        let mut partial = throughput_boot(1000, 1.0);
        partial.retain(|l| !l.contains("design=async n=3 worker=2"));
        assert!(parse_throughput(&partial).is_err());
    }

    #[test]
    fn aggregates_over_runs_with_ratios_per_run() {
        let r = sample_results();
        let first = r.migration.iter().find(|m| m.core == "all" && m.kind == "first").unwrap();
        assert_eq!(first.median, Spread { median: 3002.0, min: 3000.0, max: 3004.0 });
        assert_eq!(first.per_run.len(), 3);
        let ratio = &r.migration_ratios[0];
        assert_eq!(ratio.ratio, "first/same");
        assert!((ratio.value.max - 3.0).abs() < 1e-9 && (ratio.value.min - 3004.0 / 1002.0).abs() < 1e-9);

        assert_eq!(r.crosstalk.len(), 9);
        let heavy = r.crosstalk.iter().find(|p| p.design == "ipc" && p.path == "heavy").unwrap();
        assert_eq!(heavy.core, 1);
        assert!((heavy.achieved_share.median - 0.6).abs() < 1e-9);
        let ipc = r.light_path_latency.iter().find(|l| l.design == "ipc").unwrap();
        assert!((ipc.vs_tunnel.unwrap().median - 400_001.0 / 100_001.0).abs() < 1e-9);

        assert_eq!(r.throughput.len(), 12);
        let t4 = r.throughput.iter().find(|t| t.design == "tunnel" && t.n == 4).unwrap();
        // Scale 0.8 / 0.9 / 1.0 per extra worker: 3.4 / 3.7 / 4.0 at N = 4.
        assert!((t4.scaling.median - 3.7).abs() < 0.01, "{t4:?}");
        assert!((t4.scaling.min - 3.4).abs() < 0.01);
        assert!((t4.vs_ipc.unwrap().median - 3.7).abs() < 0.01);
        let ipc4 = r.throughput.iter().find(|t| t.design == "ipc" && t.n == 4).unwrap();
        assert!(ipc4.vs_ipc.is_none());
        assert!((ipc4.scaling.median - 1.0).abs() < 0.01);
        assert_eq!(t4.per_run.len(), 3);
        assert_eq!(t4.work_cycles, 50000);
    }

    #[test]
    fn flags_name_the_core_count() {
        assert!(flags(Board::QEMU_VIRT_AARCH64, 4).ends_with("-smp 4"));
        assert!(flags(Board::X86_64_GENERIC, 4).contains("smp-benchmark/elf/sel4_32.elf"));
        assert!(!flags(Board::X86_64_GENERIC, 4).contains("icount"));
    }
}
