//! x86_64: `syscall`, number in rdx, cap rdi, info rsi, MR0..3 r10, r8, r9,
//! r15, reply r12, NBSendRecv destination r13. The kernel zeroes rsp and
//! clobbers rcx / r11, so rsp is parked in a static across the instruction
//! (a register would be one fewer for the compiler around every call).

use super::Regs;

/// The stack pointer across a `syscall` (a PD has one thread).
static mut PARKED_RSP: u64 = 0;

/// `syscall` between the asm lines `$before` and `$after`, with rsp parked
/// in [`PARKED_RSP`] across it, the registers of `$r` in their seL4 roles,
/// rcx and r11 clobbered, and any further `sym` operands given.
macro_rules! trap {
    ($number:expr, $r:expr, [$($before:literal),*], [$($after:literal),*] $(, $operand:ident = sym $symbol:path)*) => {
        core::arch::asm!(
            $($before,)*
            "mov qword ptr [rip + {parked}], rsp",
            "syscall",
            "mov rsp, qword ptr [rip + {parked}]",
            $($after,)*
            parked = sym PARKED_RSP,
            $($operand = sym $symbol,)*
            in("rdx") $number,
            inout("rdi") $r.cap,
            inout("rsi") $r.info,
            inout("r10") $r.mrs[0],
            inout("r8") $r.mrs[1],
            inout("r9") $r.mrs[2],
            inout("r15") $r.mrs[3],
            in("r12") $r.reply,
            in("r13") $r.dest,
            out("rcx") _,
            out("r11") _,
        )
    };
}

/// Traps into the kernel with syscall number `number` (negative).
///
/// # Safety
/// The registers must form a valid seL4 system call; the kernel may read and
/// write the IPC buffer, so callers must not hold references into it.
#[inline(always)]
pub(crate) unsafe fn syscall(number: i64, r: &mut Regs) {
    // SAFETY: the caller guarantees a valid call. rsp is saved in
    // PARKED_RSP (written and read only here, by the PD's only thread, with
    // no reference to it) and put back after `syscall`; rcx and r11 are
    // declared clobbered; memory is not marked untouched (IPC buffer).
    unsafe { trap!(number, r, [], []) }
}

/// [`syscall`] with this PD's nested flag set around it (see
/// `crate::syscall::call_marked`): the flag's address is loaded into rcx,
/// which `syscall` clobbers anyway, so no register is taken from the
/// compiler around the call. x86 stores are release stores.
///
/// # Safety
/// As for [`syscall`].
#[inline(always)]
pub(crate) unsafe fn syscall_marked(number: i64, r: &mut Regs) {
    // SAFETY: as for `syscall`. NESTED points at this PD's nested flag, an
    // 8-byte aligned word mapped for the PD's whole life (a static or word 1
    // of its call-state page); it is read and the word written here without
    // a reference, and the word's other users access it atomically.
    unsafe {
        trap!(
            number,
            r,
            ["mov rcx, qword ptr [rip + {nested}]", "mov qword ptr [rcx], rcx"],
            ["mov rcx, qword ptr [rip + {nested}]", "mov qword ptr [rcx], 0"],
            nested = sym crate::supervision::NESTED_CELL
        )
    }
}

/// Stops the PD with an invalid-opcode fault (reported to its fault handler).
#[inline(always)]
pub(crate) fn fault_now() -> ! {
    // SAFETY: `ud2` raises #UD, which the kernel turns into a UserException
    // fault IPC; it touches no memory.
    unsafe { core::arch::asm!("ud2", options(noreturn, nomem, nostack)) }
}

/// Stops the PD with a VM fault: a load from the unmapped address 0x1000.
#[inline(always)]
pub(crate) fn vm_fault_now() -> ! {
    // SAFETY: address 0x1000 is below every Microkit PD's image (0x200000)
    // and never mapped; the load raises a page fault the kernel turns into a
    // VMFault IPC to the fault handler. The PD never continues here (a
    // handler restarts it elsewhere, or it stays stopped).
    unsafe { core::arch::asm!("cmp byte ptr [{0}], 0", "ud2", in(reg) 0x1000u64, options(noreturn, nostack)) }
}

/// Reads the time-stamp counter.
#[inline(always)]
pub(crate) fn cycle_counter() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` reads a counter into eax:edx and touches no memory.
    unsafe { core::arch::asm!("lfence", "rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// The TSC without the fence before it (see the AArch64 `account_clock`).
#[inline(always)]
#[cfg_attr(not(tk_account), allow(dead_code))]
pub(crate) fn account_clock() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` reads a counter into eax:edx and touches no memory.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// The TSC always runs; nothing to enable.
pub(crate) fn enable_cycle_counter() {}

/// The TSC cannot be filtered by privilege level; a no-op (returns false).
pub(crate) fn count_user_mode_only(_user_only: bool) {}

/// The trace clock: the TSC.
#[inline(always)]
pub(crate) fn trace_clock() -> u64 {
    cycle_counter()
}

/// The TSC's rate is not known to a PD.
pub(crate) fn trace_clock_hz() -> u64 {
    0
}
