//! The properties checked in every reachable state.

use crate::model::TunnelModel;
use crate::state::{Run, State};

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
    /// 8. The watchdog never finds a legitimate call over its bound: one that did not spin and
    ///    asked for at most `bound - tick` ticks of pod work.
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
        // Bound to its owner, or donated to a passive server serving a chain rooted at the owner.
        t == owner || (m.is_passive_server(t) && m.root_path(s, t) == Some(owner))
    })
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
