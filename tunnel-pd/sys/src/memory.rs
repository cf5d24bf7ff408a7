//! Bounds-checked access to memory regions shared with other PDs.
//!
//! Another PD may write a shared region at any time, so no Rust reference to
//! its bytes is ever handed out: data is copied in and out.

use crate::symbols::{self, Patched};

/// A pointer to `addr`, an address the tools patched in (a mapping's
/// `setvar_vaddr` or the supervision table) plus an offset checked against
/// the mapping's size. The address carries no Rust provenance of its own, so
/// the pointer takes the one exposed for that memory: the mapping the microkit
/// tool created on seL4; in host tests (and Miri) the buffer standing in for
/// it, whose address the test exposed.
fn pointer<T>(addr: u64) -> *mut T {
    // The PD targets are 64-bit: the cast loses nothing.
    core::ptr::with_exposed_provenance_mut(addr as usize)
}

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
        unsafe { core::ptr::copy_nonoverlapping(pointer::<u8>(addr), buf.as_mut_ptr(), buf.len()) };
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
        Ok(unsafe { &*pointer::<core::sync::atomic::AtomicU32>(addr) })
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
        Ok(unsafe { &*pointer::<core::sync::atomic::AtomicU64>(addr) })
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
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), pointer::<u8>(addr), data.len()) };
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

    /// Bytes mapped.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn register(&self, offset: u64) -> Result<u64, OutOfBounds> {
        self.register_of(offset, 4)
    }

    fn register_of(&self, offset: u64, len: u64) -> Result<u64, OutOfBounds> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size && offset.is_multiple_of(len) => Ok(self.base + offset),
            _ => Err(OutOfBounds { offset, len, size: self.size }),
        }
    }

    /// Reads the 8-bit register at `offset`.
    pub fn read8(&self, offset: u64) -> Result<u8, OutOfBounds> {
        let addr = self.register_of(offset, 1)?;
        // SAFETY: a byte inside a device mapping the tool created; volatile
        // so every access reaches the device.
        Ok(unsafe { core::ptr::read_volatile(pointer::<u8>(addr)) })
    }

    /// Writes the 8-bit register at `offset`.
    pub fn write8(&self, offset: u64, value: u8) -> Result<(), OutOfBounds> {
        let addr = self.register_of(offset, 1)?;
        // SAFETY: as for `read8`.
        unsafe { core::ptr::write_volatile(pointer::<u8>(addr), value) };
        Ok(())
    }

    /// Reads the 32-bit register at `offset`.
    pub fn read32(&self, offset: u64) -> Result<u32, OutOfBounds> {
        let addr = self.register(offset)?;
        // SAFETY: an aligned word inside a device mapping the tool created;
        // volatile so every access reaches the device.
        Ok(unsafe { core::ptr::read_volatile(pointer::<u32>(addr)) })
    }

    /// Writes the 32-bit register at `offset`.
    pub fn write32(&self, offset: u64, value: u32) -> Result<(), OutOfBounds> {
        let addr = self.register(offset)?;
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile(pointer::<u32>(addr), value) };
        Ok(())
    }
}

/// Host tests over ordinary memory standing in for a mapped region: they run
/// the unsafe accesses above (under Miri too, which checks bounds, alignment,
/// provenance and, with two threads, the acquire/release protocol the rings
/// and frame queues use). The kernel's mappings themselves are not modelled.
#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    /// A region over `words` (8-byte aligned host memory), as the tools would
    /// patch its address in.
    fn region(words: &mut [u64]) -> SharedMemory {
        let base = words.as_mut_ptr().expose_provenance() as u64;
        SharedMemory::patched(base, core::mem::size_of_val(words) as u64).unwrap()
    }

    #[test]
    fn bytes_and_words_round_trip_inside_the_region() {
        let mut words = vec![0u64; 8];
        let r = region(&mut words);
        assert_eq!(r.size(), 64);
        r.write(3, b"tunnel").unwrap();
        let mut buf = [0u8; 6];
        r.read(3, &mut buf).unwrap();
        assert_eq!(&buf, b"tunnel");
        r.write_u64(56, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(r.read_u64(56), Ok(0x0102_0304_0506_0708));
        r.store_release_u32(60, 7).unwrap();
        assert_eq!(r.load_acquire_u32(60), Ok(7));
        r.store_release_u64(0, u64::MAX).unwrap();
        assert_eq!(r.load_acquire_u64(0), Ok(u64::MAX));
        r.write(64, &[]).unwrap();
        let mut last = [0u8; 4];
        r.read(60, &mut last).unwrap();
        assert_eq!(last, 7u32.to_ne_bytes());
        assert_eq!(words[7], 7u64 << 32 | 0x0506_0708);
    }

    #[test]
    fn accesses_outside_the_region_or_unaligned_are_refused() {
        let mut words = vec![0u64; 2];
        let r = region(&mut words);
        let mut buf = [0u8; 2];
        assert_eq!(r.read(15, &mut buf), Err(OutOfBounds { offset: 15, len: 2, size: 16 }));
        assert!(r.read(u64::MAX, &mut buf).is_err(), "offset + len overflows");
        assert!(r.write(17, &[]).is_err());
        assert!(r.write(u64::MAX - 1, &buf).is_err());
        assert!(r.read_u64(16).is_err());
        assert!(r.read_u64(4).is_err(), "unaligned word");
        assert!(r.write_u64(12, 1).is_err());
        assert!(r.load_acquire_u32(14).is_err(), "unaligned index");
        assert!(r.store_release_u32(16, 1).is_err());
        assert!(r.load_acquire_u64(u64::MAX - 3).is_err());
        assert_eq!(SharedMemory::patched(0, 16), None);
        assert_eq!(words, [0, 0], "a refused access writes nothing");
    }

    #[test]
    fn device_registers_are_aligned_words_inside_the_mapping() {
        let mut words = vec![0u64; 2];
        let base = words.as_mut_ptr().expose_provenance() as u64;
        let dev = DeviceMemory { base, size: 16 };
        dev.write32(12, 0xdead_beef).unwrap();
        assert_eq!(dev.read32(12), Ok(0xdead_beef));
        assert!(dev.read32(16).is_err());
        assert!(dev.read32(2).is_err());
        assert!(dev.write32(u64::MAX - 3, 0).is_err());
    }

    /// Two threads as the two PDs of a frame queue: the producer writes an
    /// entry's bytes, then publishes it with a release store of the head; the
    /// consumer takes it after an acquire load and hands the slot back with a
    /// release store of the tail. Under Miri any access the indices do not
    /// order is reported as a data race.
    #[test]
    fn indices_order_the_data_between_two_sides() {
        const SLOTS: u32 = 4;
        const ENTRIES: u32 = if cfg!(miri) { 40 } else { 10_000 };
        const HEAD: u64 = 0;
        const TAIL: u64 = 8;
        const DATA: u64 = 16;
        let mut words = vec![0u64; 2 + 2 * SLOTS as usize];
        let r = region(&mut words);
        std::thread::scope(|s| {
            s.spawn(move || {
                for n in 0..ENTRIES {
                    let head = r.load_acquire_u32(HEAD).unwrap();
                    while head.wrapping_sub(r.load_acquire_u32(TAIL).unwrap()) >= SLOTS {
                        std::thread::yield_now();
                    }
                    let at = DATA + u64::from(head % SLOTS) * 16;
                    r.write_u64(at, u64::from(n)).unwrap();
                    r.write(at + 8, &n.to_le_bytes()).unwrap();
                    r.store_release_u32(HEAD, head.wrapping_add(1)).unwrap();
                }
            });
            for n in 0..ENTRIES {
                let tail = r.load_acquire_u32(TAIL).unwrap();
                while r.load_acquire_u32(HEAD).unwrap() == tail {
                    std::thread::yield_now();
                }
                let at = DATA + u64::from(tail % SLOTS) * 16;
                let mut bytes = [0u8; 4];
                r.read(at + 8, &mut bytes).unwrap();
                assert_eq!((r.read_u64(at), u32::from_le_bytes(bytes)), (Ok(u64::from(n)), n));
                r.store_release_u32(TAIL, tail.wrapping_add(1)).unwrap();
            }
        });
    }
}
