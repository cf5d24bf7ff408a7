//! Channels (the PD's end of an SDF `<channel>`) and child PDs.

use core::fmt;

/// One end of a Microkit channel, by its id in this PD (0..=61).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Channel(u8);

/// A channel used for something the system description does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// The id is outside 0..=61.
    InvalidId(u8),
    /// The channel end has no `notify="true"`.
    NotNotifiable(u8),
    /// The channel end has no `pp="true"`: this PD cannot call through it.
    NotCallable(u8),
    /// The PD has no `<irq id=…>` with this id.
    NotAnIrq(u8),
    /// The PD has no `<ioport id=…>` with this id.
    NotAnIoPort(u8),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::InvalidId(id) => write!(f, "channel id {id} is outside 0..=61"),
            ChannelError::NotNotifiable(id) => write!(f, "channel {id} has no notify right (set notify=\"true\" on this end)"),
            ChannelError::NotCallable(id) => write!(f, "channel {id} has no pp right (set pp=\"true\" on this end)"),
            ChannelError::NotAnIrq(id) => write!(f, "id {id} is not an <irq> of this PD"),
            ChannelError::NotAnIoPort(id) => write!(f, "id {id} is not an <ioport> of this PD"),
        }
    }
}

impl Channel {
    /// The channel with id `id` (the SDF `<end id=…>` of this PD).
    pub const fn new(id: u8) -> Self {
        Self(id)
    }

    /// The channel id.
    pub const fn index(self) -> u8 {
        self.0
    }

    fn checked(self, mask: u64, err: fn(u8) -> ChannelError) -> Result<u8, ChannelError> {
        if usize::from(self.0) >= tunnelkit_sys::MICROKIT_MAX_CHANNELS {
            return Err(ChannelError::InvalidId(self.0));
        }
        if mask & (1 << self.0) == 0 {
            return Err(err(self.0));
        }
        Ok(self.0)
    }

    /// Checks that this PD may call through the channel (the patched
    /// `microkit_pps` mask has its bit).
    pub fn check_callable(self) -> Result<(), ChannelError> {
        self.checked(tunnelkit_sys::symbols::pps(), ChannelError::NotCallable).map(drop)
    }
}

#[cfg(target_os = "none")]
pub use target::IoPort;

/// A channel this PD has checked it may call through ([`Channel::callable`]):
/// calling it needs no further check. It holds the endpoint's cap (never 0,
/// so an `Option<Callable>` is one word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callable {
    endpoint: core::num::NonZeroU64,
}

impl Callable {
    /// The channel.
    pub const fn channel(self) -> Channel {
        Channel((self.endpoint.get() - tunnelkit_sys::cap::endpoint(0)) as u8)
    }
}

#[cfg(target_os = "none")]
impl Callable {
    /// Protected procedure call: `seL4_Call` on the peer's endpoint, with the
    /// message registers in the IPC buffer before and after. Traced: the
    /// call and its reply, and whether this PD makes it while serving a call
    /// (a nested call).
    #[inline]
    pub fn call(self, msg_info: tunnelkit_sys::MessageInfo) -> tunnelkit_sys::MessageInfo {
        let depth = if crate::trace::ENABLED { u8::from(crate::event_loop::serving()) } else { 0 };
        crate::trace::event!(Call, self.channel().0, depth, 0, msg_info.label());
        // Marked for the supervisor: a PD blocked on a reply must not be
        // restarted (see `nested_flag`).
        tunnelkit_sys::account::call_begin(u64::from(self.channel().0));
        let reply = tunnelkit_sys::syscall::call_marked(self.endpoint.get(), msg_info);
        tunnelkit_sys::account::call_end();
        crate::trace::event!(Reply, self.channel().0, depth, 0, reply.label());
        reply
    }
}

#[cfg(target_os = "none")]
mod target {
    use super::{Callable, Channel, ChannelError, Child};
    use tunnelkit_abi::error::Sel4Error;
    use tunnelkit_sys::labels::LABELS;
    use tunnelkit_sys::{MessageInfo, cap, symbols, syscall};

    impl Channel {
        /// Signals the peer (`seL4_Signal` on its notification).
        pub fn notify(self) -> Result<(), ChannelError> {
            let id = self.checked(symbols::notifications(), ChannelError::NotNotifiable)?;
            crate::trace::event!(Notify, id, 0, 0, 0);
            syscall::signal(cap::notification(id));
            Ok(())
        }

        /// Protected procedure call: `seL4_Call` on the peer's endpoint. The
        /// message registers are in the IPC buffer, before and after.
        pub fn pp_call(self, msg_info: MessageInfo) -> Result<MessageInfo, ChannelError> {
            Ok(self.callable()?.call(msg_info))
        }

        /// The channel as a [`Callable`], checked once: this PD's end has
        /// `pp="true"` (the patched `microkit_pps` mask has its bit).
        pub fn callable(self) -> Result<Callable, ChannelError> {
            let id = self.checked(symbols::pps(), ChannelError::NotCallable)?;
            let endpoint = core::num::NonZeroU64::new(cap::endpoint(id)).expect("endpoint caps are not slot 0");
            Ok(Callable { endpoint })
        }

        /// [`Callable::call`] on a checked channel, untraced (the console
        /// is not part of what a trace shows) but accounted (its time is the
        /// caller's, in the console pod).
        pub(crate) fn call_unchecked(self, id: u8, msg_info: MessageInfo) -> MessageInfo {
            // Marked for the supervisor: a PD blocked on a reply must not be
            // restarted (see `nested_flag`).
            tunnelkit_sys::account::call_begin(u64::from(id));
            let reply = syscall::call_marked(cap::endpoint(id), msg_info);
            tunnelkit_sys::account::call_end();
            reply
        }
        /// Acknowledges the IRQ with this id so it can fire again.
        pub fn irq_ack(self) -> Result<(), ChannelError> {
            let id = self.checked(symbols::irqs(), ChannelError::NotAnIrq)?;
            syscall::call(cap::irq_handler(id), MessageInfo::with_label(LABELS.irq_ack_irq, 0));
            Ok(())
        }

        /// Signals the peer when this entry point returns, folded into the
        /// event loop's next system call. One deferred action is kept; the last wins.
        pub fn deferred_notify(self) -> Result<(), ChannelError> {
            let id = self.checked(symbols::notifications(), ChannelError::NotNotifiable)?;
            crate::deferred::defer(cap::notification(id), MessageInfo::with_label(0, 0));
            Ok(())
        }
    }

    /// An x86 I/O port range of this PD (`<ioport id=…>`), obtained only for a
    /// range the system description declares ([`IoPort::declared`]). Every
    /// access is an invocation of the range's IOPort capability; the kernel
    /// refuses ports outside the range. On AArch64 every access fails with
    /// seL4_IllegalOperation (3).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct IoPort(u8);

    /// The `X86IOPort{In,Out}{8,16,32}` labels of this config: (in, out) per width.
    struct PortLabels {
        in8: u64,
        in16: u64,
        in32: u64,
        out8: u64,
        out16: u64,
        out32: u64,
    }

    impl IoPort {
        /// The range with SDF id `id`, if this PD's system description declares
        /// it (`<ioport id=…>`, the patched `microkit_ioports`).
        pub fn declared(id: u8) -> Result<Self, ChannelError> {
            if usize::from(id) >= tunnelkit_sys::MICROKIT_MAX_CHANNELS {
                return Err(ChannelError::InvalidId(id));
            }
            if symbols::ioports() & (1 << id) == 0 {
                return Err(ChannelError::NotAnIoPort(id));
            }
            Ok(Self(id))
        }

        /// The SDF id of the range.
        pub const fn id(self) -> u8 {
            self.0
        }

        fn labels() -> Result<PortLabels, Sel4Error> {
            match LABELS.arch {
                tunnelkit_sys::labels::ArchLabels::X86_64 {
                    ioport_in8: in8,
                    ioport_in16: in16,
                    ioport_in32: in32,
                    ioport_out8: out8,
                    ioport_out16: out16,
                    ioport_out32: out32,
                } => Ok(PortLabels { in8, in16, in32, out8, out16, out32 }),
                _ => Err(Sel4Error::IllegalOperation), // no I/O ports on this architecture
            }
        }

        /// `X86IOPortOut*`: MR0 = port, MR1 = value.
        fn write(self, label: u64, port: u16, value: u32) -> Result<(), Sel4Error> {
            tunnelkit_sys::ipc_buffer::set_mr(0, u64::from(port));
            tunnelkit_sys::ipc_buffer::set_mr(1, u64::from(value));
            let r = syscall::call(cap::ioport(self.0), MessageInfo::with_label(label, 2));
            Sel4Error::check(r.label())
        }

        /// `X86IOPortIn*`: MR0 = port; the value comes back in MR0.
        fn read(self, label: u64, port: u16) -> Result<u64, Sel4Error> {
            tunnelkit_sys::ipc_buffer::set_mr(0, u64::from(port));
            let r = syscall::call(cap::ioport(self.0), MessageInfo::with_label(label, 1));
            Sel4Error::check(r.label()).map(|()| tunnelkit_sys::ipc_buffer::get_mr(0))
        }

        /// Writes a byte to `port` (inside the range). Err: the kernel's error.
        pub fn out8(self, port: u16, value: u8) -> Result<(), Sel4Error> {
            self.write(Self::labels()?.out8, port, u32::from(value))
        }

        /// Writes 16 bits to `port` (inside the range). Err: the kernel's error.
        pub fn out16(self, port: u16, value: u16) -> Result<(), Sel4Error> {
            self.write(Self::labels()?.out16, port, u32::from(value))
        }

        /// Writes 32 bits to `port` (inside the range). Err: the kernel's error.
        pub fn out32(self, port: u16, value: u32) -> Result<(), Sel4Error> {
            self.write(Self::labels()?.out32, port, value)
        }

        /// Reads a byte from `port` (inside the range). Err: the kernel's error.
        pub fn in8(self, port: u16) -> Result<u8, Sel4Error> {
            self.read(Self::labels()?.in8, port).map(|v| v as u8)
        }

        /// Reads 16 bits from `port` (inside the range). Err: the kernel's error.
        pub fn in16(self, port: u16) -> Result<u16, Sel4Error> {
            self.read(Self::labels()?.in16, port).map(|v| v as u16)
        }

        /// Reads 32 bits from `port` (inside the range). Err: the kernel's error.
        pub fn in32(self, port: u16) -> Result<u32, Sel4Error> {
            self.read(Self::labels()?.in32, port).map(|v| v as u32)
        }
    }

    impl Child {
        /// Restarts the child at `entry` (`TCB_WriteRegisters`, resume, PC only).
        /// Returns the kernel's error on failure.
        pub fn restart(self, entry: u64) -> Result<(), Sel4Error> {
            // Traced with no reason: the child's first argument register is left as it was.
            crate::trace::event!(ChildRestart, self.0, 0, u32::MAX, 0);
            tunnelkit_sys::ipc_buffer::set_mr(0, 1);
            tunnelkit_sys::ipc_buffer::set_mr(1, 1);
            tunnelkit_sys::ipc_buffer::set_mr(2, entry);
            let r = syscall::call(cap::child_tcb(self.0), MessageInfo::with_label(LABELS.tcb_write_registers, 3));
            Sel4Error::check(r.label())
        }

        /// Restarts a tunnelkit child as at boot: PC at `_start`, SP at the
        /// stack top, start reason 0 ([`Child::restart_clean`] with 0). Its
        /// runtime runs `init` again. ([`Child::restart`] at the entry would
        /// leave the first argument register as the fault left it, and the
        /// runtime reads that register as its start reason.)
        pub fn restart_from_entry(self) -> Result<(), Sel4Error> {
            self.restart_clean(0)
        }

        /// Restarts a tunnelkit child PD from scratch: PC at `_start`, SP at
        /// the stack top, and `reason` ([`crate::RESTART_AFTER_FAULT`] or
        /// [`crate::RESTART_AFTER_OVERRUN`]) in the first argument register
        /// (`TCB_WriteRegisters`, resume). Its runtime rebuilds its state with
        /// `init` and, if it was serving a protected call, answers that caller
        /// with a fault or overrun error.
        pub fn restart_clean(self, reason: u64) -> Result<(), Sel4Error> {
            use tunnelkit_sys::ipc_buffer::set_mr;
            // seL4_UserContext order: aarch64 pc, sp, spsr, x0; x86_64 rip,
            // rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi; riscv64 pc, ra, sp,
            // gp, s0..s11, a0. Flags are sanitised by the kernel.
            let (base, sp) = (tunnelkit_sys::IMAGE_BASE, tunnelkit_sys::board::BOARD.stack_top());
            let words: &[u64] = match tunnelkit_sys::board::BOARD.arch() {
                tunnelkit_sys::board::Arch::Aarch64 => &[base, sp, 0, reason],
                tunnelkit_sys::board::Arch::X86_64 => &[base, sp, 0, 0, 0, 0, 0, 0, reason],
                tunnelkit_sys::board::Arch::Riscv64 => &[base, 0, sp, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, reason],
            };
            crate::trace::event!(ChildRestart, self.0, 0, reason as u32, 0);
            set_mr(0, 1);
            set_mr(1, words.len() as u64);
            for (i, w) in words.iter().enumerate() {
                set_mr(2 + i, *w);
            }
            let r = syscall::call(cap::child_tcb(self.0), MessageInfo::with_label(LABELS.tcb_write_registers, 2 + words.len()));
            Sel4Error::check(r.label())
        }
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({})", self.0)
    }
}

/// A set of channels notified in one wake-up (bits of the notification word).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ChannelSet(u64);

impl ChannelSet {
    /// The channels whose bits are set in a notification word (bits 0..=61).
    pub const fn from_badge(badge: u64) -> Self {
        Self(badge & ((1 << 62) - 1))
    }

    /// Whether `channel` is in the set.
    pub const fn contains(self, channel: Channel) -> bool {
        channel.0 < 62 && self.0 & (1 << channel.0) != 0
    }

    /// The notification-word bits of the set.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The channels, lowest id first (libmicrokit's delivery order); visits
    /// only the set bits.
    pub fn iter(self) -> impl Iterator<Item = Channel> {
        let mut bits = self.0;
        core::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let id = bits.trailing_zeros() as u8;
            bits &= bits - 1;
            Some(Channel(id))
        })
    }
}

impl fmt::Debug for ChannelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|c| c.0)).finish()
    }
}

/// A child PD of this PD, by its SDF `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child(u8);

impl Child {
    /// The child with SDF id `id`.
    pub const fn new(id: u8) -> Self {
        Self(id)
    }

    /// The child id.
    pub const fn index(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn channel_set_iterates_in_ascending_order_and_ignores_reserved_bits() {
        let set = ChannelSet::from_badge((1 << 63) | (1 << 62) | (1 << 61) | (1 << 5) | 1);
        let ids: Vec<u8> = set.iter().map(Channel::index).collect();
        assert_eq!(ids, [0, 5, 61]);
        assert!(set.contains(Channel::new(5)));
        assert!(!set.contains(Channel::new(6)));
        assert!(!set.contains(Channel::new(62)));
    }

    #[test]
    fn unpatched_pp_mask_rejects_calls() {
        assert_eq!(Channel::new(3).check_callable(), Err(ChannelError::NotCallable(3)));
        assert_eq!(Channel::new(62).check_callable(), Err(ChannelError::InvalidId(62)));
    }
}
