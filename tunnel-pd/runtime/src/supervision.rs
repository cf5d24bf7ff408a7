//! What a supervisor PD needs beyond [`crate::Child`]: the table `tunnelkit
//! build` patched in (children, names, call bounds, callers' scheduling
//! contexts), its pods' published call states, scheduling-context time, and
//! a periodic wake-up by giving up the rest of a budget.

#[cfg(target_os = "none")]
pub use target::{SchedContext, call_state_of, yield_budget};
pub use tunnelkit_sys::supervision::{
    CHANNELS, CallState, CallerSc, ChildTable, MAX_CHILDREN, NAME_BYTES, PatchedTable, RestartPolicy, SupervisedChild, SupervisionTable,
};
pub use tunnelkit_sys::supervision_table;

#[cfg(target_os = "none")]
mod target {
    use tunnelkit_sys::labels::LABELS;
    use tunnelkit_sys::supervision::PatchedTable;
    use tunnelkit_sys::supervision::{CallState, NESTED_FLAG_OFFSET};
    use tunnelkit_sys::{MessageInfo, cap, ipc_buffer, syscall};

    /// A scheduling context this PD holds a cap to (an SDF `<cspace><cap_sc>`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SchedContext(cap::CPtr);

    impl SchedContext {
        /// The SC in `<cspace>` root slot `slot` (1..=63).
        pub fn in_cspace(slot: u8) -> Option<Self> {
            cap::cspace_root_slot(slot).map(Self)
        }

        /// CPU time the SC consumed since the last query, in µs
        /// (`SchedContext_Consumed`); the kernel's error on failure (e.g. no
        /// SC cap in that slot).
        pub fn consumed_us(self) -> Result<u64, tunnelkit_abi::error::Sel4Error> {
            let r = syscall::call(self.0, MessageInfo::with_label(LABELS.sched_context_consumed, 0));
            tunnelkit_abi::error::Sel4Error::check(r.label()).map(|()| ipc_buffer::get_mr(0))
        }
    }

    /// Gives up the rest of this PD's current budget (MCS `seL4_Yield`): it runs
    /// again at its next refill. A PD with budget < period that yields in a loop
    /// wakes once per period.
    pub fn yield_budget() {
        syscall::yield_now()
    }

    /// Reads child `i`'s published call state (idle if it has no page),
    /// with its nested flag folded in.
    pub fn call_state_of(table: &PatchedTable, i: usize) -> CallState {
        let Some(page) = table.call_state(i) else { return CallState::default() };
        let state = CallState(page.load_acquire_u64(0).unwrap_or(0));
        state.with_nested(page.load_acquire_u64(NESTED_FLAG_OFFSET).unwrap_or(0) != 0)
    }
}

/// The supervision status page: what a supervisor publishes about its
/// children for other PDs to read (`<map mr=… setvar_vaddr="supervision_status"
/// setvar_size="supervision_status_size">` in the supervisor, read-only in
/// the readers). Word 0 is the number of children; child `i`'s record is
/// [`status::WORDS`] words at `8 · (1 + i · WORDS)`: its id and flags
/// (`id | flags << 8`), its restarts so far, its name (NUL-padded).
#[cfg(target_os = "none")]
pub mod status {
    use super::{MAX_CHILDREN, NAME_BYTES};
    use crate::SharedMemory;

    /// Words per child record.
    pub const WORDS: usize = 2 + NAME_BYTES / 8;
    /// Bytes a status page needs.
    pub const BYTES: u64 = (8 * (1 + MAX_CHILDREN * WORDS)) as u64;
    /// Flag: the child is held (its restart policy is used up).
    pub const HELD: u64 = 1;
    /// Flag: a restart of the child is pending (its backoff).
    pub const PENDING: u64 = 2;

    /// One child's published status.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ChildStatus {
        /// Its child id.
        pub id: u8,
        /// [`HELD`], [`PENDING`].
        pub flags: u64,
        /// Restarts so far (holding it counts as one).
        pub restarts: u64,
        /// Its name, NUL-padded.
        pub name: [u8; NAME_BYTES],
    }

    impl ChildStatus {
        /// Whether the child is held.
        pub fn held(&self) -> bool {
            self.flags & HELD != 0
        }

        /// The name as text (up to the first NUL).
        pub fn name(&self) -> &str {
            let len = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
            core::str::from_utf8(&self.name[..len]).unwrap_or("?")
        }
    }

    fn offset(i: usize) -> u64 {
        (8 * (1 + i * WORDS)) as u64
    }

    /// Publishes the number of children (once, at start).
    pub fn set_count(page: &SharedMemory, count: usize) {
        let _ = page.store_release_u64(0, count as u64);
    }

    /// Publishes child `i`'s status.
    pub fn write(page: &SharedMemory, i: usize, s: &ChildStatus) {
        let at = offset(i);
        let _ = page.write(at + 16, &s.name);
        let _ = page.store_release_u64(at + 8, s.restarts);
        let _ = page.store_release_u64(at, u64::from(s.id) | s.flags << 8);
    }

    /// Reads child `i`'s status (`None` past the published count).
    pub fn read(page: &SharedMemory, i: usize) -> Option<ChildStatus> {
        let count = usize::try_from(page.load_acquire_u64(0).ok()?).ok()?;
        if i >= count.min(MAX_CHILDREN) {
            return None;
        }
        let at = offset(i);
        let word = page.load_acquire_u64(at).ok()?;
        let mut s = ChildStatus { id: word as u8, flags: word >> 8, restarts: page.load_acquire_u64(at + 8).ok()?, ..Default::default() };
        page.read(at + 16, &mut s.name).ok()?;
        Some(s)
    }
}
