//! Bulk data lent through shared memory: a [`Window`] (offset, length) into
//! the region the system description maps on the call's channel.

use core::ops::Range;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A byte range of a lent region, sent inside a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Window {
    /// Offset from the region's start.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// A window that does not fit its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowError {
    /// The window.
    pub window: Window,
    /// The region size.
    pub region_size: u64,
}

impl Window {
    /// The window `[offset, offset + len)`.
    pub const fn new(offset: u32, len: u32) -> Self {
        Self { offset, len }
    }

    /// The byte range in a region of `region_size` bytes, or an error if any
    /// byte falls outside it.
    pub fn range_in(self, region_size: u64) -> Result<Range<u64>, WindowError> {
        let start = u64::from(self.offset);
        let end = start + u64::from(self.len);
        if end <= region_size { Ok(start..end) } else { Err(WindowError { window: self, region_size }) }
    }
}

#[cfg(target_os = "none")]
mod target {
    use super::Window;
    use crate::error::CallError;
    use tunnelkit_runtime::{Channel, SharedMemory};

    /// The region lent on one channel, seen from either end.
    #[derive(Clone, Copy, Debug)]
    pub struct LentRegion(SharedMemory);

    impl LentRegion {
        /// The region mapped for `channel` (`tunnel_lend_vaddr_<id>` /
        /// `tunnel_lend_size_<id>` setvars in the system description).
        pub fn on(channel: Channel) -> Result<Self, CallError> {
            SharedMemory::lent(channel.index()).map(Self).ok_or(CallError::NoLentRegion)
        }

        /// Region size in bytes.
        pub fn size(&self) -> u64 {
            self.0.size()
        }

        /// `window`, checked against the region once: reads and writes
        /// through the result check only their own range in it.
        pub fn window(&self, window: Window) -> Result<LentWindow, CallError> {
            let range = window.range_in(self.size()).map_err(|_| CallError::BadWindow)?;
            Ok(LentWindow { region: self.0, start: range.start, len: range.end - range.start })
        }

        /// Copies `buf.len()` bytes from `window`, starting `at` bytes into it.
        pub fn read(&self, window: Window, at: u32, buf: &mut [u8]) -> Result<(), CallError> {
            let offset = self.locate(window, at, buf.len())?;
            self.0.read(offset, buf).map_err(|_| CallError::BadWindow)
        }

        /// Copies `data` into `window`, starting `at` bytes into it.
        pub fn write(&self, window: Window, at: u32, data: &[u8]) -> Result<(), CallError> {
            let offset = self.locate(window, at, data.len())?;
            self.0.write(offset, data).map_err(|_| CallError::BadWindow)
        }

        fn locate(&self, window: Window, at: u32, len: usize) -> Result<u64, CallError> {
            self.window(window)?.locate(at, len)
        }
    }

    /// A window of a [`LentRegion`] whose place in the region was checked
    /// ([`LentRegion::window`]).
    #[derive(Clone, Copy, Debug)]
    pub struct LentWindow {
        region: SharedMemory,
        start: u64,
        len: u64,
    }

    impl LentWindow {
        /// Its length in bytes.
        pub fn len(&self) -> u64 {
            self.len
        }

        /// Whether it is empty.
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }

        /// Copies `buf.len()` bytes from the window, starting `at` bytes into it.
        #[inline]
        pub fn read(&self, at: u32, buf: &mut [u8]) -> Result<(), CallError> {
            let offset = self.locate(at, buf.len())?;
            self.region.read(offset, buf).map_err(|_| CallError::BadWindow)
        }

        /// Copies `data` into the window, starting `at` bytes into it.
        #[inline]
        pub fn write(&self, at: u32, data: &[u8]) -> Result<(), CallError> {
            let offset = self.locate(at, data.len())?;
            self.region.write(offset, data).map_err(|_| CallError::BadWindow)
        }

        #[inline]
        fn locate(&self, at: u32, len: usize) -> Result<u64, CallError> {
            if u64::from(at) + len as u64 > self.len {
                return Err(CallError::BadWindow);
            }
            Ok(self.start + u64::from(at))
        }
    }
}

#[cfg(target_os = "none")]
pub use target::{LentRegion, LentWindow};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_must_fit_the_region() {
        assert_eq!(Window::new(0, 4096).range_in(4096), Ok(0..4096));
        assert_eq!(Window::new(4096, 0).range_in(4096), Ok(4096..4096));
        assert!(Window::new(1, 4096).range_in(4096).is_err());
        assert!(Window::new(u32::MAX, u32::MAX).range_in(u64::MAX / 2).is_ok());
        assert!(Window::new(u32::MAX, 1).range_in(u64::from(u32::MAX)).is_err());
    }
}
