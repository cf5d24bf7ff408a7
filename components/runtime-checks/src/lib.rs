//! The echo service used by the runtime checks: the largest message a
//! Microkit protected call carries (64 words, most of them in the IPC buffer).

#![no_std]
#![forbid(unsafe_code)]

use tunnelkit_tunnel::service;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// 64 message words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Words {
    /// The words.
    pub w: [u64; 64],
}

/// How many calls the pod has served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Served {
    /// Calls served before this one.
    pub calls: u64,
}

service! {
    /// Echo pod.
    pub mod echo {
        /// Returns the words in reverse order.
        1 => fn reverse(Words) -> Words;
        /// Returns the number of calls served so far (state survives between calls).
        2 => fn served(()) -> Served;
    }
}
