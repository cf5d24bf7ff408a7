//! Tracing (`tunnelkit run --trace`): the record format, the trace region
//! layout, the dump line format, and — in an image built with the `trace`
//! feature (or `TUNNELKIT_TRACE=1`, which `tunnelkit build --trace` sets) —
//! the recorder. Without the feature the recorder's functions are empty and
//! inline: no code, no data, no cost.
//!
//! A traced PD records into its *trace region*, a memory region `tunnelkit
//! build --trace` maps into it (`setvar_vaddr="tunnelkit_trace_vaddr"`,
//! `setvar_size="tunnelkit_trace_size"`) and into the trace dumper PD, which
//! prints every region at the end of the run (see `docs/trace.md`); the PD
//! that ends the run wakes the dumper through its channel to it
//! (`setvar_id="tunnelkit_trace_channel"`). The region
//! holds a [`header`] and fixed-size records of three words; the first
//! [`Layout::head`] records are kept as they come (the start of the run),
//! the rest go round a ring of [`Layout::ring`] slots (the latest events).
//! A record never blocks and never allocates; an overwritten ring slot is a
//! dropped event, counted (`count` minus what is held), and an event after
//! the dumper froze the region is counted as late.

pub use tunnelkit_abi::trace::*;

/// Whether this image records trace events.
pub const ENABLED: bool = cfg!(tk_trace);

/// The clock trace records carry: AArch64 the generic timer's physical
/// count (`CNTPCT_EL0`, readable by PDs in every Microkit config and the
/// same on every core), x86_64 the TSC.
#[cfg(target_os = "none")]
pub fn clock() -> u64 {
    crate::arch::trace_clock()
}

/// The [`clock`]'s frequency in Hz (`CNTFRQ_EL0`; 0 on x86_64: the TSC's
/// rate is not known to a PD).
#[cfg(target_os = "none")]
pub fn clock_hz() -> u64 {
    crate::arch::trace_clock_hz()
}

#[cfg(all(target_os = "none", tk_trace))]
mod recorder {
    use core::sync::atomic::{AtomicU64, Ordering};

    use super::{Kind, Layout, Record, header};

    crate::setvar!(
        /// Address of this PD's trace region (`<map setvar_vaddr=
        /// "tunnelkit_trace_vaddr">`, added by `tunnelkit build --trace`).
        pub static tunnelkit_trace_vaddr
    );
    crate::setvar!(
        /// Size of this PD's trace region.
        pub static tunnelkit_trace_size
    );

    /// This PD's channel to the trace dumper (`<end setvar_id=
    /// "tunnelkit_trace_channel">`, notify only), `u64::MAX` when absent.
    #[unsafe(no_mangle)]
    #[used]
    #[allow(non_upper_case_globals)]
    static tunnelkit_trace_channel: crate::symbols::Patched<u64> = crate::symbols::Patched::new(u64::MAX);

    /// The channel to the dumper, if the system gives this PD one.
    pub fn channel() -> Option<u8> {
        u8::try_from(tunnelkit_trace_channel.get()).ok().filter(|c| usize::from(*c) < crate::MICROKIT_MAX_CHANNELS)
    }

    /// The region's address (0: not traced), the head and the ring mask.
    static BASE: AtomicU64 = AtomicU64::new(0);
    static HEAD: AtomicU64 = AtomicU64::new(0);
    static MASK: AtomicU64 = AtomicU64::new(0);

    /// The header word at byte `offset`.
    #[inline(always)]
    fn word(base: u64, offset: u64) -> &'static AtomicU64 {
        // SAFETY: `base` is the trace region's address, which the microkit
        // tool patched in together with its size and maps read/write for the
        // PD's whole life (`boot` checked the size holds the header); header
        // offsets are 8-byte aligned and inside it; another PD (the dumper)
        // may access the words, which is why they are atomics.
        unsafe { &*core::ptr::with_exposed_provenance::<AtomicU64>((base + offset) as usize) }
    }

    /// Sets the recorder up at every start of the PD (boot or restart) and
    /// records `init`.
    pub fn boot(reason: u64) {
        let (base, size) = (tunnelkit_trace_vaddr.get(), tunnelkit_trace_size.get());
        let Some(layout) = Layout::for_size(size) else { return };
        if base == 0 || base % 8 != 0 {
            return;
        }
        for (k, w) in crate::symbols::pd_name_words(header::NAME_BYTES).enumerate() {
            word(base, header::NAME + 8 * k as u64).store(w, Ordering::Relaxed);
        }
        word(base, header::HEAD).store(layout.head, Ordering::Relaxed);
        word(base, header::RING).store(layout.ring, Ordering::Relaxed);
        word(base, header::HZ).store(super::clock_hz(), Ordering::Relaxed);
        word(base, header::MAGIC).store(super::MAGIC, Ordering::Release);
        HEAD.store(layout.head, Ordering::Relaxed);
        MASK.store(layout.ring - 1, Ordering::Relaxed);
        BASE.store(base, Ordering::Relaxed);
        record(Kind::Init, 0, 0, reason as u32, 0);
    }

    /// Records one event: a dozen instructions, no branch taken but the
    /// head/ring choice, never blocking.
    #[inline]
    pub fn record(kind: Kind, ch: u8, depth: u8, a: u32, b: u64) {
        let base = BASE.load(Ordering::Relaxed);
        if base == 0 {
            return;
        }
        if word(base, header::FROZEN).load(Ordering::Relaxed) != 0 {
            let late = word(base, header::LATE);
            late.store(late.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            return;
        }
        let count = word(base, header::COUNT);
        let n = count.load(Ordering::Relaxed);
        let head = HEAD.load(Ordering::Relaxed);
        let slot = if n < head { n } else { head + ((n - head) & MASK.load(Ordering::Relaxed)) };
        let w = Record { t: super::clock(), kind, ch, depth, a, b }.encode();
        let at = base + header::SIZE + slot * super::RECORD_BYTES;
        for (i, v) in w.into_iter().enumerate() {
            word(at, 8 * i as u64).store(v, Ordering::Relaxed);
        }
        count.store(n + 1, Ordering::Release);
    }

    /// Marks the end of the run in this PD's region, records `end` and
    /// wakes the dumper.
    pub fn end() {
        let base = BASE.load(Ordering::Relaxed);
        if base == 0 {
            return;
        }
        record(Kind::End, 0, 0, 0, 0);
        word(base, header::END).store(super::clock().max(1), Ordering::Release);
        if let Some(ch) = channel().filter(|c| crate::symbols::notifications() & (1 << c) != 0) {
            crate::syscall::signal(crate::cap::notification(ch));
        }
    }
}

#[cfg(all(target_os = "none", tk_trace))]
pub use recorder::{boot, channel, end, record};

/// This PD's channel to the trace dumper (none without the `trace` feature).
#[cfg(not(all(target_os = "none", tk_trace)))]
#[inline(always)]
pub fn channel() -> Option<u8> {
    None
}

/// Sets the recorder up and records `init` (nothing without the `trace` feature).
#[cfg(not(all(target_os = "none", tk_trace)))]
#[inline(always)]
pub fn boot(_reason: u64) {}

/// Records one event (nothing without the `trace` feature).
#[cfg(not(all(target_os = "none", tk_trace)))]
#[inline(always)]
pub fn record(_kind: Kind, _ch: u8, _depth: u8, _a: u32, _b: u64) {}

/// Marks the end of the run and wakes the dumper (nothing without the `trace` feature).
#[cfg(not(all(target_os = "none", tk_trace)))]
#[inline(always)]
pub fn end() {}

/// Another PD's trace region as the dumper maps it (read/write: it freezes
/// the region before reading it).
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub struct Region(crate::memory::SharedMemory);

#[cfg(target_os = "none")]
impl Region {
    /// The region at the address and size the tool patched into two setvars.
    pub fn from_setvars(vaddr: &crate::symbols::Patched<u64>, size: &crate::symbols::Patched<u64>) -> Option<Region> {
        crate::memory::SharedMemory::from_setvars(vaddr, size).map(Region)
    }

    fn load(&self, offset: u64) -> u64 {
        self.0.load_acquire_u64(offset).unwrap_or(0)
    }

    /// Whether its PD has initialised it (has started).
    pub fn started(&self) -> bool {
        self.load(header::MAGIC) == MAGIC
    }

    /// The clock at which its PD ended the run (0: it did not).
    pub fn end(&self) -> u64 {
        self.load(header::END)
    }

    /// Stops its PD from recording (later events count as late).
    pub fn freeze(&self) {
        let _ = self.0.store_release_u64(header::FROZEN, 1);
    }

    /// Events recorded so far.
    pub fn count(&self) -> u64 {
        self.load(header::COUNT)
    }

    /// Events its PD did not record because the region was frozen.
    pub fn late(&self) -> u64 {
        self.load(header::LATE)
    }

    /// The clock's frequency its PD saw.
    pub fn hz(&self) -> u64 {
        self.load(header::HZ)
    }

    /// The layout its PD set up (`None` before it started).
    pub fn layout(&self) -> Option<Layout> {
        let (head, ring) = (self.load(header::HEAD), self.load(header::RING));
        (self.started() && ring.is_power_of_two() && (head + ring) * RECORD_BYTES + header::SIZE <= self.0.size())
            .then_some(Layout { head, ring })
    }

    /// Its PD's name (NUL-padded).
    pub fn name(&self) -> [u8; header::NAME_BYTES] {
        let mut n = [0u8; header::NAME_BYTES];
        let _ = self.0.read(header::NAME, &mut n);
        n
    }

    /// Record `seq` (`None` if its slot does not hold a record).
    pub fn record(&self, layout: &Layout, seq: u64) -> Option<Record> {
        let at = layout.offset(seq);
        let mut w = [0u64; 3];
        for (i, v) in w.iter_mut().enumerate() {
            *v = self.0.read_u64(at + 8 * i as u64).ok()?;
        }
        Record::decode(w)
    }
}
