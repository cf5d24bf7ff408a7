//! NIC driver PD for QEMU's virtio-net (virtio-mmio, modern interface) on
//! the AArch64 virt machine, and the head of the network pipeline:
//!
//! 1. IRQ → receive frames (virtqueues and buffers in a DMA region);
//! 2. tunnel into the classifier pod (on this PD's budget: the receive path);
//! 3. hand each frame to its flow class's path PD through a frame queue and a
//!    notification: ARP and ICMP to the control path, UDP 7 to the echo path,
//!    UDP 8 to the sealed-echo path; answer UDP 9 (stats) here;
//! 4. transmit what the paths queue back.
//!
//! Every drop is counted by reason; the stats port reports the counters.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod stats;
mod virtio;

use core::convert::Infallible;

use net_pods::{FrameRef, GUEST_IP, Verdict, classifier, tx_tag};
use netstack::respond::{Action, Drop, Host, MAX_FRAME, respond};
use stats::{Counters, StatsApp};
use tunnelkit_runtime::{
    Channel, ChannelSet, DeviceMemory, Handler, Patched, SharedMemory, debug_println, protection_domain, region_setvars, setvar,
};
use tunnelkit_tunnel::{Connection, LentRegion, Window, frames};
use virtio::{Device, Dma};

region_setvars!(
    /// Virtual address of the virtio-mmio window (32 transports of 0x200 bytes).
    static mmio_vaddr, mmio_size
);
region_setvars!(
    /// Virtual address of the DMA region.
    static dma_vaddr, dma_size
);
setvar!(
    /// Physical address of the DMA region.
    static dma_paddr
);
setvar!(
    /// x86 legacy virtio-pci: base of the PCI configuration ports
    /// (`<ioport id="0" addr="0xcf8" size="8" setvar_addr="pci_config_port">`).
    static pci_config_port
);
setvar!(
    /// x86 legacy virtio-pci: base of the device's I/O BAR0 range
    /// (`<ioport id="1" … setvar_addr="virtio_port">`).
    static virtio_port
);
setvar!(
    /// Frame queue to the control path.
    static to_control_vaddr
);
setvar!(
    /// Its size.
    static to_control_size
);
setvar!(
    /// Frame queue from the control path.
    static from_control_vaddr
);
setvar!(
    /// Its size.
    static from_control_size
);
setvar!(
    /// Frame queue to the echo path.
    static to_echo_vaddr
);
setvar!(
    /// Its size.
    static to_echo_size
);
setvar!(
    /// Frame queue from the echo path.
    static from_echo_vaddr
);
setvar!(
    /// Its size.
    static from_echo_size
);
setvar!(
    /// Frame queue to the sealed-echo path.
    static to_sealed_vaddr
);
setvar!(
    /// Its size.
    static to_sealed_size
);
setvar!(
    /// Frame queue from the sealed-echo path.
    static from_sealed_vaddr
);
setvar!(
    /// Its size.
    static from_sealed_size
);

/// The device's interrupt (SDF `<irq id="0">`).
const IRQ: Channel = Channel::new(0);
/// The classifier pod (pp; frames lent through the region on this channel).
const CLASSIFIER: Channel = Channel::new(2);
/// The stats port, answered by the driver.
const STATS_PORT: u16 = 9;

/// A flow class's path PD.
struct PathLink {
    channel: Channel,
    to: SharedMemory,
    from: SharedMemory,
    completed: u64,
    pending_notify: bool,
}

protection_domain!(init);

struct Driver {
    device: Device,
    host: Host,
    counters: Counters,
    classifier: classifier::Client<Connection>,
    staging: LentRegion,
    paths: [PathLink; 3],
    frame: [u8; MAX_FRAME + 16],
    out: [u8; MAX_FRAME],
}

/// A setvar pair: (vaddr, size).
type Region = (&'static Patched<u64>, &'static Patched<u64>);

fn link(name: &'static str, channel: u8, to: Region, from: Region) -> PathLink {
    let to = SharedMemory::from_setvars(to.0, to.1).unwrap_or_else(|| panic!("frame queue to the {name} path is not mapped"));
    let from = SharedMemory::from_setvars(from.0, from.1).unwrap_or_else(|| panic!("frame queue from the {name} path is not mapped"));
    PathLink { channel: Channel::new(channel), to, from, completed: 0, pending_notify: false }
}

fn init() -> Driver {
    // The transport is whatever the SDF gives: a virtio-mmio window or PCI I/O ports.
    let mmio = DeviceMemory::from_setvars(&mmio_vaddr, &mmio_size);
    let location = match virtio::Location::from_sdf(mmio, pci_config_port.get(), virtio_port.get()) {
        Ok(l) => l,
        Err(e) => panic!("virtio-net: {e}"),
    };
    let dma = SharedMemory::from_setvars(&dma_vaddr, &dma_size).expect("the DMA region must be mapped");
    let device = match Device::probe_and_start(location, Dma::new(dma, dma_paddr.get())) {
        Ok(d) => d,
        Err(e) => panic!("virtio-net: {e}"),
    };
    let mac = device.mac();
    let paths = [
        link("control", 3, (&to_control_vaddr, &to_control_size), (&from_control_vaddr, &from_control_size)),
        link("echo", 4, (&to_echo_vaddr, &to_echo_size), (&from_echo_vaddr, &from_echo_size)),
        link("sealed", 5, (&to_sealed_vaddr, &to_sealed_size), (&from_sealed_vaddr, &from_sealed_size)),
    ];
    for p in &paths {
        frames::set_meta(&p.to, &mac);
    }
    let staging = LentRegion::on(CLASSIFIER).unwrap_or_else(|e| panic!("classifier staging region: {e}"));
    debug_println!(
        "virtio-net: slot {} mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} ip 10.0.2.15, pipeline: classifier pod, paths control/echo/sealed",
        device.slot(),
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5]
    );
    Driver {
        device,
        host: Host { mac, ip: GUEST_IP },
        counters: Counters::default(),
        classifier: classifier::Client::connect(CLASSIFIER).unwrap_or_else(|e| panic!("classifier channel: {e}")),
        staging,
        paths,
        frame: [0; MAX_FRAME + 16],
        out: [0; MAX_FRAME],
    }
}

impl Driver {
    /// The path a classified frame goes to; `None` for local or closed ports.
    fn route(v: Verdict) -> Option<usize> {
        match (v.kind, v.port) {
            (Verdict::ARP, _) | (Verdict::ICMP, _) => Some(0),
            (Verdict::UDP, 7) => Some(1),
            (Verdict::UDP, 8) => Some(2),
            _ => None,
        }
    }

    /// Receives every frame, classifies it through the classifier pod and
    /// hands it to its path (or answers stats, or drops it).
    fn receive(&mut self) {
        while let Some(len) = self.device.receive(&mut self.frame) {
            self.counters.rx += 1;
            let frame = &self.frame[..len];
            let verdict = if len > MAX_FRAME {
                Verdict::of(Err(Drop::Oversized))
            } else {
                let window = Window::new(0, len as u32);
                match self.staging.write(window, 0, frame) {
                    Ok(()) => match self.classifier.classify(&FrameRef { window, mac: self.host.mac, reserved: [0; 2] }) {
                        Ok(v) => v,
                        Err(_) => {
                            self.counters.classifier_errors += 1;
                            continue;
                        }
                    },
                    Err(_) => Verdict::of(Err(Drop::Oversized)),
                }
            };
            if verdict.kind == Verdict::DROP {
                self.counters.drops[usize::from(verdict.reason).min(Drop::ALL.len() - 1)] += 1;
                continue;
            }
            match Self::route(verdict) {
                Some(i) => {
                    let p = &mut self.paths[i];
                    match frames::push(&p.to, verdict.tag(), frame) {
                        Ok(()) => p.pending_notify = true,
                        Err(_) => self.counters.queue_full += 1,
                    }
                }
                None if verdict.kind == Verdict::UDP && verdict.port == STATS_PORT => self.answer_stats(len),
                None => self.counters.drops[Drop::ClosedPort.index()] += 1,
            }
        }
        for p in &mut self.paths {
            if core::mem::take(&mut p.pending_notify) {
                let _ = p.channel.notify();
            }
        }
    }

    fn answer_stats(&mut self, len: usize) {
        self.counters.stats += 1;
        let completed = [self.paths[0].completed, self.paths[1].completed, self.paths[2].completed];
        // Buffers: the NIC's, plus every slot of the frame queues to and from the paths.
        let (mut free, mut total) = self.device.buffers();
        for p in &self.paths {
            for q in [&p.to, &p.from] {
                total += frames::SLOTS as u16;
                free += (frames::SLOTS - frames::len(q).min(frames::SLOTS)) as u16;
            }
        }
        let mut app = StatsApp { counters: &self.counters, buffers: (free, total), completed, port: STATS_PORT };
        if let Ok(Action::Reply(n)) = respond(&self.host, &self.frame[..len], &mut self.out, &mut app)
            && self.device.transmit(&self.out[..n])
        {
            self.counters.tx += 1;
        }
    }

    /// Transmits what the notified paths queued back.
    fn transmit_from(&mut self, channels: ChannelSet) {
        for i in 0..self.paths.len() {
            if !channels.contains(self.paths[i].channel) {
                continue;
            }
            let mut drained = false;
            while let Some((tag, n)) = frames::pop(&self.paths[i].from, &mut self.out) {
                drained = true;
                match tag {
                    tx_tag::FRAME => {
                        if self.device.transmit(&self.out[..n]) {
                            self.counters.tx += 1;
                            self.paths[i].completed += 1;
                        } else {
                            self.counters.tx_full += 1;
                        }
                    }
                    tx_tag::FILTERED => self.counters.filtered += 1,
                    _ => self.counters.refused += 1,
                }
            }
            // A path blocked on a full queue waits for this.
            if drained {
                let _ = self.paths[i].channel.notify();
            }
        }
    }
}

impl Handler for Driver {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        if channels.contains(IRQ) {
            self.device.acknowledge_interrupt();
            self.device.reclaim_tx();
            self.receive();
            let _ = IRQ.irq_ack();
        }
        self.transmit_from(channels);
        self.device.kick();
        Ok(())
    }
}
