//! The legacy virtio-pci transport over x86 I/O ports, as QEMU's
//! `virtio-net-pci,disable-modern=on` on the i440fx `pc` machine presents it.
//!
//! PCI configuration space is reached through configuration mechanism #1
//! (address port 0xcf8, data port 0xcfc: the SDF's `<ioport id="0">`). The
//! device (vendor 0x1af4, device 0x1000) is looked for on bus 0. Its I/O
//! BAR0 must lie at the SDF's `<ioport id="1">` base: the firmware (SeaBIOS)
//! assigns BARs before seL4 boots, and if it chose another address, BAR0 is
//! moved there (with I/O decoding off meanwhile). Then I/O decoding and bus
//! mastering are turned on and INTx is left enabled: the interrupt arrives on
//! the IRQ line the firmware routed the pin to, through the IOAPIC.
//!
//! Legacy registers (offsets in BAR0, MSI-X never enabled): device features
//! 0x00, guest features 0x04, queue PFN 0x08, queue size 0x0C (read-only,
//! the device's choice), queue select 0x0E, queue notify 0x10, status 0x12,
//! ISR 0x13 (reading clears it and lowers the line), MAC from 0x14.

use core::fmt;

use tunnelkit_runtime::{IoPort, Sel4Error, debug_println};

use super::queue::{ALIGN, Rings};
use super::{STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK, StartError, Transport};

/// What an access through an undeclared port range amounts to.
const NO_SUCH_RANGE: Sel4Error = Sel4Error::FailedLookup;

/// The SDF `<ioport id="0">`: PCI configuration mechanism #1 (0xcf8, 8 ports).
fn config_ports() -> Result<IoPort, Sel4Error> {
    IoPort::declared(0).map_err(|_| NO_SUCH_RANGE)
}

/// The SDF `<ioport id="1">`: where the device's I/O BAR0 goes.
fn device_ports() -> Result<IoPort, Sel4Error> {
    IoPort::declared(1).map_err(|_| NO_SUCH_RANGE)
}
/// The base port of configuration mechanism #1 (CONFIG_ADDRESS; CONFIG_DATA at +4).
pub const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = CONFIG_ADDRESS + 4;

// Configuration space (type 0 header).
const VENDOR_DEVICE: u8 = 0x00;
const COMMAND: u8 = 0x04;
const HEADER_TYPE: u8 = 0x0e;
const BAR0: u8 = 0x10;
const INTERRUPT_LINE: u8 = 0x3c;
const INTERRUPT_PIN: u8 = 0x3d;
const COMMAND_IO: u16 = 1;
const COMMAND_BUS_MASTER: u16 = 1 << 2;
const COMMAND_INTX_DISABLE: u16 = 1 << 10;
const HEADER_MULTIFUNCTION: u8 = 0x80;
const VIRTIO_VENDOR: u16 = 0x1af4;
/// The transitional (legacy-capable) virtio-net device id.
const LEGACY_NET_DEVICE: u16 = 0x1000;

// Legacy virtio registers (offsets in BAR0).
const DEVICE_FEATURES: u16 = 0x00;
const GUEST_FEATURES: u16 = 0x04;
const QUEUE_PFN: u16 = 0x08;
const QUEUE_SIZE: u16 = 0x0c;
const QUEUE_SELECT: u16 = 0x0e;
const QUEUE_NOTIFY: u16 = 0x10;
const STATUS: u16 = 0x12;
const ISR: u16 = 0x13;
const CONFIG: u16 = 0x14;
/// Ports the driver uses: up to the end of the MAC.
const REGISTER_PORTS: u32 = CONFIG as u32 + 6;
/// VIRTIO_NET_F_MAC.
const FEATURE_MAC: u32 = 1 << 5;
/// The legacy virtio-net header (no VERSION_1, no MRG_RXBUF): 10 bytes.
const NET_HEADER: usize = 10;

/// Which of the SDF's two port ranges an access went to.
#[derive(Clone, Copy, Debug)]
pub enum Ports {
    /// `<ioport id="0" addr="0xcf8" size="8" setvar_addr="pci_config_port">`.
    Config,
    /// `<ioport id="1" … setvar_addr="virtio_port">` (BAR0).
    Device,
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ports::Config => write!(f, "<ioport id=\"0\" addr=\"0xcf8\" size=\"8\" setvar_addr=\"pci_config_port\">"),
            Ports::Device => {
                write!(
                    f,
                    "<ioport id=\"1\" setvar_addr=\"virtio_port\"> (give it BAR0's size, 32 ports on QEMU; the registers need {REGISTER_PORTS})"
                )
            }
        }
    }
}

/// Why the legacy virtio-pci device could not be set up.
#[derive(Clone, Copy, Debug)]
pub enum PciError {
    /// The kernel refused a port access: port, seL4 error, the SDF range.
    Port(u16, Sel4Error, Ports),
    /// No 1af4:1000 function on bus 0.
    NotFound,
    /// BAR0 is not an I/O BAR (its value).
    NotIoBar(u32),
    /// BAR0 decodes fewer ports than the legacy registers need (its size).
    BarTooSmall(u32),
    /// The SDF's base is not aligned to BAR0's size: (base, size).
    Misaligned(u16, u32),
    /// BAR0 did not take the SDF's base: (wanted, read back).
    BarNotMoved(u16, u32),
    /// The device has no INTx pin (interrupt pin register 0).
    NoInterruptPin,
    /// The firmware routed the pin to no usable IRQ line (the register's value).
    NoIrqLine(u8),
    /// The device's queue size is unusable (not a power of two, too small or
    /// larger than the DMA layout's room): (queue, size).
    QueueSize(u16, u16),
    /// The ring is not 4 KiB aligned or beyond the 32-bit page number.
    RingAddress(u64),
}

impl fmt::Display for PciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PciError::Port(port, err, ports) => {
                write!(f, "the kernel refused I/O port {port:#x} ({err}): the SDF's {ports} must cover it")
            }
            PciError::NotFound => write!(
                f,
                "no legacy virtio-net device ({VIRTIO_VENDOR:04x}:{LEGACY_NET_DEVICE:04x}) on PCI bus 0 \
                 (QEMU: -device virtio-net-pci,disable-modern=on)"
            ),
            PciError::NotIoBar(v) => write!(f, "BAR0 ({v:#x}) is not an I/O BAR (a legacy device needs disable-modern=on)"),
            PciError::BarTooSmall(size) => write!(f, "BAR0 decodes {size} ports, the legacy registers need {REGISTER_PORTS}"),
            PciError::Misaligned(base, size) => write!(
                f,
                "the SDF's <ioport id=\"1\" addr=\"{base:#x}\" setvar_addr=\"virtio_port\"> is not aligned to BAR0's size \
                 ({size} ports): choose an addr that is a multiple of {size:#x}"
            ),
            PciError::BarNotMoved(wanted, got) => write!(
                f,
                "BAR0 reads {got:#x} after writing the SDF's <ioport id=\"1\" addr=\"{wanted:#x}\">: the device cannot decode that addr"
            ),
            PciError::NoInterruptPin => {
                write!(f, "the device has no INTx pin (interrupt pin register 0); the SDF's <irq pin> cannot be served")
            }
            PciError::NoIrqLine(line) => write!(
                f,
                "the firmware routed the device's INTx to no IRQ line (interrupt line register {line:#x}); the SDF's <irq pin> cannot match"
            ),
            PciError::QueueSize(q, n) => write!(f, "queue {q}: the device's size {n} is unusable (need a power of two in 16..=256)"),
            PciError::RingAddress(pa) => write!(f, "ring at physical {pa:#x}: a legacy queue must be 4 KiB aligned below 16 TiB"),
        }
    }
}

/// A PCI function on bus 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    device: u8,
    function: u8,
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00:{:02x}.{}", self.device, self.function)
    }
}

/// Configuration space through mechanism #1.
struct ConfigSpace;

impl ConfigSpace {
    fn port<T>(r: Result<T, Sel4Error>, port: u16) -> Result<T, PciError> {
        r.map_err(|e| PciError::Port(port, e, Ports::Config))
    }

    /// Latches the dword at `offset` of `f` into CONFIG_DATA.
    fn select(f: Function, offset: u8) -> Result<(), PciError> {
        let address = 0x8000_0000 | u32::from(f.device) << 11 | u32::from(f.function) << 8 | u32::from(offset & 0xfc);
        Self::port(config_ports().and_then(|p| p.out32(CONFIG_ADDRESS, address)), CONFIG_ADDRESS)
    }

    fn read32(f: Function, offset: u8) -> Result<u32, PciError> {
        Self::select(f, offset)?;
        Self::port(config_ports().and_then(|p| p.in32(CONFIG_DATA)), CONFIG_DATA)
    }

    fn write32(f: Function, offset: u8, value: u32) -> Result<(), PciError> {
        Self::select(f, offset)?;
        Self::port(config_ports().and_then(|p| p.out32(CONFIG_DATA, value)), CONFIG_DATA)
    }

    fn read16(f: Function, offset: u8) -> Result<u16, PciError> {
        Self::select(f, offset)?;
        let port = CONFIG_DATA + u16::from(offset & 2);
        Self::port(config_ports().and_then(|p| p.in16(port)), port)
    }

    /// A 16-bit write touches only its own register (a 32-bit one would also
    /// write the write-one-to-clear status bits next to the command register).
    fn write16(f: Function, offset: u8, value: u16) -> Result<(), PciError> {
        Self::select(f, offset)?;
        let port = CONFIG_DATA + u16::from(offset & 2);
        Self::port(config_ports().and_then(|p| p.out16(port, value)), port)
    }

    fn read8(f: Function, offset: u8) -> Result<u8, PciError> {
        Self::select(f, offset)?;
        let port = CONFIG_DATA + u16::from(offset & 3);
        Self::port(config_ports().and_then(|p| p.in8(port)), port)
    }

    /// The first function on bus 0 with `vendor`:`device`.
    fn find(vendor: u16, device: u16) -> Result<Option<Function>, PciError> {
        let wanted = u32::from(device) << 16 | u32::from(vendor);
        for dev in 0..32 {
            let first = Function { device: dev, function: 0 };
            let id = Self::read32(first, VENDOR_DEVICE)?;
            if id & 0xffff == 0xffff {
                continue;
            }
            let functions = if Self::read8(first, HEADER_TYPE)? & HEADER_MULTIFUNCTION != 0 { 8 } else { 1 };
            for function in 0..functions {
                let f = Function { device: dev, function };
                if Self::read32(f, VENDOR_DEVICE)? == wanted {
                    return Ok(Some(f));
                }
            }
        }
        Ok(None)
    }
}

/// A legacy virtio-net device on its I/O BAR.
pub struct LegacyPci {
    function: Function,
    /// BAR0's base port (the SDF's `virtio_port`).
    base: u16,
}

impl LegacyPci {
    /// Finds the device on bus 0, places BAR0 at `base` (the SDF's port
    /// range), enables I/O decoding and bus mastering, and prints where it is.
    pub fn probe(base: u16) -> Result<LegacyPci, PciError> {
        let function = ConfigSpace::find(VIRTIO_VENDOR, LEGACY_NET_DEVICE)?.ok_or(PciError::NotFound)?;
        let bar = ConfigSpace::read32(function, BAR0)?;
        if bar & 1 == 0 {
            return Err(PciError::NotIoBar(bar));
        }
        let firmware_base = bar & 0xffff_fffc;
        let command = ConfigSpace::read16(function, COMMAND)?;
        // Size BAR0 with I/O decoding off: all ones, read back the mask.
        ConfigSpace::write16(function, COMMAND, command & !COMMAND_IO)?;
        ConfigSpace::write32(function, BAR0, 0xffff_ffff)?;
        // An I/O BAR may implement only the low 16 address bits.
        let mask = ConfigSpace::read32(function, BAR0)? & 0xffff_fffc | 0xffff_0000;
        let size = (!mask).wrapping_add(1);
        let target = u32::from(base);
        let unfit = if size < REGISTER_PORTS {
            Some(PciError::BarTooSmall(size))
        } else if !target.is_multiple_of(size) {
            Some(PciError::Misaligned(base, size))
        } else {
            None
        };
        if let Some(e) = unfit {
            // Leave the device as the firmware set it up.
            ConfigSpace::write32(function, BAR0, bar)?;
            ConfigSpace::write16(function, COMMAND, command)?;
            return Err(e);
        }
        ConfigSpace::write32(function, BAR0, target)?;
        let placed = ConfigSpace::read32(function, BAR0)? & 0xffff_fffc;
        if placed != target {
            return Err(PciError::BarNotMoved(base, placed));
        }
        ConfigSpace::write16(function, COMMAND, (command | COMMAND_IO | COMMAND_BUS_MASTER) & !COMMAND_INTX_DISABLE)?;
        let pin = ConfigSpace::read8(function, INTERRUPT_PIN)?;
        let line = ConfigSpace::read8(function, INTERRUPT_LINE)?;
        let moved = if firmware_base == target {
            "where the firmware put it"
        } else {
            debug_println!("virtio-net: BAR0 moved from the firmware's {firmware_base:#x} to the SDF's {base:#x}");
            "moved there"
        };
        debug_println!(
            "virtio-net: pci {function} {VIRTIO_VENDOR:04x}:{LEGACY_NET_DEVICE:04x} (legacy), I/O BAR0 {base:#x} ({size} ports, {moved}), \
             INT{} -> IRQ line {line} (the SDF's <irq id=\"0\" pin=…> must be {line})",
            char::from(b'A' + pin.saturating_sub(1).min(3))
        );
        if pin == 0 {
            return Err(PciError::NoInterruptPin);
        }
        // A routed PCI interrupt is an ISA IRQ line 1..=15 (0xff: unrouted).
        if line == 0 || line > 15 {
            return Err(PciError::NoIrqLine(line));
        }
        Ok(LegacyPci { function, base })
    }

    fn port<T>(&self, r: Result<T, Sel4Error>, reg: u16) -> Result<T, StartError> {
        r.map_err(|e| StartError::Pci(PciError::Port(self.base + reg, e, Ports::Device)))
    }

    fn r8(&self, reg: u16) -> Result<u8, StartError> {
        self.port(device_ports().and_then(|p| p.in8(self.base + reg)), reg)
    }

    fn r16(&self, reg: u16) -> Result<u16, StartError> {
        self.port(device_ports().and_then(|p| p.in16(self.base + reg)), reg)
    }

    fn r32(&self, reg: u16) -> Result<u32, StartError> {
        self.port(device_ports().and_then(|p| p.in32(self.base + reg)), reg)
    }

    fn w8(&self, reg: u16, v: u8) -> Result<(), StartError> {
        self.port(device_ports().and_then(|p| p.out8(self.base + reg, v)), reg)
    }

    fn w16(&self, reg: u16, v: u16) -> Result<(), StartError> {
        self.port(device_ports().and_then(|p| p.out16(self.base + reg, v)), reg)
    }

    fn w32(&self, reg: u16, v: u32) -> Result<(), StartError> {
        self.port(device_ports().and_then(|p| p.out32(self.base + reg, v)), reg)
    }
}

impl Transport for LegacyPci {
    fn negotiate(&mut self) -> Result<bool, StartError> {
        self.w8(STATUS, 0)?;
        self.w8(STATUS, STATUS_ACKNOWLEDGE as u8)?;
        self.w8(STATUS, (STATUS_ACKNOWLEDGE | STATUS_DRIVER) as u8)?;
        // Legacy: no FEATURES_OK step; the device takes what is written.
        let features = self.r32(DEVICE_FEATURES)? & (FEATURE_MAC | super::FEATURE_EVENT_IDX);
        self.w32(GUEST_FEATURES, features)?;
        Ok(features & super::FEATURE_EVENT_IDX != 0)
    }

    /// The device chooses (the register is read-only); `wanted` is the least
    /// the driver needs.
    fn queue_size(&mut self, index: u16, wanted: u16) -> Result<u16, StartError> {
        self.w16(QUEUE_SELECT, index)?;
        let size = self.r16(QUEUE_SIZE)?;
        if !size.is_power_of_two() || size < wanted || size > super::MAX_RING {
            return Err(StartError::Pci(PciError::QueueSize(index, size)));
        }
        Ok(size)
    }

    fn enable_queue(&mut self, index: u16, rings: Rings) -> Result<(), StartError> {
        // The legacy device derives the available and used rings from the
        // descriptor table's page number, the size and the 4 KiB alignment.
        let pfn = rings.desc / ALIGN;
        if !rings.desc.is_multiple_of(ALIGN) || pfn > u64::from(u32::MAX) {
            return Err(StartError::Pci(PciError::RingAddress(rings.desc)));
        }
        self.w16(QUEUE_SELECT, index)?;
        self.w32(QUEUE_PFN, pfn as u32)
    }

    fn driver_ok(&mut self) -> Result<(), StartError> {
        self.w8(STATUS, (STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK) as u8)
    }

    fn notify(&self, index: u16) {
        let _ = self.w16(QUEUE_NOTIFY, index);
    }

    /// Reading the ISR clears it and lowers the (level-triggered) line: do it
    /// before acknowledging the IRQ to the kernel.
    fn acknowledge_interrupt(&self) {
        let _ = self.r8(ISR);
    }

    fn mac(&self) -> [u8; 6] {
        let mut mac = [0; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = self.r8(CONFIG + i as u16).unwrap_or(0);
        }
        mac
    }

    fn net_header(&self) -> usize {
        NET_HEADER
    }

    /// The PCI device number on bus 0.
    fn slot(&self) -> u64 {
        u64::from(self.function.device)
    }
}
