//! A virtio-net device behind virtio-mmio (modern, version 2), with one
//! receive and one transmit split virtqueue in the DMA region.
//!
//! DMA layout (offsets): receive queue at 0x0000 and transmit queue at
//! 0x3000 (descriptors +0, available ring +0x1000, used ring +0x2000), receive
//! buffers from 0x6000 and transmit buffers after them, 2 KiB each.
//!
//! Receive interrupts are moderated NAPI style: the driver asks for an
//! interrupt on the next frame when it is idle, and only when half the
//! receive buffers have filled while it is busy (VIRTIO_RING_F_EVENT_IDX;
//! without it, no receive interrupt at all while busy).

use core::fmt;
use core::sync::atomic::{Ordering, fence};

use tunnelkit_runtime::{DeviceMemory, SharedMemory};

/// Receive buffers (and receive queue size).
const RX_BUFFERS: u16 = 128;
/// Transmit buffers (and transmit queue size).
const TX_BUFFERS: u16 = 64;
/// Bytes per packet buffer.
const BUFFER: u64 = 2048;
/// The virtio-net header with VIRTIO_F_VERSION_1.
const NET_HEADER: usize = 12;
const RX_QUEUE_AT: u64 = 0x0000;
const TX_QUEUE_AT: u64 = 0x3000;
/// Offsets of a queue's available and used rings.
const AVAIL_AT: u64 = 0x1000;
const USED_AT: u64 = 0x2000;
const RX_BUFFERS_AT: u64 = 0x6000;
const TX_BUFFERS_AT: u64 = RX_BUFFERS_AT + RX_BUFFERS as u64 * BUFFER;
/// DMA bytes the layout needs.
pub const DMA_BYTES: u64 = TX_BUFFERS_AT + TX_BUFFERS as u64 * BUFFER;

// virtio-mmio registers (offsets in a transport).
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

const STATUS_ACKNOWLEDGE: u32 = 1;
const STATUS_DRIVER: u32 = 2;
const STATUS_DRIVER_OK: u32 = 4;
const STATUS_FEATURES_OK: u32 = 8;
/// VIRTIO_NET_F_MAC (bit 5) in the low word.
const FEATURE_MAC: u32 = 1 << 5;
/// VIRTIO_RING_F_EVENT_IDX (bit 29) in the low word.
const FEATURE_EVENT_IDX: u32 = 1 << 29;
/// VRING_AVAIL_F_NO_INTERRUPT.
const AVAIL_NO_INTERRUPT: u32 = 1;
/// VIRTIO_F_VERSION_1 (bit 32) in the high word.
const FEATURE_VERSION_1: u32 = 1;
const DESC_F_WRITE: u64 = 2;
const MAGIC_VALUE: u32 = 0x7472_6976;
const NET_DEVICE: u32 = 1;

/// Why the device could not be started.
#[derive(Clone, Copy, Debug)]
pub enum StartError {
    /// No virtio-net transport in the window.
    NotFound,
    /// The device rejected our feature set.
    FeaturesRejected,
    /// A queue is smaller than the buffers we post on it.
    QueueTooSmall(u32),
    /// The DMA region is smaller than the layout.
    DmaTooSmall(u64),
    /// A register or DMA access fell outside its mapping.
    Access,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NotFound => write!(f, "no virtio-net device (version 2) in the virtio-mmio window"),
            StartError::FeaturesRejected => write!(f, "the device rejected VERSION_1 + MAC"),
            StartError::QueueTooSmall(n) => write!(f, "queue size {n} < {RX_BUFFERS} receive / {TX_BUFFERS} transmit buffers"),
            StartError::DmaTooSmall(n) => write!(f, "DMA region of {n:#x} bytes, need {DMA_BYTES:#x}"),
            StartError::Access => write!(f, "register or DMA access out of bounds"),
        }
    }
}

/// The DMA region and its physical address.
pub struct Dma {
    mem: SharedMemory,
    paddr: u64,
}

impl Dma {
    /// `mem` starts at physical address `paddr`.
    pub fn new(mem: SharedMemory, paddr: u64) -> Self {
        Self { mem, paddr }
    }
}

/// One split virtqueue.
struct Queue {
    at: u64,
    /// Entries (a power of two).
    size: u16,
    /// Next available-ring slot to fill.
    avail_idx: u16,
    /// Next used-ring entry to consume.
    used_idx: u16,
}

impl Queue {
    fn desc(&self, i: u16) -> u64 {
        self.at + 16 * u64::from(i)
    }
    fn avail(&self) -> u64 {
        self.at + AVAIL_AT
    }
    fn used(&self) -> u64 {
        self.at + USED_AT
    }
    /// The `used_event` field (after the available ring).
    fn used_event(&self) -> u64 {
        self.avail() + 4 + 2 * u64::from(self.size)
    }
}

/// A started virtio-net device.
pub struct Device {
    regs: DeviceMemory,
    base: u64,
    slot: u64,
    dma: Dma,
    rx: Queue,
    tx: Queue,
    tx_next: u16,
    tx_in_flight: u16,
    rx_posted: bool,
    tx_posted: bool,
    /// VIRTIO_RING_F_EVENT_IDX was negotiated.
    event_idx: bool,
    /// Available-ring flags of the receive queue.
    rx_flags: u32,
    /// Available-ring flags of the transmit queue.
    tx_flags: u32,
}

/// When the device should next interrupt for received frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxWakeup {
    /// On the next frame (the driver is idle).
    NextFrame,
    /// Only once half the receive buffers hold frames (the driver is busy
    /// and polls anyway; this keeps the ring from overflowing).
    HalfFull,
}

impl Device {
    /// Finds the virtio-net transport in the window, negotiates features,
    /// sets up both queues and fills the receive queue.
    pub fn probe_and_start(regs: DeviceMemory, dma: Dma) -> Result<Device, StartError> {
        if dma.mem.size() < DMA_BYTES {
            return Err(StartError::DmaTooSmall(dma.mem.size()));
        }
        let slot = (0..32u64)
            .find(|s| {
                let b = s * 0x200;
                regs.read32(b + MAGIC) == Ok(MAGIC_VALUE)
                    && regs.read32(b + VERSION) == Ok(2)
                    && regs.read32(b + DEVICE_ID) == Ok(NET_DEVICE)
            })
            .ok_or(StartError::NotFound)?;
        let mut d = Device {
            regs,
            base: slot * 0x200,
            slot,
            dma,
            rx: Queue { at: RX_QUEUE_AT, size: RX_BUFFERS, avail_idx: 0, used_idx: 0 },
            tx: Queue { at: TX_QUEUE_AT, size: TX_BUFFERS, avail_idx: 0, used_idx: 0 },
            tx_next: 0,
            tx_in_flight: 0,
            rx_posted: false,
            tx_posted: false,
            event_idx: false,
            rx_flags: 0,
            tx_flags: 0,
        };
        d.start()?;
        Ok(d)
    }

    fn w(&self, reg: u64, v: u32) -> Result<(), StartError> {
        self.regs.write32(self.base + reg, v).map_err(|_| StartError::Access)
    }

    fn r(&self, reg: u64) -> Result<u32, StartError> {
        self.regs.read32(self.base + reg).map_err(|_| StartError::Access)
    }

    fn start(&mut self) -> Result<(), StartError> {
        self.w(STATUS, 0)?;
        self.w(STATUS, STATUS_ACKNOWLEDGE)?;
        self.w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER)?;
        self.w(DEVICE_FEATURES_SEL, 0)?;
        let low = self.r(DEVICE_FEATURES)? & (FEATURE_MAC | FEATURE_EVENT_IDX);
        self.event_idx = low & FEATURE_EVENT_IDX != 0;
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
        for (index, at, size) in [(0u32, RX_QUEUE_AT, RX_BUFFERS), (1, TX_QUEUE_AT, TX_BUFFERS)] {
            self.w(QUEUE_SEL, index)?;
            let max = self.r(QUEUE_NUM_MAX)?;
            if max < u32::from(size) {
                return Err(StartError::QueueTooSmall(max));
            }
            self.w(QUEUE_NUM, u32::from(size))?;
            for (reg, offset) in [(QUEUE_DESC, 0), (QUEUE_DRIVER, AVAIL_AT), (QUEUE_DEVICE, USED_AT)] {
                let pa = self.dma.paddr + at + offset;
                self.w(reg, pa as u32)?;
                self.w(reg + 4, (pa >> 32) as u32)?;
            }
            self.w(QUEUE_READY, 1)?;
        }
        for i in 0..RX_BUFFERS {
            let addr = self.dma.paddr + RX_BUFFERS_AT + u64::from(i) * BUFFER;
            self.set_desc(self.rx.desc(i), addr, BUFFER as u32, DESC_F_WRITE).map_err(|_| StartError::Access)?;
            self.post_rx(i).map_err(|_| StartError::Access)?;
        }
        self.set_rx_wakeup(RxWakeup::NextFrame);
        self.w(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK)?;
        self.kick();
        Ok(())
    }

    /// The transport slot (IRQ = GIC INTID 48 + slot on QEMU virt).
    pub fn slot(&self) -> u64 {
        self.slot
    }

    /// The MAC address from the device configuration.
    pub fn mac(&self) -> [u8; 6] {
        let lo = self.r(CONFIG).unwrap_or(0).to_le_bytes();
        let hi = self.r(CONFIG + 4).unwrap_or(0).to_le_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
    }

    /// (free, total) packet buffers: receive buffers are always posted, so the
    /// free ones are those not in flight on the transmit queue.
    pub fn buffers(&mut self) -> (u16, u16) {
        self.reclaim_tx();
        (RX_BUFFERS + TX_BUFFERS - self.tx_in_flight, RX_BUFFERS + TX_BUFFERS)
    }

    /// Receive buffers the device may fill.
    pub fn rx_buffers(&self) -> u16 {
        RX_BUFFERS
    }

    /// Whether a received frame waits to be taken.
    pub fn rx_pending(&self) -> bool {
        fence(Ordering::SeqCst);
        self.dma.mem.load_acquire_u32(self.rx.used()).is_ok_and(|w| (w >> 16) as u16 != self.rx.used_idx)
    }

    /// Transmit buffers not in flight.
    pub fn tx_free(&mut self) -> u16 {
        self.reclaim_tx();
        TX_BUFFERS - self.tx_in_flight
    }

    /// Asks for an interrupt when the device completes a transmission
    /// (`true`: something waits for a transmit buffer), or for none.
    pub fn set_tx_wakeup(&mut self, on: bool) {
        let q = &self.tx;
        if self.event_idx {
            let at = if on { q.used_idx } else { q.used_idx.wrapping_sub(1) };
            let _ = self.dma.mem.write(q.used_event(), &at.to_le_bytes());
        } else {
            self.tx_flags = if on { 0 } else { AVAIL_NO_INTERRUPT };
            let _ = self.dma.mem.store_release_u32(q.avail(), u32::from(q.avail_idx) << 16 | self.tx_flags);
        }
        fence(Ordering::SeqCst);
    }

    /// Whether VIRTIO_RING_F_EVENT_IDX moderates receive interrupts.
    pub fn moderates_interrupts(&self) -> bool {
        self.event_idx
    }

    /// Sets when the device next interrupts for received frames. Check
    /// [`rx_pending`](Self::rx_pending) afterwards: a frame may have arrived
    /// before the device saw the change.
    pub fn set_rx_wakeup(&mut self, wakeup: RxWakeup) {
        let q = &self.rx;
        if self.event_idx {
            let ahead = match wakeup {
                RxWakeup::NextFrame => 0,
                RxWakeup::HalfFull => RX_BUFFERS / 2 - 1,
            };
            let _ = self.dma.mem.write(q.used_event(), &q.used_idx.wrapping_add(ahead).to_le_bytes());
        } else {
            self.rx_flags = if wakeup == RxWakeup::NextFrame { 0 } else { AVAIL_NO_INTERRUPT };
            let _ = self.dma.mem.store_release_u32(q.avail(), u32::from(q.avail_idx) << 16 | self.rx_flags);
        }
        fence(Ordering::SeqCst);
    }

    /// Clears the interrupt the device raised.
    pub fn acknowledge_interrupt(&self) {
        let status = self.r(INTERRUPT_STATUS).unwrap_or(0);
        let _ = self.w(INTERRUPT_ACK, status);
    }

    fn set_desc(&self, at: u64, addr: u64, len: u32, flags: u64) -> Result<(), ()> {
        self.dma.mem.write_u64(at, addr).map_err(drop)?;
        self.dma.mem.write_u64(at + 8, u64::from(len) | flags << 32).map_err(drop)
    }

    /// Puts descriptor `i` on the receive queue's available ring.
    fn post_rx(&mut self, i: u16) -> Result<(), ()> {
        let q = &mut self.rx;
        let slot = q.avail() + 4 + 2 * u64::from(q.avail_idx % q.size);
        self.dma.mem.write(slot, &i.to_le_bytes()).map_err(drop)?;
        q.avail_idx = q.avail_idx.wrapping_add(1);
        self.dma.mem.store_release_u32(q.avail(), u32::from(q.avail_idx) << 16 | self.rx_flags).map_err(drop)?;
        self.rx_posted = true;
        Ok(())
    }

    /// The next used entry of `q`, if the device has returned one.
    fn take_used(mem: &SharedMemory, q: &mut Queue) -> Option<(u16, u32)> {
        let device_idx = (mem.load_acquire_u32(q.used()).ok()? >> 16) as u16;
        if device_idx == q.used_idx {
            return None;
        }
        let entry = q.used() + 4 + 8 * u64::from(q.used_idx % q.size);
        let id = mem.load_acquire_u32(entry).ok()? as u16;
        let len = mem.load_acquire_u32(entry + 4).ok()?;
        q.used_idx = q.used_idx.wrapping_add(1);
        Some((id % q.size, len))
    }

    /// Copies the next received frame (without the virtio header) into `buf`
    /// and recycles its buffer; returns its length.
    pub fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let (id, len) = Self::take_used(&self.dma.mem, &mut self.rx)?;
            let len = (len as usize).min(BUFFER as usize);
            let n = len.saturating_sub(NET_HEADER).min(buf.len());
            let at = RX_BUFFERS_AT + u64::from(id) * BUFFER + NET_HEADER as u64;
            let ok = self.dma.mem.read(at, &mut buf[..n]).is_ok();
            let _ = self.post_rx(id);
            if ok && len > NET_HEADER {
                return Some(n);
            }
        }
    }

    /// Frees transmit buffers the device has finished with.
    pub fn reclaim_tx(&mut self) {
        while Self::take_used(&self.dma.mem, &mut self.tx).is_some() {
            self.tx_in_flight = self.tx_in_flight.saturating_sub(1);
        }
    }

    /// Queues `frame` for transmission; `false` if every buffer is in flight.
    pub fn transmit(&mut self, frame: &[u8]) -> bool {
        self.reclaim_tx();
        if self.tx_in_flight == TX_BUFFERS || frame.len() + NET_HEADER > BUFFER as usize {
            return false;
        }
        let i = self.tx_next;
        self.tx_next = (self.tx_next + 1) % TX_BUFFERS;
        let buf = TX_BUFFERS_AT + u64::from(i) * BUFFER;
        let mem = &self.dma.mem;
        let ok = mem.write(buf, &[0u8; NET_HEADER]).is_ok()
            && mem.write(buf + NET_HEADER as u64, frame).is_ok()
            && self.set_desc(self.tx.desc(i), self.dma.paddr + buf, (NET_HEADER + frame.len()) as u32, 0).is_ok();
        if !ok {
            return false;
        }
        let q = &mut self.tx;
        let slot = q.avail() + 4 + 2 * u64::from(q.avail_idx % q.size);
        if mem.write(slot, &i.to_le_bytes()).is_err() {
            return false;
        }
        q.avail_idx = q.avail_idx.wrapping_add(1);
        if mem.store_release_u32(q.avail(), u32::from(q.avail_idx) << 16 | self.tx_flags).is_err() {
            return false;
        }
        self.tx_in_flight += 1;
        self.tx_posted = true;
        true
    }

    /// Tells the device about newly posted buffers.
    pub fn kick(&mut self) {
        fence(Ordering::SeqCst);
        if self.rx_posted {
            let _ = self.w(QUEUE_NOTIFY, 0);
            self.rx_posted = false;
        }
        if self.tx_posted {
            let _ = self.w(QUEUE_NOTIFY, 1);
            self.tx_posted = false;
        }
    }
}
