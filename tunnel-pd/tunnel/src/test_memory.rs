//! A shared region for host tests of the ring and frame queues.

extern crate std;

use core::cell::RefCell;
use std::vec;
use std::vec::Vec;

use crate::frames::QueueMemory;
use crate::ring::RingMemory;

/// Bytes standing in for a region two PDs share.
pub struct Buffer(RefCell<Vec<u8>>);

impl Buffer {
    /// `size` zero bytes.
    pub fn new(size: usize) -> Self {
        Self(RefCell::new(vec![0; size]))
    }

    fn range(offset: u64, len: usize) -> core::ops::Range<usize> {
        offset as usize..offset as usize + len
    }
}

impl RingMemory for Buffer {
    fn load_acquire(&self, offset: u64) -> u32 {
        u32::from_le_bytes(self.0.borrow()[Self::range(offset, 4)].try_into().unwrap())
    }
    fn store_release(&self, offset: u64, value: u32) {
        self.0.borrow_mut()[Self::range(offset, 4)].copy_from_slice(&value.to_le_bytes());
    }
    fn read_word(&self, offset: u64) -> u64 {
        assert_eq!(offset % 8, 0, "unaligned word");
        u64::from_le_bytes(self.0.borrow()[Self::range(offset, 8)].try_into().unwrap())
    }
    fn write_word(&self, offset: u64, value: u64) {
        assert_eq!(offset % 8, 0, "unaligned word");
        self.0.borrow_mut()[Self::range(offset, 8)].copy_from_slice(&value.to_le_bytes());
    }
}

impl QueueMemory for Buffer {
    fn read_bytes(&self, offset: u64, buf: &mut [u8]) {
        buf.copy_from_slice(&self.0.borrow()[Self::range(offset, buf.len())]);
    }
    fn write_bytes(&self, offset: u64, data: &[u8]) {
        self.0.borrow_mut()[Self::range(offset, data.len())].copy_from_slice(data);
    }
}
