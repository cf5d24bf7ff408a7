//! Shared constants of the multicore reproducer (docs/smp.md): every ping
//! path makes [`CALLS`] protected calls on [`POD`], call `i` with label `i`,
//! and expects label `i + 1` back; then it notifies the reporter on
//! [`REPORT`].

#![no_std]
#![forbid(unsafe_code)]

/// Calls per ping path (the figure).
pub const CALLS: u64 = 20_000;
/// A progress line every this many calls.
pub const PROGRESS_EVERY: u64 = 5_000;
/// Channel id of the pod at each ping path.
pub const POD: u8 = 1;
/// Channel id of the reporter at each ping path.
pub const REPORT: u8 = 0;

/// The answer the pod gives to a call with `label`.
pub const fn answer(label: u64) -> u64 {
    label + 1
}
