//! Bounds-checked access to memory regions shared with other PDs.
//!
//! Another PD may write a shared region at any time, so no Rust reference to
//! its bytes is ever handed out: data is copied in and out.

use crate::symbols::{self, Patched};

/// A memory region the system description maps into this PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedMemory {
    base: u64,
    size: u64,
}

/// An access outside the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfBounds {
    /// Requested offset.
    pub offset: u64,
    /// Requested length.
    pub len: u64,
    /// Region size.
    pub size: u64,
}

impl SharedMemory {
    /// The region lent on channel `ch` (the `tunnel_lend_vaddr_<ch>` and
    /// `tunnel_lend_size_<ch>` setvars), if the system description maps one.
    pub fn lent(ch: u8) -> Option<Self> {
        symbols::lent_region(ch).map(|(base, size)| Self { base, size })
    }

    /// The async-ring region of channel `ch` (`tunnel_ring_vaddr_<ch>` /
    /// `tunnel_ring_size_<ch>` setvars), if the system description maps one.
    pub fn ring(ch: u8) -> Option<Self> {
        symbols::ring_region(ch).map(|(base, size)| Self { base, size })
    }

    /// The region named by a pair of setvar words (`setvar_vaddr`,
    /// `setvar_size`); `None` if the tool did not patch them.
    pub fn from_setvars(vaddr: &Patched<u64>, size: &Patched<u64>) -> Option<Self> {
        let (base, size) = (vaddr.get(), size.get());
        (base != 0 && size != 0).then_some(Self { base, size })
    }

    /// The region at `base` of `size` bytes, an address the tools patched in
    /// (a setvar or the supervision table); `None` for a null base or size.
    /// Crate-private: safe code must not make regions at addresses of its
    /// own choosing.
    pub(crate) fn patched(base: u64, size: u64) -> Option<Self> {
        (base != 0 && size != 0).then_some(Self { base, size })
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn check(&self, offset: u64, len: usize) -> Result<u64, OutOfBounds> {
        let len = len as u64;
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(self.base + offset),
            _ => Err(OutOfBounds { offset, len, size: self.size }),
        }
    }

    /// Copies `buf.len()` bytes at `offset` out of the region.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        let addr = self.check(offset, buf.len())?;
        // SAFETY: [addr, addr + len) lies inside a region the microkit tool
        // mapped readable at `base` (setvar_vaddr / setvar_size of the same
        // <map>); `buf` is a distinct local buffer. Concurrent writers can only
        // change the bytes copied, not memory safety.
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len()) };
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::Acquire);
        Ok(())
    }

    fn atomic_u32(&self, offset: u64) -> Result<&core::sync::atomic::AtomicU32, OutOfBounds> {
        let addr = self.check(offset, 4)?;
        if !addr.is_multiple_of(4) {
            return Err(OutOfBounds { offset, len: 4, size: self.size });
        }
        // SAFETY: the word lies inside the mapped region and is 4-byte aligned;
        // AtomicU32 has the layout of u32 and every bit pattern is valid; the
        // mapping lives for the PD's whole life, so 'static-like borrow of
        // `self` is sound.
        Ok(unsafe { &*(addr as *const core::sync::atomic::AtomicU32) })
    }

    /// Loads the 32-bit word at `offset` with acquire ordering (another PD
    /// publishes it with [`SharedMemory::store_release_u32`]).
    pub fn load_acquire_u32(&self, offset: u64) -> Result<u32, OutOfBounds> {
        Ok(self.atomic_u32(offset)?.load(core::sync::atomic::Ordering::Acquire))
    }

    /// Stores the 32-bit word at `offset` with release ordering.
    pub fn store_release_u32(&self, offset: u64, value: u32) -> Result<(), OutOfBounds> {
        self.atomic_u32(offset)?.store(value, core::sync::atomic::Ordering::Release);
        Ok(())
    }

    pub(crate) fn atomic_u64(&self, offset: u64) -> Result<&core::sync::atomic::AtomicU64, OutOfBounds> {
        let addr = self.check(offset, 8)?;
        if !addr.is_multiple_of(8) {
            return Err(OutOfBounds { offset, len: 8, size: self.size });
        }
        // SAFETY: as for `atomic_u32`, with an 8-byte aligned word.
        Ok(unsafe { &*(addr as *const core::sync::atomic::AtomicU64) })
    }

    /// Reads the 8-byte-aligned 64-bit word at `offset` (a plain load: order it
    /// with the acquire/release index words).
    pub fn read_u64(&self, offset: u64) -> Result<u64, OutOfBounds> {
        Ok(self.atomic_u64(offset)?.load(core::sync::atomic::Ordering::Relaxed))
    }

    /// Writes the 8-byte-aligned 64-bit word at `offset` (a plain store).
    pub fn write_u64(&self, offset: u64, value: u64) -> Result<(), OutOfBounds> {
        self.atomic_u64(offset)?.store(value, core::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Loads the 64-bit word at `offset` with acquire ordering.
    pub fn load_acquire_u64(&self, offset: u64) -> Result<u64, OutOfBounds> {
        Ok(self.atomic_u64(offset)?.load(core::sync::atomic::Ordering::Acquire))
    }

    /// Stores the 64-bit word at `offset` with release ordering.
    pub fn store_release_u64(&self, offset: u64, value: u64) -> Result<(), OutOfBounds> {
        self.atomic_u64(offset)?.store(value, core::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Copies `data` into the region at `offset` (the mapping must be writable).
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<(), OutOfBounds> {
        let addr = self.check(offset, data.len())?;
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::Release);
        // SAFETY: as for `read`; a read-only mapping faults (a VM fault to the
        // fault handler), it does not corrupt memory.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) };
        Ok(())
    }
}

/// Device registers mapped uncached into this PD (`<map cached="false">` of a
/// memory region with the device's `phys_addr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceMemory {
    base: u64,
    size: u64,
}

impl DeviceMemory {
    /// The registers named by a pair of setvar words (`setvar_vaddr`,
    /// `setvar_size`); `None` if the tool did not patch them.
    pub fn from_setvars(vaddr: &Patched<u64>, size: &Patched<u64>) -> Option<Self> {
        let (base, size) = (vaddr.get(), size.get());
        (base != 0 && size != 0).then_some(Self { base, size })
    }

    fn register(&self, offset: u64) -> Result<u64, OutOfBounds> {
        match offset.checked_add(4) {
            Some(end) if end <= self.size && offset.is_multiple_of(4) => Ok(self.base + offset),
            _ => Err(OutOfBounds { offset, len: 4, size: self.size }),
        }
    }

    /// Reads the 32-bit register at `offset`.
    pub fn read32(&self, offset: u64) -> Result<u32, OutOfBounds> {
        let addr = self.register(offset)?;
        // SAFETY: an aligned word inside a device mapping the tool created;
        // volatile so every access reaches the device.
        Ok(unsafe { core::ptr::read_volatile(addr as *const u32) })
    }

    /// Writes the 32-bit register at `offset`.
    pub fn write32(&self, offset: u64, value: u32) -> Result<(), OutOfBounds> {
        let addr = self.register(offset)?;
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile(addr as *mut u32, value) };
        Ok(())
    }
}
