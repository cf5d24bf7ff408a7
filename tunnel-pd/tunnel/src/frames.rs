//! Frame queues: single-producer / single-consumer rings of byte slots in a
//! region two PDs share (sDDF style), for data too large for message
//! registers, such as network frames. Each entry is a tag word (for the
//! consumer's use, e.g. "frame" or a drop reason), a length and the bytes.
//!
//! Region layout: head (producer) at 0, tail (consumer) at 64, then
//! [`SLOTS`] slots of [`SLOT_BYTES`]: tag (u32), length (u32), data.

use crate::ring::RingMemory;

/// Slots in a queue.
pub const SLOTS: u32 = 128;
/// Bytes per slot, header included.
pub const SLOT_BYTES: u64 = 2048;
/// Bytes of data a slot holds.
pub const SLOT_DATA: usize = SLOT_BYTES as usize - 8;
const HEAD: u64 = 0;
/// Producer-written configuration bytes (e.g. a MAC address) in the header.
const META_AT: u64 = 8;
/// Bytes of metadata a queue carries.
pub const META_BYTES: usize = 48;
const TAIL: u64 = 64;
const SLOTS_AT: u64 = 128;
/// Bytes a frame-queue region needs at least.
pub const QUEUE_BYTES: u64 = SLOTS_AT + SLOTS as u64 * SLOT_BYTES;

/// Why an entry could not be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// Every slot is in use.
    Full,
    /// The data is larger than a slot.
    TooLarge,
}

/// Memory a frame queue lives in: words and bytes.
pub trait QueueMemory: RingMemory {
    /// Copies bytes out.
    fn read_bytes(&self, offset: u64, buf: &mut [u8]);
    /// Copies bytes in.
    fn write_bytes(&self, offset: u64, data: &[u8]);
}

/// Appends `(tag, data)`.
pub fn push(mem: &impl QueueMemory, tag: u32, data: &[u8]) -> Result<(), QueueError> {
    if data.len() > SLOT_DATA {
        return Err(QueueError::TooLarge);
    }
    let head = mem.load_acquire(HEAD);
    let tail = mem.load_acquire(TAIL);
    if head.wrapping_sub(tail) >= SLOTS {
        return Err(QueueError::Full);
    }
    let at = SLOTS_AT + u64::from(head % SLOTS) * SLOT_BYTES;
    mem.write_word(at, u64::from(tag) | (data.len() as u64) << 32);
    mem.write_bytes(at + 8, data);
    mem.store_release(HEAD, head.wrapping_add(1));
    Ok(())
}

/// Takes the oldest entry into `buf`: `(tag, length)`; `None` if empty.
/// Data beyond `buf.len()` is cut off.
pub fn pop(mem: &impl QueueMemory, buf: &mut [u8]) -> Option<(u32, usize)> {
    let head = mem.load_acquire(HEAD);
    let tail = mem.load_acquire(TAIL);
    if head == tail {
        return None;
    }
    let at = SLOTS_AT + u64::from(tail % SLOTS) * SLOT_BYTES;
    let word = mem.read_word(at);
    let len = ((word >> 32) as usize).min(SLOT_DATA).min(buf.len());
    mem.read_bytes(at + 8, &mut buf[..len]);
    mem.store_release(TAIL, tail.wrapping_add(1));
    Some((word as u32, len))
}

/// The tag of the `i`-th waiting entry (0 = the oldest), without taking it;
/// `None` if fewer than `i + 1` entries wait. Lets a consumer decide about a
/// batch (one call for many entries) before it takes them.
pub fn peek_tag(mem: &impl QueueMemory, i: u32) -> Option<u32> {
    let head = mem.load_acquire(HEAD);
    let tail = mem.load_acquire(TAIL);
    if head.wrapping_sub(tail) <= i {
        return None;
    }
    let at = SLOTS_AT + u64::from(tail.wrapping_add(i) % SLOTS) * SLOT_BYTES;
    Some(mem.read_word(at) as u32)
}

/// Publishes `meta` (at most [`META_BYTES`]) in the queue header, for the
/// consumer to read with [`meta`]. Written once, before the first entry.
pub fn set_meta(mem: &impl QueueMemory, meta: &[u8]) {
    mem.write_bytes(META_AT, &meta[..meta.len().min(META_BYTES)]);
}

/// Reads the metadata the producer published.
pub fn meta(mem: &impl QueueMemory, buf: &mut [u8]) {
    let n = buf.len().min(META_BYTES);
    mem.read_bytes(META_AT, &mut buf[..n]);
}

/// Entries waiting.
pub fn len(mem: &impl QueueMemory) -> u32 {
    mem.load_acquire(HEAD).wrapping_sub(mem.load_acquire(TAIL))
}

#[cfg(target_os = "none")]
impl QueueMemory for tunnelkit_runtime::SharedMemory {
    fn read_bytes(&self, offset: u64, buf: &mut [u8]) {
        let _ = self.read(offset, buf);
    }
    fn write_bytes(&self, offset: u64, data: &[u8]) {
        let _ = self.write(offset, data);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    use crate::test_memory::Buffer;

    /// Varied entry sizes, every one fitting a slot.
    fn size(i: u32, round: u32) -> usize {
        (i as usize * 200 + round as usize) % (SLOT_DATA + 1)
    }

    #[test]
    fn peek_tag_sees_waiting_entries_without_taking_them() {
        let mem = Buffer::new(QUEUE_BYTES as usize);
        let mut buf = [0u8; 8];
        assert_eq!(peek_tag(&mem, 0), None);
        // Wrap the indices around the ring first.
        for t in 0..SLOTS + 3 {
            push(&mem, t, b"x").unwrap();
            pop(&mem, &mut buf).unwrap();
        }
        for t in 0..5 {
            push(&mem, 100 + t, b"y").unwrap();
        }
        assert_eq!((0..6).map(|i| peek_tag(&mem, i)).collect::<Vec<_>>(), [Some(100), Some(101), Some(102), Some(103), Some(104), None]);
        assert_eq!(len(&mem), 5);
        assert_eq!(pop(&mem, &mut buf), Some((100, 1)));
        assert_eq!(peek_tag(&mem, 0), Some(101));
    }

    /// The bytes of entry `i` of `round`: a counting pattern starting at a
    /// different byte for each entry (slices of one buffer, so the test copies
    /// and compares whole slices, which Miri does quickly).
    fn data(pattern: &[u8], i: u32, round: u32) -> &[u8] {
        let start = (i as usize * 7 + round as usize) % 256;
        &pattern[start..start + size(i, round)]
    }

    #[test]
    fn entries_come_out_in_order_with_their_tags_until_full() {
        let mem = Buffer::new(QUEUE_BYTES as usize);
        let pattern: Vec<u8> = (0..SLOT_DATA + 256).map(|b| b as u8).collect();
        let mut buf = [0u8; SLOT_DATA];
        for round in 0..5u32 {
            for i in 0..SLOTS {
                push(&mem, round * 100 + i, data(&pattern, i, round)).unwrap();
            }
            assert_eq!(push(&mem, 0, b"x"), Err(QueueError::Full));
            assert_eq!(len(&mem), SLOTS);
            for i in 0..SLOTS {
                let (tag, n) = pop(&mem, &mut buf).unwrap();
                assert_eq!(tag, round * 100 + i);
                assert_eq!(n, size(i, round));
                assert!(buf[..n] == *data(&pattern, i, round), "entry {i} of round {round}");
            }
            assert_eq!(pop(&mem, &mut buf), None);
        }
        assert_eq!(push(&mem, 0, &[0u8; SLOT_DATA + 1]), Err(QueueError::TooLarge));
    }
}
