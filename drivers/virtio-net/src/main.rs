//! NIC driver PD for QEMU's virtio-net (virtio-mmio, modern interface) on
//! the AArch64 virt machine: IRQ-driven, with the virtqueues and packet
//! buffers in a DMA region, answering ARP, ICMP echo, UDP echo (port 7),
//! sealed echo (port 8: the payload encrypted by the encryption pod, through
//! a tunnel on this PD's budget) and stats (port 9) through `netstack`.
//! (The per-flow pod pipeline behind the driver is the next step.)
//!
//! The system description maps the virtio-mmio window (`mmio_vaddr`,
//! `mmio_size`, uncached), the DMA region (`dma_vaddr`, `dma_size`; its
//! physical address in `dma_paddr` through `<setvar region_paddr>`), and the
//! device's IRQ as `<irq id="0">`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod virtio;

use core::convert::Infallible;

use demo_services::{CryptRequest, crypt};
use netstack::respond::{Action, Drop, Host, MAX_FRAME, respond};
use tunnelkit_runtime::{Channel, ChannelSet, DeviceMemory, Handler, SharedMemory, debug_println, protection_domain, setvar};
use tunnelkit_tunnel::{LentRegion, Pp, Window};
use virtio::{Device, Dma};

setvar!(
    /// Virtual address of the virtio-mmio window (32 transports of 0x200 bytes).
    static mmio_vaddr
);
setvar!(
    /// Size of the window.
    static mmio_size
);
setvar!(
    /// Virtual address of the DMA region.
    static dma_vaddr
);
setvar!(
    /// Size of the DMA region.
    static dma_size
);
setvar!(
    /// Physical address of the DMA region.
    static dma_paddr
);

/// The device's interrupt (SDF `<irq id="0">`).
const IRQ: Channel = Channel::new(0);
/// The guest address (QEMU user networking's default for the guest).
const GUEST_IP: [u8; 4] = [10, 0, 2, 15];
/// The UDP echo port.
const ECHO_PORT: u16 = 7;
/// The sealed-echo port: `nonce (12 bytes) || plaintext` comes back as
/// `nonce || ChaCha20(key, nonce, counter 0)(plaintext)`.
const SEALED_PORT: u16 = 8;
/// The stats port: any datagram gets one JSON object of counters back.
const STATS_PORT: u16 = 9;
/// The encryption pod; the region lent on this channel carries the payload.
const CRYPT: Channel = Channel::new(1);
/// Nonce bytes at the start of a sealed-echo request.
const NONCE: usize = 12;

protection_domain!(init);

struct Driver {
    device: Device,
    host: Host,
    counters: Counters,
    sealer: Option<Sealer>,
}

fn init() -> Driver {
    let mmio = DeviceMemory::from_setvars(&mmio_vaddr, &mmio_size).expect("the virtio-mmio window must be mapped");
    let dma = SharedMemory::from_setvars(&dma_vaddr, &dma_size).expect("the DMA region must be mapped");
    let dma = Dma::new(dma, dma_paddr.get());
    let device = match Device::probe_and_start(mmio, dma) {
        Ok(d) => d,
        Err(e) => panic!("virtio-net: {e}"),
    };
    let mac = device.mac();
    debug_println!(
        "virtio-net: slot {} mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} ip 10.0.2.15",
        device.slot(),
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5]
    );
    let counters = Counters {
        rx: 0,
        tx: 0,
        drops: [0; Drop::ALL.len()],
        free_buffers: 0,
        total_buffers: 0,
        echo: 0,
        sealed: 0,
        sealed_errors: 0,
        stats: 0,
    };
    // Sealed echo only where the system description connects the encryption pod.
    let sealer =
        LentRegion::on(CRYPT).ok().filter(|_| CRYPT.check_callable().is_ok()).map(|lent| Sealer { pod: crypt::Client::on(CRYPT), lent });
    Driver { device, host: Host { mac, ip: GUEST_IP }, counters, sealer }
}

/// Counters reported on the stats port.
#[derive(Clone, Copy)]
struct Counters {
    rx: u64,
    tx: u64,
    drops: [u64; Drop::ALL.len()],
    free_buffers: u16,
    total_buffers: u16,
    echo: u64,
    sealed: u64,
    sealed_errors: u64,
    stats: u64,
}

/// The applications behind the driver: UDP echo, sealed echo and stats.
struct Apps<'a> {
    counters: &'a mut Counters,
    sealer: &'a mut Option<Sealer>,
}

/// Sealed echo: the encryption pod, reached by a tunnel, with the region
/// lent to it.
struct Sealer {
    pod: crypt::Client<Pp>,
    lent: LentRegion,
}

impl Sealer {
    /// Writes `nonce || ciphertext` of `request` (= `nonce || plaintext`) into `reply`.
    fn seal(&mut self, request: &[u8], reply: &mut [u8]) -> Option<usize> {
        if request.len() < NONCE || request.len() > reply.len() || (request.len() - NONCE) as u64 > self.lent.size() {
            return None;
        }
        let (nonce, plaintext) = request.split_at(NONCE);
        let window = Window::new(0, plaintext.len() as u32);
        self.lent.write(window, 0, plaintext).ok()?;
        let nonce: [u8; NONCE] = nonce.try_into().ok()?;
        self.pod.encrypt(&CryptRequest { window, nonce, reserved: 0 }).ok()?;
        reply[..NONCE].copy_from_slice(&nonce);
        self.lent.read(window, 0, &mut reply[NONCE..request.len()]).ok()?;
        Some(request.len())
    }
}

impl netstack::respond::UdpApp for Apps<'_> {
    fn datagram(&mut self, port: u16, payload: &[u8], reply: &mut [u8]) -> Option<usize> {
        match port {
            ECHO_PORT if payload.len() <= reply.len() => {
                reply[..payload.len()].copy_from_slice(payload);
                self.counters.echo += 1;
                Some(payload.len())
            }
            SEALED_PORT => {
                let sealed = self.sealer.as_mut().and_then(|s| s.seal(payload, reply));
                match sealed {
                    Some(_) => self.counters.sealed += 1,
                    None => self.counters.sealed_errors += 1,
                }
                sealed
            }
            STATS_PORT => {
                self.counters.stats += 1;
                Some(stats_json(self.counters, reply))
            }
            _ => None,
        }
    }
}

/// Writes the counters as one JSON object; returns its length.
fn stats_json(c: &Counters, out: &mut [u8]) -> usize {
    use core::fmt::Write;
    let mut w = SliceWriter { buf: out, len: 0 };
    let _ = write!(w, "{{\"rx\":{},\"tx\":{},\"drops\":{{", c.rx, c.tx);
    for (i, d) in Drop::ALL.iter().enumerate() {
        let _ = write!(w, "{}\"{}\":{}", if i == 0 { "" } else { "," }, d.name(), c.drops[i]);
    }
    let _ = write!(
        w,
        "}},\"free_buffers\":{},\"total_buffers\":{},\"completed\":{{\"echo\":{},\"sealed\":{},\"stats\":{}}},\"sealed_errors\":{}}}",
        c.free_buffers, c.total_buffers, c.echo, c.sealed, c.stats, c.sealed_errors
    );
    w.len
}

/// `fmt::Write` into a byte slice, truncating when full.
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl Driver {
    /// Answers every received frame, then gives the buffers back to the device.
    fn poll(&mut self) {
        let mut frame = [0u8; MAX_FRAME + 16];
        let mut out = [0u8; MAX_FRAME];
        self.device.reclaim_tx();
        while let Some(len) = self.device.receive(&mut frame) {
            self.counters.rx += 1;
            (self.counters.free_buffers, self.counters.total_buffers) = self.device.buffers();
            match respond(&self.host, &frame[..len], &mut out, &mut Apps { counters: &mut self.counters, sealer: &mut self.sealer }) {
                Ok(Action::Reply(n)) => {
                    if self.device.transmit(&out[..n]) {
                        self.counters.tx += 1;
                    }
                }
                Err(reason) => self.counters.drops[reason.index()] += 1,
            }
        }
        self.device.kick();
    }
}

impl Handler for Driver {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        if channels.contains(IRQ) {
            self.device.acknowledge_interrupt();
            self.poll();
            let _ = IRQ.irq_ack();
        }
        Ok(())
    }
}
