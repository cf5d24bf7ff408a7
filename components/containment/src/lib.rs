//! The fault-injection service of the containment system, and the layout of
//! the page its PDs share to measure the other paths' work.

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

/// A unit of work: this many rounds of a mixing function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Work {
    /// Rounds.
    pub rounds: u64,
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
        /// Never returns: spins until its supervisor stops it (overrun).
        5 => fn spin(()) -> ();
        /// Faults mid-call with a VM fault (a read of an unmapped address).
        6 => fn vm_fault(()) -> ();
        /// Does `rounds` of work and returns a digest of it.
        7 => fn work(Work) -> Count;
    }
}

/// Word offsets in the shared measurement page (`containment_page`).
pub mod page {
    /// The measurement phase the injector is in (see [`super::Phase`]).
    pub const PHASE: u64 = 0;
    /// Set to 1 by the flaky active PD once its supervisor restarted it.
    pub const FLAKY_RESTARTED: u64 = 8;
    /// Work units path `slot` completed in `phase`.
    pub const fn completed(slot: u64, phase: u64) -> u64 {
        64 + slot * 32 + phase * 8
    }
}

/// The injector's measurement phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Phase {
    /// Booting: nothing is counted.
    Settling = 0,
    /// No injections: the other paths' baseline.
    Baseline = 1,
    /// 1000 faults and 1000 overruns are being injected.
    Injecting = 2,
    /// Done: the other paths stop counting.
    Done = 3,
}

impl Phase {
    /// The phase stored as `word`.
    pub fn from_word(word: u64) -> Self {
        match word {
            1 => Phase::Baseline,
            2 => Phase::Injecting,
            3 => Phase::Done,
            _ => Phase::Settling,
        }
    }
}
