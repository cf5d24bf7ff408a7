//! Console pod: prints what other PDs send it (the runtime's console
//! protocol) on the board's UART, or, where the system gives it none (the
//! debug configs, whose kernel owns the UART), on the kernel console.
//! Passive, so each caller's budget pays for its own output, and one call's
//! bytes are never interleaved with another's.
//!
//! AArch64 and RISC-V: the board's console UART (PL011 on QEMU virt, the
//! NS16550A of QEMU's RISC-V virt, the UARTs of the real boards listed in
//! `tunnelkit_abi::uart`) at the `<map>` named by `uart_vaddr` / `uart_size`
//! (uncached). x86_64: 16550 COM1 through `<ioport id="0">`, whose base port
//! the tool writes into `uart_port` (`setvar_addr`).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{Channel, Handler, MessageInfo, console, mr, printing, protection_domain, region_setvars, setvar};

region_setvars!(
    /// Virtual address of the page holding the console UART's registers.
    static uart_vaddr, uart_size
);
setvar!(
    /// Base I/O port of the 16550.
    static uart_port
);

protection_domain!(init);

struct Serial {
    uart: Uart,
    buf: [u8; console::CHUNK],
}

fn init() -> Serial {
    Serial { uart: Uart::new(), buf: [0; console::CHUNK] }
}

impl Handler for Serial {
    type Error = Infallible;

    fn protected(&mut self, _channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        match console::decode(msg_info.label(), msg_info.length(), mr::get, &mut self.buf) {
            Some(n) if self.uart.configured() => {
                for &b in &self.buf[..n] {
                    if b == b'\n' {
                        self.uart.put(b'\r');
                    }
                    self.uart.put(b);
                }
                Ok(MessageInfo::with_label(0, 0))
            }
            Some(n) => {
                // No UART of its own (a debug config): the kernel console,
                // which only this PD uses for the others' lines.
                printing::write_bytes(&self.buf[..n]);
                Ok(MessageInfo::with_label(0, 0))
            }
            None => Ok(MessageInfo::with_label(1, 0)),
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
use mmio::Uart;
#[cfg(target_arch = "x86_64")]
use uart16550::Uart;

/// A UART in memory: the board's console UART (`tunnelkit_runtime::uart`,
/// one table with the tool that maps it), whose registers start that far
/// into the mapped page. Sending needs no set-up on any of them: the
/// firmware and boot loader leave the console UART running.
#[cfg(not(target_arch = "x86_64"))]
mod mmio {
    use tunnelkit_runtime::uart::{self, BoardUart, UartKind};
    use tunnelkit_runtime::{BOARD, DeviceMemory};

    /// The UART at the `<map>` of `uart_vaddr` / `uart_size`, if any.
    pub struct Uart(Option<(DeviceMemory, BoardUart)>);

    impl Uart {
        pub fn new() -> Self {
            let regs = DeviceMemory::from_setvars(&super::uart_vaddr, &super::uart_size);
            Self(regs.zip(uart::for_board(BOARD.name())))
        }

        /// Whether the system maps the registers of a UART the driver knows.
        pub fn configured(&self) -> bool {
            self.0.is_some()
        }

        /// Sends one byte, waiting while the transmitter is full; nothing if unmapped.
        pub fn put(&mut self, b: u8) {
            let Some((r, uart)) = self.0 else { return };
            let l = Layout::of(uart.kind);
            let at = |reg: u64| uart.offset() + reg;
            // A register the page does not hold reads as "can send": the
            // byte is lost rather than the pod spinning forever.
            let fallback = if l.ready_when_set { u32::MAX } else { 0 };
            let status =
                |r: &DeviceMemory| if l.bytes { r.read8(at(l.status)).map(u32::from) } else { r.read32(at(l.status)) }.unwrap_or(fallback);
            while (status(&r) & l.ready_bit != 0) != l.ready_when_set {}
            let _ = match l.bytes {
                true => r.write8(at(l.data), b),
                false => r.write32(at(l.data), u32::from(b)),
            };
        }
    }

    /// Where a kind of UART takes a byte, and how it says it can.
    struct Layout {
        /// Status register offset.
        status: u64,
        /// The status bit that tells.
        ready_bit: u32,
        /// Whether the transmitter can take a byte when that bit is set
        /// (else when it is clear).
        ready_when_set: bool,
        /// Data register offset.
        data: u64,
        /// 8-bit registers (else 32-bit).
        bytes: bool,
    }

    impl Layout {
        fn of(kind: UartKind) -> Layout {
            let (status, bit, ready_when_set, data) = match kind {
                UartKind::Pl011 => (0x18, 5, false, 0x00),
                UartKind::Ns16550 { reg_shift } => (5 << reg_shift, 5, true, 0),
                UartKind::Imx => (0x98, 14, true, 0x40),
                UartKind::Meson => (0x0C, 21, false, 0x00),
                UartKind::BcmMiniUart => (0x54, 5, true, 0x40),
                UartKind::Cadence => (0x2C, 4, false, 0x30),
                UartKind::Lpuart => (0x14, 23, true, 0x1C),
                UartKind::Stm32 => (0x1C, 7, true, 0x28),
            };
            Layout { status, ready_bit: 1 << bit, ready_when_set, data, bytes: kind == UartKind::Ns16550 { reg_shift: 0 } }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod uart16550 {
    use tunnelkit_runtime::IoPort;

    /// Line status register offset; bit 5: transmit holding register empty.
    const LSR: u16 = 5;
    const LSR_THRE: u8 = 1 << 5;

    /// A 16550 UART on I/O ports.
    pub struct Uart {
        /// The SDF `<ioport id="0">` of the UART and its base port (`uart_port`).
        ports: Option<(IoPort, u16)>,
    }

    impl Uart {
        /// Programs 115200 8N1 with FIFOs on, interrupts off.
        pub fn new() -> Self {
            let base = u16::try_from(super::uart_port.get()).ok().filter(|b| *b != 0);
            let ports = IoPort::declared(0).ok().zip(base);
            if let Some((p, b)) = ports {
                for (offset, value) in [(1, 0x00), (3, 0x80), (0, 0x01), (1, 0x00), (3, 0x03), (2, 0xC7), (4, 0x03)] {
                    let _ = p.out8(b + offset, value);
                }
            }
            Self { ports }
        }

        /// Whether the system gives the UART's ports.
        pub fn configured(&self) -> bool {
            self.ports.is_some()
        }

        /// Sends one byte, waiting for the transmitter; nothing if unconfigured.
        pub fn put(&mut self, byte: u8) {
            let Some((p, b)) = self.ports else { return };
            while p.in8(b + LSR).map(|s| s & LSR_THRE == 0).unwrap_or(false) {}
            let _ = p.out8(b, byte);
        }
    }
}
