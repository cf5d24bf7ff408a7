//! The trap instruction and register assignment of each architecture.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub(crate) use aarch64::*;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_64::*;

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub(crate) use riscv64::*;

/// [`syscall`] with this PD's nested flag set around it (see
/// `crate::syscall::call_marked`): two release stores around the trap.
/// (x86_64 has its own, which keeps the flag's address out of the
/// compiler's registers.)
///
/// # Safety
/// As for [`syscall`].
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(crate) unsafe fn syscall_marked(number: i64, r: &mut Regs) {
    use core::sync::atomic::Ordering::Release;
    let flag = crate::supervision::nested_flag();
    flag.store(flag as *const _ as u64, Release);
    // SAFETY: forwarded from the caller.
    unsafe { syscall(number, r) };
    flag.store(0, Release);
}

/// Registers of one system call, in seL4's roles (see the ABI reference §3).
pub(crate) struct Regs {
    /// Destination / source CPtr in, badge out (`x0` / `rdi` / `a0`).
    pub cap: u64,
    /// Message info in and out (`x1` / `rsi` / `a1`).
    pub info: u64,
    /// MR0..MR3 in and out.
    pub mrs: [u64; 4],
    /// Reply object (MCS receive phase), or the send cap of `NBSendWait` (`x6` / `r12` / `a6`).
    pub reply: u64,
    /// Send destination of `NBSendRecv` (`x8` / `r13` / `t0`).
    pub dest: u64,
}
