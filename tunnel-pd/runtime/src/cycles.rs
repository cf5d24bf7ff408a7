//! The cycle counter, for measurements (AArch64 `PMCCNTR_EL0` counting EL2
//! too, `benchmark` config only; x86_64 TSC). Under QEMU `-icount shift=0`
//! both advance by one per instruction.

/// Starts the counter (AArch64: faults outside the `benchmark` config).
#[cfg(target_os = "none")]
pub fn enable() {
    tunnelkit_sys::syscall::enable_cycle_counter()
}

/// Whether [`count_user_mode_only`] can split user from kernel time here.
pub const CAN_COUNT_USER_MODE_ONLY: bool = cfg!(target_arch = "aarch64");

/// AArch64: count user-mode (EL0) cycles only (`true`) or every level
/// (`false`, the default after [`enable`]). No effect on x86_64.
#[cfg(target_os = "none")]
pub fn count_user_mode_only(user_only: bool) {
    tunnelkit_sys::syscall::count_user_mode_only(user_only)
}

/// Reads the counter.
#[cfg(target_os = "none")]
pub fn now() -> u64 {
    tunnelkit_sys::syscall::cycle_counter()
}

/// The clock trace records carry, readable in every config: AArch64 the
/// generic timer's count (`CNTPCT_EL0`, the same on every core; the cycle
/// counter above needs the benchmark config), x86_64 the TSC.
#[cfg(target_os = "none")]
pub fn clock() -> u64 {
    tunnelkit_sys::trace::clock()
}

/// [`clock`]'s frequency in Hz (0 on x86_64: unknown to a PD).
#[cfg(target_os = "none")]
pub fn clock_hz() -> u64 {
    tunnelkit_sys::trace::clock_hz()
}

/// Min, median and max of `samples` (sorted in place); zeros if empty.
pub fn summarize(samples: &mut [u64]) -> (u64, u64, u64) {
    if samples.is_empty() {
        return (0, 0, 0);
    }
    samples.sort_unstable();
    (samples[0], samples[samples.len() / 2], samples[samples.len() - 1])
}

#[cfg(test)]
mod tests {
    #[test]
    fn summarizes_min_median_max() {
        let mut s = [5, 1, 9, 3, 7];
        assert_eq!(super::summarize(&mut s), (1, 5, 9));
        assert_eq!(super::summarize(&mut []), (0, 0, 0));
    }
}
