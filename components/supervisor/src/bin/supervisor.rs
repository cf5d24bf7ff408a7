//! The supervisor: the Microkit parent of pods (and of active PDs it keeps
//! alive). Its children's faults come here; it logs each with the child's
//! name and restarts the child from scratch (`Child::restart_clean`). A pod
//! restarted mid-call answers that call with `Err(Fault)`.
//!
//! Its watchdog runs on every notification from the tick PD: it charges each
//! bounded pod's open call the CPU time its caller's scheduling context used
//! (see `tunnelkit_runtime::watchdog`) and restarts a pod whose call used more
//! than its declared bound; the caller gets `Err(Overrun)`.
//!
//! The decision and the restart must not be split by a budget expiry (the
//! pod could finish that call and start the next one in between), so a
//! supervisor with bounded children has budget = period (`tunnelkit build`
//! checks it) and a priority above its pods.
//!
//! Children, names, bounds and the callers' SC slots come from the table
//! `tunnelkit build` patches in (from the system description); without one
//! it restarts faulting children and names them by id.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::supervision::{
    CallState, ChildTable, MAX_CHILDREN, NAME_BYTES, PatchedTable, SchedContext, call_state_of, supervision_table,
};
use tunnelkit_runtime::watchdog::{Consumed, Overrun, Watchdog};
use tunnelkit_runtime::{
    ChannelSet, Child, Handler, MessageInfo, RESTART_AFTER_FAULT, RESTART_AFTER_OVERRUN, debug_println, mr, protection_domain,
};

protection_domain!(init);

supervision_table!(
    static TABLE
);

/// Restarts of one child logged in full before logging only every 100th.
const LOGGED_IN_FULL: u64 = 3;

struct Supervisor {
    /// The patched table (read in place; none: restart by id, no watchdog).
    table: Option<PatchedTable>,
    restarts: [u64; MAX_CHILDREN],
    watchdog: Watchdog,
    sc_slots: u64,
}

fn init() -> Supervisor {
    let table = TABLE.read();
    let (count, bounded, sc_slots) = table.map_or((0, 0, 0), |t| {
        let bounded = (0..t.len()).filter(|&i| t.child(i).1 != 0).count();
        (t.len(), bounded, Watchdog::sc_slots(&t))
    });
    debug_println!("supervisor: {count} children in its table, {bounded} with a call bound");
    Supervisor { table, restarts: [0; MAX_CHILDREN], watchdog: Watchdog::new(), sc_slots }
}

/// A child's name as text.
struct Name([u8; NAME_BYTES]);

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
        f.write_str(core::str::from_utf8(&self.0[..len]).unwrap_or("?"))
    }
}

impl Supervisor {
    fn index_of(&self, child: Child) -> Option<usize> {
        let t = self.table?;
        (0..t.len()).find(|&i| t.child(i).0 == child.index())
    }

    fn name(&self, index: Option<usize>) -> Name {
        let mut unnamed = [0; NAME_BYTES];
        unnamed[0] = b'?';
        Name(self.table.zip(index).map_or(unnamed, |(t, i)| t.name(i)))
    }

    /// Counts a restart of child `index`; its number and whether to log it.
    fn count_restart(&mut self, index: Option<usize>) -> (u64, bool) {
        let n = index.map_or(0, |i| {
            self.restarts[i] += 1;
            self.restarts[i]
        });
        (n, n <= LOGGED_IN_FULL || n.is_multiple_of(100))
    }

    fn restart(&self, child: Child, reason: u64) {
        if let Err(e) = child.restart_clean(reason) {
            debug_println!("supervisor: restarting {} (child {}) failed: seL4 error {e}", self.name(self.index_of(child)), child.index());
        }
    }

    fn stop_overrun(&mut self, o: Overrun) {
        let Some(t) = self.table else { return };
        let id = t.child(o.index).0;
        let (n, log) = self.count_restart(Some(o.index));
        if log {
            debug_println!(
                "supervisor: {} (child {id}): call overran its bound ({} us of CPU > {} us); restarting it (restart {n})",
                self.name(Some(o.index)),
                o.used_us,
                o.bound_us
            );
        }
        self.restart(Child::new(id), RESTART_AFTER_OVERRUN);
    }
}

/// seL4's fault label, named, with the fault's program counter and address
/// where it has them.
fn describe(label: u64) -> (&'static str, Option<u64>, Option<u64>) {
    match label {
        1 => ("cap fault", Some(mr::get(0)), None),
        2 => ("unknown syscall", None, None),
        3 => ("user exception (undefined instruction)", Some(mr::get(0)), None),
        6 => ("VM fault", Some(mr::get(0)), Some(mr::get(1))),
        _ => ("fault", None, None),
    }
}

impl Handler for Supervisor {
    type Error = Infallible;

    fn fault(&mut self, child: Child, msg_info: MessageInfo) -> Result<Option<MessageInfo>, Infallible> {
        let index = self.index_of(child);
        let (n, log) = self.count_restart(index);
        if log {
            let (what, pc, addr) = describe(msg_info.label());
            let name = self.name(index);
            let n = if index.is_some() { n } else { 0 };
            match (pc, addr) {
                (Some(pc), Some(addr)) => debug_println!(
                    "supervisor: {name} (child {}): {what} at pc {pc:#x}, address {addr:#x}; restarting it (restart {n})",
                    child.index()
                ),
                (Some(pc), None) => {
                    debug_println!("supervisor: {name} (child {}): {what} at pc {pc:#x}; restarting it (restart {n})", child.index())
                }
                _ => debug_println!("supervisor: {name} (child {}): {what}; restarting it (restart {n})", child.index()),
            }
        }
        self.restart(child, RESTART_AFTER_FAULT);
        Ok(None)
    }

    /// A tick: run the watchdog.
    fn notified(&mut self, _: ChannelSet) -> Result<(), Infallible> {
        let mut consumed: Consumed = [0; 64];
        let slots = self.sc_slots;
        for slot in (1..64u8).filter(|s| slots & (1 << s) != 0) {
            match SchedContext::in_cspace(slot).map(SchedContext::consumed_us) {
                Some(Ok(us)) => consumed[usize::from(slot)] = us,
                Some(Err(e)) => {
                    // Said once; the slot is then left out.
                    debug_println!(
                        "supervisor: cspace slot {slot} holds no scheduling context (seL4 error {e}): calls on it are not bounded"
                    );
                    self.sc_slots &= !(1 << slot);
                }
                None => self.sc_slots &= !(1 << slot),
            }
        }
        let Some(table) = self.table else { return Ok(()) };
        let mut states = [CallState::default(); MAX_CHILDREN];
        for (i, s) in states.iter_mut().enumerate().take(table.len()) {
            *s = call_state_of(&table, i);
        }
        let mut stops = [None; MAX_CHILDREN];
        let mut n = 0;
        self.watchdog.tick(&table, &states, &consumed, |o| {
            stops[n] = Some(o);
            n += 1;
        });
        for o in stops.into_iter().flatten() {
            // Restart only the call that overran: the state is re-read right
            // before the restart, and nothing lower (the pod) runs between
            // the two, because this PD never runs out of budget (budget =
            // period, which `tunnelkit build` checks).
            let now = call_state_of(&table, o.index);
            if now.seq() == states[o.index].seq() && !now.nested() {
                self.stop_overrun(o);
            }
        }
        Ok(())
    }
}
