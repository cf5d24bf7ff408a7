//! The network pipeline's services and shared definitions:
//!
//! driver (active, IRQ) → [`classifier`] pod (tunnel, on the driver's
//! budget) → the flow class's path PD (frame queue + notification) → its
//! [`filter`] pod instance (tunnel, on the path's budget) → the application
//! (echo in the path; sealed echo through the encryption pod) → the reply
//! back to the driver's transmit queue.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use netstack::respond::{Class, Drop};
use tunnelkit_tunnel::{Window, service};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// What the classifier found: a class, or the reason to drop the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Verdict {
    /// [`Verdict::DROP`], [`Verdict::ARP`], [`Verdict::ICMP`] or [`Verdict::UDP`].
    pub kind: u16,
    /// UDP destination port.
    pub port: u16,
    /// Index into `Drop::ALL` when dropped.
    pub reason: u16,
    /// Zero.
    pub reserved: u16,
}

impl Verdict {
    /// Dropped.
    pub const DROP: u16 = 0;
    /// An ARP request for us.
    pub const ARP: u16 = 1;
    /// An ICMP echo request for us.
    pub const ICMP: u16 = 2;
    /// A UDP datagram for us.
    pub const UDP: u16 = 3;

    /// The verdict for a classification result.
    pub fn of(result: Result<Class, Drop>) -> Verdict {
        let v = |kind, port, reason| Verdict { kind, port, reason, reserved: 0 };
        match result {
            Ok(Class::Arp) => v(Self::ARP, 0, 0),
            Ok(Class::IcmpEcho) => v(Self::ICMP, 0, 0),
            Ok(Class::Udp { port }) => v(Self::UDP, port, 0),
            Err(d) => v(Self::DROP, 0, d.index() as u16),
        }
    }

    /// Packs the verdict into a frame-queue tag.
    pub fn tag(self) -> u32 {
        u32::from(self.kind) | u32::from(self.port) << 16
    }

    /// Unpacks a frame-queue tag.
    pub fn from_tag(tag: u32) -> Verdict {
        Verdict { kind: tag as u16, port: (tag >> 16) as u16, reason: 0, reserved: 0 }
    }

    /// The class, unless the frame was dropped.
    pub fn class(self) -> Option<Class> {
        match self.kind {
            Self::ARP => Some(Class::Arp),
            Self::ICMP => Some(Class::IcmpEcho),
            Self::UDP => Some(Class::Udp { port: self.port }),
            _ => None,
        }
    }
}

/// The filter's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Admission {
    /// 1 if a rule allows the frame, 0 if none does.
    pub allowed: u32,
    /// The 1-based line of the deciding rule (0: default deny).
    pub line: u32,
}

/// A frame to classify: where it lies in the lent region, and the MAC of
/// the interface it arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct FrameRef {
    /// The frame's bytes in the lent region.
    pub window: Window,
    /// The receiving interface's MAC address.
    pub mac: [u8; 6],
    /// Zero.
    pub reserved: [u8; 2],
}

/// Frames per batch call (`classify_batch`, `admit_batch`): one domain
/// crossing for up to this many frames, so that a busy pipeline pays per
/// batch, not per frame. Bounded by the 64 message registers.
pub const BATCH: usize = 32;

/// Frames to classify in one call: `count` windows of the lent region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct FrameBatch {
    /// Windows in use (at most [`BATCH`]).
    pub count: u32,
    /// Zero.
    pub reserved: u32,
    /// The receiving interface's MAC address.
    pub mac: [u8; 6],
    /// Zero.
    pub reserved_mac: [u8; 2],
    /// Each frame's bytes in the lent region.
    pub windows: [Window; BATCH],
}

/// Verdicts, one per frame of a batch (the first `count` are meaningful).
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Verdicts {
    /// Entries in use.
    pub count: u32,
    /// Zero.
    pub reserved: u32,
    /// The verdicts.
    pub verdicts: [Verdict; BATCH],
}

/// Admissions, one per verdict of a batch; bit `i` of `allowed` is set when a
/// rule admits verdict `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Admissions {
    /// Bit `i`: verdict `i` admitted.
    pub allowed: u64,
    /// The 1-based line of the rule that decided each verdict (0: default deny).
    pub lines: [u16; BATCH],
}

impl Verdicts {
    /// No verdicts yet.
    pub const fn empty() -> Self {
        Verdicts { count: 0, reserved: 0, verdicts: [Verdict { kind: Verdict::DROP, port: 0, reason: 0, reserved: 0 }; BATCH] }
    }
}

/// The guest's IPv4 address (QEMU user networking's default).
pub const GUEST_IP: [u8; 4] = [10, 0, 2, 15];

service! {
    /// The classifier pod: parses and checks a frame the caller lends.
    pub mod classifier {
        /// Classifies the frame in the lent window.
        1 => fn classify(FrameRef) -> Verdict;
        /// Classifies each frame of a batch in the lent region.
        2 => fn classify_batch(FrameBatch) -> Verdicts;
    }
}

service! {
    /// The filter pod: admits or refuses a classified frame by its rules.
    pub mod filter {
        /// Whether the rules allow this class.
        1 => fn admit(Verdict) -> Admission;
        /// Whether the rules allow each class of a batch.
        2 => fn admit_batch(Verdicts) -> Admissions;
    }
}

/// Tags of entries on a path's transmit queue (path → driver).
pub mod tx_tag {
    /// A frame to transmit.
    pub const FRAME: u32 = 1;
    /// A frame the filter refused (no data).
    pub const FILTERED: u32 = 2;
    /// A frame the application refused (no data).
    pub const REFUSED: u32 = 3;
}
