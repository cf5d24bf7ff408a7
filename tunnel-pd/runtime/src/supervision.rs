//! What a supervisor PD needs beyond [`crate::Child`]: the table `tunnelkit
//! build` patched in (children, names, call bounds, callers' scheduling
//! contexts), its pods' published call states, scheduling-context time, and
//! a periodic wake-up by giving up the rest of a budget.

#[cfg(target_os = "none")]
pub use target::{SchedContext, call_state_of, yield_budget};
pub use tunnelkit_sys::supervision::{
    CHANNELS, CallState, CallerSc, ChildTable, MAX_CHILDREN, NAME_BYTES, PatchedTable, SupervisedChild, SupervisionTable,
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
        /// (`SchedContext_Consumed`); the kernel's error code on failure (e.g.
        /// no SC cap in that slot).
        pub fn consumed_us(self) -> Result<u64, u64> {
            let r = syscall::call(self.0, MessageInfo::with_label(LABELS.sched_context_consumed, 0));
            if r.label() == 0 { Ok(ipc_buffer::get_mr(0)) } else { Err(r.label()) }
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
