//! A virtio-net device with one receive and one transmit split virtqueue in
//! the DMA region, behind one of two transports, chosen at run time from
//! what the system description gives the driver:
//!
//! * [`mmio`]: virtio-mmio, modern interface (version 2), on QEMU's AArch64
//!   virt machine: a mapped window of transports;
//! * [`pci`]: legacy virtio-pci over x86 I/O ports (QEMU's i440fx `pc`):
//!   the PCI configuration ports and the port range of the device's BAR0.
//!
//! The device logic (queues, buffers, receive and transmit) is shared; a
//! transport only starts the device, notifies it, acknowledges its
//! interrupt and reads its MAC.
//!
//! DMA layout (offsets): receive queue at 0x0000 and transmit queue at
//! 0x3000, each with room for a ring of [`MAX_RING`] entries (descriptors,
//! then the available ring, the used ring at the next 4 KiB); 128 receive
//! buffers from 0x6000 and 64 transmit buffers after them, 2 KiB each.
//!
//! Interrupts are switched NAPI style: the driver asks for a receive
//! interrupt on the next frame when it is idle and for none while it is busy
//! (VIRTIO_RING_F_EVENT_IDX's used_event, else the no-interrupt flag); a
//! transmit interrupt only when something waits for a transmit buffer.

mod mmio;
mod pci;
mod queue;

use core::fmt;
use core::sync::atomic::{Ordering, fence};

use tunnelkit_runtime::{DeviceMemory, SharedMemory};

use queue::{DESC_F_WRITE, Queue, Rings};

/// Receive buffers the driver posts (descriptors `0..RX_BUFFERS`).
const RX_BUFFERS: u16 = 128;
/// Transmit buffers (descriptors `0..TX_BUFFERS`).
const TX_BUFFERS: u16 = 64;
/// VIRTIO_RING_F_EVENT_IDX (feature bit 29).
const FEATURE_EVENT_IDX: u32 = 1 << 29;
/// VIRTQ_AVAIL_F_NO_INTERRUPT.
const AVAIL_NO_INTERRUPT: u16 = 1;
/// The largest ring the DMA layout has room for (QEMU's legacy virtio-net
/// queues have 256 entries).
pub const MAX_RING: u16 = 256;
/// Bytes per packet buffer.
const BUFFER: u64 = 2048;
const RX_QUEUE_AT: u64 = 0;
const TX_QUEUE_AT: u64 = RX_QUEUE_AT + queue::bytes(MAX_RING);
const RX_BUFFERS_AT: u64 = TX_QUEUE_AT + queue::bytes(MAX_RING);
const TX_BUFFERS_AT: u64 = RX_BUFFERS_AT + RX_BUFFERS as u64 * BUFFER;
/// DMA bytes the layout needs.
pub const DMA_BYTES: u64 = TX_BUFFERS_AT + TX_BUFFERS as u64 * BUFFER;
const RX_QUEUE: u16 = 0;
const TX_QUEUE: u16 = 1;

const STATUS_ACKNOWLEDGE: u32 = 1;
const STATUS_DRIVER: u32 = 2;
const STATUS_DRIVER_OK: u32 = 4;
const STATUS_FEATURES_OK: u32 = 8;

pub use pci::PciError;

/// Why the device could not be found or started.
#[derive(Clone, Copy, Debug)]
pub enum StartError {
    /// The system description gives no transport, or parts of two: what is wrong.
    Sdf(&'static str),
    /// A port setvar holds no 16-bit port: (setvar, value).
    PortSetvar(&'static str, u64),
    /// No device where the transport looked.
    NotFound(&'static str),
    /// The device rejected our feature set.
    FeaturesRejected,
    /// A queue is smaller than the buffers the driver posts (virtio-mmio).
    QueueTooSmall(u32),
    /// The DMA region is smaller than the layout.
    DmaTooSmall(u64),
    /// A register or DMA access fell outside its mapping.
    Access,
    /// The legacy virtio-pci transport failed.
    Pci(PciError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Sdf(what) => write!(f, "{what}"),
            StartError::PortSetvar(name, v) => write!(f, "setvar {name} = {v:#x} is not an I/O port (0x1..=0xffff)"),
            StartError::NotFound(what) => write!(f, "{what}"),
            StartError::FeaturesRejected => write!(f, "the device rejected VERSION_1 + MAC"),
            StartError::QueueTooSmall(n) => write!(f, "queue size {n} < {RX_BUFFERS} receive / {TX_BUFFERS} transmit buffers"),
            StartError::DmaTooSmall(n) => write!(f, "DMA region of {n:#x} bytes, need {DMA_BYTES:#x}"),
            StartError::Access => write!(f, "register or DMA access out of bounds"),
            StartError::Pci(e) => write!(f, "{e}"),
        }
    }
}

/// Where the system description puts the device.
pub enum Location {
    /// A mapped virtio-mmio window (`setvar_vaddr="mmio_vaddr"`).
    Mmio(DeviceMemory),
    /// Legacy virtio-pci: PCI configuration through `<ioport id="0">` at
    /// 0xcf8, the device's I/O BAR0 at the base of `<ioport id="1">`.
    Pci {
        /// Base of the device's port range (`setvar_addr="virtio_port"`).
        device_port: u16,
    },
}

impl Location {
    /// The transport the SDF describes: the virtio-mmio window if it maps
    /// one (`mmio`), else the PCI port ranges (the `setvar_addr` values
    /// `pci_config_port` and `virtio_port`, 0 when absent); exactly one.
    pub fn from_sdf(mmio: Option<DeviceMemory>, pci_config_port: u64, virtio_port: u64) -> Result<Location, StartError> {
        match (mmio, pci_config_port, virtio_port) {
            (Some(regs), 0, 0) => Ok(Location::Mmio(regs)),
            (Some(_), _, _) => Err(StartError::Sdf(
                "the SDF maps a virtio-mmio window (mmio_vaddr) and gives PCI I/O ports (pci_config_port, virtio_port): give one transport",
            )),
            (None, 0, 0) => Err(StartError::Sdf(
                "the SDF gives no device: map the virtio-mmio window (setvar_vaddr=\"mmio_vaddr\", setvar_size=\"mmio_size\"), or give \
                 <ioport id=\"0\" addr=\"0xcf8\" size=\"8\" setvar_addr=\"pci_config_port\"> and <ioport id=\"1\" addr=… size=\"32\" \
                 setvar_addr=\"virtio_port\"> for legacy virtio-pci",
            )),
            (None, 0, _) => Err(StartError::Sdf(
                "the SDF gives virtio_port but no PCI configuration ports: add <ioport id=\"0\" addr=\"0xcf8\" size=\"8\" setvar_addr=\"pci_config_port\">",
            )),
            (None, _, 0) => Err(StartError::Sdf(
                "the SDF gives pci_config_port but no device ports: add <ioport id=\"1\" addr=… size=\"32\" setvar_addr=\"virtio_port\">",
            )),
            (None, config, device) => {
                if config != u64::from(pci::CONFIG_ADDRESS) {
                    return Err(StartError::Sdf(
                        "PCI configuration mechanism #1 is at port 0xcf8: the SDF's <ioport id=\"0\" setvar_addr=\"pci_config_port\"> must have addr=\"0xcf8\" size=\"8\"",
                    ));
                }
                let device_port = u16::try_from(device).map_err(|_| StartError::PortSetvar("virtio_port", device))?;
                Ok(Location::Pci { device_port })
            }
        }
    }
}

/// What a transport does for the shared device logic.
trait Transport {
    /// Resets the device and negotiates features (MAC, EVENT_IDX if offered;
    /// VERSION_1 where the transport needs it), leaving the status at DRIVER
    /// (+ FEATURES_OK). Returns whether EVENT_IDX was negotiated.
    fn negotiate(&mut self) -> Result<bool, StartError>;
    /// Selects queue `index` and returns its ring size: the device's choice
    /// (legacy) or `wanted` (modern). At least `wanted`, at most [`MAX_RING`].
    fn queue_size(&mut self, index: u16, wanted: u16) -> Result<u16, StartError>;
    /// Tells the device where queue `index`'s rings are and enables it.
    fn enable_queue(&mut self, index: u16, rings: Rings) -> Result<(), StartError>;
    /// Sets DRIVER_OK: the device may use the queues.
    fn driver_ok(&mut self) -> Result<(), StartError>;
    /// Tells the device that queue `index` has new available buffers.
    fn notify(&self, index: u16);
    /// Clears the device's interrupt status (before the IRQ is acknowledged).
    fn acknowledge_interrupt(&self);
    /// The MAC address from the device configuration.
    fn mac(&self) -> [u8; 6];
    /// Bytes of the virtio-net header before every frame.
    fn net_header(&self) -> usize;
    /// Where the device sits: virtio-mmio transport slot or PCI device number.
    fn slot(&self) -> u64;
}

/// The transport in use.
enum Bus {
    Mmio(mmio::Mmio),
    Pci(pci::LegacyPci),
}

impl Bus {
    fn get(&self) -> &dyn Transport {
        match self {
            Bus::Mmio(t) => t,
            Bus::Pci(t) => t,
        }
    }

    fn get_mut(&mut self) -> &mut dyn Transport {
        match self {
            Bus::Mmio(t) => t,
            Bus::Pci(t) => t,
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

/// A started virtio-net device.
pub struct Device {
    bus: Bus,
    dma: Dma,
    rx: Queue,
    tx: Queue,
    /// Bytes of the virtio-net header (12 modern, 10 legacy).
    header: usize,
    tx_next: u16,
    tx_in_flight: u16,
    rx_posted: bool,
    tx_posted: bool,
    /// VIRTIO_RING_F_EVENT_IDX was negotiated.
    event_idx: bool,
}

/// When the device should next interrupt for received frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxWakeup {
    /// On the next frame (the driver is idle).
    NextFrame,
    /// Not at all: the driver is busy and polls when a path it fed
    /// notifies; a ring that fills meanwhile drops in the device, which costs
    /// the guest nothing.
    Off,
}

impl Device {
    /// Finds the virtio-net device where `location` says, negotiates
    /// features, sets up both queues and fills the receive queue.
    pub fn probe_and_start(location: Location, dma: Dma) -> Result<Device, StartError> {
        if dma.mem.size() < DMA_BYTES {
            return Err(StartError::DmaTooSmall(dma.mem.size()));
        }
        let bus = match location {
            Location::Mmio(regs) => Bus::Mmio(mmio::Mmio::probe(regs)?),
            Location::Pci { device_port } => Bus::Pci(pci::LegacyPci::probe(device_port).map_err(StartError::Pci)?),
        };
        let header = bus.get().net_header();
        let mut d = Device {
            bus,
            dma,
            rx: Queue::new(RX_QUEUE_AT, RX_BUFFERS),
            tx: Queue::new(TX_QUEUE_AT, TX_BUFFERS),
            header,
            tx_next: 0,
            tx_in_flight: 0,
            rx_posted: false,
            tx_posted: false,
            event_idx: false,
        };
        d.start()?;
        Ok(d)
    }

    fn start(&mut self) -> Result<(), StartError> {
        let t = self.bus.get_mut();
        let event_idx = t.negotiate()?;
        for (index, at, buffers) in [(RX_QUEUE, RX_QUEUE_AT, RX_BUFFERS), (TX_QUEUE, TX_QUEUE_AT, TX_BUFFERS)] {
            let queue = Queue::new(at, t.queue_size(index, buffers)?);
            t.enable_queue(index, queue.rings(self.dma.paddr))?;
            if index == RX_QUEUE {
                self.rx = queue;
            } else {
                self.tx = queue;
            }
        }
        self.event_idx = event_idx;
        for i in 0..RX_BUFFERS {
            let addr = self.dma.paddr + RX_BUFFERS_AT + u64::from(i) * BUFFER;
            self.rx.set_desc(&self.dma.mem, i, addr, BUFFER as u32, DESC_F_WRITE).map_err(|_| StartError::Access)?;
            self.rx.push(&self.dma.mem, i).map_err(|_| StartError::Access)?;
        }
        self.rx_posted = true;
        self.set_rx_wakeup(RxWakeup::NextFrame);
        self.set_tx_wakeup(false);
        self.bus.get_mut().driver_ok()?;
        self.kick();
        Ok(())
    }

    /// Where the device sits: the virtio-mmio transport slot (IRQ = GIC
    /// INTID 48 + slot on QEMU virt) or the PCI device number on bus 0.
    pub fn slot(&self) -> u64 {
        self.bus.get().slot()
    }

    /// The MAC address from the device configuration.
    pub fn mac(&self) -> [u8; 6] {
        self.bus.get().mac()
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
        self.rx.has_used(&self.dma.mem)
    }

    /// Whether VIRTIO_RING_F_EVENT_IDX moderates interrupts (else the
    /// no-interrupt flag switches them on and off).
    pub fn moderates_interrupts(&self) -> bool {
        self.event_idx
    }

    /// Sets when the device next interrupts for received frames. Check
    /// [`rx_pending`](Self::rx_pending) afterwards: a frame may have arrived
    /// before the device saw the change.
    pub fn set_rx_wakeup(&mut self, wakeup: RxWakeup) {
        let _ = if self.event_idx {
            // An event index just behind the consumed one is not reached again until the index wraps.
            let ahead = match wakeup {
                RxWakeup::NextFrame => 0,
                RxWakeup::Off => u16::MAX,
            };
            self.rx.interrupt_after(&self.dma.mem, ahead)
        } else {
            self.rx.set_avail_flags(&self.dma.mem, if wakeup == RxWakeup::NextFrame { 0 } else { AVAIL_NO_INTERRUPT })
        };
        fence(Ordering::SeqCst);
    }

    /// Transmit buffers not in flight.
    pub fn tx_free(&mut self) -> u16 {
        self.reclaim_tx();
        TX_BUFFERS - self.tx_in_flight
    }

    /// Asks for an interrupt when the device completes a transmission
    /// (`true`: something waits for a transmit buffer), or for none.
    pub fn set_tx_wakeup(&mut self, on: bool) {
        let _ = if self.event_idx {
            // An event index just behind the consumed one is not reached again until the index wraps.
            self.tx.interrupt_after(&self.dma.mem, if on { 0 } else { u16::MAX })
        } else {
            self.tx.set_avail_flags(&self.dma.mem, if on { 0 } else { AVAIL_NO_INTERRUPT })
        };
        fence(Ordering::SeqCst);
    }

    /// Clears the interrupt the device raised (on a level-triggered line this
    /// lowers it: call it before acknowledging the IRQ).
    pub fn acknowledge_interrupt(&self) {
        self.bus.get().acknowledge_interrupt();
    }

    /// Copies the next received frame (without the virtio header) into `buf`
    /// and recycles its buffer; returns its length.
    pub fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let (id, len) = self.rx.pop_used(&self.dma.mem)?;
            if id >= RX_BUFFERS {
                // Not a descriptor the driver posted: nothing to recycle.
                continue;
            }
            let len = (len as usize).min(BUFFER as usize);
            let n = len.saturating_sub(self.header).min(buf.len());
            let at = RX_BUFFERS_AT + u64::from(id) * BUFFER + self.header as u64;
            let ok = self.dma.mem.read(at, &mut buf[..n]).is_ok();
            if self.rx.push(&self.dma.mem, id).is_ok() {
                self.rx_posted = true;
            }
            if ok && len > self.header {
                return Some(n);
            }
        }
    }

    /// Frees transmit buffers the device has finished with.
    pub fn reclaim_tx(&mut self) {
        while self.tx.pop_used(&self.dma.mem).is_some() {
            self.tx_in_flight = self.tx_in_flight.saturating_sub(1);
        }
    }

    /// Queues `frame` for transmission; `false` if every buffer is in flight.
    pub fn transmit(&mut self, frame: &[u8]) -> bool {
        self.reclaim_tx();
        if self.tx_in_flight == TX_BUFFERS || frame.len() + self.header > BUFFER as usize {
            return false;
        }
        let i = self.tx_next;
        self.tx_next = (self.tx_next + 1) % TX_BUFFERS;
        let buf = TX_BUFFERS_AT + u64::from(i) * BUFFER;
        let mem = &self.dma.mem;
        // An all-zero header: no checksum offload, no segmentation.
        let ok = mem.write(buf, &[0u8; 12][..self.header]).is_ok()
            && mem.write(buf + self.header as u64, frame).is_ok()
            && self.tx.set_desc(mem, i, self.dma.paddr + buf, (self.header + frame.len()) as u32, 0).is_ok()
            && self.tx.push(mem, i).is_ok();
        if !ok {
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
            self.bus.get().notify(RX_QUEUE);
            self.rx_posted = false;
        }
        if self.tx_posted {
            self.bus.get().notify(TX_QUEUE);
            self.tx_posted = false;
        }
    }
}
