//! The supervision table in a supervisor's image (the patched symbol, read
//! in place) and a pod's call-state page: the PD side of the supervision ABI,
//! whose format (shared with the host tool) is `tunnelkit_abi::supervision`,
//! re-exported here.

pub use tunnelkit_abi::supervision::*;

use crate::symbols::Patched;

/// The supervision table as a patched symbol. Only a supervisor image has
/// one ([`supervision_table!`](crate::supervision_table) defines it), so
/// `tunnelkit build` can tell a supervisor from other parents.
#[repr(transparent)]
pub struct SupervisionTable(Patched<[u64; TABLE_WORDS]>);

/// The link-time table: not [`MAGIC`], so it reads as no table. It is not
/// all zeros so that the table lands in `.data`, which has bytes in the ELF
/// file for `tunnelkit build` to patch (`.bss` has none).
const UNPATCHED: [u64; TABLE_WORDS] = {
    let mut w = [0; TABLE_WORDS];
    w[0] = MAGIC & !0xffff;
    w
};

impl SupervisionTable {
    /// The table before `tunnelkit build` patches it.
    pub const fn unpatched() -> Self {
        Self(Patched::new(UNPATCHED))
    }

    fn word(&self, k: usize) -> u64 {
        self.0.get_at(k).unwrap_or(0)
    }

    /// The table, if `tunnelkit build` patched one in.
    pub fn read(&'static self) -> Option<PatchedTable> {
        let len = usize::try_from(self.word(1)).ok()?;
        (self.word(0) == MAGIC && len <= MAX_CHILDREN).then_some(PatchedTable { table: self, len })
    }
}

/// Defines this image's supervision table (the `tunnelkit_supervision`
/// symbol `tunnelkit build` patches): use it once, in a supervisor PD, and
/// read it with `.read()`.
#[macro_export]
macro_rules! supervision_table {
    ($vis:vis static $name:ident) => {
        #[unsafe(export_name = "tunnelkit_supervision")]
        #[used]
        $vis static $name: $crate::supervision::SupervisionTable = $crate::supervision::SupervisionTable::unpatched();
    };
}

/// A patched supervision table, read in place.
#[derive(Clone, Copy)]
pub struct PatchedTable {
    table: &'static SupervisionTable,
    len: usize,
}

impl PatchedTable {
    /// Child `i`'s call-state page as the supervisor maps it (read-only),
    /// at the address `tunnelkit build` patched in; `None` if it has none.
    #[cfg(target_os = "none")]
    pub fn call_state(&self, i: usize) -> Option<crate::memory::SharedMemory> {
        crate::memory::SharedMemory::patched(self.child(i).2, 16)
    }
}

impl ChildTable for PatchedTable {
    fn len(&self) -> usize {
        self.len
    }

    fn child(&self, i: usize) -> (u8, u64, u64) {
        word_table_child(|k| self.table.word(k), i)
    }

    fn name(&self, i: usize) -> [u8; NAME_BYTES] {
        word_table_name(|k| self.table.word(k), i)
    }

    fn caller(&self, i: usize, ch: u8) -> CallerSc {
        word_table_caller(|k| self.table.word(k), i, ch)
    }

    fn policy(&self, i: usize) -> RestartPolicy {
        word_table_policy(|k| self.table.word(k), i)
    }

    fn tick_us(&self) -> u64 {
        self.table.word(2)
    }
}

/// This PD's call-state page (the `tunnelkit_call_state` setvar), if
/// mapped: word 0 is the [`CallState`], word 1 the nested flag.
#[cfg(target_os = "none")]
pub fn call_state_page() -> Option<crate::memory::SharedMemory> {
    crate::memory::SharedMemory::patched(tunnelkit_call_state.get(), 16)
}

#[cfg(target_os = "none")]
mod cells {
    use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

    /// This PD's call state when it has no call-state page.
    static LOCAL_STATE: AtomicU64 = AtomicU64::new(0);
    /// Its nested flag then (nobody reads it).
    static LOCAL_NESTED: AtomicU64 = AtomicU64::new(0);
    static STATE: AtomicPtr<AtomicU64> = AtomicPtr::new(&LOCAL_STATE as *const AtomicU64 as *mut AtomicU64);
    /// Where this PD's nested flag is (read by the x86_64 marked call's asm
    /// by symbol).
    pub(crate) static NESTED: AtomicPtr<AtomicU64> = AtomicPtr::new(&LOCAL_NESTED as *const AtomicU64 as *mut AtomicU64);

    /// Points the call state and the nested flag at this PD's call-state
    /// page, if it has one (once, before the event loop starts; the call
    /// state is carried over).
    pub fn watch() {
        if let Some(page) = super::call_state_page()
            && let (Ok(state), Ok(nested)) = (page.atomic_u64(0), page.atomic_u64(super::NESTED_FLAG_OFFSET))
            && !core::ptr::eq(STATE.load(Ordering::Relaxed), state)
        {
            state.store(LOCAL_STATE.load(Ordering::Relaxed), Ordering::Release);
            STATE.store(state as *const AtomicU64 as *mut AtomicU64, Ordering::Relaxed);
            NESTED.store(nested as *const AtomicU64 as *mut AtomicU64, Ordering::Relaxed);
        }
    }

    /// This PD's call-state word: in its call-state page when it has one
    /// (the supervisor reads it there), else in a static. No branch when
    /// used.
    #[inline(always)]
    pub fn state() -> &'static AtomicU64 {
        // SAFETY: STATE points at LOCAL_STATE (a static) or at the 8-byte
        // aligned word 0 of this PD's call-state page, mapped for the PD's
        // whole life; an AtomicU64 may be shared with another PD.
        unsafe { &*STATE.load(Ordering::Relaxed) }
    }

    /// This PD's nested flag (word 1 of its call-state page, else a
    /// static): non-zero while it waits on a protected call it made
    /// ([`crate::syscall::call_marked`] sets it around each call, no branch,
    /// whether or not the PD is watched).
    #[inline(always)]
    pub fn nested() -> &'static AtomicU64 {
        // SAFETY: as for `state`, with LOCAL_NESTED or word 1 of the page.
        unsafe { &*NESTED.load(Ordering::Relaxed) }
    }

    /// Sets or clears the nested flag.
    pub fn set_nested(nested: bool) {
        self::nested().store(u64::from(nested), Ordering::Release)
    }
}

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
pub(crate) use cells::NESTED as NESTED_CELL;
#[cfg(target_os = "none")]
pub use cells::{nested as nested_flag, set_nested as set_nested_flag, state as call_state_cell, watch as watch_call_state};

crate::setvar!(
    /// Address of this PD's call-state page (`<map setvar_vaddr=
    /// "tunnelkit_call_state">`), 0 when none is mapped.
    pub static tunnelkit_call_state
);
