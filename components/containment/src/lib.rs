//! The fault-injection service of the containment test.

#![no_std]
#![forbid(unsafe_code)]

use tunnelkit_tunnel::service;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A counter value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Count {
    /// Calls to `bump` since the pod last (re)started.
    pub value: u64,
}

service! {
    /// A pod that can be made to fail.
    pub mod inject {
        /// Counts a call; returns the count since the pod's last (re)start.
        1 => fn bump(()) -> Count;
        /// Faults mid-call (an undefined instruction).
        2 => fn fault(()) -> ();
        /// Panics mid-call (the panic handler prints, then faults).
        3 => fn panic(()) -> ();
        /// Calls `fault` on the next pod and returns its result (nesting).
        4 => fn forward_fault(()) -> ();
        /// Never returns: spins until the caller's budget runs out (overrun).
        5 => fn spin(()) -> ();
    }
}
