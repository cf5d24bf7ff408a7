//! The demo's services, defined once for callers and callees:
//!
//! - [`crypt`]: ChaCha20 over a window the caller lends, with a key only the
//!   encryption pod holds; replies with the CRC-32 of the result, which the
//!   pod gets by tunnelling into
//! - [`checksum`]: CRC-32 of a lent window.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cipher;
pub mod kat;

use tunnelkit_tunnel::{Window, service};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Encrypt or decrypt `window` of the caller's lent region in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct CryptRequest {
    /// The bytes to transform.
    pub window: Window,
    /// ChaCha20 nonce (never reuse one with the same key).
    pub nonce: [u8; 12],
    /// Must be zero.
    pub reserved: u32,
}

/// Result of a transformation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct CryptReply {
    /// CRC-32 of the window after the transformation (from the checksum pod).
    pub checksum: u32,
    /// Bytes transformed.
    pub len: u32,
}

/// A CRC-32 result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct ChecksumReply {
    /// CRC-32 (ISO-HDLC, as zlib) of the window.
    pub crc32: u32,
    /// Bytes covered.
    pub len: u32,
}

/// The encryption pod's key. A demo key: it is public here, and the network
/// system's sealed echo documents it as its test key, so the host can open
/// sealed answers. Only the pod's address space holds it at run time.
pub const DEMO_KEY: [u8; 32] = *b"tunnelkit-demo: pod-only secret!";

/// Refusal codes of the crypt service.
pub mod refusal {
    /// The request's reserved field was not zero.
    pub const RESERVED_NOT_ZERO: u64 = 1;
    /// The window is larger than the pod's region towards the checksum pod.
    pub const WINDOW_TOO_LARGE: u64 = 2;
}

service! {
    /// Encryption pod: holds a secret key callers cannot read.
    pub mod crypt {
        /// Encrypts the window in place with the pod's secret key.
        1 => fn encrypt(CryptRequest) -> CryptReply;
        /// Decrypts the window in place with the pod's secret key.
        2 => fn decrypt(CryptRequest) -> CryptReply;
        /// Encrypts the window with the public RFC 8439 §2.4.2 test key, nonce
        /// and counter: a known-answer test through the whole data path.
        3 => fn known_answer(Window) -> CryptReply;
    }
}

service! {
    /// Checksum pod.
    pub mod checksum {
        /// CRC-32 of the window.
        1 => fn crc32(Window) -> ChecksumReply;
    }
}
