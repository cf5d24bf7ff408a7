//! The benchmark service: null calls, payload echoes of 1..64 words, lent
//! windows, nested calls and CPU-bound work units. One server image serves it
//! as a tunnel pod, an active IPC server or an async server.

#![no_std]
#![forbid(unsafe_code)]

use tunnelkit_tunnel::{Window, service};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Remaining depth of a nested call (1 = answer here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Depth {
    /// Pods still to cross, this one included.
    pub remaining: u64,
}

/// A batch of CPU-bound work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Units {
    /// Iterations of the work loop.
    pub n: u64,
}

/// What a work batch cost the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Done {
    /// The loop's result (so it cannot be optimised away).
    pub value: u64,
    /// Counter cycles the service spent in the loop.
    pub cycles: u64,
}

service! {
    /// The benchmark service.
    pub mod bench {
        /// Nothing in, nothing out.
        1 => fn null(()) -> ();
        /// Echo 1 word.
        11 => fn echo1([u64; 1]) -> [u64; 1];
        /// Echo 2 words.
        12 => fn echo2([u64; 2]) -> [u64; 2];
        /// Echo 4 words.
        13 => fn echo4([u64; 4]) -> [u64; 4];
        /// Echo 8 words.
        14 => fn echo8([u64; 8]) -> [u64; 8];
        /// Echo 16 words.
        15 => fn echo16([u64; 16]) -> [u64; 16];
        /// Echo 32 words.
        16 => fn echo32([u64; 32]) -> [u64; 32];
        /// Echo 64 words.
        17 => fn echo64([u64; 64]) -> [u64; 64];
        /// Sum of the words of a lent window (the callee reads every byte).
        20 => fn lent(Window) -> u64;
        /// Cross `remaining` pods: forward to the next pod until 1.
        30 => fn nested(Depth) -> ();
        /// Run a batch of work.
        40 => fn work(Units) -> Done;
    }
}

/// The work loop: `n` rounds of xorshift (about 6 instructions each).
pub fn spin(n: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 | 1;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}
