//! The properties checked in every reachable state, and each one's antecedent: the situation in
//! which it says something non-trivial. A property that holds although no reachable state
//! reaches its antecedent holds *vacuously*.

use crate::model::TunnelModel;
use crate::state::{Run, State};
use core::fmt::Write as _;

/// The eight properties of the tunnel semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PropertyId {
    /// 1. Every SC is in exactly one place: bound to its owner, donated to a server along the call
    ///    chain rooted at its owner, or idle at the notification it is bound to. Never duplicated,
    ///    never lost.
    ScConservation,
    /// 2. Every outstanding call is answered within the system horizon, and the answer is
    ///    `Err(Fault)` exactly when a pod faulted while serving it.
    BoundedResponse,
    /// 3. Some thread can run now or after its SC's next refill (on several cores: not counting a
    ///    pod stranded on a sleeping core's ready queue, which runs only if something else wakes
    ///    that core).
    NoDeadlock,
    /// 4. Every path's SC is charged exactly the work done on that path's behalf.
    Accounting,
    /// 5. The light path (path 0) is answered within a horizon computed from its own work, budget
    ///    and period only, whatever the other paths demand.
    Crosstalk,
    /// 6. No passive server holds a message it can never finish (seL4 #1616: received by `Send`,
    ///    so no SC was donated and no reply object is bound).
    NoWedgedPod,
    /// 7. Every answer a path gets is the right one: `Err(Fault)` if a pod faulted while serving
    ///    the call, else `Err(Overrun)` if a pod spun in it, else `Ok` (also part of 2).
    RightAnswer,
    /// 8. The watchdog never stops a pod in a call within the pod's bound that did not spin: one
    ///    whose pod work (the work it asks for, nested calls included) is at most the bound.
    NoFalseOverrun,
}

impl PropertyId {
    /// Number of properties.
    pub const COUNT: usize = 8;
    /// All properties, in report order.
    pub const ALL: [PropertyId; Self::COUNT] = [
        PropertyId::ScConservation,
        PropertyId::BoundedResponse,
        PropertyId::NoDeadlock,
        PropertyId::Accounting,
        PropertyId::Crosstalk,
        PropertyId::NoWedgedPod,
        PropertyId::RightAnswer,
        PropertyId::NoFalseOverrun,
    ];

    /// The property's name as printed and as registered with stateright.
    pub const fn name(self) -> &'static str {
        match self {
            PropertyId::ScConservation => "sc-conservation",
            PropertyId::BoundedResponse => "bounded-response",
            PropertyId::NoDeadlock => "no-deadlock",
            PropertyId::Accounting => "accounting",
            PropertyId::Crosstalk => "crosstalk",
            PropertyId::NoWedgedPod => "no-wedged-pod",
            PropertyId::RightAnswer => "right-answer",
            PropertyId::NoFalseOverrun => "no-false-overrun",
        }
    }

    /// Short column heading used in the generated tables.
    pub const fn short(self) -> &'static str {
        match self {
            PropertyId::ScConservation => "sc",
            PropertyId::BoundedResponse => "resp",
            PropertyId::NoDeadlock => "dead",
            PropertyId::Accounting => "acct",
            PropertyId::Crosstalk => "xtalk",
            PropertyId::NoWedgedPod => "wedge",
            PropertyId::RightAnswer => "answer",
            PropertyId::NoFalseOverrun => "false",
        }
    }

    /// The antecedent, as printed in the generated tables' legend.
    pub const fn antecedent_text(self) -> &'static str {
        match self {
            PropertyId::ScConservation => {
                "some SC is away from its home (donated along a call chain, or a notification's SC bound to its pod)"
            }
            PropertyId::BoundedResponse => "some path has an outstanding call",
            PropertyId::NoDeadlock => "no path is doing client work (every path is blocked in a call, a queue or for a reply)",
            PropertyId::Accounting => "a server is working (serving, spinning, re-initialising) in a call chain rooted at a path",
            PropertyId::Crosstalk => {
                "the light path's call is outstanding while another path's call is too, or a server works on something else"
            }
            PropertyId::NoWedgedPod => "a pod holds a received message or notification it is serving",
            PropertyId::RightAnswer => {
                "a path has just been answered, and the answer or the right answer is an error (a fault, spin or restart in the call)"
            }
            PropertyId::NoFalseOverrun => {
                "a watchdog check is due while a pod that it may stop serves a call within its bound that did not spin"
            }
        }
    }

    /// The antecedent: whether state `s` is in the situation in which the property says something
    /// non-trivial (see [`antecedent_text`](Self::antecedent_text)). Counted over every reachable
    /// state; a property holds vacuously when no reachable state reaches it.
    pub fn antecedent(self, m: &TunnelModel, s: &State) -> bool {
        let paths = m.scenario.paths.len();
        let works = |t: usize| matches!(s.threads[t].run, Run::Serving { .. } | Run::Spinning | Run::Restarting { .. });
        match self {
            PropertyId::ScConservation => sc_away(m, s),
            PropertyId::BoundedResponse => s.age.iter().any(Option::is_some),
            PropertyId::NoDeadlock => s.threads[..paths].iter().all(|t| !matches!(t.run, Run::Working { .. })),
            PropertyId::Accounting => (paths..s.threads.len()).any(|t| works(t) && m.root_path(s, t).is_some()),
            PropertyId::Crosstalk => {
                s.age[0].is_some()
                    && (s.age[1..].iter().any(Option::is_some)
                        || (paths..s.threads.len()).any(|t| works(t) && m.root_path(s, t) != Some(0)))
            }
            PropertyId::NoWedgedPod => (0..m.scenario.servers.len())
                .any(|i| m.scenario.servers[i].passive() && matches!(s.threads[paths + i].run, Run::Serving { .. })),
            PropertyId::RightAnswer => s.answered,
            PropertyId::NoFalseOverrun => {
                s.check_due
                    && (0..m.scenario.servers.len()).any(|i| {
                        m.scenario.servers[i].passive()
                            && m.watchdog_decides(s, i)
                            && m.within_bound(s, i)
                            && m.root_path(s, paths + i).is_some_and(|r| !s.spun[r])
                    })
            }
        }
    }

    /// The legend of the generated tables: each property's column heading, name and antecedent.
    pub fn legend() -> String {
        let mut out = String::new();
        for p in PropertyId::ALL {
            let _ = writeln!(out, "- `{}` (`{}`): {}.", p.short(), p.name(), p.antecedent_text());
        }
        out
    }

    /// The invariant itself.
    pub fn holds(self, m: &TunnelModel, s: &State) -> bool {
        match self {
            PropertyId::ScConservation => sc_conservation(m, s),
            PropertyId::BoundedResponse => !s.wrong_answer && s.age.iter().all(|a| a.is_none_or(|a| u32::from(a) <= m.system_horizon)),
            PropertyId::NoDeadlock => no_deadlock(m, s),
            PropertyId::Accounting => s.debt.iter().all(|&d| d == 0),
            PropertyId::Crosstalk => s.age[0].is_none_or(|a| u32::from(a) <= m.light_horizon),
            PropertyId::NoWedgedPod => (0..m.scenario.servers.len()).all(|i| !m.wedged(s, i)),
            PropertyId::RightAnswer => !s.wrong_answer,
            PropertyId::NoFalseOverrun => !s.false_overrun,
        }
    }
}

/// Whether some SC is away from its home: a path's or active server's SC not bound to its owner
/// (donated to a pod), or a notification's SC bound to its pod (not idle at the notification).
fn sc_away(m: &TunnelModel, s: &State) -> bool {
    (0..m.sc_owner.len()).any(|sc| {
        let at_ntfn = (0..s.ntfn_holds.len()).find(|&i| m.scenario.ntfn_sc(i) == Some(sc as u8));
        match at_ntfn {
            Some(i) => !s.ntfn_holds[i],
            None => s.threads[m.sc_owner[sc]].sc != Some(sc as u8),
        }
    })
}

fn sc_conservation(m: &TunnelModel, s: &State) -> bool {
    (0..m.sc_owner.len()).all(|sc| {
        let holders: Vec<usize> = (0..s.threads.len()).filter(|&t| s.threads[t].sc == Some(sc as u8)).collect();
        // Idle at a notification is the third place an SC can be.
        let at_ntfn = (0..s.ntfn_holds.len()).filter(|&i| s.ntfn_holds[i] && m.scenario.ntfn_sc(i) == Some(sc as u8)).count();
        if at_ntfn == 1 && holders.is_empty() {
            return true;
        }
        let (&[t], 0) = (&holders[..], at_ntfn) else { return false };
        let owner = m.sc_owner[sc];
        // Bound to its owner, or donated to a passive server serving a call chain that starts at
        // the owner (a path, or an active server making a nested call) and runs through pods.
        t == owner || (m.is_passive_server(t) && donated_from(m, s, t, owner))
    })
}

/// Whether pod `t` serves a call chain that reaches `owner` through pods only.
fn donated_from(m: &TunnelModel, s: &State, t: usize, owner: usize) -> bool {
    let mut t = t;
    for _ in 0..s.threads.len() {
        let Some(c) = s.threads[t].reply else { return false };
        let c = usize::from(c);
        if c == owner {
            return true;
        }
        if !m.is_passive_server(c) {
            return false;
        }
        t = c;
    }
    false
}

fn no_deadlock(m: &TunnelModel, s: &State) -> bool {
    (0..s.threads.len()).any(|t| {
        let th = &s.threads[t];
        let busy = matches!(th.run, Run::Working { .. } | Run::Serving { .. } | Run::Spinning | Run::Restarting { .. });
        // A pod blocked on its fault message is restarted by the supervisor next.
        let supervised = th.run == Run::FaultWait && m.scenario.supervisor;
        // A stranded pod runs only if something else wakes its core (several cores).
        th.sc.is_some() && (busy || supervised) && !m.wedged_thread(s, t) && !m.stranded(s, t)
    })
}
