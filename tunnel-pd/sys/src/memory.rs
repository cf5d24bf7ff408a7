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

    /// The region named by a pair of setvar words (`setvar_vaddr`,
    /// `setvar_size`); `None` if the tool did not patch them.
    pub fn from_setvars(vaddr: &Patched<u64>, size: &Patched<u64>) -> Option<Self> {
        let (base, size) = (vaddr.get(), size.get());
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
