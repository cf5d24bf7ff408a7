//! Supervisor: the parent of the pods. A child's fault comes here; the
//! supervisor logs it and restarts the child from scratch, and the child's
//! runtime then answers the interrupted call with a fault error, so the
//! caller gets `Err(Fault)` (and its donated scheduling context back).
//! Timeout faults of the overrun-supervised child (a call running out of
//! its caller's budget inside the pod) restart it the same way, with the
//! overrun reason: its caller gets `Err(Overrun)`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{
    Child, Handler, MessageInfo, RESTART_AFTER_FAULT, RESTART_AFTER_OVERRUN, debug_println, protection_domain, setvar,
};

setvar!(
    /// The child whose timeout faults come here: the child `<protection_domain
    /// setvar_id="overrun_child">` (0, no child ids are 0, means none).
    static overrun_child
);

protection_domain!(init);

struct Supervisor {
    restarts: u64,
    overruns: u64,
    overrun_child: Option<Child>,
}

fn init() -> Supervisor {
    let supervised = u8::try_from(overrun_child.get()).ok().filter(|id| *id != 0).map(Child::new);
    if let Some(child) = supervised
        && let Err(e) = child.set_timeout_endpoint()
    {
        panic!("cannot set the timeout endpoint of child {}: seL4 error {e}", child.index());
    }
    Supervisor { restarts: 0, overruns: 0, overrun_child: supervised }
}

/// seL4's name for a fault label.
fn fault_name(label: u64) -> &'static str {
    match label {
        1 => "cap fault",
        2 => "unknown syscall",
        3 => "user exception",
        5 => "timeout",
        6 => "VM fault",
        _ => "fault",
    }
}

impl Handler for Supervisor {
    type Error = Infallible;

    fn fault(&mut self, child: Child, msg_info: MessageInfo) -> Result<Option<MessageInfo>, Infallible> {
        self.restarts += 1;
        // Log the first few and then every 100th: fault injection makes many.
        if self.restarts <= 3 || self.restarts.is_multiple_of(100) {
            debug_println!(
                "supervisor: child {} {} (restart {}), restarting it",
                child.index(),
                fault_name(msg_info.label()),
                self.restarts
            );
        }
        if let Err(e) = child.restart_clean(RESTART_AFTER_FAULT) {
            debug_println!("supervisor: restarting child {} failed: seL4 error {e}", child.index());
        }
        Ok(None)
    }

    fn timeout(&mut self, sc_badge: u64) -> Result<(), Infallible> {
        self.overruns += 1;
        let Some(child) = self.overrun_child else { return Ok(()) };
        if self.overruns <= 3 || self.overruns.is_multiple_of(100) {
            debug_println!(
                "supervisor: child {} overran the budget of SC {sc_badge:#x} (overrun {}), restarting it",
                child.index(),
                self.overruns
            );
        }
        if let Err(e) = child.restart_clean(RESTART_AFTER_OVERRUN) {
            debug_println!("supervisor: restarting child {} failed: seL4 error {e}", child.index());
        }
        Ok(())
    }
}
