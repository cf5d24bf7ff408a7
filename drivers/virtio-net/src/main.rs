//! NIC driver PD for QEMU's virtio-net — virtio-mmio (modern interface) on
//! the AArch64 virt machine, legacy virtio-pci over I/O ports on x86_64 (the
//! transport is whatever the system description gives; see [`virtio`]) —
//! and the head of the network pipeline:
//!
//! 1. IRQ → receive frames (virtqueues and buffers in a DMA region);
//! 2. steer each frame by a glance at its headers and drop it at once if its
//!    path's queue is full (early drop, counted against that path);
//! 3. tunnel into the classifier pod (on this PD's budget: the receive path);
//! 4. hand each frame to its flow class's path PD through a frame queue and a
//!    notification: ARP and ICMP to the control path, UDP 7 to the echo path,
//!    UDP 8 to the sealed-echo path; answer UDP 9 (stats) here;
//! 5. transmit what the paths queue back.
//!
//! No receive livelock: each round transmits first, then takes at most
//! [`RX_QUOTA`] frames. While a path holds frames (it will notify when it
//! answers) the driver polls on those notifications with the receive
//! interrupt off; when every path is idle and the ring is empty, the next
//! frame interrupts again (NAPI).
//!
//! Without a classifier channel and path queues the driver is the *floor*
//! configuration: it answers ARP, ICMP echo, UDP echo (7) and stats (9)
//! itself, with the same receive loop, as the baseline the pipeline is
//! measured against.
//!
//! Every drop is counted by reason; the stats port reports the counters.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod stats;
mod virtio;

use core::convert::Infallible;

use net_pods::{BATCH, FrameBatch, GUEST_IP, Verdict, classifier, tx_tag};
use netstack::respond::{Action, Drop, Echo, Host, MAX_FRAME, respond};
use netstack::steer::{Flow, steer};
use stats::{Counters, PathCounters, StatsApp};
use tunnelkit_runtime::{
    Channel, ChannelSet, DeviceMemory, Handler, Patched, SharedMemory, debug_println, protection_domain, region_setvars, setvar,
};
use tunnelkit_tunnel::{Connection, LentRegion, Window, frames};
use virtio::{Device, Dma, RxWakeup};

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
/// The UDP echo port (answered here in the floor configuration).
const ECHO_PORT: u16 = 7;
/// The stats port, answered by the driver.
const STATS_PORT: u16 = 9;
/// Frames taken from the receive ring per round before transmit work again.
const RX_QUOTA: usize = 64;
/// Transmit buffers kept for the driver's own answers (stats), so that a
/// flood answered by a path cannot crowd them out.
const TX_RESERVED: u16 = 4;
/// Path names, in channel order (3, 4, 5).
const PATH_NAMES: [&str; 3] = ["control", "echo", "sealed"];

/// A flow class's path PD.
struct PathLink {
    channel: Channel,
    to: SharedMemory,
    from: SharedMemory,
    counters: PathCounters,
    pending_notify: bool,
    /// The path has notified at least once (its init is done).
    up: bool,
}

/// The pipeline behind the driver.
struct Pipeline {
    classifier: classifier::Client<Connection>,
    staging: LentRegion,
    paths: [PathLink; 3],
    /// `net: pipeline up` has been printed.
    announced: bool,
}

/// What answers the frames: the pipeline, or the driver itself (floor).
// One per PD, built once and never moved: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Mode {
    Pipeline(Pipeline),
    Floor,
}

protection_domain!(init);

struct Driver {
    device: Device,
    host: Host,
    counters: Counters,
    mode: Mode,
    frame: [u8; MAX_FRAME + 16],
    out: [u8; MAX_FRAME],
}

/// A setvar pair: (vaddr, size).
type Region = (&'static Patched<u64>, &'static Patched<u64>);

fn link(name: &'static str, channel: u8, to: Region, from: Region) -> PathLink {
    let to = SharedMemory::from_setvars(to.0, to.1).unwrap_or_else(|| panic!("frame queue to the {name} path is not mapped"));
    let from = SharedMemory::from_setvars(from.0, from.1).unwrap_or_else(|| panic!("frame queue from the {name} path is not mapped"));
    for (dir, q) in [("to", &to), ("from", &from)] {
        if q.size() < frames::QUEUE_BYTES {
            panic!("frame queue {dir} the {name} path is {:#x} bytes; {} slots need {:#x}", q.size(), frames::SLOTS, frames::QUEUE_BYTES);
        }
    }
    PathLink { channel: Channel::new(channel), to, from, counters: PathCounters::default(), pending_notify: false, up: false }
}

/// The pipeline, if the system description gives the driver one: a classifier
/// channel or any path queue. `None` (neither): the floor configuration.
fn pipeline(mac: &[u8; 6]) -> Option<Pipeline> {
    let queues = [&to_control_vaddr, &from_control_vaddr, &to_echo_vaddr, &from_echo_vaddr, &to_sealed_vaddr, &from_sealed_vaddr];
    let classifier = classifier::Client::connect(CLASSIFIER);
    if classifier.is_err() && queues.iter().all(|q| q.get() == 0) {
        return None;
    }
    let classifier = classifier.unwrap_or_else(|e| panic!("classifier channel: {e}"));
    let paths = [
        link("control", 3, (&to_control_vaddr, &to_control_size), (&from_control_vaddr, &from_control_size)),
        link("echo", 4, (&to_echo_vaddr, &to_echo_size), (&from_echo_vaddr, &from_echo_size)),
        link("sealed", 5, (&to_sealed_vaddr, &to_sealed_size), (&from_sealed_vaddr, &from_sealed_size)),
    ];
    for p in &paths {
        frames::set_meta(&p.to, mac);
    }
    let staging = LentRegion::on(CLASSIFIER).unwrap_or_else(|e| panic!("classifier staging region: {e}"));
    Some(Pipeline { classifier, staging, paths, announced: false })
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
    let mode = match pipeline(&mac) {
        Some(p) => Mode::Pipeline(p),
        None => Mode::Floor,
    };
    debug_println!(
        "virtio-net: slot {} mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} ip 10.0.2.15, {} receive buffers, interrupts moderated by {}, {}",
        device.slot(),
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        device.rx_buffers(),
        if device.moderates_interrupts() { "event index" } else { "the no-interrupt flag" },
        match mode {
            Mode::Pipeline(_) => "pipeline: classifier pod, paths control/echo/sealed",
            Mode::Floor => "floor: the driver answers ARP, ICMP echo, UDP echo (7) and stats (9) itself",
        }
    );
    if matches!(mode, Mode::Floor) {
        debug_println!("net: pipeline up (floor)");
    }
    Driver {
        device,
        host: Host { mac, ip: GUEST_IP },
        counters: Counters::default(),
        mode,
        frame: [0; MAX_FRAME + 16],
        out: [0; MAX_FRAME],
    }
}

/// The path a steered frame would go to.
fn path_of(flow: Flow) -> Option<usize> {
    match flow {
        Flow::Control => Some(0),
        Flow::Udp(7) => Some(1),
        Flow::Udp(8) => Some(2),
        Flow::Udp(_) => None,
    }
}

/// The path a classified frame goes to (as [`path_of`] its flow); `None`
/// for local or closed ports and drops.
fn route(v: Verdict) -> Option<usize> {
    match v.kind {
        Verdict::ARP | Verdict::ICMP => path_of(Flow::Control),
        Verdict::UDP => path_of(Flow::Udp(v.port)),
        _ => None,
    }
}

impl Driver {
    /// Takes at most `quota` frames from the receive ring; returns how many.
    fn receive(&mut self, quota: usize) -> usize {
        let taken = match self.mode {
            Mode::Pipeline(_) => self.receive_batches(quota),
            Mode::Floor => self.receive_locally(quota),
        };
        if let Mode::Pipeline(p) = &mut self.mode {
            for path in &mut p.paths {
                if core::mem::take(&mut path.pending_notify) {
                    let _ = path.channel.notify();
                }
            }
        }
        taken
    }

    /// Floor configuration: answers each frame here, while a transmit buffer
    /// is free for the answer (otherwise the frame waits in the ring).
    fn receive_locally(&mut self, quota: usize) -> usize {
        let mut taken = 0;
        while taken < quota {
            if self.device.tx_free() == 0 {
                // As in transmit_all: arm, then look again.
                self.device.set_tx_wakeup(true);
                if self.device.tx_free() == 0 {
                    break;
                }
            }
            let Some(len) = self.device.receive(&mut self.frame) else { break };
            taken += 1;
            self.counters.rx += 1;
            if len > MAX_FRAME {
                self.counters.drops[Drop::Oversized.index()] += 1;
                continue;
            }
            self.answer_locally(len);
        }
        taken
    }

    /// Pipeline: takes frames in batches of up to [`BATCH`]: each frame whose
    /// path has no room is dropped at a glance (early drop, charged to that
    /// path), the others are copied into the staging region; one classifier
    /// call classifies the batch; then each goes to its path.
    fn receive_batches(&mut self, quota: usize) -> usize {
        let mut taken = 0;
        while taken < quota {
            let Mode::Pipeline(p) = &mut self.mode else { return taken };
            let mut batch =
                FrameBatch { count: 0, reserved: 0, mac: self.host.mac, reserved_mac: [0; 2], windows: [Window::default(); BATCH] };
            // Frames this batch already gives each path.
            let mut claimed = [0u32; 3];
            let mut offset = 0u64;
            let mut ring_empty = false;
            while (batch.count as usize) < BATCH && taken < quota && offset + MAX_FRAME as u64 <= p.staging.size() {
                let Some(len) = self.device.receive(&mut self.frame) else {
                    ring_empty = true;
                    break;
                };
                taken += 1;
                self.counters.rx += 1;
                if len > MAX_FRAME {
                    self.counters.drops[Drop::Oversized.index()] += 1;
                    continue;
                }
                let frame = &self.frame[..len];
                // Early drop: a frame whose path has no room costs a glance at its headers, not a classification.
                if let Some(i) = steer(frame).and_then(path_of) {
                    let path = &mut p.paths[i];
                    if frames::len(&path.to) + claimed[i] >= frames::SLOTS {
                        path.counters.dropped_early += 1;
                        self.counters.queue_full += 1;
                        continue;
                    }
                    claimed[i] += 1;
                }
                let window = Window::new(offset as u32, len as u32);
                if p.staging.write(window, 0, frame).is_err() {
                    self.counters.drops[Drop::Oversized.index()] += 1;
                    continue;
                }
                batch.windows[batch.count as usize] = window;
                batch.count += 1;
                offset += (len as u64).next_multiple_of(8);
            }
            if batch.count > 0 {
                self.deliver(&batch);
            }
            if ring_empty {
                break;
            }
        }
        taken
    }

    /// Classifies a staged batch and hands each frame to its path (or
    /// answers stats, or drops it by reason).
    fn deliver(&mut self, batch: &FrameBatch) {
        let Mode::Pipeline(p) = &mut self.mode else { return };
        let verdicts = match p.classifier.classify_batch(batch) {
            Ok(v) if v.count == batch.count => v,
            _ => {
                self.counters.classifier_errors += u64::from(batch.count);
                return;
            }
        };
        for (window, &verdict) in batch.windows.iter().zip(&verdicts.verdicts).take(batch.count as usize) {
            let Mode::Pipeline(p) = &mut self.mode else { return };
            let len = window.len as usize;
            if verdict.kind == Verdict::DROP {
                self.counters.drops[usize::from(verdict.reason).min(Drop::ALL.len() - 1)] += 1;
                continue;
            }
            if p.staging.read(*window, 0, &mut self.frame[..len]).is_err() {
                self.counters.drops[Drop::Oversized.index()] += 1;
                continue;
            }
            match route(verdict) {
                Some(i) => {
                    let path = &mut p.paths[i];
                    match frames::push(&path.to, verdict.tag(), &self.frame[..len]) {
                        Ok(()) => {
                            path.pending_notify = true;
                            path.counters.delivered += 1;
                        }
                        Err(_) => {
                            path.counters.dropped_full += 1;
                            self.counters.queue_full += 1;
                        }
                    }
                }
                None if verdict.kind == Verdict::UDP && verdict.port == STATS_PORT => self.answer_stats(len),
                None => self.counters.drops[Drop::ClosedPort.index()] += 1,
            }
        }
    }

    /// (free, total) buffers: the NIC's, plus every slot of the frame queues to and from the paths.
    fn buffers(&mut self) -> (u16, u16) {
        let (mut free, mut total) = self.device.buffers();
        if let Mode::Pipeline(p) = &self.mode {
            for path in &p.paths {
                for q in [&path.to, &path.from] {
                    total += frames::SLOTS as u16;
                    free += (frames::SLOTS - frames::len(q).min(frames::SLOTS)) as u16;
                }
            }
        }
        (free, total)
    }

    fn path_counters(&self) -> [PathCounters; 3] {
        match &self.mode {
            Mode::Pipeline(p) => [p.paths[0].counters, p.paths[1].counters, p.paths[2].counters],
            Mode::Floor => [PathCounters::default(); 3],
        }
    }

    /// Answers the stats request in `self.frame[..len]`.
    fn answer_stats(&mut self, len: usize) {
        self.counters.stats += 1;
        let buffers = self.buffers();
        let paths = self.path_counters();
        let mut app = StatsApp { counters: &self.counters, buffers, paths, port: STATS_PORT, cpu: tunnelkit_runtime::account::summary() };
        let answer = respond(&self.host, &self.frame[..len], &mut self.out, &mut app);
        self.send_answer(answer);
    }

    /// Floor configuration: answers the frame here (stats, or ARP, ICMP
    /// echo and UDP echo); the counters are gathered only for stats.
    fn answer_locally(&mut self, len: usize) {
        if steer(&self.frame[..len]) == Some(Flow::Udp(STATS_PORT)) {
            return self.answer_stats(len);
        }
        let answer = respond(&self.host, &self.frame[..len], &mut self.out, &mut Echo { port: ECHO_PORT });
        self.send_answer(answer);
    }

    /// Transmits the answer the driver made itself, or counts why there is none.
    fn send_answer(&mut self, answer: Result<Action, Drop>) {
        match answer {
            Ok(Action::Reply(n)) if self.device.transmit(&self.out[..n]) => self.counters.tx += 1,
            Ok(Action::Reply(_)) => self.counters.tx_full += 1,
            Err(d) => self.counters.drops[d.index()] += 1,
        }
    }

    /// Transmits what the paths queued back, as far as transmit buffers
    /// allow; answers that find none wait in their queue (back-pressure to
    /// the path, whose own queue then fills and frames for it are dropped
    /// early), and the driver asks the device to interrupt when one frees.
    fn transmit_all(&mut self) {
        loop {
            if !self.transmit_round() {
                self.device.set_tx_wakeup(false);
                return;
            }
            // Ask for an interrupt when a buffer frees, then look again: one
            // may have freed before the device saw the request.
            self.device.set_tx_wakeup(true);
            if self.device.tx_free() <= TX_RESERVED {
                return;
            }
        }
    }

    /// One pass over the paths' answer queues; whether answers still wait
    /// for a transmit buffer.
    fn transmit_round(&mut self) -> bool {
        let Mode::Pipeline(p) = &mut self.mode else { return false };
        let mut waiting = false;
        for path in &mut p.paths {
            let mut drained = false;
            loop {
                if frames::len(&path.from) == 0 {
                    break;
                }
                if self.device.tx_free() <= TX_RESERVED {
                    waiting = true;
                    break;
                }
                let Some((tag, n)) = frames::pop(&path.from, &mut self.out) else { break };
                drained = true;
                match tag {
                    tx_tag::FRAME => {
                        if self.device.transmit(&self.out[..n]) {
                            self.counters.tx += 1;
                            path.counters.completed += 1;
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
                let _ = path.channel.notify();
            }
        }
        waiting
    }

    /// Whether some path holds frames: it will notify when it has answered,
    /// so the driver need not be interrupted for every frame meanwhile.
    fn paths_busy(&self) -> bool {
        match &self.mode {
            Mode::Pipeline(p) => p.paths.iter().any(|path| frames::len(&path.to) > 0),
            Mode::Floor => false,
        }
    }

    /// Notes the paths that have notified (their init is done) and says
    /// `net: pipeline up` once every path has.
    fn note_paths_up(&mut self, channels: ChannelSet) {
        let Mode::Pipeline(p) = &mut self.mode else { return };
        if p.announced {
            return;
        }
        for path in &mut p.paths {
            path.up |= channels.contains(path.channel);
        }
        if p.paths.iter().all(|path| path.up) {
            p.announced = true;
            debug_println!("net: pipeline up (paths {}, {}, {})", PATH_NAMES[0], PATH_NAMES[1], PATH_NAMES[2]);
        }
    }

    /// Rounds of transmit-then-receive until the ring is empty or a path is
    /// busy; then sets how the device should wake the driver.
    fn poll(&mut self) {
        loop {
            self.device.reclaim_tx();
            self.transmit_all();
            let taken = self.receive(RX_QUOTA);
            self.device.kick();
            if self.paths_busy() {
                // A path will notify when it answers, and the driver polls then;
                // meanwhile no receive interrupt (frames beyond the ring drop in the device, for free).
                self.device.set_rx_wakeup(RxWakeup::Off);
                break;
            }
            if taken == RX_QUOTA {
                continue;
            }
            // Idle: interrupt on the next frame, unless one slipped in meanwhile.
            self.device.set_rx_wakeup(RxWakeup::NextFrame);
            if !self.device.rx_pending() {
                break;
            }
        }
    }
}

impl Handler for Driver {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        if channels.contains(IRQ) {
            self.device.acknowledge_interrupt();
        }
        self.note_paths_up(channels);
        self.poll();
        if channels.contains(IRQ) {
            let _ = IRQ.irq_ack();
        }
        Ok(())
    }
}
