//! The symbols the microkit tool patches into a PD's ELF image.
//!
//! The tool writes little-endian bytes at each symbol's address in its copy of
//! the loadable segments, so the compiler must never constant-fold their link
//! time values: every read is a volatile load through [`Patched`].

use core::cell::UnsafeCell;

/// A word (or byte array) the microkit tool overwrites before boot.
#[repr(transparent)]
pub struct Patched<T>(UnsafeCell<T>);

// SAFETY: a PD has one thread; the value is written only by the microkit tool
// before the PD starts and is read-only at run time.
unsafe impl<T: Copy> Sync for Patched<T> {}

impl<T: Copy> Patched<T> {
    /// A symbol with link-time value `value`. Crate-private: outside this crate
    /// a `Patched` holds only what the microkit tool wrote (or 0, see
    /// [`Patched::unpatched`]), so safe code cannot make an address of its own
    /// choosing look like one the system description gave.
    pub(crate) const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// The value the tool patched in (or the link-time value if it did not).
    pub fn get(&self) -> T {
        // SAFETY: the pointer comes from a live static; nothing writes it at run
        // time, and the volatile load stops the compiler from folding the
        // link-time value.
        unsafe { core::ptr::read_volatile(self.0.get()) }
    }
}

impl Patched<u64> {
    /// An 8-byte symbol for the tool to patch, 0 until it does (0 means "not
    /// given" to every reader: [`SharedMemory::from_setvars`] and
    /// [`DeviceMemory::from_setvars`] return `None` for it). What [`setvar!`]
    /// and [`region_setvars!`] define.
    ///
    /// [`SharedMemory::from_setvars`]: crate::memory::SharedMemory::from_setvars
    /// [`DeviceMemory::from_setvars`]: crate::memory::DeviceMemory::from_setvars
    pub const fn unpatched() -> Self {
        Self::new(0)
    }
}

impl<T: Copy, const N: usize> Patched<[T; N]> {
    /// Element `i` of a patched array (one volatile load, no copy of the
    /// whole array); `None` past its end.
    pub fn get_at(&self, i: usize) -> Option<T> {
        if i >= N {
            return None;
        }
        // SAFETY: `i < N`, so the element lies inside the live static; nothing
        // writes it at run time; the volatile load is not folded.
        Some(unsafe { core::ptr::read_volatile((self.0.get() as *const T).add(i)) })
    }
}

/// Size of `microkit_name` (the tool truncates longer names).
pub const NAME_LEN: usize = 64;

#[cfg_attr(not(test), unsafe(no_mangle))]
#[used]
#[allow(non_upper_case_globals)]
static microkit_name: Patched<[u8; NAME_LEN]> = Patched::new([0; NAME_LEN]);
#[cfg_attr(not(test), unsafe(no_mangle))]
#[used]
#[allow(non_upper_case_globals)]
static microkit_passive: Patched<u8> = Patched::new(0);
#[cfg_attr(not(test), unsafe(no_mangle))]
#[used]
#[allow(non_upper_case_globals)]
static microkit_irqs: Patched<u64> = Patched::new(0);
#[cfg_attr(not(test), unsafe(no_mangle))]
#[used]
#[allow(non_upper_case_globals)]
static microkit_notifications: Patched<u64> = Patched::new(0);
#[cfg_attr(not(test), unsafe(no_mangle))]
#[used]
#[allow(non_upper_case_globals)]
static microkit_pps: Patched<u64> = Patched::new(0);
#[cfg_attr(not(test), unsafe(no_mangle))]
#[used]
#[allow(non_upper_case_globals)]
static microkit_ioports: Patched<u64> = Patched::new(0);

/// The PD's name as given in the system description (up to 64 bytes; the
/// tool writes no terminator, so the name ends at the first NUL or at 64).
pub fn pd_name() -> PdName {
    PdName(microkit_name.get())
}

/// This PD's name as the little-endian words of its first `bytes` bytes,
/// NUL-padded: how the trace and accounting regions hold it.
#[cfg(all(target_os = "none", any(tk_trace, tk_account)))]
pub(crate) fn pd_name_words(bytes: usize) -> impl Iterator<Item = u64> {
    let name = pd_name();
    (0..bytes / 8).map(move |k| {
        let text = name.as_str().as_bytes();
        let mut w = [0u8; 8];
        for (j, b) in w.iter_mut().enumerate() {
            *b = text.get(8 * k + j).copied().unwrap_or(0);
        }
        u64::from_le_bytes(w)
    })
}

/// Whether the PD is passive (`passive="true"`).
pub fn is_passive() -> bool {
    microkit_passive.get() != 0
}

/// Bit `i` set: the PD has `<irq id="i">`.
pub fn irqs() -> u64 {
    microkit_irqs.get()
}

/// Bit `i` set: the PD may notify through channel `i`.
pub fn notifications() -> u64 {
    microkit_notifications.get()
}

/// Bit `i` set: the PD may make protected calls through channel `i`.
pub fn pps() -> u64 {
    microkit_pps.get()
}

/// Bit `i` set: the PD has `<ioport id="i">` (x86 only; always 0 on AArch64).
pub fn ioports() -> u64 {
    microkit_ioports.get()
}

/// A PD name copied out of `microkit_name`.
#[derive(Clone, Copy)]
pub struct PdName([u8; NAME_LEN]);

impl PdName {
    /// The name as text (bytes up to the first NUL; invalid UTF-8 shows as `?`).
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        core::str::from_utf8(&self.0[..len]).unwrap_or("?")
    }
}

/// Defines the two words a `<map setvar_vaddr=… setvar_size=…>` (or
/// `setvar_prefill_size`) writes: a mapped region's address and size, named
/// as the symbols. Read them together with `SharedMemory::from_setvars`.
///
/// ```ignore
/// tunnelkit_sys::region_setvars!(
///     /// The shared page.
///     static page, page_size
/// );
/// ```
#[macro_export]
macro_rules! region_setvars {
    ($(#[$meta:meta])* $vis:vis static $vaddr:ident, $size:ident) => {
        $crate::setvar!($(#[$meta])* $vis static $vaddr);
        $crate::setvar!(
            #[doc = concat!("Size in bytes of the region at `", stringify!($vaddr), "`.")]
            $vis static $size
        );
    };
}

/// Defines an 8-byte symbol the microkit tool writes through an SDF `setvar`
/// (`setvar_vaddr`, `setvar_size`, `setvar_id`, `<setvar region_paddr>`, …).
/// The symbol name is the identifier; read it with `.get()`.
///
/// ```ignore
/// tunnelkit_sys::setvar!(pub static buffer_vaddr);
/// let vaddr = buffer_vaddr.get();
/// ```
#[macro_export]
macro_rules! setvar {
    ($(#[$meta:meta])* $vis:vis static $name:ident) => {
        $(#[$meta])*
        #[unsafe(no_mangle)]
        #[used]
        #[allow(non_upper_case_globals)]
        $vis static $name: $crate::symbols::Patched<u64> = $crate::symbols::Patched::unpatched();
    };
}

mod lend {
    #![allow(non_upper_case_globals)]
    use super::Patched;
    include!(concat!(env!("OUT_DIR"), "/lend_symbols.rs"));

    fn lookup(table: &[(&Patched<u64>, &Patched<u64>)], ch: u8) -> Option<(u64, u64)> {
        let (vaddr, size) = table.get(usize::from(ch))?;
        let (vaddr, size) = (vaddr.get(), size.get());
        (vaddr != 0 && size != 0).then_some((vaddr, size))
    }

    /// `(vaddr, size)` of the region lent on channel `ch`, if the SDF maps one.
    pub fn window(ch: u8) -> Option<(u64, u64)> {
        lookup(&LEND_TABLE, ch)
    }

    /// `(vaddr, size)` of the async-ring region of channel `ch`, if the SDF maps one.
    pub fn ring(ch: u8) -> Option<(u64, u64)> {
        lookup(&RING_TABLE, ch)
    }
}

/// `(vaddr, size)` of the shared region mapped for channel `ch` through the
/// `tunnel_lend_vaddr_<ch>` / `tunnel_lend_size_<ch>` setvars, if any.
pub fn lent_region(ch: u8) -> Option<(u64, u64)> {
    lend::window(ch)
}

/// `(vaddr, size)` of the async-ring region mapped for channel `ch` through
/// the `tunnel_ring_vaddr_<ch>` / `tunnel_ring_size_<ch>` setvars, if any.
pub fn ring_region(ch: u8) -> Option<(u64, u64)> {
    lend::ring(ch)
}

/// This PD's channel to the console (serial driver) pod, set by
/// `<end setvar_id="tunnelkit_console_channel">`; `u64::MAX` when absent.
#[cfg_attr(not(test), unsafe(no_mangle))]
#[used]
#[allow(non_upper_case_globals)]
static tunnelkit_console_channel: Patched<u64> = Patched::new(u64::MAX);

/// The console channel, if the system description gives this PD one.
pub fn console_channel() -> Option<u8> {
    u8::try_from(tunnelkit_console_channel.get()).ok().filter(|c| usize::from(*c) < crate::MICROKIT_MAX_CHANNELS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patched_symbols_have_the_sizes_the_tool_writes() {
        assert_eq!(core::mem::size_of_val(&microkit_name), 64);
        assert_eq!(core::mem::size_of_val(&microkit_passive), 1);
        for s in [&microkit_irqs, &microkit_notifications, &microkit_pps, &microkit_ioports] {
            assert_eq!(core::mem::size_of_val(s), 8);
        }
    }

    #[test]
    fn name_stops_at_nul_or_64_bytes() {
        let mut raw = [0u8; NAME_LEN];
        raw[..6].copy_from_slice(b"client");
        assert_eq!(PdName(raw).as_str(), "client");
        assert_eq!(PdName([b'x'; NAME_LEN]).as_str().len(), 64);
    }

    #[test]
    fn unpatched_lend_windows_are_absent() {
        assert_eq!(lent_region(0), None);
        assert_eq!(lent_region(61), None);
        assert_eq!(lent_region(62), None);
        assert_eq!(ring_region(0), None);
        assert_eq!(console_channel(), None);
    }
}
