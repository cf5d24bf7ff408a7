//! `tunnelkit bench --net`: the network systems measured from the host, on
//! the same QEMU set-up `run --net` uses (user networking, hostfwd). Three
//! systems per board: the **floor** (`net-floor.xml`: the NIC driver answers
//! UDP echo and stats itself, no pipeline), the pipeline through **tunnels**
//! (`net.xml`) and through **async** queues (`net-async.xml`).
//!
//! Measured per system: the UDP-echo round trip (sequential requests); the
//! answered rate while UDP echo is offered 500 to 50 000 datagrams/s (with
//! the rate the host actually sent), its peak and what is left of it at the
//! highest offered rate (a receive livelock would show as a collapse); and
//! isolation under overload: sealed echo and stats, quiet and while UDP
//! echo is flooded at 20 000/s. Each system's total CPU share (Σ
//! budget/period of its active PDs) is read from its system description, so
//! that the systems are compared at the same total budget.
//! Host-time figures (TCG, no icount: real traffic): they vary between runs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::net_load::{Load, Request, guest_counters, host_udp_rcvbuf_errors, load_average, offered, probes};
pub use super::net_load::{Micros, Probe};
use crate::board::{Board, KernelConfig, qemu_args};
use crate::build::{BuildRequest, build};
use crate::net::{self, exchange};
use crate::progress::Step;
use crate::sdk::Sdk;
use crate::workspace::Workspace;

/// Host ports: UDP echo, sealed echo, stats (forwarded to the guest's 7, 8, 9).
const ECHO: u16 = net::FORWARDS[0].0;
const SEALED: u16 = net::FORWARDS[1].0;
const STATS: u16 = net::FORWARDS[2].0;

/// Offered rates of the sweep (64-byte UDP echo datagrams per second).
pub const RATES: [u64; 12] = [500, 1000, 2000, 5000, 8000, 10_000, 12_000, 15_000, 20_000, 30_000, 40_000, 50_000];
/// Offered next, one after the other, to a system that still answered all
/// it was sent (the floor): until it no longer does, so that its peak is
/// what it can answer rather than what it was offered.
pub const EXTRA_RATES: [u64; 2] = [75_000, 100_000];
/// Seconds per offered rate.
pub const RATE_SECONDS: f64 = 2.5;
/// Wait for late answers after a load stops.
const DRAIN: Duration = Duration::from_millis(500);
/// Pause between loads, once the echo port answers again.
const SETTLE: Duration = Duration::from_millis(300);
/// Longest wait after a load for the echo port to answer again.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);
/// Sequential round trips of the echo-latency figure.
const ROUND_TRIPS: u32 = 300;
/// The echo flood of the isolation case (datagrams per second offered).
pub const FLOOD_PPS: u64 = 20_000;
/// Sealed-echo and stats requests per isolation figure (each, interleaved).
const PROBES: u32 = 60;
/// A probe counts as answered within this.
pub const PROBE_WAIT: Duration = Duration::from_millis(500);
/// The host reached an offered rate if it sent at least this fraction of it.
pub const REACHED: f64 = 0.97;
/// Goal: answered at the highest offered rate, as a fraction of the peak (no receive livelock).
pub const HELD_GOAL: f64 = 0.9;
/// The offered rate up to which the answered rate must hold (the issue's range).
pub const HELD_UP_TO: u64 = 20_000;
/// Goal: a pipeline's peak as a fraction of the floor's.
pub const FLOOR_GOAL: f64 = 0.8;

/// Which system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The NIC driver alone answers UDP echo and stats: what the board and
    /// QEMU allow without a pipeline.
    Floor,
    /// The pipeline with tunnels into pods.
    Tunnel,
    /// The pipeline with active servers behind async queues.
    Async,
}

impl Kind {
    /// In measuring order.
    pub const ALL: [Kind; 3] = [Kind::Floor, Kind::Tunnel, Kind::Async];

    /// `floor`, `tunnel` or `async`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Floor => "floor",
            Kind::Tunnel => "tunnel",
            Kind::Async => "async",
        }
    }

    /// Its colour in the plot.
    fn color(self) -> plotters::style::RGBAColor {
        use plotters::style::{Color, RGBColor};
        match self {
            Kind::Floor => RGBColor(90, 90, 90),
            Kind::Tunnel => RGBColor(214, 39, 40),
            Kind::Async => RGBColor(31, 119, 180),
        }
        .to_rgba()
    }
}

/// The system description of `kind` on `board` (relative to the workspace root).
/// (`None` for a board without one.)
pub fn system_file(board: Board, kind: Kind) -> Option<&'static str> {
    match (board, kind) {
        (Board::QEMU_VIRT_AARCH64, Kind::Floor) => Some("net-floor.xml"),
        (Board::X86_64_GENERIC, Kind::Floor) => Some("net-floor.x86_64_generic.xml"),
        (Board::QEMU_VIRT_RISCV64, Kind::Floor) => Some("net-floor.qemu_virt_riscv64.xml"),
        (_, Kind::Floor) => None,
        (_, Kind::Tunnel) => net::system_file(board, false),
        (_, Kind::Async) => net::system_file(board, true),
    }
}

/// An active PD's reservation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PdShare {
    /// The PD.
    pub name: String,
    /// Budget (µs).
    pub budget_us: u64,
    /// Period (µs).
    pub period_us: u64,
}

/// A system's CPU budget as its description gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Every PD that is not passive (children included), in document order.
    pub active: Vec<PdShare>,
    /// Σ budget/period over them (1.0 = one core).
    pub share: f64,
}

/// The budget of the system description `text`: the PDs that are not
/// passive, with Microkit's defaults (budget 1000 µs, period = budget).
pub fn budget(text: &str) -> Result<Budget> {
    let sys = crate::sdf::System::from_text("system", text)?;
    let mut active = Vec::new();
    for pd in sys.pds.iter().filter(|p| !p.passive) {
        if pd.period == 0 {
            bail!("PD '{}' has period 0", pd.name);
        }
        active.push(PdShare { name: pd.name.clone(), budget_us: pd.budget, period_us: pd.period });
    }
    let share = active.iter().map(|p| p.budget_us as f64 / p.period_us as f64).sum();
    Ok(Budget { active, share })
}

/// The answered rate at one offered rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Datagrams per second asked of the host.
    pub offered_pps: u64,
    /// Host threads (one socket each) that sent them.
    pub senders: u32,
    /// Seconds from the first send to the last.
    pub seconds: f64,
    /// Datagrams sent.
    pub sent: u64,
    /// The rate the host achieved.
    pub sent_pps: f64,
    /// Answers received (during the load and 0.5 s after).
    pub answered: u64,
    /// Answers per second of load.
    pub answered_pps: f64,
    /// Frames the guest received meanwhile (its stats counter), if it told.
    pub guest_rx: Option<u64>,
    /// Frames the guest sent meanwhile, if it told.
    pub guest_tx: Option<u64>,
    /// UDP datagrams the host dropped meanwhile for a full receive buffer,
    /// system-wide (mostly QEMU's forwarding socket), if known.
    pub host_rcvbuf_drops: Option<u64>,
    /// Seconds after the load and its drain until the echo port answered
    /// within 200 ms again (None: not within 10 s).
    #[serde(default)]
    pub recovery_seconds: Option<f64>,
}

impl Rate {
    /// Whether the host sent at least [`REACHED`] of the offered rate.
    pub fn reached(&self) -> bool {
        self.sent_pps >= REACHED * self.offered_pps as f64
    }
}

/// Isolation under overload: sealed echo and stats, quiet and while UDP
/// echo is flooded.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Isolation {
    /// Offered flood rate on the echo port.
    pub flood_offered_pps: u64,
    /// What the host sent.
    pub flood_sent_pps: f64,
    /// Echo answers per second during the flood.
    pub flood_answered_pps: f64,
    /// Sealed echo without the flood (None: the system has no sealed echo).
    pub sealed_quiet: Option<Probe>,
    /// Sealed echo during the flood.
    pub sealed_flooded: Option<Probe>,
    /// Stats without the flood.
    pub stats_quiet: Probe,
    /// Stats during the flood.
    pub stats_flooded: Probe,
}

/// Probes sent and answered (the rest timed out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeCount {
    /// Probes sent.
    pub requests: u32,
    /// Probes answered in time.
    pub answered: u32,
}

impl ProbeCount {
    /// Probes not answered in time.
    pub fn unanswered(&self) -> u32 {
        self.requests - self.answered.min(self.requests)
    }
}

/// One system's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetSystem {
    /// Floor, tunnel or async.
    pub kind: Kind,
    /// The system description.
    pub system: String,
    /// Its active PDs' budgets.
    pub budget: Budget,
    /// UDP echo round trip, sequential requests of 64 bytes (of the
    /// answered ones).
    pub echo_rtt_us: Micros,
    /// Echo round-trip probes sent and answered within the probe wait.
    #[serde(default)]
    pub echo_probes: ProbeCount,
    /// Answered rate per offered rate (UDP echo, 64 bytes), by offered rate.
    pub rates: Vec<Rate>,
    /// Sealed echo and stats under an echo flood.
    pub isolation: Isolation,
}

impl NetSystem {
    /// The rate with the most answers per second (the lowest offered rate
    /// reaching it, on a plateau).
    pub fn peak(&self) -> Option<&Rate> {
        self.rates.iter().reduce(|best, r| if r.answered_pps > best.answered_pps { r } else { best })
    }

    /// The highest offered rate.
    pub fn highest(&self) -> Option<&Rate> {
        self.rates.iter().max_by_key(|r| r.offered_pps)
    }

    /// The issue's livelock criterion: among the offered rates up to
    /// `limit`, the least answered at or past the peak (of those rates), as
    /// a fraction of that peak.
    pub fn held_up_to(&self, limit: u64) -> Option<f64> {
        let within = || self.rates.iter().filter(|r| r.offered_pps <= limit);
        let peak = within().reduce(|best, r| if r.answered_pps > best.answered_pps { r } else { best })?;
        let least = within().filter(|r| r.offered_pps >= peak.offered_pps).map(|r| r.answered_pps).fold(f64::INFINITY, f64::min);
        (peak.answered_pps > 0.0).then(|| least / peak.answered_pps)
    }

    /// Answered at the highest offered rate as a fraction of the peak.
    pub fn held(&self) -> Option<f64> {
        let (peak, highest) = (self.peak()?, self.highest()?);
        (peak.answered_pps > 0.0).then(|| highest.answered_pps / peak.answered_pps)
    }

    /// Whether it answered (at least [`REACHED`] of) all the host sent at
    /// the highest offered rate: then its peak is only a lower bound of what
    /// it can answer.
    pub fn unsaturated(&self) -> bool {
        self.highest().is_some_and(answered_all)
    }
}

/// Whether (at least [`REACHED`] of) all that was sent was answered.
fn answered_all(r: &Rate) -> bool {
    r.sent_pps > 0.0 && r.answered_pps >= REACHED * r.sent_pps
}

/// The host the figures were taken on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Cores it has.
    pub cores: usize,
    /// Load average (1, 5, 15 minutes) before the first boot.
    pub load_before: Option<[f64; 3]>,
    /// And after the last system.
    pub load_after: Option<[f64; 3]>,
}

/// Everything `bench --net` measured on one board.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetResults {
    /// Board.
    pub board: String,
    /// Kernel configuration.
    pub config: String,
    /// QEMU version and flags.
    pub qemu: super::model::QemuInfo,
    /// The host.
    pub host: Host,
    /// Seconds per offered rate.
    pub rate_seconds: f64,
    /// Per system, floor first.
    pub systems: Vec<NetSystem>,
}

/// A pipeline against the floor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VsFloor {
    /// Its peak over the floor's.
    pub peak: f64,
    /// Its median echo round trip over the floor's.
    pub echo_rtt: f64,
}

impl NetResults {
    /// The figures of `kind`, if measured.
    pub fn system(&self, kind: Kind) -> Option<&NetSystem> {
        self.systems.iter().find(|s| s.kind == kind)
    }

    /// `kind` against the floor, if both were measured.
    pub fn vs_floor(&self, kind: Kind) -> Option<VsFloor> {
        let (s, f) = (self.system(kind)?, self.system(Kind::Floor)?);
        Some(VsFloor { peak: s.peak()?.answered_pps / f.peak()?.answered_pps, echo_rtt: s.echo_rtt_us.median / f.echo_rtt_us.median })
    }

    /// A warning if the systems' total budgets differ.
    pub fn budget_warning(&self) -> Option<String> {
        let first = self.systems.first()?.budget.share;
        if self.systems.iter().all(|s| (s.budget.share - first).abs() < 1e-6) {
            return None;
        }
        let list: Vec<String> = self.systems.iter().map(|s| format!("{} {}", s.kind.name(), percent(s.budget.share))).collect();
        Some(format!(
            "Warning: the systems' total budgets differ ({}): their rates are not compared at the same CPU share.",
            list.join(", ")
        ))
    }

    /// Every load the host sent at less than [`REACHED`] of its offered rate.
    pub fn shortfalls(&self) -> Vec<Shortfall> {
        let mut v = Vec::new();
        for s in &self.systems {
            for r in s.rates.iter().filter(|r| !r.reached()) {
                v.push(Shortfall { kind: s.kind, flood: false, offered_pps: r.offered_pps, sent_pps: r.sent_pps });
            }
            let i = &s.isolation;
            if i.flood_sent_pps < REACHED * i.flood_offered_pps as f64 {
                v.push(Shortfall { kind: s.kind, flood: true, offered_pps: i.flood_offered_pps, sent_pps: i.flood_sent_pps });
            }
        }
        v
    }
}

/// A load the host could not send at its offered rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shortfall {
    /// While measuring this system.
    pub kind: Kind,
    /// The isolation case's flood (else a step of the sweep).
    pub flood: bool,
    /// Asked for.
    pub offered_pps: u64,
    /// Sent.
    pub sent_pps: f64,
}

/// Builds, boots and measures the floor, tunnel and async systems of `board`.
pub fn run(ws: &Workspace, sdk: &Sdk, board: Board, config: KernelConfig) -> Result<NetResults> {
    let extra = net::qemu_args(board, &net::default_netdev());
    let kernel32 = sdk.qemu_kernel32(board, config)?;
    let load_before = load_average();
    if let Some([one, ..]) = load_before {
        let cores = host_cores();
        if one > 0.5 * cores as f64 {
            eprintln!(
                "tunnelkit: warning: host load average {one:.2} on {cores} cores: other work competes with QEMU and the load generator"
            );
        }
    }
    let mut systems = Vec::new();
    for kind in Kind::ALL {
        let Some(file) = system_file(board, kind) else {
            bail!("{} has no network system yet (its virtio-mmio network device behind the PLIC is not driven)", board.name());
        };
        let path = ws.root.join(file);
        if kind == Kind::Floor && !path.exists() {
            eprintln!("tunnelkit: warning: {} is missing: no floor to compare the pipelines with", path.display());
            continue;
        }
        systems.push(measure(ws, sdk, board, config, kind, &path, &kernel32, &extra)?);
    }
    let mut flags = qemu_args(board, Path::new("<image>"), Path::new("<kernel32>"), 1).map_err(anyhow::Error::msg)?;
    flags.extend(extra);
    Ok(NetResults {
        board: board.name().into(),
        config: config.name().into(),
        qemu: super::model::QemuInfo { version: crate::qemu::version(board)?, flags: flags.join(" ") },
        host: Host { cores: host_cores(), load_before, load_after: load_average() },
        rate_seconds: RATE_SECONDS,
        systems,
    })
}

fn host_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Boots one system and measures it; QEMU stops when this returns, however.
#[allow(clippy::too_many_arguments)]
fn measure(
    ws: &Workspace,
    sdk: &Sdk,
    board: Board,
    config: KernelConfig,
    kind: Kind,
    path: &Path,
    kernel32: &Path,
    extra: &[String],
) -> Result<NetSystem> {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let budget = budget(&text).with_context(|| path.display().to_string())?;
    let built = build(ws, sdk, &BuildRequest { system: path.to_path_buf(), board, config })?;
    net::ensure_echo_port_free()?;
    let step = Step::start(format!("{}: booting {file}", kind.name()));
    let log = built.dir.join(format!("{}-bench-net.log", file.trim_end_matches(".xml")));
    let _qemu = boot(board, &built.image, kernel32, extra, &log)?;
    wait_ready(&log)?;
    // Asked before any load: the floor has no sealed echo.
    let has_sealed = (0..3).any(|i| matches!(super::net_load::exchange(SEALED, Request::Sealed, 1000 + i, PROBE_WAIT), Ok(Some(_))));
    step.detail("echo round trips");
    let echo = probes(&[(ECHO, Request::Echo)], ROUND_TRIPS, PROBE_WAIT)?[0];
    let (echo_rtt_us, echo_probes) = (echo.rtt_us, ProbeCount { requests: echo.requests, answered: echo.answered });
    let mut rates = Vec::new();
    for offered_pps in RATES {
        step.detail(&format!("offering {offered_pps} datagrams/s"));
        rates.push(rate(offered_pps)?);
    }
    for offered_pps in EXTRA_RATES {
        if !rates.last().is_some_and(answered_all) {
            break;
        }
        step.detail(&format!("still answering all: offering {offered_pps} datagrams/s"));
        rates.push(rate(offered_pps)?);
    }
    step.detail(&format!("sealed echo and stats, quiet and under a {FLOOD_PPS}/s echo flood"));
    let isolation = isolation(has_sealed)?;
    let peak = rates.iter().map(|r| r.answered_pps).fold(0.0, f64::max);
    step.finish(&format!(
        "echo median {:.0} µs ({} of {} probes unanswered), peak {peak:.0} answered/s",
        echo_rtt_us.median,
        echo_probes.unanswered(),
        echo_probes.requests
    ));
    Ok(NetSystem { kind, system: file, budget, echo_rtt_us, echo_probes, rates, isolation })
}

/// Starts QEMU with its console in `log`. The guard kills and reaps it when
/// dropped, on every way out of [`measure`] (and on SIGTERM, SIGINT or
/// SIGHUP, see [`crate::qemu::Qemu`]).
fn boot(board: Board, image: &Path, kernel32: &Path, extra: &[String], log: &Path) -> Result<crate::qemu::Qemu> {
    let out = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    crate::qemu::spawn(board, 1, image, kernel32, extra, Stdio::from(out.try_clone()?), Stdio::from(out))
}

fn wait_ready(log: &Path) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if exchange(ECHO, b"ready?", Duration::from_millis(300)).is_ok_and(|a| a == b"ready?") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the network system never answered on 127.0.0.1:{ECHO}; console log: {}", log.display())
}

/// One step of the sweep, with the guest's and the host's counters around it.
fn rate(offered_pps: u64) -> Result<Rate> {
    let wait = Duration::from_millis(300);
    let (guest_before, drops_before) = (guest_counters(STATS, wait), host_udp_rcvbuf_errors());
    let out = offered(ECHO, 64, offered_pps, RATE_SECONDS, DRAIN)?;
    let drops_after = host_udp_rcvbuf_errors();
    let recovery_seconds = recover();
    let guest_after = guest_counters(STATS, wait);
    let delta = |f: fn((u64, u64)) -> u64| Some(f(guest_after?).saturating_sub(f(guest_before?)));
    Ok(Rate {
        offered_pps,
        senders: out.senders,
        seconds: out.seconds,
        sent: out.sent,
        sent_pps: out.sent_pps(),
        answered: out.answered,
        answered_pps: out.answered_pps(),
        guest_rx: delta(|c| c.0),
        guest_tx: delta(|c| c.1),
        host_rcvbuf_drops: drops_after.zip(drops_before).map(|(a, b)| a.saturating_sub(b)),
        recovery_seconds,
    })
}

/// Waits until an echo request is answered within 200 ms again (at most
/// [`RECOVERY_LIMIT`]), then [`SETTLE`]: how long the first took, None if
/// never.
fn recover() -> Option<f64> {
    let start = Instant::now();
    let mut i = 0;
    let recovered = loop {
        if matches!(super::net_load::exchange(ECHO, Request::Echo, 1 << 40 | i, Duration::from_millis(200)), Ok(Some(_))) {
            break Some(start.elapsed().as_secs_f64());
        }
        if start.elapsed() >= RECOVERY_LIMIT {
            break None;
        }
        i += 1;
    };
    std::thread::sleep(SETTLE);
    recovered
}

/// Sealed echo (if the system has it) and stats, quiet and under the flood.
fn isolation(has_sealed: bool) -> Result<Isolation> {
    let kinds: Vec<(u16, Request)> =
        if has_sealed { vec![(SEALED, Request::Sealed), (STATS, Request::Stats)] } else { vec![(STATS, Request::Stats)] };
    let quiet = probes(&kinds, PROBES, PROBE_WAIT)?;
    let flood = Load::start(ECHO, 64, FLOOD_PPS)?;
    std::thread::sleep(Duration::from_millis(500));
    let flooded = probes(&kinds, PROBES, PROBE_WAIT);
    let load = flood.stop(DRAIN)?;
    let flooded = flooded?;
    recover();
    let (sealed_quiet, sealed_flooded) = if has_sealed { (Some(quiet[0]), Some(flooded[0])) } else { (None, None) };
    Ok(Isolation {
        flood_offered_pps: FLOOD_PPS,
        flood_sent_pps: load.sent_pps(),
        flood_answered_pps: load.answered_pps(),
        sealed_quiet,
        sealed_flooded,
        stats_quiet: *quiet.last().context("no stats probe")?,
        stats_flooded: *flooded.last().context("no stats probe")?,
    })
}

fn percent(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

fn per_second(x: f64) -> String {
    format!("{x:.0}/s")
}

fn ratio_cell(p: Option<Probe>) -> String {
    p.map(|p| format!("{}/{}", p.answered, p.requests)).unwrap_or_else(|| "—".into())
}

fn rtt_cell(p: Option<Probe>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p.answered == 0 => "none answered".into(),
        Some(p) => format!("{:.0}", p.rtt_us.median),
    }
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// The markdown report of one board's results.
pub fn markdown(r: &NetResults) -> String {
    let load = |l: Option<[f64; 3]>| l.map(|[a, b, c]| format!("{a:.2} {b:.2} {c:.2}")).unwrap_or_else(|| "unknown".into());
    let mut s = format!(
        "Board `{}`, kernel configuration `{}`, QEMU `{}` with flags `{}`. Host: {} cores, load average {} before and {} after. \
         Host-time measurements (TCG, no icount: real traffic through user networking); they vary between runs.\n\n",
        r.board,
        r.config,
        r.qemu.version,
        r.qemu.flags,
        r.host.cores,
        load(r.host.load_before),
        load(r.host.load_after)
    );
    s.push_str(&format!(
        "64-byte UDP echo datagrams to 127.0.0.1:{ECHO}, offered for {} s per rate, paced by host threads (one socket each), \
         up to {}/s; a system that still answered all it was sent is offered {} too, one after the other, until it no \
         longer does. The peak is the most answered per second at any offered rate. \"Held\" is what is answered at the \
         system's highest offered rate as a fraction of its peak; \"held to {HELD_UP_TO}/s\" is the least answered at or past \
         the peak among the rates up to {HELD_UP_TO}/s, as a fraction of that peak (goal ≥ {}: no receive livelock); \"vs floor\" divides a \
         pipeline's figure by the floor's (goal for the peak ≥ {FLOOR_GOAL}×). The CPU share is Σ budget/period of the \
         system's active (not passive) PDs, from its description.\n\n",
        r.rate_seconds,
        RATES[RATES.len() - 1],
        EXTRA_RATES.map(|x| format!("{x}/s")).join(" and "),
        percent(HELD_GOAL)
    ));
    s.push_str(
        "| system | CPU share | echo RTT min / median / max (µs) | echo probes unanswered | peak answered (offered) | held to 20000/s | held at the highest offered | peak vs floor | median RTT vs floor |\n",
    );
    s.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for sys in &r.systems {
        let peak = sys.peak().map(|p| format!("{} ({}/s)", per_second(p.answered_pps), p.offered_pps)).unwrap_or_default();
        let held_to = sys.held_up_to(HELD_UP_TO).map(|h| format!("{} {}", percent(h), mark(h >= HELD_GOAL))).unwrap_or_default();
        let held = match (sys.held(), sys.highest()) {
            (Some(h), Some(at)) => format!("{} ({}/s)", percent(h), at.offered_pps),
            _ => String::new(),
        };
        let (vs_peak, vs_rtt) = match (sys.kind, r.vs_floor(sys.kind)) {
            (Kind::Floor, _) => ("—".to_string(), "—".to_string()),
            (_, Some(v)) => (format!("{:.2}× {}", v.peak, mark(v.peak >= FLOOR_GOAL)), format!("{:.2}×", v.echo_rtt)),
            (_, None) => ("no floor".into(), "no floor".into()),
        };
        s.push_str(&format!(
            "| {} (`{}`) | {} over {} PD{} | {:.0} / {:.0} / {:.0} | {} | {peak} | {held_to} | {held} | {vs_peak} | {vs_rtt} |\n",
            sys.kind.name(),
            sys.system,
            percent(sys.budget.share),
            sys.budget.active.len(),
            if sys.budget.active.len() == 1 { "" } else { "s" },
            sys.echo_rtt_us.min,
            sys.echo_rtt_us.median,
            sys.echo_rtt_us.max,
            match sys.echo_probes.requests {
                0 => "not counted".to_string(),
                n => format!("{} of {n}", sys.echo_probes.unanswered()),
            }
        ));
    }
    s.push('\n');
    if let Some(w) = r.budget_warning() {
        s.push_str(&format!("**{w}**\n\n"));
    }
    if r.system(Kind::Floor).is_none() {
        s.push_str("**No floor system was measured: the pipelines are not compared with it.**\n\n");
    }
    for sys in r.systems.iter().filter(|s| s.unsaturated()) {
        s.push_str(&format!(
            "**{} answered all the host sent at the highest offered rate ({}/s): its peak is only a lower bound{}.**\n\n",
            sys.kind.name(),
            sys.highest().map_or(0, |h| h.offered_pps),
            if sys.kind == Kind::Floor { ", and the pipelines' ratios to it are upper bounds" } else { "" }
        ));
    }

    // The sweep: offered rates as rows, systems as columns.
    let mut offered: Vec<u64> = r.systems.iter().flat_map(|s| s.rates.iter().map(|x| x.offered_pps)).collect();
    offered.sort_unstable();
    offered.dedup();
    s.push_str("Answered per second at each offered rate (in brackets: what the host sent, where it fell short of the offered rate by more than 3 %):\n\n| offered |");
    for sys in &r.systems {
        s.push_str(&format!(" {} |", sys.kind.name()));
    }
    s.push_str("\n|--:|");
    for _ in &r.systems {
        s.push_str("--:|");
    }
    s.push('\n');
    for o in offered {
        s.push_str(&format!("| {o}/s |"));
        for sys in &r.systems {
            let cell = match sys.rates.iter().find(|x| x.offered_pps == o) {
                Some(x) if x.reached() => per_second(x.answered_pps),
                Some(x) => format!("{} (sent {})", per_second(x.answered_pps), per_second(x.sent_pps)),
                None => "—".into(),
            };
            let is_peak = sys.peak().is_some_and(|p| p.offered_pps == o);
            s.push_str(&format!(" {} |", if is_peak { format!("**{cell}**") } else { cell }));
        }
        s.push('\n');
    }
    s.push('\n');
    let shortfalls = r.shortfalls();
    if shortfalls.is_empty() {
        s.push_str("The host sent every offered rate (at least 97 % of it).\n\n");
    } else {
        let list: Vec<String> = shortfalls
            .iter()
            .map(|x| {
                let what = if x.flood { " (the flood)" } else { "" };
                format!("{} at {}/s offered{what} sent {}", x.kind.name(), x.offered_pps, per_second(x.sent_pps))
            })
            .collect();
        s.push_str(&format!("**The host could not reach every offered rate:** {}.\n\n", list.join("; ")));
    }

    let slow: Vec<String> = r
        .systems
        .iter()
        .flat_map(|sys| sys.rates.iter().map(move |x| (sys.kind, x)))
        .filter_map(|(k, x)| match x.recovery_seconds {
            Some(t) if t < 1.0 => None,
            Some(t) => Some(format!("{} after {}/s in {t:.1} s", k.name(), x.offered_pps)),
            None => Some(format!("{} after {}/s not within {} s", k.name(), x.offered_pps, RECOVERY_LIMIT.as_secs())),
        })
        .collect();
    if !slow.is_empty() {
        s.push_str(&format!(
            "Slow to answer echo again once a load had stopped (and its answers had 0.5 s to arrive): {}.\n\n",
            slow.join("; ")
        ));
    }
    s.push_str(&format!(
        "Isolation under overload: UDP echo flooded at {FLOOD_PPS}/s offered; meanwhile sealed-echo (port 8, 12-byte nonce and 52 bytes) \
         and stats (port 9) requests, interleaved one at a time, {PROBES} of each, answered if within {} ms; quiet = the same without the flood.\n\n",
        PROBE_WAIT.as_millis()
    ));
    s.push_str("| system | flood sent | echo answered during flood | sealed answered quiet / flooded | sealed median RTT quiet / flooded (µs) | stats answered quiet / flooded | stats median RTT quiet / flooded (µs) |\n");
    s.push_str("|---|--:|--:|--:|--:|--:|--:|\n");
    for sys in &r.systems {
        let i = &sys.isolation;
        s.push_str(&format!(
            "| {} | {} | {} | {} / {} | {} / {} | {} / {} | {} / {} |\n",
            sys.kind.name(),
            per_second(i.flood_sent_pps),
            per_second(i.flood_answered_pps),
            ratio_cell(i.sealed_quiet),
            ratio_cell(i.sealed_flooded),
            rtt_cell(i.sealed_quiet),
            rtt_cell(i.sealed_flooded),
            ratio_cell(Some(i.stats_quiet)),
            ratio_cell(Some(i.stats_flooded)),
            rtt_cell(Some(i.stats_quiet)),
            rtt_cell(Some(i.stats_flooded)),
        ));
    }
    s
}

/// Writes `net.json`, `net.md` and `net.svg` to `dir`.
pub fn write(r: &NetResults, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(dir)?;
    let (json, md) = (dir.join("net.json"), dir.join("net.md"));
    fs::write(&json, serde_json::to_string_pretty(r)? + "\n").with_context(|| format!("writing {}", json.display()))?;
    fs::write(&md, markdown(r)).with_context(|| format!("writing {}", md.display()))?;
    plot(r, &dir.join("net.svg"))?;
    Ok((json, md))
}

/// Answered against offered rate per system with each peak marked (left),
/// and the share of sealed-echo and stats requests answered during the
/// flood (right).
pub fn plot(r: &NetResults, path: &Path) -> Result<()> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let root = SVGBackend::new(path, (1040, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(640);
    let max_x = r.systems.iter().flat_map(|s| &s.rates).map(|x| x.offered_pps as f64).fold(1.0, f64::max);
    let max_y = r.systems.iter().flat_map(|s| &s.rates).map(|x| x.answered_pps).fold(1.0, f64::max);
    let whole = |v: &f64| format!("{v:.0}");
    let mut chart = ChartBuilder::on(&left)
        .caption(format!("UDP echo on {}: answered vs offered (datagrams/s)", r.board), ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..max_x * 1.05, 0.0..max_y * 1.45)?;
    chart.configure_mesh().x_desc("offered").y_desc("answered").x_label_formatter(&whole).y_label_formatter(&whole).draw()?;
    let diagonal = max_x.min(max_y * 1.45);
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (diagonal, diagonal)], BLACK.mix(0.3)))?
        .label("answered = offered")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.3)));
    for sys in &r.systems {
        let color = sys.kind.color();
        let points: Vec<(f64, f64)> = sys.rates.iter().map(|x| (x.offered_pps as f64, x.answered_pps)).collect();
        let label = match sys.held() {
            Some(h) => format!("{} (held {} at the highest rate)", sys.kind.name(), percent(h)),
            None => sys.kind.name().to_string(),
        };
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        if let Some(p) = sys.peak() {
            let style = ("sans-serif", 12).into_font().color(&color).pos(Pos::new(HPos::Center, VPos::Bottom));
            chart.draw_series([EmptyElement::at((p.offered_pps as f64, p.answered_pps))
                + Circle::new((0, 0), 7, color.stroke_width(2))
                + Text::new(format!("peak {}", per_second(p.answered_pps)), (0, -10), style)])?;
        }
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::UpperLeft).draw()?;

    // Two bars per system; n systems take the x range 0..n.
    let n = r.systems.len().max(1);
    let mut bars = ChartBuilder::on(&right)
        .caption(format!("Answered during a {FLOOD_PPS}/s echo flood"), ("sans-serif", 14))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(0.0..n as f64, 0.0..130.0)?;
    bars.configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * n + 1)
        .x_label_formatter(&|x| {
            let centre = x - x.floor();
            match r.systems.get(x.floor() as usize) {
                Some(s) if (centre - 0.5).abs() < 0.01 => s.kind.name().to_string(),
                _ => String::new(),
            }
        })
        .y_desc("answered (%)")
        .y_label_formatter(&|v| if *v <= 100.0 { format!("{v:.0}") } else { String::new() })
        .draw()?;
    type Bar = (&'static str, RGBAColor, fn(&Isolation) -> Option<Probe>);
    let kinds: [Bar; 2] = [
        ("sealed echo", RGBColor(148, 103, 189).to_rgba(), |i| i.sealed_flooded),
        ("stats", RGBColor(44, 160, 44).to_rgba(), |i| Some(i.stats_flooded)),
    ];
    for (k, (name, color, probe)) in kinds.into_iter().enumerate() {
        let x0 = |i: usize| i as f64 + 0.1 + 0.4 * k as f64;
        let values: Vec<(usize, Option<f64>)> =
            r.systems.iter().enumerate().map(|(i, s)| (i, probe(&s.isolation).map(|p| 100.0 * p.ratio()))).collect();
        bars.draw_series(values.iter().filter_map(|&(i, v)| Some(Rectangle::new([(x0(i), 0.0), (x0(i) + 0.4, v?)], color.filled()))))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        let style = ("sans-serif", 11).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
        bars.draw_series(values.iter().map(|&(i, v)| {
            let text = v.map(|v| format!("{v:.0} %")).unwrap_or_else(|| "n/a".into());
            Text::new(text, (x0(i) + 0.2, v.unwrap_or(0.0) + 1.0), style.clone())
        }))?;
    }
    bars.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::UpperRight).draw()?;
    root.present()?;
    Ok(())
}

/// First line of the README's network-results section.
pub const BEGIN_MARKER: &str = "<!-- tunnelkit-net-results:begin -->";
/// Last line of it.
pub const END_MARKER: &str = "<!-- tunnelkit-net-results:end -->";

/// Every board's results in `bench-results/<board>/net.json` under `root`
/// that this version reads (older files are skipped with a warning).
pub fn measured_boards(root: &Path) -> Vec<NetResults> {
    let mut boards = Vec::new();
    for b in Board::BUILT_IN {
        let json = root.join("bench-results").join(b.name()).join("net.json");
        let Ok(text) = fs::read_to_string(&json) else { continue };
        match serde_json::from_str(&text) {
            Ok(r) => boards.push(r),
            Err(e) => eprintln!("tunnelkit: warning: {} left out of the README ({e}); measure {} again", json.display(), b.name()),
        }
    }
    boards
}

/// Replaces the README's network-results section (between the markers, kept;
/// appended at the end if absent) with one subsection per board in `boards`.
pub fn update_readme(readme: &str, boards: &[NetResults]) -> String {
    let mut section = String::from(
        "### Network pipeline (`bench --net`)\n\nThis section is generated by `cargo run --release -p tunnelkit -- bench --net --board <board> --update-readme` \
         and is not edited by hand; it shows every board measured into `bench-results/<board>/net.json`.\n",
    );
    for r in boards {
        section.push_str(&format!("\n#### {b}\n\n{}\n![network systems on {b}](bench-results/{b}/net.svg)\n", markdown(r), b = r.board));
    }
    match (readme.find(BEGIN_MARKER), readme.find(END_MARKER)) {
        (Some(b), Some(e)) if b < e => {
            let start = b + BEGIN_MARKER.len();
            format!("{}\n{section}{}", &readme[..start], &readme[e..])
        }
        _ => format!("{}\n{BEGIN_MARKER}\n{section}{END_MARKER}\n", readme.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(answered: u32, median: f64) -> Probe {
        Probe { requests: 60, answered, rtt_us: Micros { min: median / 2.0, median, max: median * 3.0 } }
    }

    /// A system answering `curve[i]` per second at `RATES[i]` offered.
    fn system(kind: Kind, share_us: u64, curve: &[f64], rtt: f64) -> NetSystem {
        NetSystem {
            kind,
            system: system_file(Board::QEMU_VIRT_AARCH64, kind).unwrap().into(),
            budget: Budget {
                active: vec![PdShare { name: "net".into(), budget_us: share_us, period_us: 10_000 }],
                share: share_us as f64 / 10_000.0,
            },
            echo_rtt_us: Micros { min: rtt / 2.0, median: rtt, max: rtt * 10.0 },
            echo_probes: ProbeCount { requests: 200, answered: 199 },
            rates: RATES
                .iter()
                .zip(curve)
                .map(|(&o, &a)| Rate {
                    offered_pps: o,
                    senders: o.div_ceil(10_000) as u32,
                    seconds: 2.5,
                    sent: (o as f64 * 2.5) as u64,
                    // The host falls short at the highest rate.
                    sent_pps: if o == 20_000 { 15_000.0 } else { o as f64 },
                    answered: (a * 2.5) as u64,
                    answered_pps: a,
                    guest_rx: Some(o),
                    guest_tx: None,
                    host_rcvbuf_drops: Some(0),
                    recovery_seconds: if kind == Kind::Async && o == 20_000 { None } else { Some(0.1) },
                })
                .collect(),
            isolation: Isolation {
                flood_offered_pps: FLOOD_PPS,
                flood_sent_pps: 19_900.0,
                flood_answered_pps: curve[curve.len() - 1],
                sealed_quiet: (kind != Kind::Floor).then(|| probe(60, 200.0)),
                sealed_flooded: (kind != Kind::Floor).then(|| probe(30, 900.0)),
                stats_quiet: probe(60, 150.0),
                stats_flooded: probe(0, f64::NAN),
            },
        }
    }

    fn sample() -> NetResults {
        NetResults {
            board: "qemu_virt_aarch64".into(),
            config: "release".into(),
            qemu: super::super::model::QemuInfo { version: "v".into(), flags: "f".into() },
            host: Host { cores: 2, load_before: Some([0.1, 0.2, 0.3]), load_after: None },
            rate_seconds: RATE_SECONDS,
            systems: vec![
                system(Kind::Floor, 10_000, &[500.0, 1000.0, 2000.0, 5000.0, 8000.0, 9000.0, 10_000.0, 9800.0, 9500.0], 100.0),
                system(Kind::Tunnel, 10_000, &[500.0, 1000.0, 2000.0, 4000.0, 8000.0, 8500.0, 8200.0, 7000.0, 4250.0], 150.0),
                system(Kind::Async, 5_000, &[500.0, 900.0, 900.0, 900.0, 900.0, 900.0, 900.0, 900.0, 900.0], 300.0),
            ],
        }
    }

    #[test]
    fn peak_held_and_floor_ratios() {
        let r = sample();
        let tunnel = r.system(Kind::Tunnel).unwrap();
        assert_eq!(tunnel.peak().unwrap().offered_pps, 10_000);
        assert_eq!(tunnel.highest().unwrap().offered_pps, 20_000);
        assert_eq!(tunnel.held(), Some(0.5));
        assert_eq!(tunnel.held_up_to(20_000), Some(0.5));
        // Below the peak's offered rate nothing counts; past the limit neither.
        assert_eq!(tunnel.held_up_to(10_000), Some(1.0));
        // A flat curve keeps its first peak and holds all of it.
        assert_eq!(r.system(Kind::Async).unwrap().peak().unwrap().offered_pps, 1000);
        assert_eq!(r.system(Kind::Async).unwrap().held(), Some(1.0));
        assert_eq!(r.system(Kind::Floor).unwrap().held(), Some(0.95));
        let v = r.vs_floor(Kind::Tunnel).unwrap();
        assert!((v.peak - 0.85).abs() < 1e-9 && (v.echo_rtt - 1.5).abs() < 1e-9, "{v:?}");
        assert!(r.budget_warning().unwrap().contains("floor 100 %, tunnel 100 %, async 50 %"));
        let shortfalls = r.shortfalls();
        assert_eq!(shortfalls.len(), 3);
        assert!(shortfalls.iter().all(|x| !x.flood && x.offered_pps == 20_000 && x.sent_pps == 15_000.0));
        let mut without_floor = r.clone();
        without_floor.systems.remove(0);
        assert_eq!(without_floor.vs_floor(Kind::Tunnel), None);
        assert!(markdown(&without_floor).contains("No floor system was measured"));
    }

    #[test]
    fn the_budget_of_a_system_counts_active_pds_with_microkit_defaults() {
        let sdf = r#"<system>
            <protection_domain name="a" budget="3000" period="10000"><program_image path="a.elf" />
                <protection_domain name="child" id="1" budget="0x3e8" period="4000"><program_image path="c.elf" /></protection_domain>
            </protection_domain>
            <protection_domain name="p" passive="true" budget="5000" period="10000"><program_image path="p.elf" /></protection_domain>
            <protection_domain name="d"><program_image path="d.elf" /></protection_domain>
            <protection_domain name="e" budget="500"><program_image path="e.elf" /></protection_domain>
        </system>"#;
        let b = budget(sdf).unwrap();
        let names: Vec<&str> = b.active.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "child", "d", "e"]);
        assert_eq!((b.active[2].budget_us, b.active[2].period_us), (1000, 1000));
        assert_eq!((b.active[3].budget_us, b.active[3].period_us), (500, 500));
        assert!((b.share - (0.3 + 0.25 + 1.0 + 1.0)).abs() < 1e-9, "{}", b.share);
        assert!(budget("<system><protection_domain name=\"x\" budget=\"lots\"/></system>").is_err());
    }

    #[test]
    fn each_board_has_its_systems_and_the_pipelines_the_same_total_budget() {
        assert_eq!(system_file(Board::QEMU_VIRT_AARCH64, Kind::Floor), Some("net-floor.xml"));
        assert_eq!(system_file(Board::X86_64_GENERIC, Kind::Floor), Some("net-floor.x86_64_generic.xml"));
        assert_eq!(system_file(Board::X86_64_GENERIC, Kind::Async), Some("net-async.x86_64_generic.xml"));
        assert_eq!(system_file(Board::QEMU_VIRT_RISCV64, Kind::Floor), Some("net-floor.qemu_virt_riscv64.xml"));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let share = |b: Board, k: Kind| budget(&fs::read_to_string(root.join(system_file(b, k).unwrap())).unwrap()).unwrap().share;
        for b in Board::BUILT_IN.into_iter().filter(|&b| system_file(b, Kind::Tunnel).is_some()) {
            let (tunnel, asynch) = (share(b, Kind::Tunnel), share(b, Kind::Async));
            assert!((tunnel - asynch).abs() < 1e-9, "{}: tunnel {tunnel}, async {asynch}", b.name());
        }
    }

    #[test]
    fn the_report_shows_goals_shortfalls_and_isolation() {
        let md = markdown(&sample());
        let has = |line: &str| assert!(md.contains(line), "{line}\nnot in\n{md}");
        has("| peak answered (offered) | held to 20000/s | held at the highest offered |");
        has(
            "| tunnel (`net.xml`) | 100 % over 1 PD | 75 / 150 / 1500 | 1 of 200 | 8500/s (10000/s) | 50 % ✗ | 50 % (20000/s) | 0.85× ✓ | 1.50× |",
        );
        has(
            "| floor (`net-floor.xml`) | 100 % over 1 PD | 50 / 100 / 1000 | 1 of 200 | 10000/s (12000/s) | 95 % ✓ | 95 % (20000/s) | — | — |",
        );
        has("| 20000/s | 9500/s (sent 15000/s) | 4250/s (sent 15000/s) |");
        has("| 10000/s | 9000/s | **8500/s** | 900/s |");
        has("**The host could not reach every offered rate:** floor at 20000/s offered sent 15000/s");
        has("**Warning: the systems' total budgets differ");
        has(
            "Slow to answer echo again once a load had stopped (and its answers had 0.5 s to arrive): async after 20000/s not within 10 s.",
        );
        has("| floor | 19900/s | 9500/s | — / — | — / — | 60/60 / 0/60 | 150 / none answered |");
        has("| tunnel | 19900/s | 4250/s | 60/60 / 30/60 | 200 / 900 |");
        assert!(!md.contains("lower bound"), "{md}");

        // A floor that answered all it was sent, also at an extra rate the others were not offered.
        let mut capped = sample();
        for x in &mut capped.systems[0].rates {
            x.answered_pps = x.sent_pps;
        }
        let mut extra = capped.systems[0].rates[0];
        (extra.offered_pps, extra.sent_pps, extra.answered_pps) = (EXTRA_RATES[0], EXTRA_RATES[0] as f64, EXTRA_RATES[0] as f64);
        capped.systems[0].rates.push(extra);
        assert!(capped.systems[0].unsaturated() && !capped.systems[1].unsaturated());
        assert_eq!(capped.systems[0].highest().unwrap().offered_pps, EXTRA_RATES[0]);
        let md = markdown(&capped);
        assert!(
            md.contains(&format!(
                "**floor answered all the host sent at the highest offered rate ({}/s): its peak is only a lower bound, \
                 and the pipelines' ratios to it are upper bounds.**",
                EXTRA_RATES[0]
            )),
            "{md}"
        );
        assert!(md.contains(&format!("| {}/s | **{}/s** | — | — |", EXTRA_RATES[0], EXTRA_RATES[0])), "{md}");
    }

    #[test]
    fn the_readme_section_holds_every_board_and_is_idempotent() {
        let readme = format!("# T\n\n{BEGIN_MARKER}\nold\n{END_MARKER}\ntail\n");
        let aarch64 = sample();
        let mut x86 = sample();
        x86.board = "x86_64_generic".into();
        let once = update_readme(&readme, &[aarch64.clone(), x86.clone()]);
        assert!(once.contains("#### qemu_virt_aarch64") && once.contains("#### x86_64_generic"), "{once}");
        assert!(once.contains("![network systems on x86_64_generic](bench-results/x86_64_generic/net.svg)"));
        assert!(!once.contains("old"));
        assert!(once.ends_with(&format!("{END_MARKER}\ntail\n")));
        assert_eq!(update_readme(&once, &[aarch64.clone(), x86]), once);
        let appended = update_readme("# T\n", &[aarch64]);
        assert!(appended.contains(BEGIN_MARKER) && appended.ends_with(&format!("{END_MARKER}\n")));
    }

    #[test]
    fn results_round_trip_through_json_and_plot() {
        let r = sample();
        let back: NetResults = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.systems[0].kind, Kind::Floor);
        assert_eq!(back.systems.len(), 3);
        let dir = std::env::temp_dir().join(format!("tunnelkit-net-{}", std::process::id()));
        write(&r, &dir).unwrap();
        let svg = fs::read_to_string(dir.join("net.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("peak 8500/s") && svg.contains("sealed echo"), "{svg}");
        assert!(fs::read_to_string(dir.join("net.md")).unwrap().contains("| tunnel (`net.xml`)"));
        fs::remove_dir_all(dir).unwrap();
    }
}
