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
