//! The seL4 MCS system calls a Microkit PD makes.
//!
//! Like libsel4's plain variants, these move MR0..MR3 between the registers
//! and the IPC buffer's `msg[0..4]`, so every message register is read and
//! written through [`crate::ipc_buffer`]. All four are moved whatever the
//! message length (two paired loads or stores, no branch): the kernel
//! transfers only the length's worth, and words past a message's length are
//! not part of it.

use crate::arch::{self, Regs};
use crate::cap::CPtr;
use crate::ipc_buffer::{fast_mrs, set_fast_mrs};
use crate::message_info::MessageInfo;
use crate::sysno;

/// A received message: the badge register and the message info.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Badge of the sender's cap, or the notification word.
    pub badge: u64,
    /// Message info (not meaningful for notification deliveries).
    pub info: MessageInfo,
}

#[inline(always)]
fn load(cap: CPtr, info: MessageInfo, reply: CPtr, dest: CPtr) -> Regs {
    Regs { cap, info: info.into_word(), mrs: fast_mrs(), reply, dest }
}

#[inline(always)]
fn store(r: &Regs) -> Received {
    set_fast_mrs(r.mrs);
    Received { badge: r.cap, info: MessageInfo::from_word(r.info) }
}

/// `seL4_Call`: send `info` (and its MRs) on `cap` and wait for the reply.
pub fn call(cap: CPtr, info: MessageInfo) -> MessageInfo {
    let mut r = load(cap, info, 0, 0);
    // SAFETY: a Call with a cap, an info word and MRs; an invalid cap makes the
    // kernel raise a cap fault, not undefined behaviour.
    unsafe { arch::syscall(sysno::CALL, &mut r) };
    store(&r).info
}

/// `seL4_Call` marked for a supervisor: this PD's nested flag
/// ([`crate::supervision::nested_flag`]) is non-zero (it holds its own
/// address) from just before the call until the reply is back, and 0 after.
/// A few instructions besides the call's own (on x86_64 inside the trap's
/// asm, in a register the trap clobbers anyway).
#[inline(always)]
pub fn call_marked(cap: CPtr, info: MessageInfo) -> MessageInfo {
    let mut r = load(cap, info, 0, 0);
    // SAFETY: a Call with a cap, an info word and MRs, as for `call`; the
    // flag is this PD's nested flag, a valid atomic word for the PD's life.
    unsafe { arch::syscall_marked(sysno::CALL, &mut r) };
    store(&r).info
}

/// `seL4_ReplyRecv`: reply with `info` through `reply`, then receive on `src`.
pub fn reply_recv(src: CPtr, info: MessageInfo, reply: CPtr) -> Received {
    let mut r = load(src, info, reply, 0);
    crate::account::block();
    // SAFETY: valid register layout for ReplyRecv; bad caps fault, they are not UB.
    unsafe { arch::syscall(sysno::REPLY_RECV, &mut r) };
    crate::account::wake();
    store(&r)
}

/// `seL4_Recv`: block on `src` with reply object `reply`.
pub fn recv(src: CPtr, reply: CPtr) -> Received {
    let mut r = Regs { cap: src, info: 0, mrs: [0; 4], reply, dest: 0 };
    crate::account::block();
    // SAFETY: valid register layout for Recv.
    unsafe { arch::syscall(sysno::RECV, &mut r) };
    crate::account::wake();
    store(&r)
}

/// `seL4_Wait`: block on `src` without a reply object.
pub fn wait(src: CPtr) -> Received {
    let mut r = Regs { cap: src, info: 0, mrs: [0; 4], reply: 0, dest: 0 };
    crate::account::block();
    // SAFETY: valid register layout for Wait.
    unsafe { arch::syscall(sysno::WAIT, &mut r) };
    crate::account::wake();
    store(&r)
}

/// `seL4_NBSendRecv`: send `info` to `dest` without blocking, then receive on `src`.
pub fn nb_send_recv(dest: CPtr, info: MessageInfo, src: CPtr, reply: CPtr) -> Received {
    let mut r = load(src, info, reply, dest);
    crate::account::block();
    // SAFETY: valid register layout for NBSendRecv.
    unsafe { arch::syscall(sysno::NB_SEND_RECV, &mut r) };
    crate::account::wake();
    store(&r)
}

/// `seL4_Send`: blocking send on an endpoint, or signal a notification.
pub fn send(cap: CPtr, info: MessageInfo) {
    let mut r = load(cap, info, 0, 0);
    // SAFETY: valid register layout for Send; nothing is received.
    unsafe { arch::syscall(sysno::SEND, &mut r) };
}

/// `seL4_NBSend`: send if a receiver waits, else drop the message.
pub fn nb_send(cap: CPtr, info: MessageInfo) {
    let mut r = load(cap, info, 0, 0);
    // SAFETY: valid register layout for NBSend.
    unsafe { arch::syscall(sysno::NB_SEND, &mut r) };
}

/// `seL4_Signal`: signal the notification `cap`.
pub fn signal(cap: CPtr) {
    send(cap, MessageInfo::with_label(0, 0));
}

/// `seL4_Yield`: give up the rest of the current budget.
pub fn yield_now() {
    let mut r = Regs { cap: 0, info: 0, mrs: [0; 4], reply: 0, dest: 0 };
    crate::account::block();
    // SAFETY: Yield takes no arguments.
    unsafe { arch::syscall(sysno::YIELD, &mut r) };
    crate::account::wake();
}

/// `seL4_SchedContext_Consumed` on the scheduling context `sc`: the time it
/// consumed since the last query, in microseconds (`None`: the kernel refused,
/// e.g. `sc` is not a scheduling context).
pub fn sched_context_consumed(sc: CPtr) -> Option<u64> {
    let reply = call(sc, MessageInfo::with_label(crate::labels::LABELS.sched_context_consumed, 0));
    (reply.label() == 0).then(|| crate::ipc_buffer::get_mr(0))
}

/// `seL4_DebugPutChar` in configurations with kernel printing; elsewhere the
/// syscall does not exist (it would fault) and this does nothing.
pub fn debug_put_char(c: u8) {
    if crate::board::CONFIG.has_printing() {
        let mut r = Regs { cap: u64::from(c), info: 0, mrs: [0; 4], reply: 0, dest: 0 };
        // SAFETY: DebugPutChar exists in this configuration and reads x0/rdi only.
        unsafe { arch::syscall(sysno::DEBUG_PUT_CHAR, &mut r) };
    }
}

/// `seL4_DebugDumpScheduler`: the kernel prints every thread of the calling
/// core (name, state, IP, priority, core, in release queue). Debug configs
/// only; elsewhere it does nothing and returns false.
pub fn debug_dump_scheduler() -> bool {
    if !crate::board::CONFIG.has_printing() {
        return false;
    }
    let mut r = Regs { cap: 0, info: 0, mrs: [0; 4], reply: 0, dest: 0 };
    // SAFETY: DebugDumpScheduler exists with kernel printing and takes no arguments.
    unsafe { arch::syscall(sysno::DEBUG_DUMP_SCHEDULER, &mut r) };
    true
}

/// `seL4_DebugSendIPI`: raise software-generated interrupt `sgi` (1 is the
/// kernel's reschedule IPI) on core `core`. It exists only in the smp-debug
/// config on AArch64 (elsewhere the kernel halts); returns false and does
/// nothing there. For the multicore reproducer (docs/smp.md).
pub fn debug_send_ipi(core: u64, sgi: u64) -> bool {
    let board = crate::board::BOARD;
    let config = crate::board::CONFIG;
    if !(config.is_smp() && config.has_printing() && matches!(board.arch(), crate::board::Arch::Aarch64))
        || core >= u64::from(board.cores(config))
        || sgi > 15
    {
        return false;
    }
    let mut r = Regs { cap: core, info: sgi, mrs: [0; 4], reply: 0, dest: 0 };
    // SAFETY: DebugSendIPI exists in this configuration (checked above) and
    // reads x0 (target core, checked in range) and x1 (SGI number, ≤ 15).
    unsafe { arch::syscall(sysno::DEBUG_SEND_IPI, &mut r) };
    true
}

/// Stops the PD with a fault (undefined instruction) that its fault handler
/// (the monitor, or a parent PD) receives.
pub fn fault_now() -> ! {
    arch::fault_now()
}

/// Stops the PD with a VM fault (a read of an unmapped address) that its
/// fault handler receives.
pub fn vm_fault_now() -> ! {
    arch::vm_fault_now()
}

/// Starts the cycle counter (AArch64: PMU, counting EL2 too; needs the
/// `benchmark` config, it faults elsewhere; x86_64: nothing to do).
pub fn enable_cycle_counter() {
    arch::enable_cycle_counter()
}

/// AArch64: make the cycle counter count user mode (EL0) only, or everything
/// again (EL0 + EL1 + EL2). Benchmark config only. x86_64: no effect.
pub fn count_user_mode_only(user_only: bool) {
    arch::count_user_mode_only(user_only)
}

/// The cycle counter: `PMCCNTR_EL0` on AArch64 (benchmark config only; it
/// faults elsewhere), the TSC on x86_64.
pub fn cycle_counter() -> u64 {
    arch::cycle_counter()
}
