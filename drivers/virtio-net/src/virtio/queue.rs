//! One split virtqueue in the DMA region, laid out so that both transports
//! accept it: the descriptor table, the available ring right after it, and
//! the used ring at the next 4 KiB boundary (the legacy layout; a modern
//! device takes the three addresses separately and accepts it as well).
//!
//! The ring size (entries in each ring, the device's choice on a legacy
//! device) is separate from the number of buffers the driver owns: only
//! descriptors `0..buffers` are ever used, and every other descriptor stays
//! zero.

use tunnelkit_runtime::{OutOfBounds, SharedMemory};

/// Alignment of the used ring in the legacy layout (and of the queue start).
pub const ALIGN: u64 = 4096;
/// `VIRTQ_DESC_F_WRITE`: the device writes the buffer.
pub const DESC_F_WRITE: u16 = 2;

const DESC_BYTES: u64 = 16;

const fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

/// Offset of the available ring from the queue start, for `size` entries.
const fn avail_offset(size: u16) -> u64 {
    DESC_BYTES * size as u64
}

/// Offset of the used ring: after the available ring (flags, idx, ring,
/// used_event: 2 × (3 + size) bytes), at the next 4 KiB boundary.
const fn used_offset(size: u16) -> u64 {
    align_up(avail_offset(size) + 2 * (3 + size as u64))
}

/// DMA bytes a queue of `size` entries occupies (whole 4 KiB pages).
pub const fn bytes(size: u16) -> u64 {
    // Used ring: flags, idx, size elements of 8 bytes, avail_event.
    used_offset(size) + align_up(6 + 8 * size as u64)
}

/// Physical addresses of a queue's three parts, for the transport.
#[derive(Clone, Copy, Debug)]
pub struct Rings {
    /// Descriptor table.
    pub desc: u64,
    /// Available (driver) ring.
    pub avail: u64,
    /// Used (device) ring.
    pub used: u64,
}

/// A split virtqueue: where it is in the DMA region and the driver's indices.
pub struct Queue {
    /// DMA offset of the descriptor table (4 KiB aligned).
    at: u64,
    /// Entries in each ring.
    size: u16,
    /// `flags` of the available ring, written with every index update.
    avail_flags: u16,
    /// Next available-ring index to fill (free-running).
    avail_idx: u16,
    /// Next used-ring index to consume (free-running).
    used_idx: u16,
}

impl Queue {
    /// A queue of `size` entries at DMA offset `at` (4 KiB aligned).
    pub fn new(at: u64, size: u16) -> Self {
        Self { at, size, avail_flags: 0, avail_idx: 0, used_idx: 0 }
    }

    /// The rings' physical addresses when the DMA region starts at `dma_paddr`.
    pub fn rings(&self, dma_paddr: u64) -> Rings {
        let base = dma_paddr + self.at;
        Rings { desc: base, avail: base + avail_offset(self.size), used: base + used_offset(self.size) }
    }

    fn avail(&self) -> u64 {
        self.at + avail_offset(self.size)
    }

    fn used(&self) -> u64 {
        self.at + used_offset(self.size)
    }

    /// Writes descriptor `i`: a buffer at physical `addr` of `len` bytes.
    pub fn set_desc(&self, mem: &SharedMemory, i: u16, addr: u64, len: u32, flags: u16) -> Result<(), OutOfBounds> {
        let at = self.at + DESC_BYTES * u64::from(i);
        mem.write_u64(at, addr)?;
        // len (u32), flags (u16), next (u16) = 0.
        mem.write_u64(at + 8, u64::from(len) | u64::from(flags) << 32)
    }

    /// Puts descriptor `id` on the available ring and publishes the new
    /// index (release: the descriptor and the slot are visible first).
    pub fn push(&mut self, mem: &SharedMemory, id: u16) -> Result<(), OutOfBounds> {
        let slot = self.avail() + 4 + 2 * u64::from(self.avail_idx % self.size);
        mem.write(slot, &id.to_le_bytes())?;
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.publish_avail(mem)
    }

    /// Stores the available ring's flags and index together.
    fn publish_avail(&self, mem: &SharedMemory) -> Result<(), OutOfBounds> {
        mem.store_release_u32(self.avail(), u32::from(self.avail_flags) | u32::from(self.avail_idx) << 16)
    }

    /// DMA offset of `used_event` (after the available ring's entries): with
    /// VIRTIO_RING_F_EVENT_IDX the device interrupts once its used index
    /// passes this value.
    fn used_event(&self) -> u64 {
        self.avail() + 4 + 2 * u64::from(self.size)
    }

    /// Asks for an interrupt once the device has returned the entry `ahead`
    /// places after the next one the driver will consume (event index).
    pub fn interrupt_after(&self, mem: &SharedMemory, ahead: u16) -> Result<(), OutOfBounds> {
        mem.write(self.used_event(), &self.used_idx.wrapping_add(ahead).to_le_bytes())
    }

    /// Sets the available ring's flags (`VIRTQ_AVAIL_F_NO_INTERRUPT`) and
    /// publishes them.
    pub fn set_avail_flags(&mut self, mem: &SharedMemory, flags: u16) -> Result<(), OutOfBounds> {
        self.avail_flags = flags;
        self.publish_avail(mem)
    }

    /// Whether the device has returned an entry the driver has not consumed.
    pub fn has_used(&self, mem: &SharedMemory) -> bool {
        mem.load_acquire_u32(self.used()).is_ok_and(|w| (w >> 16) as u16 != self.used_idx)
    }

    /// The next used entry (descriptor id, bytes written), if the device has
    /// returned one.
    pub fn pop_used(&mut self, mem: &SharedMemory) -> Option<(u16, u32)> {
        let device_idx = (mem.load_acquire_u32(self.used()).ok()? >> 16) as u16;
        if device_idx == self.used_idx {
            return None;
        }
        let entry = self.used() + 4 + 8 * u64::from(self.used_idx % self.size);
        let id = mem.load_acquire_u32(entry).ok()?;
        let len = mem.load_acquire_u32(entry + 4).ok()?;
        self.used_idx = self.used_idx.wrapping_add(1);
        Some((u16::try_from(id).unwrap_or(u16::MAX), len))
    }
}

// 256 entries (QEMU's legacy virtio-net): descriptors 4 KiB, the available
// ring right after them, the used ring at 8 KiB; 16 entries: 0x100, 0x1000.
const _: () = assert!(avail_offset(256) == 0x1000 && used_offset(256) == 0x2000 && bytes(256) == 0x3000);
const _: () = assert!(avail_offset(16) == 0x100 && used_offset(16) == 0x1000 && bytes(16) == 0x2000);
