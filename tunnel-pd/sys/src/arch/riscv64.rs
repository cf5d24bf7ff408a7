//! RISC-V 64: `ecall`, number in a7, cap a0, info a1, MR0..3 a2..a5, reply
//! a6, NBSendRecv destination t0. The kernel restores every other register.

use super::Regs;

/// Traps into the kernel with syscall number `number` (negative).
///
/// # Safety
/// The registers must form a valid seL4 system call; the kernel may read and
/// write the IPC buffer, so callers must not hold references into it.
#[inline(always)]
pub(crate) unsafe fn syscall(number: i64, r: &mut Regs) {
    // SAFETY: the caller guarantees a valid call. The asm touches only the
    // listed registers; memory is not marked untouched because the kernel
    // reads and writes the IPC buffer.
    unsafe {
        core::arch::asm!(
            "ecall",
            in("a7") number,
            inout("a0") r.cap,
            inout("a1") r.info,
            inout("a2") r.mrs[0],
            inout("a3") r.mrs[1],
            inout("a4") r.mrs[2],
            inout("a5") r.mrs[3],
            in("a6") r.reply,
            in("t0") r.dest,
            options(nostack),
        );
    }
}

/// Stops the PD with an illegal-instruction fault (reported to its fault handler).
#[inline(always)]
pub(crate) fn fault_now() -> ! {
    // SAFETY: `unimp` raises an illegal-instruction exception, which the
    // kernel turns into a UserException fault IPC; it touches no memory.
    unsafe { core::arch::asm!("unimp", options(noreturn, nomem, nostack)) }
}

/// Stops the PD with a VM fault: a load from the unmapped address 0x1000.
#[inline(always)]
pub(crate) fn vm_fault_now() -> ! {
    // SAFETY: address 0x1000 is below every Microkit PD's image (0x200000)
    // and never mapped; the load raises a page fault the kernel turns into a
    // VMFault IPC to the fault handler. The PD never continues here.
    unsafe { core::arch::asm!("ld zero, 0({0})", "unimp", in(reg) 0x1000u64, options(noreturn, nostack)) }
}

/// Reads the `time` CSR (the platform timer, [`trace_clock_hz`] Hz; the
/// same count on every hart).
#[inline(always)]
fn read_time() -> u64 {
    let v: u64;
    // SAFETY: reads a counter CSR; a trap (if user access were off) is a
    // fault, not undefined behaviour.
    unsafe { core::arch::asm!("rdtime {0}", out(reg) v, options(nomem, nostack)) };
    v
}

/// The cycle counter of RISC-V (`cycle`) is not readable from user mode
/// under seL4 (it leaves `scounteren` clear), so the benchmarks' counter is
/// the `time` CSR: QEMU's `virt` timer, which under `-icount` advances with
/// the instructions executed.
#[inline(always)]
pub(crate) fn cycle_counter() -> u64 {
    read_time()
}

/// [`read_time`] for the accounting.
#[inline(always)]
#[cfg_attr(not(tk_account), allow(dead_code))]
pub(crate) fn account_clock() -> u64 {
    read_time()
}

/// Nothing to enable: the `time` CSR always runs.
pub(crate) fn enable_cycle_counter() {}

/// The `time` CSR cannot be filtered by privilege level; a no-op.
pub(crate) fn count_user_mode_only(_user_only: bool) {}

/// The trace clock: the `time` CSR.
#[inline(always)]
pub(crate) fn trace_clock() -> u64 {
    read_time()
}

/// The `time` CSR's rate on the board this PD is built for (the kernel's
/// `TIMER_FREQUENCY`, checked against the SDK by a test).
pub(crate) fn trace_clock_hz() -> u64 {
    crate::board::BOARD.timer_hz().unwrap_or_default()
}
