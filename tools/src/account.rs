//! Per-path CPU accounting of a real run (`tunnelkit run --accounting FILE`,
//! README "Accounting").
//!
//! The accountant PD (`account-dump.elf`, see [`crate::account_pd`]) prints
//! snapshots of every PD's accounting counters and of every scheduling
//! context's consumed time:
//!
//! ```text
//! ACCT-START seq=<n> final=<0|1> end=<pd|-> t=<clock> hz=<Hz> calibrated_hz=<Hz> regions=<k> lost=<l> #<crc>
//! ACCT-PD region=<i> name=<pd> starts=<n> busy=<ticks> sc_us=<µs> #<crc>
//! ACCT-SERVED region=<i> ch=<c> n=<calls> ticks=<ticks> #<crc>
//! ACCT-CALL region=<i> key=<k> ch=<c> n=<calls> ticks=<ticks> #<crc>
//! ACCT-DONE seq=<n> lines=<lines before it> #<crc>
//! ```
//!
//! [`Collector`] picks them out of the console; [`Accounting::compute`]
//! turns the final snapshot (or, at a timeout, the last complete one) and
//! the system description into the table: for each *path* (an active PD:
//! it has its own scheduling context) its total (the kernel's
//! `SchedContext_Consumed`), its own code (busy time minus the calls it
//! made, on the PD's clock), and each pod it reached with the time spent
//! there on its behalf (exclusive: a pod's nested calls are charged to the
//! pods they reach, listed under it); for each active server, who called it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Result, bail};
use serde::Serialize;
use tunnelkit_abi::account::CHANNELS;
use tunnelkit_abi::trace::crc16;

use crate::account_pd::Added;
use crate::sdf::parse;

/// How far own + pods may be from the kernel's total, as a fraction of it
/// (the clock's ticks are rounded at every interval, and the kernel's entry
/// and exit around each block and wake are charged to the path but are in
/// no interval).
pub const TOLERANCE: f64 = 0.05;
/// … or in microseconds, whichever is larger (short-lived paths).
pub const TOLERANCE_US: f64 = 200.0;
/// Pod depth followed (a deeper chain is charged to the last pod reached).
const MAX_DEPTH: usize = 16;

/// The counters of one PD in a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PdCounters {
    /// Its name, as the PD wrote it.
    pub name: String,
    /// Starts (1 + restarts).
    pub starts: u64,
    /// Busy ticks.
    pub busy: u64,
    /// What its scheduling context consumed, in µs (for a passive PD: the
    /// one bound to its notification).
    pub sc_us: u64,
    /// Readings of its scheduling context the accountant left out: more than
    /// the time since its previous look (multicore QEMU charges a virtual
    /// CPU's pauses to the thread it was running).
    pub sc_implausible: u64,
    /// Served calls by channel: (calls, ticks).
    pub served: BTreeMap<u64, (u64, u64)>,
    /// Calls made by (key, channel): (calls, ticks).
    pub calls: BTreeMap<(u64, u64), (u64, u64)>,
}

/// One snapshot the accountant printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Its sequence number.
    pub seq: u64,
    /// Whether it was taken because a PD ended the run.
    pub final_: bool,
    /// The PD that ended the run.
    pub end: Option<String>,
    /// The clock when it was taken.
    pub t: u64,
    /// The clock's rate (Hz).
    pub hz: u64,
    /// The rate the accountant measured against its own scheduling context.
    pub calibrated_hz: u64,
    /// Counter pairs that did not fit in the accountant's snapshot.
    pub lost: u64,
    /// Meter pages that held a look when it was taken.
    pub meters: u64,
    /// Counters by region index.
    pub pds: BTreeMap<usize, PdCounters>,
}

/// Picks the accountant's lines out of the console.
#[derive(Debug, Default)]
pub struct Collector {
    current: Option<(Snapshot, u64, bool)>,
    /// Whether the run's pass line has been seen.
    passed: bool,
    /// The last complete snapshot.
    pub latest: Option<Snapshot>,
    /// The first complete snapshot begun after the pass line (preferably
    /// the final one its PD's end caused).
    pub after_pass: Option<Snapshot>,
    /// Lines whose check failed (another PD's output broke into them).
    pub corrupt: Vec<String>,
}

const PREFIXES: [&str; 5] = ["ACCT-START ", "ACCT-PD ", "ACCT-SERVED ", "ACCT-CALL ", "ACCT-DONE "];

/// The accountant's line in `line`, if it holds one: `Ok(text)` without its
/// check, `Err(())` if the check fails.
fn account_line(line: &str) -> Option<Result<&str, ()>> {
    let at = PREFIXES.iter().filter_map(|p| line.find(p)).min()?;
    let text = line[at..].trim_end();
    let Some((body, check)) = text.rsplit_once(" #") else { return Some(Err(())) };
    let ok = check.len() == 4 && u16::from_str_radix(check, 16).is_ok_and(|c| c == crc16(body.as_bytes()));
    Some(if ok { Ok(body) } else { Err(()) })
}

/// The TSC rate (Hz) in the x86_64 kernel's boot line `… TSC Mhz <n> …`,
/// printed in configs with a kernel console.
pub fn kernel_tsc_hz(line: &str) -> Option<u64> {
    let rest = &line[line.find("TSC Mhz ")? + "TSC Mhz ".len()..];
    let mhz: u64 = rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    (mhz > 0).then_some(mhz * 1_000_000)
}

/// The host's TSC rate (Hz), which QEMU's TCG passes to an x86_64 guest
/// (without `-icount`): `tsc_freq_khz` where the kernel exports it, else
/// `cpu MHz` of `/proc/cpuinfo` on a CPU with a constant TSC.
pub fn host_tsc_hz() -> Option<u64> {
    if let Ok(k) = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/tsc_freq_khz")
        && let Ok(k) = k.trim().parse::<u64>()
    {
        return Some(k * 1000);
    }
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    if !info.contains("constant_tsc") {
        return None;
    }
    let mhz: f64 = info.lines().find(|l| l.starts_with("cpu MHz"))?.split(':').nth(1)?.trim().parse().ok()?;
    Some((mhz * 1e6) as u64)
}

/// Whether `line` is one of the accountant's (left out of the echoed console).
pub fn is_account_line(line: &str) -> bool {
    account_line(line).is_some()
}

fn words(body: &str) -> BTreeMap<&str, &str> {
    body.split_whitespace().filter_map(|w| w.split_once('=')).collect()
}

impl Collector {
    /// Looks at one console line.
    pub fn line(&mut self, line: &str) {
        let body = match account_line(line) {
            None => return,
            Some(Err(())) => {
                self.corrupt.push(line.to_string());
                // The snapshot it belonged to is incomplete.
                self.current = None;
                return;
            }
            Some(Ok(body)) => body,
        };
        let kind = body.split_whitespace().next().unwrap_or("");
        let w = words(body);
        let num = |k: &str| w.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        if kind == "ACCT-START" {
            let snap = Snapshot {
                seq: num("seq"),
                final_: num("final") == 1,
                end: w.get("end").filter(|e| **e != "-").map(|e| e.to_string()),
                t: num("t"),
                hz: num("hz"),
                calibrated_hz: num("calibrated_hz"),
                lost: num("lost"),
                meters: num("meters"),
                pds: BTreeMap::new(),
            };
            self.current = Some((snap, 1, self.passed));
            return;
        }
        let Some((snap, lines, after_pass)) = self.current.as_mut() else { return };
        let region = num("region") as usize;
        match kind {
            "ACCT-PD" => {
                let pd = snap.pds.entry(region).or_default();
                pd.name = w.get("name").map(|s| s.to_string()).unwrap_or_default();
                pd.starts = num("starts");
                pd.busy = num("busy");
                pd.sc_us = num("sc_us");
                pd.sc_implausible = num("sc_implausible");
            }
            "ACCT-SERVED" => {
                snap.pds.entry(region).or_default().served.insert(num("ch"), (num("n"), num("ticks")));
            }
            "ACCT-CALL" => {
                snap.pds.entry(region).or_default().calls.insert((num("key"), num("ch")), (num("n"), num("ticks")));
            }
            "ACCT-DONE" => {
                if num("seq") == snap.seq && num("lines") == *lines {
                    if *after_pass && self.after_pass.as_ref().is_none_or(|s| !s.final_ && snap.final_) {
                        self.after_pass = Some(snap.clone());
                    }
                    self.latest = self.current.take().map(|(s, _, _)| s);
                } else {
                    self.current = None;
                }
                return;
            }
            _ => return,
        }
        *lines += 1;
    }

    /// The run's pass line was seen: the snapshot to use is one begun after it.
    pub fn pass_seen(&mut self) {
        self.passed = true;
    }

    /// Whether a snapshot begun after the pass line arrived, so the run's
    /// accounting is complete.
    pub fn has_final(&self) -> bool {
        self.after_pass.is_some()
    }

    /// The snapshot the accounting is made of: the one after the pass line,
    /// else (a timeout) the last one.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.after_pass.as_ref().or(self.latest.as_ref())
    }
}

/// A pod reached by a path, through the pods in `via`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Route {
    /// The pod.
    pub pod: String,
    /// The pods on the way, from the path's side.
    pub via: Vec<String>,
    /// Time in the pod's own code on this path's behalf, µs.
    pub us: f64,
    /// Calls into it on this path's behalf.
    pub calls: u64,
    /// False when a pod on the way serves several paths and calls further:
    /// its nested calls are then split among them in proportion to the time
    /// each spent in it (the counters do not tell them apart).
    pub exact: bool,
}

/// One path's row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PathRow {
    /// The PD.
    pub name: String,
    /// Its core.
    pub core: u64,
    /// What its scheduling context consumed (the kernel's count), µs.
    pub total_us: f64,
    /// Its own code, µs: its share of the total (see [`PathRow::clock_us`]).
    pub own_us: f64,
    /// Each pod it reached, µs: the pod's own code on this path's behalf
    /// (nested pods separately), its share of the total.
    pub pods: BTreeMap<String, f64>,
    /// Calls into each pod on its behalf.
    pub calls: BTreeMap<String, u64>,
    /// The pods with the pods they were reached through.
    pub routes: Vec<Route>,
    /// Calls it (or a pod on its behalf) made to active servers, which their
    /// own budgets pay for.
    pub server_calls: BTreeMap<String, u64>,
    /// What the PDs' clock measured for the path, µs: busy time of its own
    /// code plus the time of every call into a pod. The kernel's total is
    /// split in the proportions of these intervals. It is larger than the
    /// total when the path stalled inside an interval (its budget ran out,
    /// or a higher priority ran), smaller when the kernel's work around its
    /// blocking system calls (outside every interval) is.
    pub clock_us: f64,
    /// Starts (1 + restarts by a supervisor).
    pub starts: u64,
    /// Readings of the kernel's count left out as impossible (see
    /// [`PdCounters::sc_implausible`]); the total is then too small.
    pub implausible_readings: u64,
}

/// An active server's row: a path that serves protected calls.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ServerRow {
    /// The PD.
    pub name: String,
    /// Its core.
    pub core: u64,
    /// What its scheduling context consumed, µs.
    pub total_us: f64,
    /// Calls served, by caller.
    pub callers: BTreeMap<String, u64>,
    /// Time serving them (arrival to answer, on the server's clock), by caller, µs.
    pub served_us: BTreeMap<String, f64>,
}

/// One check of the numbers.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// Whether it holds.
    pub ok: bool,
    /// The figures behind it.
    pub detail: String,
}

/// The accounting of a run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Accounting {
    /// The board.
    pub board: String,
    /// The kernel configuration.
    pub config: String,
    /// `pass` (the final snapshot, taken when a PD ended the run) or
    /// `timeout` (the last one taken before the run stopped).
    pub at: String,
    /// The clock's rate used to turn ticks into µs.
    pub hz: u64,
    /// Where it came from: `cntfrq` (AArch64's counter frequency),
    /// `timebase` (RISC-V's `time` CSR rate, the kernel's `TIMER_FREQUENCY`), `kernel`
    /// (the TSC rate the x86_64 kernel printed at boot, which it converts
    /// with), `host` (the host's TSC rate: QEMU's TCG passes it through) or
    /// `calibrated` (the accountant's own measurement, noisy on host time).
    pub hz_source: String,
    /// Virtual CPUs QEMU ran (`-smp`; 1 for a single-core config).
    pub qemu_cores: u64,
    /// The host's cores (0: unknown). With fewer host cores than virtual
    /// CPUs, a core's threads are charged for time their virtual CPU waited
    /// on the host (README "Accounting").
    pub host_cores: u64,
    /// Every path.
    pub paths: Vec<PathRow>,
    /// Every active server.
    pub servers: Vec<ServerRow>,
    /// The checks of the numbers.
    pub checks: Vec<Check>,
}

/// What the system says about one PD.
struct PdInfo {
    name: String,
    core: u64,
    passive: bool,
    region: Option<usize>,
}

/// The system's channel graph: (PD, id) → (peer PD, peer's id, can it call).
struct Graph {
    pds: Vec<PdInfo>,
    peer: BTreeMap<(String, u64), (String, u64)>,
}

impl Graph {
    fn new(system: &parse::System, added: &Added) -> Graph {
        let region: BTreeMap<&str, usize> = added.accounted.iter().map(|a| (a.pd.as_str(), a.region)).collect();
        let pds = system
            .pds
            .iter()
            .filter(|p| p.name != added.accountant && added.meters.iter().all(|m| m.pd != p.name))
            .map(|p| PdInfo { name: p.name.clone(), core: p.cpu, passive: p.passive, region: region.get(p.name.as_str()).copied() })
            .collect();
        let mut peer = BTreeMap::new();
        for ch in &system.channels {
            if let [a, b] = &ch.ends[..]
                && let (Some(ia), Some(ib)) = (a.id, b.id)
            {
                peer.insert((a.pd.clone(), ia), (b.pd.clone(), ib));
                peer.insert((b.pd.clone(), ib), (a.pd.clone(), ia));
            }
        }
        Graph { pds, peer }
    }

    fn info(&self, pd: &str) -> Option<&PdInfo> {
        self.pds.iter().find(|p| p.name == pd)
    }
}

impl Accounting {
    /// The accounting of `snap`, a snapshot of the system `system_text`
    /// (the one built: `added.text`).
    /// `clock` overrides the rate the snapshot gives: (Hz, where from).
    pub fn compute(snap: &Snapshot, added: &Added, board: &str, config: &str, clock: Option<(u64, &str)>) -> Result<Accounting> {
        let (system, _doc) = crate::sdf::rewrite::read(&added.text)
            .map_err(|e| anyhow::anyhow!("the accounted system does not parse: {}", e.first().map(|e| e.message.as_str()).unwrap_or("")))?;
        let graph = Graph::new(&system, added);
        // AArch64 PDs read the counter's frequency; x86_64 ones cannot: the
        // caller gives the kernel's (or the host's) TSC rate, else the
        // accountant's measurement is used.
        let (hz, hz_source) = match clock {
            Some((hz, from)) => (hz, from),
            None if board.starts_with("x86") => (snap.hz, "calibrated"),
            None if board.contains("riscv") => (snap.hz, "timebase"),
            None => (snap.hz, "cntfrq"),
        };
        if hz == 0 {
            bail!("the accountant could not tell the clock's rate (its calibration found no window), so ticks cannot be turned into time");
        }
        let us = |ticks: f64| ticks * 1e6 / hz as f64;
        let counters = |pd: &str| graph.info(pd).and_then(|i| i.region).and_then(|r| snap.pds.get(&r));

        let mut paths = Vec::new();
        for info in graph.pds.iter().filter(|p| !p.passive) {
            let Some(c) = info.region.and_then(|r| snap.pds.get(&r)) else { continue };
            let mut row = PathRow {
                name: info.name.clone(),
                core: info.core,
                total_us: c.sc_us as f64,
                own_us: 0.0,
                pods: BTreeMap::new(),
                calls: BTreeMap::new(),
                routes: Vec::new(),
                server_calls: BTreeMap::new(),
                clock_us: 0.0,
                starts: c.starts,
                implausible_readings: c.sc_implausible,
            };
            let called: u64 = c.calls.values().map(|(_, t)| t).sum();
            row.own_us = us(c.busy.saturating_sub(called) as f64);
            // Every channel it calls, over all its contexts (for an active
            // server its own code and each call it serves: all on its budget).
            let mut by_channel: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
            for (&(_, ch), &(n, t)) in &c.calls {
                let e = by_channel.entry(ch).or_default();
                e.0 += n;
                e.1 += t;
            }
            for (ch, (n, t)) in by_channel {
                charge(&graph, &counters, &mut row, &info.name, ch, n as f64, t as f64, t as f64, Vec::new(), true, &us);
            }
            // The kernel's total, split in the clock's proportions.
            row.clock_us = row.own_us + row.pods.values().sum::<f64>();
            let scale = if row.clock_us > 0.0 { row.total_us / row.clock_us } else { 0.0 };
            row.own_us *= scale;
            row.pods.values_mut().for_each(|v| *v *= scale);
            row.routes.iter_mut().for_each(|r| r.us *= scale);
            paths.push(row);
        }

        let mut servers = Vec::new();
        for info in graph.pds.iter().filter(|p| !p.passive) {
            let Some(c) = info.region.and_then(|r| snap.pds.get(&r)) else { continue };
            if c.served.is_empty() {
                continue;
            }
            let mut row = ServerRow {
                name: info.name.clone(),
                core: info.core,
                total_us: c.sc_us as f64,
                callers: BTreeMap::new(),
                served_us: BTreeMap::new(),
            };
            for (&ch, &(n, t)) in &c.served {
                let caller = graph.peer.get(&(info.name.clone(), ch)).map(|(p, _)| p.clone()).unwrap_or_else(|| format!("channel {ch}"));
                *row.callers.entry(caller.clone()).or_default() += n;
                *row.served_us.entry(caller).or_default() += us(t as f64);
            }
            servers.push(row);
        }

        let mut acc = Accounting {
            board: board.to_string(),
            config: config.to_string(),
            at: if snap.final_ { "pass".into() } else { "timeout".into() },
            hz,
            hz_source: hz_source.into(),
            qemu_cores: 1,
            host_cores: 0,
            paths,
            servers,
            checks: Vec::new(),
        };
        acc.checks = checks(&acc, &graph, snap, added);
        Ok(acc)
    }

    /// The path called `name`.
    pub fn path(&self, name: &str) -> Option<&PathRow> {
        self.paths.iter().find(|p| p.name == name)
    }

    /// The active server called `name`.
    pub fn server(&self, name: &str) -> Option<&ServerRow> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The checks that failed.
    pub fn failed(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.ok).collect()
    }

    /// The table, as printed.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "accounting on {} ({}), {}; clock {} Hz ({}){}",
            self.board,
            self.config,
            if self.at == "pass" { "when the system passed" } else { "at the timeout (the last snapshot)" },
            self.hz,
            self.hz_source,
            match (self.qemu_cores, self.host_cores) {
                (1, _) => String::new(),
                (q, 0) => format!("; {q} virtual CPUs"),
                (q, h) => format!("; {q} virtual CPUs on {h} host cores"),
            }
        );
        let _ = writeln!(s, "{:<28} {:>4} {:>12} {:>12} {:>12} {:>12}", "path / pod", "core", "total µs", "own µs", "pods µs", "clock µs");
        for p in &self.paths {
            let pods: f64 = p.pods.values().sum();
            let _ = writeln!(s, "{:<28} {:>4} {:>12.1} {:>12.1} {:>12.1} {:>12.1}", p.name, p.core, p.total_us, p.own_us, pods, p.clock_us);
            for r in &p.routes {
                let indent = "  ".repeat(r.via.len() + 1);
                let name = format!("{indent}→ {}", r.pod);
                let _ = writeln!(
                    s,
                    "{:<28} {:>4} {:>12} {:>12} {:>12.1} {:>12}{}",
                    name,
                    "",
                    "",
                    "",
                    r.us,
                    format!("{} calls", r.calls),
                    if r.exact { "" } else { " (split)" }
                );
            }
            for (server, n) in &p.server_calls {
                let _ = writeln!(
                    s,
                    "{:<28} {:>4} {:>12} {:>12} {:>12} {:>12}",
                    format!("  ⇢ {server} (server)"),
                    "",
                    "",
                    "",
                    "-",
                    format!("{n} calls")
                );
            }
        }
        if !self.servers.is_empty() {
            let _ = writeln!(s, "{:<28} {:>4} {:>12}  callers (calls, µs serving)", "active server", "core", "total µs");
            for v in &self.servers {
                let callers: Vec<String> =
                    v.callers.iter().map(|(c, n)| format!("{c} {n} ({:.1})", v.served_us.get(c).copied().unwrap_or(0.0))).collect();
                let _ = writeln!(s, "{:<28} {:>4} {:>12.1}  {}", v.name, v.core, v.total_us, callers.join(", "));
            }
        }
        for c in &self.checks {
            let _ = writeln!(s, "{} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail);
        }
        s
    }
}

/// Charges the calls `caller` made on channel `ch` on the path's behalf —
/// `n` calls, `t` ticks of the `t_all` all its contexts spent on that
/// channel — to the path in `row`: to the pod it reaches (its own code) and,
/// recursively, to the pods that one called while serving them.
#[allow(clippy::too_many_arguments)]
fn charge<'a>(
    graph: &Graph,
    counters: &impl Fn(&str) -> Option<&'a PdCounters>,
    row: &mut PathRow,
    caller: &str,
    ch: u64,
    n: f64,
    t: f64,
    t_all: f64,
    via: Vec<String>,
    exact: bool,
    us: &impl Fn(f64) -> f64,
) {
    let Some((callee, at)) = graph.peer.get(&(caller.to_string(), ch)) else { return };
    let passive = graph.info(callee).map(|i| i.passive).unwrap_or(true);
    if !passive {
        *row.server_calls.entry(callee.clone()).or_default() += n.round() as u64;
        return;
    }
    // The callee's calls while serving this channel, the share that is this path's.
    let share = if t_all > 0.0 { t / t_all } else { 0.0 };
    let mut nested = 0.0;
    let mut inner = Vec::new();
    if via.len() < MAX_DEPTH
        && let Some(c) = counters(callee)
    {
        let key = at + 1;
        let mixed = t_all > t * 1.000_001;
        for d in 0..CHANNELS {
            let Some(&(cn, ct)) = c.calls.get(&(key, d)) else { continue };
            let all_contexts: u64 = c.calls.iter().filter(|((_, ch2), _)| *ch2 == d).map(|(_, (_, t2))| t2).sum();
            nested += ct as f64 * share;
            inner.push((d, cn as f64 * share, ct as f64 * share, all_contexts as f64, exact && !mixed));
        }
    }
    let own = (t - nested).max(0.0);
    *row.pods.entry(callee.clone()).or_default() += us(own);
    *row.calls.entry(callee.clone()).or_default() += n.round() as u64;
    match row.routes.iter_mut().find(|r| r.pod == *callee && r.via == via) {
        Some(r) => {
            r.us += us(own);
            r.calls += n.round() as u64;
            r.exact &= exact;
        }
        None => row.routes.push(Route { pod: callee.clone(), via: via.clone(), us: us(own), calls: n.round() as u64, exact }),
    }
    let mut next_via = via;
    next_via.push(callee.clone());
    // What the callee spent on `d` on this path's behalf, out of what all
    // its contexts spent there (the next level's share).
    for (d, cn, ct, all, exact) in inner {
        charge(graph, counters, row, callee, d, cn, ct, all, next_via.clone(), exact, us);
    }
}

fn checks(acc: &Accounting, graph: &Graph, snap: &Snapshot, added: &Added) -> Vec<Check> {
    let mut out = Vec::new();
    // 0. every core's scheduling contexts were read: by the accountant on
    // core 0, by a meter on each other core.
    if !added.meters.is_empty() {
        out.push(Check {
            name: "every core's meter looked".into(),
            ok: snap.meters == added.meters.len() as u64,
            detail: format!(
                "{} of {} meter(s) ({}) had published a look",
                snap.meters,
                added.meters.len(),
                added.meters.iter().map(|m| format!("core {}", m.cpu)).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    // 1. own + pods = total (the split is of the kernel's total, so this
    // holds unless the clock saw nothing: then there is nothing to split).
    // 2. the clock covered the path: its intervals hold at least half of
    // what the kernel charged (a PD without the counters, or a blocking
    // system call outside them, would not), and the kernel charged something
    // for the time the clock saw.
    for p in &acc.paths {
        let pods: f64 = p.pods.values().sum();
        let tol = (p.total_us * TOLERANCE).max(TOLERANCE_US);
        out.push(Check {
            name: format!("{}: own + pods = total", p.name),
            ok: (p.total_us - p.own_us - pods).abs() <= tol,
            detail: format!(
                "{:.1} + {:.1} = {:.1} µs against {:.1} µs (tolerance {:.1})",
                p.own_us,
                pods,
                p.own_us + pods,
                p.total_us,
                tol
            ),
        });
        out.push(Check {
            name: format!("{}: the kernel's readings are possible", p.name),
            ok: p.implausible_readings == 0,
            detail: if p.implausible_readings == 0 {
                "every reading of its scheduling context within the time since the previous".into()
            } else {
                format!(
                    "{} reading(s) larger than the time since the previous were left out (a multicore QEMU charges a virtual CPU's pauses to the thread it ran)",
                    p.implausible_readings
                )
            },
        });
        out.push(Check {
            name: format!("{}: the clock saw its time", p.name),
            ok: p.clock_us >= 0.5 * p.total_us && (p.total_us > 0.0 || p.clock_us == 0.0),
            detail: format!(
                "intervals {:.1} µs against the kernel's {:.1} µs ({:.2}×)",
                p.clock_us,
                p.total_us,
                p.clock_us / p.total_us.max(1e-9)
            ),
        });
    }
    // 3. a pod's time appears only under paths that can reach it.
    for p in &acc.paths {
        let reach = reachable(graph, &p.name);
        let strays: Vec<&String> = p.pods.keys().filter(|pod| !reach.contains(pod.as_str())).collect();
        out.push(Check {
            name: format!("{}: only pods it can call", p.name),
            ok: strays.is_empty(),
            detail: if strays.is_empty() {
                format!("{} pod(s), each reachable over pp channels", p.pods.len())
            } else {
                format!("charged for {strays:?}, which it cannot reach")
            },
        });
    }
    // 4. both ends count the same calls: the calls made on a channel (the
    // caller's counters) are the calls served on it (the callee's).
    let mut mismatches = Vec::new();
    let mut edges = 0;
    for info in &graph.pds {
        let Some(c) = info.region.and_then(|r| snap.pds.get(&r)) else { continue };
        for (&ch, &(served, _)) in &c.served {
            let Some((caller, cch)) = graph.peer.get(&(info.name.clone(), ch)) else { continue };
            let Some(cc) = graph.info(caller).and_then(|i| i.region).and_then(|r| snap.pds.get(&r)) else { continue };
            let made: u64 = cc.calls.iter().filter(|((_, d), _)| d == cch).map(|(_, (n, _))| n).sum();
            edges += 1;
            // A call in flight when the snapshot was taken may be counted
            // at one end only; a restarted callee answers one it never began.
            let slack = 1 + info.region.and_then(|r| snap.pds.get(&r)).map_or(0, |c| c.starts.saturating_sub(1));
            if made.abs_diff(served) > slack {
                mismatches.push(format!("{caller} made {made} calls to {}, which served {served}", info.name));
            }
        }
    }
    out.push(Check {
        name: "callers and callees count the same calls".into(),
        ok: mismatches.is_empty(),
        detail: if mismatches.is_empty() { format!("{edges} channel(s) with calls") } else { mismatches.join("; ") },
    });
    out
}

/// The PDs `from` can reach over `pp` channels (pods and servers alike).
fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(pd) = todo.pop() {
        for (_, (peer, _)) in graph.peer.iter().filter(|((p, _), _)| *p == pd) {
            if seen.insert(peer.clone()) {
                todo.push(peer.clone());
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(text: &str) -> String {
        format!("{text} #{:04x}", crc16(text.as_bytes()))
    }

    fn demo_added() -> Added {
        let text = std::fs::read_to_string(format!("{}/../system.xml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        crate::account_pd::add(&text).unwrap()
    }

    /// A snapshot of the demo: client_a calls crypt (tunnel, ch 1) 10 times
    /// for 1000 ticks, crypt calls checksum for 400 of them; client_a calls
    /// crypt_ipc (ch 2) 10 times.
    fn demo_lines() -> Vec<String> {
        let body = [
            "ACCT-START seq=3 final=1 end=report t=99 hz=1000000 calibrated_hz=1000100 regions=6 lost=0",
            "ACCT-PD region=0 name=client_a starts=1 busy=3000 sc_us=2950",
            "ACCT-CALL region=0 key=0 ch=1 n=10 ticks=1000",
            "ACCT-CALL region=0 key=0 ch=2 n=10 ticks=900",
            "ACCT-PD region=2 name=crypt starts=1 busy=1000 sc_us=5",
            "ACCT-SERVED region=2 ch=0 n=10 ticks=950",
            "ACCT-CALL region=2 key=1 ch=3 n=10 ticks=400",
            "ACCT-PD region=3 name=crypt_ipc starts=1 busy=900 sc_us=880",
            "ACCT-SERVED region=3 ch=0 n=10 ticks=800",
            "ACCT-PD region=4 name=checksum starts=1 busy=380 sc_us=0",
            "ACCT-SERVED region=4 ch=0 n=10 ticks=380",
            "ACCT-DONE seq=3 lines=11",
        ];
        body.iter().map(|b| format!("client_a: {}", checked(b))).collect()
    }

    #[test]
    fn a_snapshot_is_collected_only_when_whole_and_unbroken() {
        let mut c = Collector::default();
        c.pass_seen();
        for l in demo_lines() {
            c.line(&l);
        }
        assert!(c.has_final());
        let s = c.latest.clone().unwrap();
        assert_eq!((s.seq, s.hz, s.end.as_deref()), (3, 1_000_000, Some("report")));
        assert_eq!(s.pds[&0].calls[&(0, 1)], (10, 1000));
        // A broken line drops its snapshot; a short one is not taken.
        let mut c = Collector::default();
        let mut lines = demo_lines();
        lines[3] = lines[3].replace("ticks=900", "ticks=901");
        lines.iter().for_each(|l| c.line(l));
        assert!(c.latest.is_none() && c.corrupt.len() == 1);
        let mut c = Collector::default();
        let lines = demo_lines();
        lines.iter().enumerate().filter(|(i, _)| *i != 2).for_each(|(_, l)| c.line(l));
        assert!(c.latest.is_none(), "a line is missing");
        assert!(is_account_line(&lines[0]) && !is_account_line("client_a: pass"));
        assert_eq!(kernel_tsc_hz("Apic Khz 1000238, TSC Mhz 2596, ratio 2"), Some(2_596_000_000));
        assert_eq!(kernel_tsc_hz("TSC Mhz x"), None);
    }

    #[test]
    fn pods_are_charged_to_the_path_exclusively_and_servers_are_not() {
        let mut c = Collector::default();
        demo_lines().iter().for_each(|l| c.line(l));
        assert!(!c.has_final(), "begun before the pass line");
        let acc = Accounting::compute(c.latest.as_ref().unwrap(), &demo_added(), "qemu_virt_aarch64", "debug", None).unwrap();
        let a = acc.path("client_a").unwrap();
        // The clock saw 1100 (busy 3000 minus 1900 in calls) + 600 in crypt
        // (1000 minus its 400 in checksum) + 400 in checksum = 2100 µs; the
        // kernel's 2950 are split in those proportions.
        assert_eq!(a.total_us, 2950.0);
        assert_eq!(a.clock_us, 2100.0);
        let k = 2950.0 / 2100.0;
        assert!((a.own_us - 1100.0 * k).abs() < 1e-6);
        assert!((a.pods["crypt"] - 600.0 * k).abs() < 1e-6);
        assert!((a.pods["checksum"] - 400.0 * k).abs() < 1e-6);
        assert_eq!((a.calls["crypt"], a.calls["checksum"]), (10, 10));
        assert_eq!(
            (a.routes[1].pod.as_str(), &a.routes[1].via[..], a.routes[1].calls, a.routes[1].exact),
            ("checksum", &["crypt".to_string()][..], 10, true)
        );
        assert_eq!(a.server_calls["crypt_ipc"], 10);
        assert!(!a.pods.contains_key("crypt_ipc"));
        let s = acc.server("crypt_ipc").unwrap();
        assert_eq!((s.callers["client_a"], s.served_us["client_a"]), (10, 800.0));
        assert!(acc.failed().is_empty(), "{}", acc.table());
        let json = serde_json::to_value(&acc).unwrap();
        assert_eq!(json["paths"][0]["calls"]["checksum"], 10);
        assert!(acc.table().contains("    → checksum"), "{}", acc.table());
    }
}
