//! The memory-mapped UART each board's console pod drives (`serial.elf`, in
//! the configs whose kernel has no console): one table that the host tool
//! reads to map the registers and the driver reads to pick its register
//! layout. The SDK does not describe devices, so these come from each
//! board's device tree as seL4 16.0.0 has it (`tools/dts/`, the UART its
//! overlay names for the kernel's console: `seL4,kernel-devices`, which on
//! kria_k26 is not `stdout-path`) and from the devices' reference manuals;
//! `None` for a board whose UART tunnelkit does not drive (a board name
//! Microkit does not have). x86 boards use COM1's I/O ports instead.

/// A UART's register layout: where a byte is written, and how to tell the
/// transmitter can take one. Registers are 32 bits wide unless said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    /// ARM PrimeCell PL011: data at 0x00; flags at 0x18, bit 5 transmit
    /// FIFO full.
    Pl011,
    /// 16550 family: transmit holding register 0, line status register 5,
    /// bit 5 holding register empty; register `i` at `i << reg_shift`,
    /// 8-bit accesses with `reg_shift` 0, 32-bit ones otherwise (the
    /// DesignWare APB UARTs: `reg-shift = <2>`, `reg-io-width = <4>`).
    Ns16550 {
        /// log2 of the register stride.
        reg_shift: u8,
    },
    /// NXP i.MX UART: transmitter at 0x40 (`UTXD`); status 2 at 0x98
    /// (`USR2`), bit 14 transmit FIFO empty.
    Imx,
    /// Amlogic Meson (AO) UART: write FIFO at 0x00; status at 0x0C, bit 21
    /// transmit FIFO full.
    Meson,
    /// Broadcom BCM2835/2711 auxiliary mini UART: `AUX_MU_IO` at 0x40,
    /// `AUX_MU_LSR` at 0x54, bit 5 transmitter can take a byte.
    BcmMiniUart,
    /// Cadence UART (Zynq UltraScale+): channel status at 0x2C, bit 4
    /// transmit FIFO full; FIFO at 0x30.
    Cadence,
    /// NXP LPUART: status at 0x14, bit 23 transmit data register empty;
    /// data at 0x1C.
    Lpuart,
    /// ST STM32 USART (FIFO mode): interrupt and status at 0x1C, bit 7
    /// transmit FIFO not full; transmit data at 0x28.
    Stm32,
}

impl UartKind {
    /// The kind's name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            UartKind::Pl011 => "PL011",
            UartKind::Ns16550 { reg_shift: 0 } => "NS16550A",
            UartKind::Ns16550 { .. } => "DesignWare 8250 (16550, 32-bit registers)",
            UartKind::Imx => "i.MX UART",
            UartKind::Meson => "Amlogic Meson UART",
            UartKind::BcmMiniUart => "BCM2711 mini UART",
            UartKind::Cadence => "Cadence UART",
            UartKind::Lpuart => "NXP LPUART",
            UartKind::Stm32 => "STM32 USART",
        }
    }
}

/// A board's console UART.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardUart {
    /// Its register layout.
    pub kind: UartKind,
    /// Physical address of its first register.
    pub phys: u64,
}

impl BoardUart {
    /// The 4 KiB page holding the registers, which the pod maps.
    pub const fn page(self) -> u64 {
        self.phys & !0xFFF
    }

    /// Where the registers start in that page.
    pub const fn offset(self) -> u64 {
        self.phys & 0xFFF
    }
}

/// The console UART of the board named `board` (its microkit name), if
/// tunnelkit drives it.
pub fn for_board(board: &str) -> Option<BoardUart> {
    use UartKind::*;
    let (kind, phys) = match board {
        "qemu_virt_aarch64" | "qemu_virt_aarch64_el1" => (Pl011, 0x0900_0000),
        "qemu_virt_riscv64" => (Ns16550 { reg_shift: 0 }, 0x1000_0000),
        "maaxboard" | "imx8mq_evk" => (Imx, 0x3086_0000),
        "imx8mm_evk" | "imx8mp_evk" | "imx8mp_iotgate" => (Imx, 0x3089_0000),
        "odroidc2" => (Meson, 0xC810_04C0),
        "odroidc4" => (Meson, 0xFF80_3000),
        "rpi4b_1gb" | "rpi4b_2gb" | "rpi4b_4gb" | "rpi4b_8gb" => (BcmMiniUart, 0xFE21_5000),
        "zcu102" => (Cadence, 0xFF00_0000),
        "ultra96v2" | "kria_k26" => (Cadence, 0xFF01_0000),
        "tqma8xqp1gb" => (Lpuart, 0x5A07_0000),
        "stm32mp2" => (Stm32, 0x400E_0000),
        "rockpro64" => (Ns16550 { reg_shift: 2 }, 0xFF1A_0000),
        "rock3b" => (Ns16550 { reg_shift: 2 }, 0xFE66_0000),
        "star64" => (Ns16550 { reg_shift: 2 }, 0x1000_0000),
        "hifive_p550" => (Ns16550 { reg_shift: 2 }, 0x5090_0000),
        // The RISC-V kernels print through SBI; these are the UARTs their
        // device trees name (`stdout-path`, else the first serial node;
        // ariane's is a 16750, a 16550 for sending).
        "ariane" => (Ns16550 { reg_shift: 2 }, 0x1000_0000),
        "cheshire" | "serengeti" => (Ns16550 { reg_shift: 2 }, 0x0300_2000),
        _ => return None,
    };
    Some(BoardUart { kind, phys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_fit_in_their_page() {
        let uart = for_board("odroidc2").unwrap();
        assert_eq!((uart.page(), uart.offset()), (0xC810_0000, 0x4C0));
        assert_eq!(for_board("qemu_virt_aarch64").unwrap().offset(), 0);
        assert_eq!(for_board("x86_64_generic"), None);
    }
}
