//! Accounting (`tunnelkit run --accounting`): in an image built with
//! `TUNNELKIT_ACCOUNT=1` (which `tunnelkit build --accounting` sets) or the
//! `account` feature, the counters of where this PD's time went, kept in its
//! *accounting region* (layout in [`tunnelkit_abi::account`]); without it
//! every function here is empty and inline: no code, no data, no cost.
//!
//! The clock is the trace clock's counter (`CNTPCT_EL0` on AArch64, the TSC
//! on x86_64), read without a barrier. What is counted, and where:
//! - busy (active PDs): from every return of a blocking system call
//!   ([`wake`]) to the next blocking one ([`block`]), and from the PD's start;
//! - served: a protected call's arrival ([`serve_begin`]) and answer
//!   ([`serve_end`]), per channel: counted, and in an active PD (a server)
//!   timed; a pod's callers time their calls themselves;
//! - calls: around each protected call this PD makes ([`call_begin`],
//!   [`call_end`]), per (context, channel).
//!
//! The accountant PD maps every region and reads it while the PD runs: every
//! word is written with a single store, counters only grow, and open
//! intervals are published in the header so the reader can close them.

pub use tunnelkit_abi::account::*;

/// Whether this image keeps accounting counters.
pub const ENABLED: bool = cfg!(tk_account);

#[cfg(all(target_os = "none", tk_account))]
mod counters {
    use core::sync::atomic::{AtomicU64, Ordering};

    use super::{REGION_BYTES, call, header, served};
    use crate::arch::account_clock as clock;

    crate::setvar!(
        /// Address of this PD's accounting region (`<map setvar_vaddr=
        /// "tunnelkit_account_vaddr">`, added by `tunnelkit build --accounting`).
        pub static tunnelkit_account_vaddr
    );
    crate::setvar!(
        /// Size of this PD's accounting region.
        pub static tunnelkit_account_size
    );
    crate::setvar!(
        /// Address of the accountant's summary (mapped read-only).
        pub static tunnelkit_account_summary_vaddr
    );
    crate::setvar!(
        /// Size of the accountant's summary.
        pub static tunnelkit_account_summary_size
    );

    /// The accountant's summary, if the system maps it into this PD.
    pub fn summary() -> Option<super::Summary> {
        crate::memory::SharedMemory::from_setvars(&tunnelkit_account_summary_vaddr, &tunnelkit_account_summary_size)
            .filter(|m| m.size() >= super::summary::BYTES)
            .map(super::Summary)
    }

    /// The region's address (0: this PD is not accounted).
    static BASE: AtomicU64 = AtomicU64::new(0);
    /// The same for an active PD, 0 for a passive one: a pod runs on its
    /// callers' budgets, so its busy time and the time of the calls it
    /// serves are not used (its callers time their calls); it counts the
    /// calls it serves and keys its own calls by them, with no clock read.
    static ACTIVE_BASE: AtomicU64 = AtomicU64::new(0);

    /// The word at byte `offset` of the region at `base`.
    #[inline(always)]
    fn word(base: u64, offset: u64) -> &'static AtomicU64 {
        // SAFETY: `base` is the accounting region's address, which the
        // microkit tool patched in with its size and maps read/write for the
        // PD's whole life (`boot` checked the size holds every table, and
        // every offset used here is inside it and 8-byte aligned); the
        // accountant reads the words concurrently, which is why they are atomics.
        unsafe { &*core::ptr::with_exposed_provenance::<AtomicU64>((base + offset) as usize) }
    }

    #[inline(always)]
    fn add(base: u64, offset: u64, v: u64) {
        let w = word(base, offset);
        w.store(w.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
    }

    /// Sets the counters up at every start of the PD (boot or restart). A
    /// restart closes what the previous start left open at this moment: the
    /// busy interval, the call being served, the call in flight.
    pub fn boot() {
        let (base, size) = (tunnelkit_account_vaddr.get(), tunnelkit_account_size.get());
        if base == 0 || base % 8 != 0 || size < REGION_BYTES {
            return;
        }
        let now = clock();
        if word(base, header::MAGIC).load(Ordering::Relaxed) == super::MAGIC {
            close_open(base, now);
        } else {
            for (k, w) in crate::symbols::pd_name_words(header::NAME_BYTES).enumerate() {
                word(base, header::NAME + 8 * k as u64).store(w, Ordering::Relaxed);
            }
            word(base, header::HZ).store(crate::trace::clock_hz(), Ordering::Relaxed);
            word(base, header::PASSIVE).store(u64::from(crate::symbols::is_passive()), Ordering::Relaxed);
        }
        add(base, header::STARTS, 1);
        // A pod's busy time is not kept (its callers' budgets pay for it).
        let active = !crate::symbols::is_passive();
        word(base, header::BUSY_SINCE).store(if active { now } else { 0 }, Ordering::Relaxed);
        word(base, header::MAGIC).store(super::MAGIC, Ordering::Release);
        BASE.store(base, Ordering::Relaxed);
        ACTIVE_BASE.store(if active { base } else { 0 }, Ordering::Relaxed);
    }

    /// Closes the open intervals of a previous start at `now`.
    fn close_open(base: u64, now: u64) {
        let since = word(base, header::BUSY_SINCE).swap(0, Ordering::Relaxed);
        if since != 0 {
            add(base, header::BUSY, now.wrapping_sub(since));
        }
        let serving = word(base, header::SERVING).swap(0, Ordering::Relaxed);
        if serving != 0 {
            let at = served(serving - 1);
            if word(base, header::PASSIVE).load(Ordering::Relaxed) == 0 {
                add(base, at, now.wrapping_sub(word(base, header::SERVING_SINCE).load(Ordering::Relaxed)));
            }
            add(base, at + 8, 1);
        }
        let calling = word(base, header::CALLING).swap(0, Ordering::Relaxed);
        if calling != 0 {
            let at = call(calling - 1);
            add(base, at, now.wrapping_sub(word(base, header::CALLING_SINCE).load(Ordering::Relaxed)));
            add(base, at + 8, 1);
        }
    }

    /// About to block: the busy interval ends now (an active PD).
    #[inline(always)]
    pub fn block() {
        let base = ACTIVE_BASE.load(Ordering::Relaxed);
        if base != 0 {
            let now = clock();
            let since = word(base, header::BUSY_SINCE);
            add(base, header::BUSY, now.wrapping_sub(since.load(Ordering::Relaxed)));
            since.store(0, Ordering::Relaxed);
        }
    }

    /// Back from a blocking system call: a busy interval begins now (an active PD).
    #[inline(always)]
    pub fn wake() {
        let base = ACTIVE_BASE.load(Ordering::Relaxed);
        if base != 0 {
            word(base, header::BUSY_SINCE).store(clock(), Ordering::Relaxed);
        }
    }

    /// A protected call on channel `ch` arrived (just now: after [`wake`]).
    #[inline(always)]
    pub fn serve_begin(ch: u64) {
        let base = BASE.load(Ordering::Relaxed);
        if base != 0 {
            if ACTIVE_BASE.load(Ordering::Relaxed) != 0 {
                let since = word(base, header::BUSY_SINCE).load(Ordering::Relaxed);
                word(base, header::SERVING_SINCE).store(since, Ordering::Relaxed);
            }
            word(base, header::SERVING).store(ch + 1, Ordering::Relaxed);
        }
    }

    /// The call being served is answered now: counted, and timed in an active PD.
    #[inline(always)]
    pub fn serve_end() {
        let base = BASE.load(Ordering::Relaxed);
        if base != 0 {
            let serving = word(base, header::SERVING).load(Ordering::Relaxed);
            if serving != 0 {
                word(base, header::SERVING).store(0, Ordering::Relaxed);
                let at = served(serving - 1);
                if ACTIVE_BASE.load(Ordering::Relaxed) != 0 {
                    add(base, at, clock().wrapping_sub(word(base, header::SERVING_SINCE).load(Ordering::Relaxed)));
                }
                add(base, at + 8, 1);
            }
        }
    }

    /// A protected call on channel `ch` is about to be made; the context is
    /// the call being served (if any).
    #[inline(always)]
    pub fn call_begin(ch: u64) {
        let base = BASE.load(Ordering::Relaxed);
        if base != 0 {
            let key = word(base, header::SERVING).load(Ordering::Relaxed);
            word(base, header::CALLING_SINCE).store(clock(), Ordering::Relaxed);
            word(base, header::CALLING).store(super::call_index(key, ch) + 1, Ordering::Relaxed);
        }
    }

    /// The call made last returned now.
    #[inline(always)]
    pub fn call_end() {
        let base = BASE.load(Ordering::Relaxed);
        if base != 0 {
            let calling = word(base, header::CALLING).load(Ordering::Relaxed);
            if calling != 0 {
                word(base, header::CALLING).store(0, Ordering::Relaxed);
                let at = call(calling - 1);
                add(base, at, clock().wrapping_sub(word(base, header::CALLING_SINCE).load(Ordering::Relaxed)));
                add(base, at + 8, 1);
            }
        }
    }

    /// Marks the end of the run (the PD printed its pass line); the
    /// accountant sees it at its next look.
    pub fn end() {
        let base = BASE.load(Ordering::Relaxed);
        if base != 0 {
            word(base, header::END).store(clock().max(1), Ordering::Release);
        }
    }
}

#[cfg(all(target_os = "none", tk_account))]
pub use counters::{block, boot, call_begin, call_end, end, serve_begin, serve_end, summary, wake};

/// The accountant's summary (none without the `account` feature).
#[cfg(all(target_os = "none", not(tk_account)))]
#[inline(always)]
pub fn summary() -> Option<Summary> {
    None
}

/// The accountant's summary of every accounted PD ([`summary`]): a region
/// it refreshes at each look (every 100 ms), read here word by word.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub struct Summary(crate::memory::SharedMemory);

/// One PD in the [`Summary`].
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub struct SummaryEntry {
    /// Its name, NUL-padded.
    pub name: [u8; summary::NAME_BYTES],
    /// What its scheduling context consumed so far, µs.
    pub total_us: u64,
    /// Its clock's busy time, µs.
    pub busy_us: u64,
    /// Whether it is passive (a pod; `total_us` is then its own SC's, which
    /// pays only for its start and its notifications).
    pub passive: bool,
}

#[cfg(target_os = "none")]
impl SummaryEntry {
    /// Its name as text (`?` if not UTF-8).
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }
}

#[cfg(target_os = "none")]
impl Summary {
    fn load(&self, offset: u64) -> u64 {
        self.0.load_acquire_u64(offset).unwrap_or(0)
    }

    /// Whether the accountant has written it yet.
    pub fn ready(&self) -> bool {
        self.load(summary::MAGIC_AT) == summary::MAGIC
    }

    /// Its entries, in the accountant's region order.
    pub fn entries(&self) -> impl Iterator<Item = SummaryEntry> + '_ {
        let count = if self.ready() { self.load(summary::COUNT).min(summary::MAX_ENTRIES) } else { 0 };
        (0..count).map(move |i| {
            let at = summary::entry(i);
            let mut name = [0u8; summary::NAME_BYTES];
            let _ = self.0.read(at, &mut name);
            SummaryEntry {
                name,
                total_us: self.load(at + summary::TOTAL_US),
                busy_us: self.load(at + summary::BUSY_US),
                passive: self.load(at + summary::PASSIVE) != 0,
            }
        })
    }
}

#[cfg(not(all(target_os = "none", tk_account)))]
mod counters_off {
    /// Sets the counters up (nothing without accounting).
    #[inline(always)]
    pub fn boot() {}
    /// About to block (nothing without accounting).
    #[inline(always)]
    pub fn block() {}
    /// Back from blocking (nothing without accounting).
    #[inline(always)]
    pub fn wake() {}
    /// A protected call arrived (nothing without accounting).
    #[inline(always)]
    pub fn serve_begin(_ch: u64) {}
    /// The call being served is answered (nothing without accounting).
    #[inline(always)]
    pub fn serve_end() {}
    /// A protected call is about to be made (nothing without accounting).
    #[inline(always)]
    pub fn call_begin(_ch: u64) {}
    /// The call made last returned (nothing without accounting).
    #[inline(always)]
    pub fn call_end() {}
    /// Marks the end of the run (nothing without accounting).
    #[inline(always)]
    pub fn end() {}
}

#[cfg(not(all(target_os = "none", tk_account)))]
pub use counters_off::{block, boot, call_begin, call_end, end, serve_begin, serve_end, wake};

/// Another PD's accounting region as the accountant maps it (read only).
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub struct Region(crate::memory::SharedMemory);

#[cfg(target_os = "none")]
impl Region {
    /// The region at the address and size the tool patched into two setvars.
    pub fn from_setvars(vaddr: &crate::symbols::Patched<u64>, size: &crate::symbols::Patched<u64>) -> Option<Region> {
        crate::memory::SharedMemory::from_setvars(vaddr, size).filter(|m| m.size() >= REGION_BYTES).map(Region)
    }

    /// The word at byte `offset` (0 outside the region).
    pub fn load(&self, offset: u64) -> u64 {
        self.0.load_acquire_u64(offset).unwrap_or(0)
    }

    /// Whether its PD has initialised it (has started).
    pub fn started(&self) -> bool {
        self.load(header::MAGIC) == MAGIC
    }

    /// Its PD's name (NUL-padded).
    pub fn name(&self) -> [u8; header::NAME_BYTES] {
        let mut n = [0u8; header::NAME_BYTES];
        let _ = self.0.read(header::NAME, &mut n);
        n
    }

    /// Busy ticks up to `now`, the open interval included.
    pub fn busy(&self, now: u64) -> u64 {
        let since = self.load(header::BUSY_SINCE);
        self.load(header::BUSY) + if since != 0 { now.saturating_sub(since) } else { 0 }
    }

    /// The served pair (ticks, calls) of channel `ch`, the call being served
    /// included up to `now` (ticks 0 in a passive PD: its callers time it).
    pub fn served(&self, ch: u64, now: u64) -> (u64, u64) {
        let at = served(ch);
        let (mut t, mut n) = (self.load(at), self.load(at + 8));
        if self.load(header::SERVING) == ch + 1 {
            if self.load(header::PASSIVE) == 0 {
                t += now.saturating_sub(self.load(header::SERVING_SINCE));
            }
            n += 1;
        }
        (t, n)
    }

    /// The call pair (ticks, calls) at `index`, the call in flight included up to `now`.
    pub fn call(&self, index: u64, now: u64) -> (u64, u64) {
        let at = call(index);
        let (mut t, mut n) = (self.load(at), self.load(at + 8));
        if self.load(header::CALLING) == index + 1 {
            t += now.saturating_sub(self.load(header::CALLING_SINCE));
            n += 1;
        }
        (t, n)
    }
}
