//! Requests and responses in message registers.

use tunnelkit_sys::{MICROKIT_MAX_MESSAGE_WORDS, SEL4_MSG_MAX_LENGTH};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::error::CallError;

/// Words a message may use (Microkit's protected-procedure limit).
pub const MAX_MESSAGE_WORDS: usize = MICROKIT_MAX_MESSAGE_WORDS;
/// Bytes a message may use.
pub const MAX_MESSAGE_BYTES: usize = MAX_MESSAGE_WORDS * 8;

/// A request or response: plain bytes with no padding and any bit pattern
/// valid (derive zerocopy's `IntoBytes`, `FromBytes`, `Immutable`, `KnownLayout`).
pub trait Message: IntoBytes + FromBytes + Immutable + KnownLayout + Sized {}
impl<T: IntoBytes + FromBytes + Immutable + KnownLayout + Sized> Message for T {}

/// Message words `T` occupies; fails to compile if `T` exceeds 64 words.
pub const fn words_of<T: Message>() -> usize {
    const { assert!(size_of::<T>() <= MAX_MESSAGE_BYTES, "message type larger than 64 message registers") };
    size_of::<T>().div_ceil(8)
}

/// Where message registers live: the IPC buffer on seL4, an array in tests.
pub trait MessageRegisters {
    /// Reads register `i`.
    fn get(&self, i: usize) -> u64;
    /// Writes register `i`.
    fn set(&mut self, i: usize, value: u64);

    /// Writes `words` to registers `0..words.len()`.
    fn set_words(&mut self, words: &[u64]) {
        for (i, w) in words.iter().enumerate() {
            self.set(i, *w);
        }
    }

    /// Reads registers `0..words.len()` into `words`.
    fn get_words(&self, words: &mut [u64]) {
        for (i, w) in words.iter_mut().enumerate() {
            *w = self.get(i);
        }
    }
}

/// Message registers held in memory (host tests, loopback transports).
#[derive(Clone, Debug)]
pub struct ArrayRegisters(pub [u64; SEL4_MSG_MAX_LENGTH]);

impl Default for ArrayRegisters {
    fn default() -> Self {
        Self([0; SEL4_MSG_MAX_LENGTH])
    }
}

impl MessageRegisters for ArrayRegisters {
    fn get(&self, i: usize) -> u64 {
        self.0[i]
    }
    fn set(&mut self, i: usize, value: u64) {
        self.0[i] = value;
    }
}

/// The PD's IPC buffer.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug, Default)]
pub struct IpcBuffer;

#[cfg(target_os = "none")]
impl MessageRegisters for IpcBuffer {
    fn get(&self, i: usize) -> u64 {
        tunnelkit_sys::ipc_buffer::get_mr(i)
    }
    fn set(&mut self, i: usize, value: u64) {
        tunnelkit_sys::ipc_buffer::set_mr(i, value)
    }
    fn set_words(&mut self, words: &[u64]) {
        tunnelkit_sys::ipc_buffer::set_mrs(words)
    }
    fn get_words(&self, words: &mut [u64]) {
        tunnelkit_sys::ipc_buffer::get_mrs(words)
    }
}

/// Writes `msg` into registers 0.. (little-endian, zero-padded to whole
/// words) and returns the number of words used.
pub fn encode<T: Message>(msg: &T, mrs: &mut impl MessageRegisters) -> usize {
    let words = words_of::<T>();
    // Word-aligned messages (most: `u64` fields and arrays) are copied as
    // words (registers hold little-endian words: on a little-endian target
    // in one copy).
    if let Ok(ws) = <[u64]>::ref_from_bytes(msg.as_bytes()) {
        if cfg!(target_endian = "little") {
            mrs.set_words(ws);
        } else {
            for (i, w) in ws.iter().enumerate() {
                mrs.set(i, u64::from_le(*w));
            }
        }
        return words;
    }
    // Otherwise whole words as fixed-size loads (a variable-length copy per
    // word would become a memcpy call each), then the zero-padded tail.
    let mut chunks = msg.as_bytes().chunks_exact(8);
    for (i, chunk) in (&mut chunks).enumerate() {
        mrs.set(i, u64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)")));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut w = [0u8; 8];
        w[..tail.len()].copy_from_slice(tail);
        mrs.set(words - 1, u64::from_le_bytes(w));
    }
    words
}

/// Reads a `T` from `len` registers; `len` must be exactly `T`'s word count.
pub fn decode<T: Message>(len: usize, mrs: &impl MessageRegisters) -> Result<T, CallError> {
    let words = words_of::<T>();
    if len != words {
        return Err(CallError::BadLength { expected: words as u64, got: len as u64 });
    }
    let mut msg = T::new_zeroed();
    if let Ok(ws) = <[u64]>::mut_from_bytes(msg.as_mut_bytes()) {
        if cfg!(target_endian = "little") {
            mrs.get_words(ws);
        } else {
            for (i, w) in ws.iter_mut().enumerate() {
                *w = u64::to_le(mrs.get(i));
            }
        }
        return Ok(msg);
    }
    let mut chunks = msg.as_mut_bytes().chunks_exact_mut(8);
    for (i, chunk) in (&mut chunks).enumerate() {
        chunk.copy_from_slice(&mrs.get(i).to_le_bytes());
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&mrs.get(words - 1).to_le_bytes()[..n]);
    }
    Ok(msg)
}
