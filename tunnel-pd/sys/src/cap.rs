//! Capability addresses (CPtrs) of a Microkit 2.3 PD.
//!
//! Microkit CNode slot `n` has CPtr `n`; a `<cspace>` root slot `s` has CPtr
//! `s << 58`.

/// A capability address.
pub type CPtr = u64;

/// The PD's endpoint (if it receives protected calls or has children), else its notification.
pub const INPUT: CPtr = 1;
/// Copy of the cap the PD's own faults are sent through.
pub const FAULT_EP: CPtr = 2;
/// The PD's own VSpace.
pub const VSPACE: CPtr = 3;
/// The PD's MCS reply object.
pub const REPLY: CPtr = 4;
/// Endpoint to the monitor (passive PDs only).
pub const MONITOR_EP: CPtr = 5;
/// The PD's own TCB (benchmark config only).
pub const OWN_TCB: CPtr = 6;
/// The ARM SMC cap (`smc="true"` only).
pub const ARM_SMC: CPtr = 7;

/// Notification to the peer of channel `ch` (`notify` channel ends).
pub const fn notification(ch: u8) -> CPtr {
    10 + ch as CPtr
}

/// Endpoint of the peer of channel `ch` (`pp` channel ends).
pub const fn endpoint(ch: u8) -> CPtr {
    74 + ch as CPtr
}

/// IRQ handler for IRQ id `id`.
pub const fn irq_handler(id: u8) -> CPtr {
    138 + id as CPtr
}

/// TCB of child PD `id`.
pub const fn child_tcb(id: u8) -> CPtr {
    202 + id as CPtr
}

/// x86 I/O port range `id`.
pub const fn ioport(id: u8) -> CPtr {
    394 + id as CPtr
}

/// A cap placed by the SDF `<cspace>` element in root slot `slot` (1..=63).
pub const fn cspace_root_slot(slot: u8) -> Option<CPtr> {
    if slot == 0 || slot >= 64 { None } else { Some((slot as CPtr) << 58) }
}

/// Badge bit set on protected-procedure calls (`badge & 0x3f` is the channel).
pub const BADGE_PPC: u64 = 1 << 63;
/// Badge bit set on child faults (`badge & 0xff` is the child id).
pub const BADGE_FAULT: u64 = 1 << 62;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_microkit_h() {
        assert_eq!((notification(0), notification(61)), (10, 71));
        assert_eq!((endpoint(0), endpoint(61)), (74, 135));
        assert_eq!((irq_handler(0), child_tcb(0), ioport(0)), (138, 202, 394));
        assert_eq!(cspace_root_slot(1), Some(1 << 58));
        assert_eq!(cspace_root_slot(0), None);
        assert_eq!(cspace_root_slot(64), None);
    }
}
