//! Where each PD can run on a multicore kernel.
//!
//! In seL4 MCS a scheduling context (SC) belongs to one core and a thread
//! runs on the core of the SC it holds. An active PD runs on its `cpu`. A
//! passive PD (a pod) runs on the SC its caller lends it, so on its caller's
//! core — transitively through nested pods — and on its own `cpu` when it is
//! woken by a notification or an IRQ (its own SC, bound to its notification).

use std::collections::{BTreeMap, HashMap};

use super::parse::System;
use super::rules::pp_edges;

/// How a PD comes to run on one core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// On its own SC (an active PD, or a pod woken by a notification or an IRQ).
    Own,
    /// On an SC lent along this chain of PDs (indices, the active PD first,
    /// the direct caller last).
    Lent(Vec<usize>),
}

/// For every PD (indexed as `sys.pds`), each core it can run on with one
/// route that gets it there (the first found in document order).
pub fn reach(sys: &System) -> Vec<BTreeMap<u64, Route>> {
    let n = sys.pds.len();
    let mut callers = vec![Vec::new(); n];
    for (from, to, _) in pp_edges(sys) {
        if !callers[to].contains(&from) {
            callers[to].push(from);
        }
    }
    let by_name: HashMap<&str, usize> = sys.pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    // A pod runs on its own SC when something notifies it or it has an IRQ.
    let mut woken = vec![false; n];
    for ch in sys.channels.iter().filter(|c| c.ends.len() == 2) {
        for (me, other) in [(&ch.ends[0], &ch.ends[1]), (&ch.ends[1], &ch.ends[0])] {
            if other.notify
                && let Some(&i) = by_name.get(me.pd.as_str())
            {
                woken[i] = true;
            }
        }
    }
    for (i, pd) in sys.pds.iter().enumerate() {
        woken[i] |= !pd.irq_ids.is_empty();
    }
    let mut memo: Vec<Option<BTreeMap<u64, Route>>> = vec![None; n];
    let mut visiting = vec![false; n];
    for i in 0..n {
        visit(sys, i, &callers, &woken, &mut memo, &mut visiting);
    }
    memo.into_iter().map(Option::unwrap_or_default).collect()
}

fn visit(
    sys: &System,
    i: usize,
    callers: &[Vec<usize>],
    woken: &[bool],
    memo: &mut [Option<BTreeMap<u64, Route>>],
    visiting: &mut [bool],
) -> BTreeMap<u64, Route> {
    if let Some(m) = &memo[i] {
        return m.clone();
    }
    let pd = &sys.pds[i];
    let mut out = BTreeMap::new();
    if !pd.passive || woken[i] || callers[i].is_empty() {
        out.insert(pd.cpu, Route::Own);
    }
    if pd.passive && !visiting[i] {
        // pp cycles are reported by their own rule; a cycle adds nothing here.
        visiting[i] = true;
        for &c in &callers[i] {
            for (core, route) in visit(sys, c, callers, woken, memo, visiting) {
                let mut chain = match route {
                    Route::Own => Vec::new(),
                    Route::Lent(chain) => chain,
                };
                chain.push(c);
                out.entry(core).or_insert(Route::Lent(chain));
            }
        }
        visiting[i] = false;
    }
    memo[i] = Some(out.clone());
    out
}

/// `core 1 via client_b → crypt` (or `core 0 on its own SC`), for messages.
pub fn describe(sys: &System, core: u64, route: &Route, pd: usize) -> String {
    match route {
        Route::Own => format!("core {core} on its own scheduling context"),
        Route::Lent(chain) => {
            let mut names: Vec<&str> = chain.iter().map(|&i| sys.pds[i].name.as_str()).collect();
            names.push(&sys.pds[pd].name);
            format!("core {core} via {}", names.join(" → "))
        }
    }
}
