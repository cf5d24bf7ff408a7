//! `tunnelkit model --check-trace FILE`: a trace file (`crate::trace`) turned into the model's
//! observable steps (`tunnelkit_model::replay`) and replayed.

use crate::trace::{self, Event, Header};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::Path;
use tunnelkit_model::Reason;
use tunnelkit_model::replay::{Answer, ConformanceReport, Observed, Step, TracePd, TraceSystem};

/// Reads the trace at `path` and replays it against the model.
pub fn check_file(path: &Path) -> Result<ConformanceReport> {
    let (header, events) = trace::read(path)?;
    check(&header, &events).with_context(|| format!("{}", path.display()))
}

/// Replays a trace already read.
pub fn check(header: &Header, events: &[Event]) -> Result<ConformanceReport> {
    if header.format != "tunnelkit-trace" {
        bail!("line 1: not a tunnelkit trace (format {:?})", header.format);
    }
    let (system, index) = system(header)?;
    let steps = events.iter().enumerate().map(|(i, e)| step(e, i + 2, &index)).collect::<Result<Vec<_>>>()?;
    Ok(tunnelkit_model::replay::check_trace(&system, &steps))
}

/// The system's shape from the header, and each PD's index by name.
fn system(header: &Header) -> Result<(TraceSystem, HashMap<String, usize>)> {
    let mut sys = TraceSystem::default();
    let mut index = HashMap::new();
    for (i, pd) in header.pds.iter().enumerate() {
        index.insert(pd.name.clone(), i);
        sys.pds.push(TracePd {
            name: pd.name.clone(),
            passive: pd.passive,
            priority: u8::try_from(pd.priority).unwrap_or(u8::MAX),
            cpu: u8::try_from(pd.cpu).unwrap_or(u8::MAX),
            supervised: pd.parent.is_some(),
            bounded: pd.call_bound_us.is_some(),
        });
    }
    for ch in &header.channels {
        let [a, b] = ch.ends.as_slice() else { bail!("line 1: a channel without two ends") };
        let (Some(&ia), Some(&ib)) = (index.get(&a.pd), index.get(&b.pd)) else {
            bail!("line 1: a channel between {} and {}, not both PDs of the header", a.pd, b.pd)
        };
        // tunnelkit's console pod and trace dumper are not traced: their channels are not
        // part of what the trace shows.
        if [ia, ib].iter().any(|&i| header.pds[i].role != "pd") {
            continue;
        }
        for (from, to, end) in [(ia, ib, a), (ib, ia, b)] {
            if end.pp {
                sys.calls.push((from, to));
            }
            if end.notify {
                sys.notifies.push((from, to));
            }
        }
    }
    Ok((sys, index))
}

/// One event as a model step.
fn step(e: &Event, line: usize, index: &HashMap<String, usize>) -> Result<Step> {
    let pd_of = |name: &str| index.get(name).copied().with_context(|| format!("line {line}: {name} is not a PD of the header"));
    let peer = || -> Result<usize> { pd_of(e.peer.as_deref().with_context(|| format!("line {line}: {} without a peer", e.event))?) };
    let child = || -> Result<usize> { pd_of(e.child_pd.as_deref().with_context(|| format!("line {line}: {} without child_pd", e.event))?) };
    // A held restart (`held_after_fault`, …) answers the interrupted call as any restart after
    // that reason does; what it does afterwards (Err(Held) to every call) is an answer of its own.
    let reason = || match e.reason.as_deref() {
        Some("fault" | "held_after_fault") => Some(Reason::Fault),
        Some("overrun" | "held_after_overrun") => Some(Reason::Overrun),
        _ => None,
    };
    let answer = || match (e.outcome.as_deref(), e.label) {
        (Some("ok"), _) => Answer::Ok,
        (Some("fault"), _) => Answer::Err(Reason::Fault),
        (Some("overrun"), _) => Answer::Err(Reason::Overrun),
        (_, label) => Answer::Other(label.unwrap_or(u64::MAX)),
    };
    let what = match e.event.as_str() {
        "init" => Observed::Init(reason()),
        "restart" => match reason() {
            Some(reason) => Observed::Restart { reason, in_call: e.in_call.unwrap_or(false) },
            None => bail!("line {line}: a restart without a fault or overrun reason ({:?})", e.reason),
        },
        "call" => Observed::Call(peer()?),
        "serve" => Observed::Serve(peer()?),
        "answer" => Observed::Answer(peer()?, answer()),
        "reply" => Observed::Reply(peer()?, answer()),
        "notify" => Observed::Notify(peer()?),
        "notified" => Observed::Notified(e.peers.iter().flatten().flatten().map(|p| pd_of(p)).collect::<Result<_>>()?),
        "child_fault" => Observed::ChildFault(child()?),
        "child_overrun" => Observed::ChildOverrun { child: child()?, used_us: e.used_us.unwrap_or(0), bound_us: e.bound_us.unwrap_or(0) },
        "child_restart" => Observed::ChildRestart(child()?, reason()),
        "gap" => Observed::Gap,
        "end" => Observed::End,
        other => bail!("line {line}: unknown event {other:?}"),
    };
    let sc = e.sc.as_deref().map(pd_of).transpose()?;
    Ok(Step { line, pd: pd_of(&e.pd)?, what, sc, core: sc.map(|_| u8::try_from(e.core).unwrap_or(u8::MAX)) })
}
