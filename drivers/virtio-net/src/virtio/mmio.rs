//! The virtio-mmio transport, modern interface (version 2), as on QEMU's
//! virt machines: a window of transports (AArch64: 32 of 0x200 bytes;
//! RISC-V: 8 of 0x1000), of which the driver takes the first virtio-net one.

use tunnelkit_runtime::DeviceMemory;

use super::queue::Rings;
use super::{FEATURE_EVENT_IDX, STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK, STATUS_FEATURES_OK, StartError, Transport};

// Registers (offsets in a transport).
const MAGIC: u64 = 0x000;
const VERSION: u64 = 0x004;
const DEVICE_ID: u64 = 0x008;
const DEVICE_FEATURES: u64 = 0x010;
const DEVICE_FEATURES_SEL: u64 = 0x014;
const DRIVER_FEATURES: u64 = 0x020;
const DRIVER_FEATURES_SEL: u64 = 0x024;
const QUEUE_SEL: u64 = 0x030;
const QUEUE_NUM_MAX: u64 = 0x034;
const QUEUE_NUM: u64 = 0x038;
const QUEUE_READY: u64 = 0x044;
const QUEUE_NOTIFY: u64 = 0x050;
const INTERRUPT_STATUS: u64 = 0x060;
const INTERRUPT_ACK: u64 = 0x064;
const STATUS: u64 = 0x070;
const QUEUE_DESC: u64 = 0x080;
const QUEUE_DRIVER: u64 = 0x090;
const QUEUE_DEVICE: u64 = 0x0a0;
const CONFIG: u64 = 0x100;

/// Bytes per transport in QEMU virt's window: 0x200 on AArch64 (32 of
/// them at 0xa000000, IRQ = GIC INTID 48 + slot), 0x1000 on RISC-V (8 at
/// 0x10001000, PLIC source 1 + slot).
const TRANSPORT_BYTES: u64 = match tunnelkit_runtime::BOARD.arch() {
    tunnelkit_runtime::Arch::Riscv64 => 0x1000,
    _ => 0x200,
};
const MAGIC_VALUE: u32 = 0x7472_6976;
const NET_DEVICE: u32 = 1;
/// VIRTIO_NET_F_MAC (bit 5) in the low word.
const FEATURE_MAC: u32 = 1 << 5;
/// VIRTIO_F_VERSION_1 (bit 32) in the high word.
const FEATURE_VERSION_1: u32 = 1;
/// The virtio-net header with VIRTIO_F_VERSION_1 (num_buffers included).
const NET_HEADER: usize = 12;

/// A virtio-net device on a virtio-mmio transport.
pub struct Mmio {
    regs: DeviceMemory,
    /// Offset of the device's transport in the window.
    base: u64,
    slot: u64,
}

impl Mmio {
    /// Finds the first virtio-net transport (version 2) in the window.
    pub fn probe(regs: DeviceMemory) -> Result<Mmio, StartError> {
        let slot = (0..regs.size() / TRANSPORT_BYTES)
            .find(|s| {
                let b = s * TRANSPORT_BYTES;
                regs.read32(b + MAGIC) == Ok(MAGIC_VALUE)
                    && regs.read32(b + VERSION) == Ok(2)
                    && regs.read32(b + DEVICE_ID) == Ok(NET_DEVICE)
            })
            .ok_or(StartError::NotFound("no virtio-net device (version 2) in the virtio-mmio window"))?;
        Ok(Mmio { regs, base: slot * TRANSPORT_BYTES, slot })
    }

    fn w(&self, reg: u64, v: u32) -> Result<(), StartError> {
        self.regs.write32(self.base + reg, v).map_err(|_| StartError::Access)
    }

    fn r(&self, reg: u64) -> Result<u32, StartError> {
        self.regs.read32(self.base + reg).map_err(|_| StartError::Access)
    }
}

impl Transport for Mmio {
    fn negotiate(&mut self) -> Result<bool, StartError> {
        self.w(STATUS, 0)?;
        self.w(STATUS, STATUS_ACKNOWLEDGE)?;
        self.w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER)?;
        self.w(DEVICE_FEATURES_SEL, 0)?;
        let low = self.r(DEVICE_FEATURES)? & (FEATURE_MAC | FEATURE_EVENT_IDX);
        self.w(DEVICE_FEATURES_SEL, 1)?;
        let high = self.r(DEVICE_FEATURES)? & FEATURE_VERSION_1;
        if high == 0 {
            return Err(StartError::FeaturesRejected);
        }
        self.w(DRIVER_FEATURES_SEL, 0)?;
        self.w(DRIVER_FEATURES, low)?;
        self.w(DRIVER_FEATURES_SEL, 1)?;
        self.w(DRIVER_FEATURES, high)?;
        self.w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK)?;
        if self.r(STATUS)? & STATUS_FEATURES_OK == 0 {
            return Err(StartError::FeaturesRejected);
        }
        Ok(low & FEATURE_EVENT_IDX != 0)
    }

    /// The driver chooses: `wanted`, if the device allows that many.
    fn queue_size(&mut self, index: u16, wanted: u16) -> Result<u16, StartError> {
        self.w(QUEUE_SEL, u32::from(index))?;
        let max = self.r(QUEUE_NUM_MAX)?;
        if max < u32::from(wanted) {
            return Err(StartError::QueueTooSmall(max));
        }
        self.w(QUEUE_NUM, u32::from(wanted))?;
        Ok(wanted)
    }

    fn enable_queue(&mut self, index: u16, rings: Rings) -> Result<(), StartError> {
        self.w(QUEUE_SEL, u32::from(index))?;
        for (reg, pa) in [(QUEUE_DESC, rings.desc), (QUEUE_DRIVER, rings.avail), (QUEUE_DEVICE, rings.used)] {
            self.w(reg, pa as u32)?;
            self.w(reg + 4, (pa >> 32) as u32)?;
        }
        self.w(QUEUE_READY, 1)
    }

    fn driver_ok(&mut self) -> Result<(), StartError> {
        self.w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK)
    }

    fn notify(&self, index: u16) {
        let _ = self.w(QUEUE_NOTIFY, u32::from(index));
    }

    fn acknowledge_interrupt(&self) {
        let status = self.r(INTERRUPT_STATUS).unwrap_or(0);
        let _ = self.w(INTERRUPT_ACK, status);
    }

    fn mac(&self) -> [u8; 6] {
        let lo = self.r(CONFIG).unwrap_or(0).to_le_bytes();
        let hi = self.r(CONFIG + 4).unwrap_or(0).to_le_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
    }

    fn net_header(&self) -> usize {
        NET_HEADER
    }

    /// The transport slot (IRQ = GIC INTID 48 + slot on QEMU's AArch64
    /// virt, PLIC source 1 + slot on its RISC-V virt).
    fn slot(&self) -> u64 {
        self.slot
    }
}
