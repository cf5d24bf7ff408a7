//! Message registers in the PD's IPC buffer (Microkit 2.3 maps it at the
//! highest user page; there is no symbol for it).

use crate::SEL4_MSG_MAX_LENGTH;
use crate::board::BOARD;

/// Byte offset of `msg[0]` in `seL4_IPCBuffer` (after the `tag` word).
const MSG_OFFSET: u64 = 8;

fn msg_ptr(i: usize) -> *mut u64 {
    assert!(i < SEL4_MSG_MAX_LENGTH, "message register {i} out of range");
    (BOARD.ipc_buffer_addr() + MSG_OFFSET + 8 * i as u64) as *mut u64
}

/// Reads message register `i` (panics if `i >= 120`).
pub fn get_mr(i: usize) -> u64 {
    // SAFETY: Microkit maps the IPC buffer read/write at this address in every
    // PD for its whole life; `i` is in bounds; the kernel is the only other
    // writer and only during a system call of this thread.
    unsafe { core::ptr::read_volatile(msg_ptr(i)) }
}

/// Writes message register `i` (panics if `i >= 120`).
pub fn set_mr(i: usize, value: u64) {
    // SAFETY: as for `get_mr`.
    unsafe { core::ptr::write_volatile(msg_ptr(i), value) }
}

/// The first four message registers, `msg[0..4]`: the ones the kernel
/// passes in registers. Read whole (two paired loads on AArch64) whatever
/// the message length; the words past it are not part of any message.
#[inline(always)]
pub(crate) fn fast_mrs() -> [u64; 4] {
    // SAFETY: as for `get_mr`, for msg[0..4] (in bounds). A plain load: the
    // system call's asm is a compiler barrier for memory (it is not `nomem`),
    // so the kernel's writes during the call are seen.
    unsafe { *(msg_ptr(0) as *const [u64; 4]) }
}

/// Writes the first four message registers (see [`fast_mrs`]).
#[inline(always)]
pub(crate) fn set_fast_mrs(mrs: [u64; 4]) {
    // SAFETY: as for `fast_mrs`.
    unsafe { *(msg_ptr(0) as *mut [u64; 4]) = mrs }
}

/// Writes `words` to message registers `0..words.len()` in one copy (panics
/// if more than 120).
pub fn set_mrs(words: &[u64]) {
    assert!(words.len() <= SEL4_MSG_MAX_LENGTH, "{} message registers do not fit", words.len());
    // SAFETY: as for `get_mr`, for msg[0..len] (in bounds); `words` is a
    // slice of this PD's memory, which never overlaps the IPC buffer (no
    // reference into the IPC buffer is ever made).
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), msg_ptr(0), words.len()) }
}

/// Reads message registers `0..words.len()` into `words` in one copy
/// (panics if more than 120).
pub fn get_mrs(words: &mut [u64]) {
    assert!(words.len() <= SEL4_MSG_MAX_LENGTH, "{} message registers do not fit", words.len());
    // SAFETY: as for `set_mrs`.
    unsafe { core::ptr::copy_nonoverlapping(msg_ptr(0) as *const u64, words.as_mut_ptr(), words.len()) }
}
