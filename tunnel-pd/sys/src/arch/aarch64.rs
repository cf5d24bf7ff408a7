//! AArch64: `svc #0`, number in x7, cap x0, info x1, MR0..3 x2..x5, reply x6,
//! NBSendRecv destination x8. The kernel restores every other register.

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
            "svc #0",
            in("x7") number,
            inout("x0") r.cap,
            inout("x1") r.info,
            inout("x2") r.mrs[0],
            inout("x3") r.mrs[1],
            inout("x4") r.mrs[2],
            inout("x5") r.mrs[3],
            in("x6") r.reply,
            in("x8") r.dest,
            options(nostack),
        );
    }
}

/// Stops the PD with an undefined-instruction fault (reported to its fault handler).
#[inline(always)]
pub(crate) fn fault_now() -> ! {
    // SAFETY: `udf` raises a synchronous exception the kernel turns into a
    // UserException fault IPC; it touches no memory.
    unsafe { core::arch::asm!("udf #0", options(noreturn, nomem, nostack)) }
}

/// Stops the PD with a VM fault: a load from the unmapped address 0x1000.
#[inline(always)]
pub(crate) fn vm_fault_now() -> ! {
    // SAFETY: address 0x1000 is below every Microkit PD's image (0x200000)
    // and never mapped; the load raises a data abort the kernel turns into a
    // VMFault IPC to the fault handler. The PD never continues here (a
    // handler restarts it elsewhere, or it stays stopped).
    unsafe { core::arch::asm!("ldr xzr, [{0}]", "udf #1", in(reg) 0x1000u64, options(noreturn, nostack)) }
}

/// Reads the cycle counter (`PMCCNTR_EL0`; readable from EL0 in the benchmark
/// config, where Microkit exports the PMU).
#[inline(always)]
pub(crate) fn cycle_counter() -> u64 {
    let v: u64;
    // SAFETY: reads a system register; traps (a fault, not UB) if EL0 access is off.
    unsafe { core::arch::asm!("isb", "mrs {0}, pmccntr_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Starts the cycle counter and makes it count at EL2 too (seL4 runs at EL2
/// on `qemu_virt_aarch64`): PMCR_EL0.E (never .C: the counter is shared by
/// every PD on the core, so resetting it would corrupt their measurements),
/// PMCNTENSET_EL0 bit 31,
/// PMCCFILTR_EL0.NSH (bit 27). EL0 may write these only when the kernel
/// exports the PMU (Microkit's `benchmark` config); elsewhere they trap.
pub(crate) fn enable_cycle_counter() {
    // SAFETY: writes PMU control registers only; a trap becomes a fault IPC, not UB.
    unsafe {
        core::arch::asm!(
            "mrs {t}, pmcr_el0",
            "orr {t}, {t}, #1",
            "msr pmcr_el0, {t}",
            "mov {t}, #0x80000000",
            "msr pmcntenset_el0, {t}",
            "mov {t}, #0x8000000",
            "msr pmccfiltr_el0, {t}",
            "isb",
            t = out(reg) _,
            options(nomem, nostack),
        )
    };
}

/// Makes the cycle counter count EL0 (user mode) only: PMCCFILTR_EL0.P
/// (bit 31) excludes EL1, NSH clear excludes EL2. Benchmark config only.
pub(crate) fn count_user_mode_only(user_only: bool) {
    let filter: u64 = if user_only { 1 << 31 } else { 1 << 27 };
    // SAFETY: writes one PMU control register; a trap becomes a fault IPC, not UB.
    unsafe { core::arch::asm!("msr pmccfiltr_el0, {f}", "isb", f = in(reg) filter, options(nomem, nostack)) };
}

/// Reads the generic timer's physical count (`CNTPCT_EL0`: every Microkit
/// config exports it to user mode, `CONFIG_EXPORT_PCNT_USER`; one count for
/// every core).
#[inline(always)]
pub(crate) fn trace_clock() -> u64 {
    let v: u64;
    // SAFETY: reads a system register the kernel lets EL0 read; a trap would
    // be a fault, not undefined behaviour.
    unsafe { core::arch::asm!("isb", "mrs {0}, cntpct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// [`trace_clock`] without the barrier before it: the read may be a few
/// instructions early or late, which the accounting's intervals (each
/// hundreds of cycles long) do not notice; the barrier costs an instruction
/// and a pipeline flush at every read.
#[inline(always)]
#[cfg_attr(not(tk_account), allow(dead_code))]
pub(crate) fn account_clock() -> u64 {
    let v: u64;
    // SAFETY: as for `trace_clock`.
    unsafe { core::arch::asm!("mrs {0}, cntpct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// The generic timer's frequency (`CNTFRQ_EL0`, readable whenever a counter is).
pub(crate) fn trace_clock_hz() -> u64 {
    let v: u64;
    // SAFETY: reads a system register; touches no memory.
    unsafe { core::arch::asm!("mrs {0}, cntfrq_el0", out(reg) v, options(nomem, nostack)) };
    v
}
