//! Supervisor: the parent of the pods. A child's fault comes here; the
//! supervisor logs it and restarts the child from scratch, and the child's
//! runtime then answers the interrupted call with a fault error, so the
//! caller gets `Err(Fault)` (and its donated scheduling context back).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{Child, Handler, MessageInfo, debug_println, protection_domain};

protection_domain!(init);

struct Supervisor {
    restarts: u64,
}

fn init() -> Supervisor {
    Supervisor { restarts: 0 }
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
        if let Err(e) = child.restart_clean() {
            debug_println!("supervisor: restarting child {} failed: seL4 error {e}", child.index());
        }
        Ok(None)
    }
}
