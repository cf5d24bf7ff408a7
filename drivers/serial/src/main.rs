//! Console pod: prints what other PDs send it (the runtime's console
//! protocol) on the board's UART, or, where the system gives it none (the
//! debug configs, whose kernel owns the UART), on the kernel console.
//! Passive, so each caller's budget pays for its own output, and one call's
//! bytes are never interleaved with another's.
//!
//! AArch64 (QEMU virt): PL011 at the `<map>` named by `uart_vaddr` /
//! `uart_size` (uncached). x86_64: 16550 COM1 through `<ioport id="0">`, whose
//! base port the tool writes into `uart_port` (`setvar_addr`). RISC-V (QEMU
//! virt): the NS16550A's byte registers at the `<map>` of `uart_vaddr`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use tunnelkit_runtime::{Channel, Handler, MessageInfo, console, mr, printing, protection_domain, region_setvars, setvar};

region_setvars!(
    /// Virtual address of the PL011 (AArch64) or NS16550A (RISC-V) registers.
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

/// A UART in memory: the PL011 of QEMU's AArch64 virt machine, or the
/// NS16550A of its RISC-V one (byte registers, sending needs no set-up).
#[cfg(not(target_arch = "x86_64"))]
mod mmio {
    use tunnelkit_runtime::DeviceMemory;

    /// PL011: data register; flag register, bit 5 transmit FIFO full.
    #[cfg(target_arch = "aarch64")]
    mod regs {
        use tunnelkit_runtime::DeviceMemory;
        const DR: u64 = 0x00;
        const FR: u64 = 0x18;
        const FR_TXFF: u32 = 1 << 5;

        pub fn busy(r: &DeviceMemory) -> bool {
            r.read32(FR).map(|f| f & FR_TXFF != 0).unwrap_or(false)
        }

        pub fn send(r: &DeviceMemory, b: u8) {
            let _ = r.write32(DR, u32::from(b));
        }
    }

    /// NS16550A: transmit holding register; line status register, bit 5
    /// transmit holding register empty.
    #[cfg(target_arch = "riscv64")]
    mod regs {
        use tunnelkit_runtime::DeviceMemory;
        const THR: u64 = 0;
        const LSR: u64 = 5;
        const LSR_THRE: u8 = 1 << 5;

        pub fn busy(r: &DeviceMemory) -> bool {
            r.read8(LSR).map(|s| s & LSR_THRE == 0).unwrap_or(false)
        }

        pub fn send(r: &DeviceMemory, b: u8) {
            let _ = r.write8(THR, b);
        }
    }

    /// The UART at the `<map>` of `uart_vaddr` / `uart_size`, if any.
    pub struct Uart(Option<DeviceMemory>);

    impl Uart {
        pub fn new() -> Self {
            Self(DeviceMemory::from_setvars(&super::uart_vaddr, &super::uart_size))
        }

        /// Whether the system maps the registers.
        pub fn configured(&self) -> bool {
            self.0.is_some()
        }

        /// Sends one byte, waiting while the transmitter is full; nothing if unmapped.
        pub fn put(&mut self, b: u8) {
            let Some(r) = self.0 else { return };
            while regs::busy(&r) {}
            regs::send(&r, b);
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
