//! Packet parsing and answering for the network pipeline, in safe `no_std`
//! Rust: Ethernet, ARP, IPv4, ICMP echo and UDP, with zerocopy header types.
//! Every length and checksum is checked; a frame that fails a check is
//! dropped with a [`Drop`] reason, never a panic.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "frame-builder")]
pub mod build;
pub mod checksum;
pub mod headers;
pub mod respond;
pub mod rules;
pub mod steer;

pub use respond::{Action, Class, Drop, Host, classify, respond};
