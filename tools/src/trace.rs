//! `tunnelkit run --trace FILE`: collecting the trace dumps from the
//! console, merging them into one trace and writing it as JSON lines
//! (docs/trace.md describes the format).
//!
//! The dumper PD (`trace-dump.elf`, see [`crate::trace_pd`]) prints every
//! traced PD's records once the run has ended:
//!
//! ```text
//! TRACE-START regions=<k> end=<pd> end_t=<t> hz=<Hz> #<crc>
//! TRACE-BEGIN <pd> region=<i> n=<lines> dropped=<d> count=<recorded> #<crc>
//! TRACE <pd> <seq> <t> <event> k=v … #<crc>
//! TRACE-END <pd> region=<i> n=<lines> late=<l> #<crc>
//! TRACE-DONE regions=<k> #<crc>
//! ```
//!
//! [`Collector`] picks these out of the console (anything before `TRACE` on
//! a line is another PD's output and ignored; a line whose CRC-16 does not
//! match is counted as corrupt), [`merge`] orders every PD's events by
//! their clock (a PD's own order is kept) and completes them from the
//! system description: the PD at the other end of each channel, the
//! nesting depth of each call and the scheduling context it runs on.

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tunnelkit_abi::trace::{Layout, crc16};

use crate::sdf::System;

/// Records each trace region holds (head and ring, less the ring slot
/// written next).
pub fn records_per_region() -> u64 {
    Layout::for_size(crate::trace_pd::REGION_SIZE).map_or(0, |l| l.head + l.ring - 1)
}

/// One record as dumped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent {
    /// Its sequence number in its PD (gaps: dropped events).
    pub seq: u64,
    /// The clock.
    pub t: u64,
    /// The event's name.
    pub event: String,
    /// Its `key=value` fields (numbers; `0x…` accepted).
    pub fields: BTreeMap<String, u64>,
}

/// One PD's dump.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dump {
    /// The PD.
    pub pd: String,
    /// Its region's index.
    pub region: usize,
    /// Records the dumper announced.
    pub n: u64,
    /// Events its PD recorded in all.
    pub count: u64,
    /// Events lost (overwritten ring slots).
    pub dropped: u64,
    /// Events after the dumper froze the region.
    pub late: u64,
    /// Whether the PD had started (initialised its region).
    pub started: bool,
    /// Whether its `TRACE-END` arrived.
    pub ended: bool,
    /// The records, in the order dumped (sequence order).
    pub events: Vec<RawEvent>,
}

/// What `TRACE-START` said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Start {
    /// The PD that ended the run.
    pub end_pd: String,
    /// When.
    pub end_t: u64,
    /// The clock's frequency (0: unknown).
    pub hz: u64,
}

/// Collects the dumps from console lines.
#[derive(Clone, Debug, Default)]
pub struct Collector {
    start: Option<Start>,
    dumps: BTreeMap<usize, Dump>,
    region_of: HashMap<String, usize>,
    done: bool,
    corrupt: Vec<String>,
}

/// The kinds of dump line.
const PREFIXES: [&str; 5] = ["TRACE-START ", "TRACE-BEGIN ", "TRACE-END ", "TRACE-DONE ", "TRACE "];

/// The dump line in `line`, if it holds one: `Ok(text)` without its check,
/// `Err(())` if the check fails (another PD's output broke into it).
fn dump_line(line: &str) -> Option<Result<&str, ()>> {
    let at = PREFIXES.iter().filter_map(|p| line.find(p)).min()?;
    let text = line[at..].trim_end();
    let Some((body, check)) = text.rsplit_once(" #") else { return Some(Err(())) };
    let ok = check.len() == 4 && u16::from_str_radix(check, 16).is_ok_and(|c| c == crc16(body.as_bytes()));
    Some(if ok { Ok(body) } else { Err(()) })
}

fn number(v: &str) -> Option<u64> {
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `key=value` words as numbers (non-numeric values are left out).
fn fields<'a>(words: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    words.filter_map(|w| w.split_once('=')).filter_map(|(k, v)| Some((k.to_string(), number(v)?))).collect()
}

impl Collector {
    /// A collector expecting the dumps of these regions: (region, PD).
    pub fn new(expected: impl IntoIterator<Item = (usize, String)>) -> Self {
        let mut c = Collector::default();
        for (region, pd) in expected {
            c.region_of.insert(pd.clone(), region);
            c.dumps.insert(region, Dump { pd, region, ..Dump::default() });
        }
        c
    }

    /// Looks at one console line.
    pub fn line(&mut self, line: &str) {
        let body = match dump_line(line) {
            None => return,
            Some(Err(())) => {
                self.corrupt.push(line.to_string());
                return;
            }
            Some(Ok(body)) => body,
        };
        let mut words = body.split_whitespace();
        match words.next() {
            Some("TRACE-START") => {
                let f: BTreeMap<String, String> =
                    words.filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
                let num = |k: &str| f.get(k).and_then(|v| number(v)).unwrap_or(0);
                self.start = Some(Start { end_pd: f.get("end").cloned().unwrap_or_default(), end_t: num("end_t"), hz: num("hz") });
            }
            Some("TRACE-BEGIN") => {
                let name = words.next().unwrap_or("?").to_string();
                let f = fields(words);
                let Some(region) = f.get("region").map(|&r| r as usize) else { return };
                let d = self.dumps.entry(region).or_insert_with(|| Dump { pd: name.clone(), region, ..Dump::default() });
                if name != "?" {
                    d.pd = name;
                }
                self.region_of.insert(d.pd.clone(), region);
                d.n = f.get("n").copied().unwrap_or(0);
                d.dropped = f.get("dropped").copied().unwrap_or(0);
                d.count = f.get("count").copied().unwrap_or(0);
                d.started = f.get("started") != Some(&0);
                d.events.clear();
            }
            Some("TRACE-END") => {
                let _name = words.next();
                let f = fields(words);
                if let Some(d) = f.get("region").and_then(|&r| self.dumps.get_mut(&(r as usize))) {
                    d.ended = true;
                    d.late = f.get("late").copied().unwrap_or(0);
                }
            }
            Some("TRACE-DONE") => self.done = true,
            Some("TRACE") => {
                let (Some(pd), Some(seq), Some(t), Some(event)) = (words.next(), words.next(), words.next(), words.next()) else {
                    self.corrupt.push(line.to_string());
                    return;
                };
                let (Some(seq), Some(t)) = (number(seq), number(t)) else {
                    self.corrupt.push(line.to_string());
                    return;
                };
                if let Some(d) = self.region_of.get(pd).and_then(|r| self.dumps.get_mut(r)) {
                    d.events.push(RawEvent { seq, t, event: event.to_string(), fields: fields(words) });
                }
            }
            _ => {}
        }
    }

    /// Whether every expected PD's dump has ended (or the dumper said it is done).
    pub fn complete(&self) -> bool {
        self.done || (!self.dumps.is_empty() && self.dumps.values().all(|d| d.ended))
    }

    /// Whether any dump line arrived.
    pub fn started(&self) -> bool {
        self.start.is_some() || self.dumps.values().any(|d| d.ended || !d.events.is_empty())
    }

    /// The PDs whose `TRACE-END` did not arrive.
    pub fn missing(&self) -> Vec<String> {
        self.dumps.values().filter(|d| !d.ended).map(|d| d.pd.clone()).collect()
    }

    /// Dump lines whose check failed.
    pub fn corrupt(&self) -> &[String] {
        &self.corrupt
    }

    /// The dumps, once complete: an error naming the PDs whose dump is missing.
    pub fn finish(self) -> Result<Collected> {
        let missing = self.missing();
        if !missing.is_empty() {
            bail!(
                "no complete trace dump from {} of {} PDs: {} (their TRACE-END line did not arrive{})",
                missing.len(),
                self.dumps.len(),
                missing.join(", "),
                if self.start.is_none() { "; the dumper never started: did the run end with its pass line?" } else { "" }
            );
        }
        Ok(Collected { start: self.start.unwrap_or_default(), dumps: self.dumps.into_values().collect(), corrupt: self.corrupt })
    }
}

/// Every PD's dump.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    /// What the dumper said first.
    pub start: Start,
    /// The dumps, by region.
    pub dumps: Vec<Dump>,
    /// Dump lines whose check failed.
    pub corrupt: Vec<String>,
}

/// The first line of a trace file: what was run, and the system.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// Always `tunnelkit-trace`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The board.
    pub board: String,
    /// The kernel configuration.
    pub config: String,
    /// The system description as given to `tunnelkit run`.
    pub system: String,
    /// The one the microkit tool built (with the dumper, console pod and
    /// per-core instances): PD names and channel ids refer to it.
    pub built_system: String,
    /// The clock of `t`.
    pub clock: Clock,
    /// The PD that ended the run, and when.
    pub end: Option<EndMark>,
    /// Up to this `t` no traced PD lost an event (`null`: none lost any).
    pub complete_until: Option<u64>,
    /// Events in the file (after this line).
    pub events: u64,
    /// Dump lines that arrived damaged (their records are missing).
    pub corrupt_lines: u64,
    /// Every PD of the built system.
    pub pds: Vec<PdInfo>,
    /// Every channel of the built system.
    pub channels: Vec<ChannelInfo>,
}

/// The clock events are stamped with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Clock {
    /// `cntpct_el0` (AArch64 generic timer) or `tsc` (x86_64).
    pub source: String,
    /// Its frequency (0: unknown).
    pub hz: u64,
}

/// Who ended the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndMark {
    /// The PD.
    pub pd: String,
    /// When.
    pub t: u64,
}

/// A PD of the built system.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PdInfo {
    /// Its name.
    pub name: String,
    /// `pd`, or what tunnelkit added: `console` or `trace-dumper` (not traced).
    pub role: String,
    /// A pod (no scheduling context of its own).
    pub passive: bool,
    /// Priority.
    pub priority: u64,
    /// Budget, µs.
    pub budget: u64,
    /// Period, µs.
    pub period: u64,
    /// Core.
    pub cpu: u64,
    /// Its parent PD, for a child.
    pub parent: Option<String>,
    /// Its child id, for a child.
    pub child_id: Option<u64>,
    /// Its program image.
    pub image: Option<String>,
    /// Its call bound (`<?tunnelkit call_bound_us?>`).
    pub call_bound_us: Option<u64>,
    /// Whether it was traced.
    pub traced: bool,
    /// Its trace region.
    pub region: Option<usize>,
    /// Events it recorded.
    pub recorded: u64,
    /// Events in the file.
    pub dumped: u64,
    /// Events lost when its buffer was full (a `gap` event marks where).
    pub dropped: u64,
    /// Events after the dump began (not recorded).
    pub late: u64,
}

/// A channel of the built system.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Its two ends.
    pub ends: Vec<EndInfo>,
}

/// One end of a channel.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndInfo {
    /// The PD.
    pub pd: String,
    /// The channel id at it.
    pub id: u64,
    /// It may call the other end.
    pub pp: bool,
    /// It may notify the other end.
    pub notify: bool,
}

/// One event of the merged trace.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    /// The clock (see [`Header::clock`]).
    pub t: u64,
    /// The PD it happened in.
    pub pd: String,
    /// Its sequence number there.
    pub seq: u64,
    /// The core it ran on (the PD's, or for a pod serving a call, its
    /// scheduling context's).
    pub core: u64,
    /// What: init, restart, call, reply, serve, answer, notify, notified,
    /// child_fault, child_overrun, child_restart, end, gap.
    pub event: String,
    /// The channel id at `pd`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub channel: Option<u64>,
    /// The PD at its other end.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peer: Option<String>,
    /// Nesting depth of the call (0: made by a PD not serving one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub depth: Option<u64>,
    /// The PD whose scheduling context the call runs on in the callee.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sc: Option<String>,
    /// `tunnel` (passive callee) or `ipc` (active callee).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transport: Option<String>,
    /// The operation (message label) of a call.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub op: Option<u64>,
    /// The label of a reply or answer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<u64>,
    /// What the label means: `ok` or the error.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub outcome: Option<String>,
    /// Why a PD (re)started: boot, fault, overrun.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// A restart found a call being served (it is answered next).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub in_call: Option<bool>,
    /// The channels notified together.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub channels: Option<Vec<u64>>,
    /// The PDs at their other ends.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peers: Option<Vec<Option<String>>>,
    /// A child's id (its parent's view).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub child: Option<u64>,
    /// The child PD.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub child_pd: Option<String>,
    /// seL4's fault label, named.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<String>,
    /// CPU µs an overrunning call used.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub used_us: Option<u64>,
    /// Its bound.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bound_us: Option<u64>,
    /// Events lost before this point (`gap`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dropped: Option<u64>,
}

/// What the run was.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The board.
    pub board: crate::board::Board,
    /// The kernel configuration.
    pub config: crate::board::KernelConfig,
    /// The system as given.
    pub system: String,
    /// The system built.
    pub built_system: String,
    /// The dumper PD's name.
    pub dumper: String,
}

/// What a reply or answer label means (tunnelkit's `CallError` labels and
/// the runtime's own).
pub fn outcome(label: u64) -> String {
    use tunnelkit_abi::reply::service::*;
    use tunnelkit_abi::reply::{BUSY_LABEL, FAULT_LABEL, HELD_LABEL, OVERRUN_LABEL, UNHANDLED_PPC_LABEL};
    match label {
        0 => "ok".into(),
        UNKNOWN_OPERATION => "unknown_operation".into(),
        BAD_LENGTH => "bad_length".into(),
        WRONG_CHANNEL | UNHANDLED_PPC_LABEL => "wrong_channel".into(),
        BAD_WINDOW => "bad_window".into(),
        NO_LENT_REGION => "no_lent_region".into(),
        REFUSED => "refused".into(),
        BUSY | BUSY_LABEL => "busy".into(),
        FAULT | FAULT_LABEL => "fault".into(),
        OVERRUN | OVERRUN_LABEL => "overrun".into(),
        HELD | HELD_LABEL => "held".into(),
        other => format!("label_{other}"),
    }
}

/// Why a PD started (`unspecified`: a `child_restart` by
/// `Child::restart`, which sets the entry point only).
pub fn reason(r: u64) -> String {
    tunnelkit_abi::reply::reason_name(r).map_or_else(|| format!("reason_{r}"), str::to_string)
}

/// seL4's fault label, as the supervisor names it.
fn fault_name(label: u64) -> String {
    match label {
        1 => "cap_fault".into(),
        2 => "unknown_syscall".into(),
        3 => "user_exception".into(),
        6 => "vm_fault".into(),
        other => format!("fault_{other}"),
    }
}

/// A call in flight: what the caller's and the callee's events share.
#[derive(Clone, Debug)]
struct Ctx {
    channel: u64,
    other: Option<String>,
    depth: Option<u64>,
    sc: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct PdState {
    serving: Option<Ctx>,
    calling: Option<Ctx>,
}

/// The system model's answers.
struct Model<'a> {
    sys: &'a System,
    index: HashMap<&'a str, usize>,
}

impl<'a> Model<'a> {
    fn new(sys: &'a System) -> Self {
        Self { sys, index: sys.pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect() }
    }

    /// The PD at the other end of `pd`'s channel `id`, and its id there.
    fn peer(&self, pd: &str, id: u64) -> Option<(String, u64)> {
        self.sys.channels.iter().filter(|c| c.ends.len() == 2).find_map(|c| {
            let (a, b) = (&c.ends[0], &c.ends[1]);
            if a.pd == pd && a.id == Some(id) {
                Some((b.pd.clone(), b.id?))
            } else if b.pd == pd && b.id == Some(id) {
                Some((a.pd.clone(), a.id?))
            } else {
                None
            }
        })
    }

    fn passive(&self, pd: &str) -> bool {
        self.index.get(pd).is_some_and(|&i| self.sys.pds[i].passive)
    }

    fn cpu(&self, pd: &str) -> u64 {
        self.index.get(pd).map_or(0, |&i| self.sys.pds[i].cpu)
    }

    fn child(&self, parent: &str, id: u64) -> Option<String> {
        let p = *self.index.get(parent)?;
        self.sys.pds.iter().find(|c| c.parent == Some(p) && c.id == Some(id)).map(|c| c.name.clone())
    }
}

/// Merges the dumps into one trace: the header and the events in clock
/// order (each PD's own order kept), completed from the system description.
pub fn merge(collected: &Collected, sys: &System, run: &RunInfo) -> (Header, Vec<Event>) {
    let model = Model::new(sys);
    let dumps: Vec<&Dump> = collected.dumps.iter().collect();
    // k-way merge by (t, region), each dump in its own order.
    let mut heap = BinaryHeap::new();
    let mut next = vec![0usize; dumps.len()];
    for (k, d) in dumps.iter().enumerate() {
        if let Some(e) = d.events.first() {
            heap.push(std::cmp::Reverse((e.t, d.region, k)));
        }
    }
    let mut states: HashMap<&str, PdState> = HashMap::new();
    let mut last_seq: Vec<Option<u64>> = vec![None; dumps.len()];
    let mut out = Vec::new();
    let mut complete_until: Option<u64> = None;
    while let Some(std::cmp::Reverse((_, _, k))) = heap.pop() {
        let d = dumps[k];
        let raw = &d.events[next[k]];
        next[k] += 1;
        if let Some(e) = d.events.get(next[k]) {
            heap.push(std::cmp::Reverse((e.t, d.region, k)));
        }
        let pd = d.pd.as_str();
        let expected_seq = last_seq[k].map_or(0, |s| s + 1);
        if raw.seq > expected_seq {
            // Lost events: the trace of this PD resumes here.
            let lost_from = last_seq[k].map_or(raw.t, |_| d.events[next[k] - 2].t);
            complete_until = Some(complete_until.map_or(lost_from, |c: u64| c.min(lost_from)));
            out.push(Event {
                t: raw.t,
                pd: pd.to_string(),
                seq: expected_seq,
                core: model.cpu(pd),
                event: "gap".into(),
                dropped: Some(raw.seq - expected_seq),
                ..Event::default()
            });
            states.insert(pd, PdState::default());
        }
        last_seq[k] = Some(raw.seq);
        let f = |key: &str| raw.fields.get(key).copied();
        let mut e = Event { t: raw.t, pd: pd.to_string(), seq: raw.seq, core: model.cpu(pd), event: raw.event.clone(), ..Event::default() };
        let ch = f("ch");
        if let Some(ch) = ch.filter(|_| !raw.event.starts_with("child_") && raw.event != "restart") {
            e.channel = Some(ch);
            e.peer = model.peer(pd, ch).map(|(p, _)| p);
        }
        // This PD's scheduling context: its own, or the one of the call it serves.
        let sc_of = |states: &HashMap<&str, PdState>, who: &str| -> Option<String> {
            if !model.passive(who) { Some(who.to_string()) } else { states.get(who).and_then(|s| s.serving.as_ref()?.sc.clone()) }
        };
        match raw.event.as_str() {
            "init" => {
                let r = f("reason").unwrap_or(0);
                e.reason = Some(reason(r));
                let s = states.entry(pd).or_default();
                s.calling = None;
                if r == 0 {
                    s.serving = None;
                }
            }
            "restart" => {
                e.reason = Some(reason(f("reason").unwrap_or(0)));
                let in_call = f("in_call").unwrap_or(0) != 0;
                e.in_call = Some(in_call);
                if in_call {
                    e.channel = ch;
                    e.peer = ch.and_then(|c| model.peer(pd, c)).map(|(p, _)| p);
                } else {
                    states.entry(pd).or_default().serving = None;
                }
            }
            "call" => {
                e.op = f("op");
                let serving = states.get(pd).and_then(|s| s.serving.clone());
                e.depth = match (f("depth"), &serving) {
                    (Some(0), _) => Some(0),
                    (_, Some(s)) => s.depth.map(|d| d + 1),
                    _ => None,
                };
                if let Some(callee) = &e.peer {
                    e.transport = Some(if model.passive(callee) { "tunnel" } else { "ipc" }.into());
                    e.sc = if model.passive(callee) { sc_of(&states, pd) } else { Some(callee.clone()) };
                }
                states.entry(pd).or_default().calling =
                    Some(Ctx { channel: ch.unwrap_or(0), other: e.peer.clone(), depth: e.depth, sc: e.sc.clone() });
            }
            "reply" => {
                e.label = f("label");
                e.outcome = e.label.map(outcome);
                if let Some(c) = states.entry(pd).or_default().calling.take().filter(|c| Some(c.channel) == ch) {
                    e.depth = c.depth;
                    e.sc = c.sc;
                }
            }
            "serve" => {
                e.op = f("op");
                let from = e.peer.as_deref().and_then(|p| states.get(p)).and_then(|s| s.calling.clone());
                match from.filter(|c| c.other.as_deref() == Some(pd)) {
                    Some(c) => {
                        e.depth = c.depth;
                        e.sc = c.sc;
                    }
                    None => e.sc = (!model.passive(pd)).then(|| pd.to_string()),
                }
                if !model.passive(pd) {
                    e.sc = Some(pd.to_string());
                }
                states.entry(pd).or_default().serving =
                    Some(Ctx { channel: ch.unwrap_or(0), other: e.peer.clone(), depth: e.depth, sc: e.sc.clone() });
            }
            "answer" => {
                e.label = f("label");
                e.outcome = e.label.map(outcome);
                if let Some(c) = states.entry(pd).or_default().serving.take() {
                    e.depth = c.depth;
                    e.sc = c.sc;
                }
            }
            "notified" => {
                let set = f("set").unwrap_or(0);
                let ids: Vec<u64> = (0..64).filter(|i| set & (1 << i) != 0).collect();
                e.peers = Some(ids.iter().map(|&i| model.peer(pd, i).map(|(p, _)| p)).collect());
                e.channels = Some(ids);
            }
            "child_fault" | "child_overrun" | "child_restart" => {
                e.child = f("child");
                e.child_pd = e.child.and_then(|c| model.child(pd, c));
                match raw.event.as_str() {
                    "child_fault" => e.fault = f("label").map(fault_name),
                    "child_overrun" => {
                        e.used_us = f("used_us");
                        e.bound_us = f("bound_us");
                    }
                    _ => e.reason = f("reason").map(reason),
                }
            }
            _ => {}
        }
        // A pod serving a call runs on its caller's core.
        if model.passive(pd)
            && let Some(sc) = &e.sc
        {
            e.core = model.cpu(sc);
        }
        out.push(e);
    }

    let by_region: HashMap<usize, &Dump> = collected.dumps.iter().map(|d| (d.region, d)).collect();
    let region_of: HashMap<&str, usize> = collected.dumps.iter().map(|d| (d.pd.as_str(), d.region)).collect();
    let pds = sys
        .pds
        .iter()
        .map(|p| {
            let image = p.image.as_ref().map(|i| i.path.clone());
            let region = region_of.get(p.name.as_str()).copied();
            let d = region.and_then(|r| by_region.get(&r));
            let role = if p.name == run.dumper {
                "trace-dumper"
            } else if image.as_deref() == Some(crate::console_pod::IMAGE) {
                "console"
            } else {
                "pd"
            };
            PdInfo {
                name: p.name.clone(),
                role: role.into(),
                passive: p.passive,
                priority: p.priority,
                budget: p.budget,
                period: p.period,
                cpu: p.cpu,
                parent: p.parent.map(|i| sys.pds[i].name.clone()),
                child_id: p.id,
                image,
                call_bound_us: p.call_bound.map(|(b, _)| b),
                traced: region.is_some(),
                region,
                recorded: d.map_or(0, |d| d.count),
                dumped: d.map_or(0, |d| d.events.len() as u64),
                dropped: d.map_or(0, |d| d.count.saturating_sub(d.events.len() as u64)),
                late: d.map_or(0, |d| d.late),
            }
        })
        .collect();
    let channels = sys
        .channels
        .iter()
        .map(|c| ChannelInfo {
            ends: c.ends.iter().map(|e| EndInfo { pd: e.pd.clone(), id: e.id.unwrap_or(0), pp: e.pp, notify: e.notify }).collect(),
        })
        .collect();
    let source = match run.board.arch() {
        crate::board::Arch::Aarch64 => "cntpct_el0",
        crate::board::Arch::X86_64 => "tsc",
        crate::board::Arch::Riscv64 => "time",
    };
    let header = Header {
        format: "tunnelkit-trace".into(),
        version: 1,
        board: run.board.name().into(),
        config: run.config.name().into(),
        system: run.system.clone(),
        built_system: run.built_system.clone(),
        clock: Clock { source: source.into(), hz: collected.start.hz },
        end: (!collected.start.end_pd.is_empty()).then(|| EndMark { pd: collected.start.end_pd.clone(), t: collected.start.end_t }),
        complete_until,
        events: out.len() as u64,
        corrupt_lines: collected.corrupt.len() as u64,
        pds,
        channels,
    };
    (header, out)
}

/// Writes a trace file: the header line, then one event per line.
pub fn write(path: &Path, header: &Header, events: &[Event]) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, header)?;
    w.write_all(b"\n")?;
    for e in events {
        serde_json::to_writer(&mut w, e)?;
        w.write_all(b"\n")?;
    }
    w.flush().with_context(|| format!("writing {}", path.display()))
}

/// Reads a trace file back.
pub fn read(path: &Path) -> Result<(Header, Vec<Event>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Header =
        serde_json::from_str(lines.next().unwrap_or("")).with_context(|| format!("{}: line 1: the header", path.display()))?;
    let events = lines
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}: line {}", path.display(), i + 2)))
        .collect::<Result<Vec<Event>>>()?;
    Ok((header, events))
}

/// A writer that passes whole lines on, except dump lines (which would flood
/// the console echo of `tunnelkit run --trace`).
pub struct WithoutDumpLines<W: Write> {
    inner: W,
    line: Vec<u8>,
    is_dump: fn(&str) -> bool,
}

impl<W: Write> WithoutDumpLines<W> {
    /// Filters the trace dumper's lines out of what is written to `inner`.
    pub fn new(inner: W) -> Self {
        Self::leaving_out(inner, |l| dump_line(l).is_some())
    }

    /// Filters the lines `is_dump` picks out of what is written to `inner`.
    pub fn leaving_out(inner: W, is_dump: fn(&str) -> bool) -> Self {
        Self { inner, line: Vec::new(), is_dump }
    }
}

impl<W: Write> Write for WithoutDumpLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            self.line.push(b);
            if b == b'\n' {
                let text = String::from_utf8_lossy(&self.line);
                if !(self.is_dump)(&text) {
                    self.inner.write_all(&self.line)?;
                }
                self.line.clear();
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{Board, KernelConfig};

    /// `text` with its check appended, as the dumper prints it.
    fn checked(text: &str) -> String {
        format!("{text} #{:04x}", crc16(text.as_bytes()))
    }

    const SYSTEM: &str = r#"<system>
  <protection_domain name="client" priority="10" budget="1000" period="5000">
    <program_image path="client.elf" />
  </protection_domain>
  <protection_domain name="pod" priority="20" passive="true">
    <program_image path="pod.elf" />
  </protection_domain>
  <protection_domain name="inner" priority="30" passive="true">
    <program_image path="inner.elf" />
  </protection_domain>
  <protection_domain name="report" priority="1">
    <program_image path="report.elf" />
  </protection_domain>
  <channel><end pd="client" id="1" pp="true" notify="false" /><end pd="pod" id="0" notify="false" /></channel>
  <channel><end pd="pod" id="3" pp="true" notify="false" /><end pd="inner" id="0" notify="false" /></channel>
  <channel><end pd="client" id="0" /><end pd="report" id="0" /></channel>
</system>"#;

    fn expected() -> Vec<(usize, String)> {
        ["client", "pod", "inner", "report"].iter().enumerate().map(|(i, n)| (i, n.to_string())).collect()
    }

    /// A console with the four dumps, interleaved with other output the way
    /// a console shows it.
    fn console() -> Vec<String> {
        let mut lines = vec![
            "client: pass".to_string(),
            "tunnelkit: demo passed".to_string(),
            checked("TRACE-START regions=4 end=report end_t=900 hz=62500000"),
            checked("TRACE-BEGIN client region=0 n=6 dropped=0 count=6"),
            checked("TRACE client 0 10 init reason=0"),
            checked("TRACE client 1 100 call ch=1 depth=0 op=2"),
        ];
        // Another PD's partial line ahead of a dump line: still read.
        lines.push(format!("crypt: rea{}", checked("TRACE client 2 500 reply ch=1 depth=0 label=0")));
        lines.extend([
            checked("TRACE client 3 600 call ch=1 depth=0 op=2"),
            checked("TRACE client 4 700 reply ch=1 depth=0 label=8"),
            checked("TRACE client 5 800 notify ch=0"),
            checked("TRACE-END client region=0 n=6 late=0"),
            checked("TRACE-BEGIN pod region=1 n=9 dropped=0 count=9"),
            checked("TRACE pod 0 20 init reason=0"),
            checked("TRACE pod 1 110 serve ch=0 op=2"),
            checked("TRACE pod 2 200 call ch=3 depth=1 op=1"),
            checked("TRACE pod 3 400 reply ch=3 depth=1 label=0"),
            checked("TRACE pod 4 450 answer ch=0 label=0"),
            checked("TRACE pod 5 610 serve ch=0 op=2"),
            checked("TRACE pod 6 650 init reason=1"),
            checked("TRACE pod 7 660 restart reason=1 in_call=1 ch=0"),
        ]);
        lines.extend([
            checked("TRACE pod 8 670 answer ch=0 label=1048573"),
            checked("TRACE-END pod region=1 n=9 late=0"),
            checked("TRACE-BEGIN inner region=2 n=5 dropped=1000 count=1005"),
            checked("TRACE inner 0 30 init reason=0"),
            // seq 1..1000 lost: the ring part resumes at 1001.
            checked("TRACE inner 1001 210 serve ch=0 op=1"),
            checked("TRACE inner 1002 300 answer ch=0 label=0"),
            checked("TRACE inner 1003 310 notify ch=5"),
            checked("TRACE inner 1004 320 notify ch=5"),
            checked("TRACE-END inner region=2 n=5 late=2"),
            checked("TRACE-BEGIN report region=3 n=3 dropped=0 count=3"),
            checked("TRACE report 0 40 init reason=0"),
            checked("TRACE report 1 850 notified set=0x1"),
            checked("TRACE report 2 900 end"),
            checked("TRACE-END report region=3 n=3 late=0"),
            checked("TRACE-DONE regions=4"),
        ]);
        lines
    }

    fn run_info() -> RunInfo {
        RunInfo {
            board: Board::QEMU_VIRT_AARCH64,
            config: KernelConfig::Debug,
            system: "s.xml".into(),
            built_system: "s.xml".into(),
            dumper: "tunnelkit_trace".into(),
        }
    }

    #[test]
    fn dump_lines_are_found_checked_and_collected() {
        let mut c = Collector::new(expected());
        for l in console() {
            assert!(!c.complete() || l.contains("TRACE-DONE"));
            c.line(&l);
        }
        assert!(c.complete());
        assert!(c.corrupt().is_empty(), "{:?}", c.corrupt());
        let got = c.finish().unwrap();
        assert_eq!(got.start, Start { end_pd: "report".into(), end_t: 900, hz: 62_500_000 });
        assert_eq!(got.dumps.iter().map(|d| d.events.len()).collect::<Vec<_>>(), [6, 9, 5, 3]);
        assert_eq!(got.dumps[2].dropped, 1000);
        assert_eq!(got.dumps[2].late, 2);
        assert_eq!(got.dumps[0].events[2].fields["label"], 0, "the line behind another PD's output was read");
    }

    #[test]
    fn a_damaged_line_is_counted_and_a_missing_end_names_the_pd() {
        let mut c = Collector::new(expected());
        for l in console().iter().filter(|l| !l.starts_with("TRACE-END pod") && !l.starts_with("TRACE-DONE")) {
            c.line(l);
        }
        // A line another PD's bytes broke into.
        let broken = checked("TRACE client 6 900 notify ch=0").replace("notify", "notclient_b: hiify");
        c.line(&broken);
        c.line("TRACE client 7 900 notify ch=0 #zzzz");
        assert_eq!(c.corrupt().len(), 2);
        assert!(!c.complete());
        assert_eq!(c.missing(), ["pod"]);
        let e = c.finish().unwrap_err().to_string();
        assert!(e.contains("no complete trace dump from 1 of 4 PDs: pod"), "{e}");
        assert!(dump_line("an ordinary line").is_none());
    }

    #[test]
    fn the_merge_orders_by_clock_and_completes_events_from_the_system() {
        let mut c = Collector::new(expected());
        for l in console() {
            c.line(&l);
        }
        let sys = System::from_text("s.xml", SYSTEM).unwrap();
        let (header, events) = merge(&c.finish().unwrap(), &sys, &run_info());
        let ts: Vec<u64> = events.iter().map(|e| e.t).collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{ts:?}");
        let find = |pd: &str, seq: u64| events.iter().find(|e| e.pd == pd && e.seq == seq && e.event != "gap").unwrap();
        // The client's call: a tunnel into pod on the client's SC.
        let call = find("client", 1);
        assert_eq!(
            (call.peer.as_deref(), call.depth, call.sc.as_deref(), call.transport.as_deref()),
            (Some("pod"), Some(0), Some("client"), Some("tunnel"))
        );
        let serve = find("pod", 1);
        assert_eq!((serve.peer.as_deref(), serve.depth, serve.sc.as_deref()), (Some("client"), Some(0), Some("client")));
        // The nested call: depth 1, still the client's SC.
        let nested = find("pod", 2);
        assert_eq!((nested.peer.as_deref(), nested.depth, nested.sc.as_deref()), (Some("inner"), Some(1), Some("client")));
        let inner = find("inner", 1001);
        assert_eq!((inner.peer.as_deref(), inner.depth, inner.sc.as_deref()), (Some("pod"), Some(1), Some("client")));
        assert_eq!(find("inner", 1002).outcome.as_deref(), Some("ok"));
        // The second call: the pod restarts after a fault and answers it.
        assert_eq!((find("pod", 6).reason.as_deref(), find("pod", 7).in_call), (Some("fault"), Some(true)));
        let answer = find("pod", 8);
        assert_eq!((answer.outcome.as_deref(), answer.sc.as_deref()), (Some("fault"), Some("client")));
        assert_eq!(find("client", 4).outcome.as_deref(), Some("fault"));
        let n = find("report", 1);
        assert_eq!((n.channels.clone(), n.peers.clone()), (Some(vec![0]), Some(vec![Some("client".to_string())])));
        // The lost events of `inner` show as a gap, and bound the complete part.
        let gap = events.iter().find(|e| e.event == "gap").unwrap();
        assert_eq!((gap.pd.as_str(), gap.seq, gap.dropped), ("inner", 1, Some(1000)));
        assert_eq!(header.complete_until, Some(30));
        assert_eq!(header.events, events.len() as u64);
        assert_eq!(header.end, Some(EndMark { pd: "report".into(), t: 900 }));
        let pod = header.pds.iter().find(|p| p.name == "pod").unwrap();
        assert!(pod.passive && pod.traced && pod.region == Some(1));
        assert_eq!(header.channels.len(), 3);

        // Written and read back.
        let path = std::env::temp_dir().join(format!("tunnelkit-trace-test-{}.jsonl", std::process::id()));
        write(&path, &header, &events).unwrap();
        let (h, e) = read(&path).unwrap();
        assert_eq!((h, e), (header, events));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().nth(1).unwrap().starts_with("{\"t\":10,\"pd\":\"client\",\"seq\":0,\"core\":0,\"event\":\"init\""), "{text}");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_supervisors_events_name_its_children() {
        let system = r#"<system>
  <protection_domain name="supervisor" priority="200">
    <program_image path="supervisor.elf" />
    <protection_domain name="pod_c" id="2" priority="160" passive="true">
      <program_image path="pod.elf" />
      <?tunnelkit call_bound_us="3000"?>
    </protection_domain>
  </protection_domain>
</system>"#;
        let mut c = Collector::new([(0, "supervisor".to_string()), (1, "pod_c".to_string())]);
        for l in [
            "TRACE-BEGIN supervisor region=0 n=4 dropped=0 count=4",
            "TRACE supervisor 0 1 init reason=0",
            "TRACE supervisor 1 50 child_overrun child=2 used_us=3120 bound_us=3000",
            "TRACE supervisor 2 51 child_restart child=2 reason=2",
            "TRACE supervisor 3 80 child_fault child=2 label=6",
            "TRACE-END supervisor region=0 n=4 late=0",
            "TRACE-BEGIN pod_c region=1 n=2 dropped=0 count=2",
            "TRACE pod_c 0 2 init reason=0",
            "TRACE pod_c 1 52 init reason=2",
            "TRACE-END pod_c region=1 n=2 late=0",
        ] {
            c.line(&checked(l));
        }
        let sys = System::from_text("s.xml", system).unwrap();
        let (header, events) = merge(&c.finish().unwrap(), &sys, &run_info());
        let sup: Vec<_> = events.iter().filter(|e| e.pd == "supervisor" && e.seq > 0).collect();
        assert_eq!(
            (sup[0].child_pd.as_deref(), sup[0].used_us, sup[0].bound_us, sup[0].child),
            (Some("pod_c"), Some(3120), Some(3000), Some(2))
        );
        assert_eq!((sup[1].event.as_str(), sup[1].reason.as_deref()), ("child_restart", Some("overrun")));
        assert_eq!(sup[2].fault.as_deref(), Some("vm_fault"));
        assert_eq!(events.iter().find(|e| e.pd == "pod_c" && e.seq == 1).unwrap().reason.as_deref(), Some("overrun"));
        let pod = &header.pds[1];
        assert_eq!((pod.parent.as_deref(), pod.child_id, pod.call_bound_us), (Some("supervisor"), Some(2), Some(3000)));
    }

    #[test]
    fn the_echo_leaves_dump_lines_out() {
        let mut out = Vec::new();
        {
            let mut w = WithoutDumpLines::new(&mut out);
            for l in console() {
                writeln!(w, "{l}").unwrap();
            }
        }
        assert_eq!(String::from_utf8(out).unwrap(), "client: pass\ntunnelkit: demo passed\n");
        assert_eq!(records_per_region(), 2212);
    }
}
