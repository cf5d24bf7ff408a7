//! ChaCha20 (RustCrypto `chacha20`) and CRC-32 (`crc`), applied chunk by
//! chunk so a pod never needs the whole window in memory.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use crc::{CRC_32_ISO_HDLC, Crc, Digest};

/// A ChaCha20 keystream positioned at a block counter.
pub struct Keystream(ChaCha20);

impl Keystream {
    /// The keystream of `key` and `nonce` starting at block `counter`.
    pub fn new(key: &[u8; 32], nonce: &[u8; 12], counter: u32) -> Self {
        let mut c = ChaCha20::new(key.into(), nonce.into());
        c.seek(u64::from(counter) * 64);
        Self(c)
    }

    /// XORs the next `data.len()` keystream bytes into `data`.
    pub fn apply(&mut self, data: &mut [u8]) {
        self.0.apply_keystream(data);
    }
}

const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// An incremental CRC-32 (ISO-HDLC, the zlib / Ethernet polynomial).
pub struct Crc32(Digest<'static, u32>);

impl Default for Crc32 {
    fn default() -> Self {
        Self(CRC32.digest())
    }
}

impl Crc32 {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum of everything added.
    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

/// CRC-32 of `bytes` in one go.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}
