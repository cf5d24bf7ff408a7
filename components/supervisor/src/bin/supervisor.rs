//! The supervisor: the Microkit parent of pods (and of active PDs it keeps
//! alive). Its children's faults come here; it logs each with the child's
//! name and restarts the child from scratch (`Child::restart_clean`). A pod
//! restarted mid-call answers that call with `Err(Fault)`.
//!
//! Its watchdog runs on every notification from the tick PD: it charges each
//! bounded pod's open call the CPU time its caller's scheduling context used
//! (see `tunnelkit_supervisor::watchdog`) and restarts a pod whose call used more
//! than its declared bound; the caller gets `Err(Overrun)`.
//!
//! The decision and the restart must not be split by a budget expiry (the
//! pod could finish that call and start the next one in between), so a
//! supervisor with bounded children has budget = period (`tunnelkit build`
//! checks it) and a priority above its pods.
//!
//! Children, names, bounds, restart policies and the callers' SC slots come
//! from the table `tunnelkit build` patches in (from the system description);
//! without one it restarts faulting children and names them by id.
//!
//! Each child's restart policy (`<?tunnelkit restart=…?>`, see
//! `tunnelkit_supervisor::Restarts`) decides what a failure means: a restart, a restart
//! after a backoff (done on a later tick), or *holding* the child — restarted
//! without its `init`, it answers every call with `Err(Held)` — which is
//! reported on the console and in the status page
//! (`tunnelkit_runtime::supervision::status`) if the system maps one.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::supervision::status::{self, ChildStatus};
use tunnelkit_runtime::supervision::{
    CallState, ChildTable, MAX_CHILDREN, NAME_BYTES, PatchedTable, RestartPolicy, SchedContext, call_state_of, supervision_table,
};
use tunnelkit_runtime::{
    ChannelSet, Child, Handler, MessageInfo, RESTART_AFTER_FAULT, RESTART_AFTER_OVERRUN, RESTART_HELD, SharedMemory, debug_println, mr,
    protection_domain, region_setvars,
};
use tunnelkit_supervisor::watchdog::{Consumed, Overrun, Watchdog};
use tunnelkit_supervisor::{Decision, Restarts};

protection_domain!(init);

supervision_table!(
    static TABLE
);

region_setvars!(
    /// The status page this supervisor publishes its children's restarts and holds in, if mapped.
    static supervision_status, supervision_status_size
);

/// Restarts of one child logged in full before logging only every 100th.
const LOGGED_IN_FULL: u64 = 3;

struct Supervisor {
    /// The patched table (read in place; none: restart by id, no watchdog).
    table: Option<PatchedTable>,
    /// Restarts and holds per child, by its restart policy.
    restarts: Restarts,
    /// Restarts of children not in the table (logging only).
    untabled: u64,
    watchdog: Watchdog,
    sc_slots: u64,
    status: Option<SharedMemory>,
}

fn init() -> Supervisor {
    let table = TABLE.read();
    let (count, bounded, sc_slots, tick_us) = table.map_or((0, 0, 0, 0), |t| {
        let bounded = (0..t.len()).filter(|&i| t.child(i).1 != 0).count();
        (t.len(), bounded, Watchdog::sc_slots(&t), t.tick_us())
    });
    let held_after = table.map_or(0, |t| (0..t.len()).filter(|&i| matches!(t.policy(i), RestartPolicy::Hold { .. })).count());
    debug_println!(
        "supervisor: {count} children in its table, {bounded} with a call bound, {held_after} on restart=\"hold\", tick {tick_us} us"
    );
    let status = SharedMemory::from_setvars(&supervision_status, &supervision_status_size).filter(|p| p.size() >= status::BYTES);
    let sup = Supervisor { table, restarts: Restarts::new(tick_us), untabled: 0, watchdog: Watchdog::new(), sc_slots, status };
    if let Some(page) = &sup.status {
        status::set_count(page, count);
        for i in 0..count {
            sup.publish(i);
        }
    }
    sup
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

    /// Whether restart number `n` is logged in full.
    fn logged(n: u64) -> bool {
        n <= LOGGED_IN_FULL || n.is_multiple_of(100)
    }

    fn restart(&self, child: Child, reason: u64) {
        if let Err(e) = child.restart_clean(reason) {
            debug_println!("supervisor: restarting {} (child {}) failed: {e}", self.name(self.index_of(child)), child.index());
        }
    }

    /// Publishes child `i`'s status, if there is a status page.
    fn publish(&self, i: usize) {
        let (Some(page), Some(t)) = (&self.status, self.table) else { return };
        let mut flags = 0;
        if self.restarts.held(i) {
            flags |= status::HELD;
        }
        if self.restarts.pending(i) {
            flags |= status::PENDING;
        }
        status::write(page, i, &ChildStatus { id: t.child(i).0, flags, restarts: self.restarts.count(i), name: t.name(i) });
    }

    /// Child `child` failed (`what`, logged with the restart) and must be
    /// restarted with `reason`, as its restart policy says: now, after its
    /// backoff, or not at all (held).
    fn failed(&mut self, child: Child, reason: u64, what: core::fmt::Arguments<'_>) {
        let index = self.index_of(child);
        let name = self.name(index);
        let (Some(i), Some(t)) = (index, self.table) else {
            self.untabled += 1;
            if Self::logged(self.untabled) {
                debug_println!("supervisor: {name} (child {}): {what}; restarting it", child.index());
            }
            self.restart(child, reason);
            return;
        };
        let policy = t.policy(i);
        let decision = self.restarts.failed(i, policy);
        let n = self.restarts.count(i);
        match decision {
            Decision::Restart => {
                if Self::logged(n) {
                    debug_println!("supervisor: {name} (child {}): {what}; restarting it (restart {n})", child.index());
                }
                self.restart(child, reason);
            }
            Decision::RestartAt { at, delay_ms } => {
                if Self::logged(n) {
                    debug_println!("supervisor: {name} (child {}): {what}; restarting it in {delay_ms} ms (restart {n})", child.index());
                }
                self.restarts.defer(i, at, reason);
            }
            Decision::Hold { recent } => {
                let RestartPolicy::Hold { max_restarts, window_ms, .. } = policy else { return };
                let window = if t.tick_us() == 0 { WindowText::SoFar } else { WindowText::Within(window_ms) };
                debug_println!(
                    "supervisor: {name} (child {}): {what}; holding it: {recent} restarts {window} is its restart policy's limit (max_restarts={max_restarts}); it answers every call with Err(Held) from now on",
                    child.index()
                );
                self.restart(child, reason | RESTART_HELD);
            }
            Decision::AlreadyHeld => {
                debug_println!("supervisor: {name} (child {}): {what} while held; leaving it stopped", child.index());
            }
        }
        self.publish(i);
    }

    fn stop_overrun(&mut self, o: Overrun) {
        let Some(t) = self.table else { return };
        let id = t.child(o.index).0;
        self.failed(
            Child::new(id),
            RESTART_AFTER_OVERRUN,
            format_args!("call overran its bound ({} us of CPU > {} us)", o.used_us, o.bound_us),
        );
    }
}

/// A restart window, as logged.
enum WindowText {
    /// No tick: every restart so far counts.
    SoFar,
    /// The policy's window in ms.
    Within(u32),
}

impl core::fmt::Display for WindowText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WindowText::SoFar => f.write_str("so far (no tick: the window is the whole run)"),
            WindowText::Within(ms) => write!(f, "within {ms} ms"),
        }
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
        let (what, pc, addr) = describe(msg_info.label());
        match (pc, addr) {
            (Some(pc), Some(addr)) => self.failed(child, RESTART_AFTER_FAULT, format_args!("{what} at pc {pc:#x}, address {addr:#x}")),
            (Some(pc), None) => self.failed(child, RESTART_AFTER_FAULT, format_args!("{what} at pc {pc:#x}")),
            _ => self.failed(child, RESTART_AFTER_FAULT, format_args!("{what}")),
        }
        Ok(None)
    }

    /// A tick: due restarts (backoffs), then the watchdog.
    fn notified(&mut self, _: ChannelSet) -> Result<(), Infallible> {
        let mut due = [None; MAX_CHILDREN];
        self.restarts.tick(|i, reason| due[i] = Some(reason));
        if let Some(t) = self.table {
            for (i, reason) in due.iter().enumerate().filter_map(|(i, r)| r.map(|r| (i, r))) {
                self.restart(Child::new(t.child(i).0), reason);
                self.publish(i);
            }
        }
        let mut consumed: Consumed = [0; 64];
        let slots = self.sc_slots;
        for slot in (1..64u8).filter(|s| slots & (1 << s) != 0) {
            match SchedContext::in_cspace(slot).map(SchedContext::consumed_us) {
                Some(Ok(us)) => consumed[usize::from(slot)] = us,
                Some(Err(e)) => {
                    // Said once; the slot is then left out.
                    debug_println!("supervisor: cspace slot {slot} holds no scheduling context ({e}): calls on it are not bounded");
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
