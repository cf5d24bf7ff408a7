//! A path of the network pipeline: an active PD with its own budget that
//! handles one flow class. For each frame the driver queues it tunnels into
//! its filter pod instance, then answers with the application — echo, or
//! sealed echo through the encryption pod — and queues the answer back to
//! the driver. All of that runs on this path's budget.
//!
//! Channels: 0 the driver (notifications both ways; frames through the
//! `rxq_*` / `txq_*` regions), 1 the filter, 2 the encryption service
//! (sealed-echo path only, with a region lent on it). Filter and encryption
//! are reached by tunnel (pp to a passive pod) or by async queues (rings to
//! an active server), as the system description sets the channel up.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use demo_services::{CryptRequest, crypt};
use net_pods::{BATCH, GUEST_IP, Verdict, Verdicts, filter, tx_tag};
use netstack::respond::{Action, Echo, Host, MAX_FRAME, UdpApp, respond};
use tunnelkit_runtime::{Channel, ChannelSet, Handler, SharedMemory, protection_domain, region_setvars};
use tunnelkit_tunnel::{Connection, LentRegion, Window, frames};

const DRIVER: Channel = Channel::new(0);
const FILTER: Channel = Channel::new(1);
const CRYPT: Channel = Channel::new(2);
const ECHO_PORT: u16 = 7;
const SEALED_PORT: u16 = 8;
/// Nonce bytes at the start of a sealed-echo request.
const NONCE: usize = 12;

region_setvars!(
    /// Frames from the driver.
    static rxq_vaddr, rxq_size
);
region_setvars!(
    /// Answers to the driver.
    static txq_vaddr, txq_size
);

protection_domain!(init);

struct Path {
    rx: SharedMemory,
    tx: SharedMemory,
    filter: filter::Client<Connection>,
    apps: Apps,
    frame: [u8; MAX_FRAME],
    out: [u8; MAX_FRAME],
}

/// The applications this path may run.
struct Apps {
    sealer: Option<Sealer>,
}

/// Sealed echo through the encryption pod.
struct Sealer {
    pod: crypt::Client<Connection>,
    lent: LentRegion,
}

impl UdpApp for Apps {
    fn datagram(&mut self, port: u16, payload: &[u8], reply: &mut [u8]) -> Option<usize> {
        match port {
            ECHO_PORT => Echo { port: ECHO_PORT }.datagram(port, payload, reply),
            SEALED_PORT => self.sealer.as_mut()?.seal(payload, reply),
            _ => None,
        }
    }
}

impl Sealer {
    /// `nonce || plaintext` → `nonce || ChaCha20(key, nonce, 0)(plaintext)`.
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

fn init() -> Path {
    let rx = SharedMemory::from_setvars(&rxq_vaddr, &rxq_size).expect("the rxq region must be mapped");
    let tx = SharedMemory::from_setvars(&txq_vaddr, &txq_size).expect("the txq region must be mapped");
    for (name, q) in [("rxq", &rx), ("txq", &tx)] {
        if q.size() < frames::QUEUE_BYTES {
            panic!("the {name} region is {:#x} bytes; {} frame slots need {:#x}", q.size(), frames::SLOTS, frames::QUEUE_BYTES);
        }
    }
    // Tunnel or async queues, as the system description sets each channel up.
    let sealer = LentRegion::on(CRYPT).ok().and_then(|lent| Some(Sealer { pod: crypt::Client::connect(CRYPT).ok()?, lent }));
    let filter = filter::Client::connect(FILTER).unwrap_or_else(|e| panic!("filter channel: {e}"));
    // Tells the driver this path is up (it says `net: pipeline up` once every path has).
    let _ = DRIVER.notify();
    Path { rx, tx, filter, apps: Apps { sealer }, frame: [0; MAX_FRAME], out: [0; MAX_FRAME] }
}

impl Path {
    /// Handles every queued frame, a batch at a time: one filter call
    /// admits or refuses up to [`BATCH`] frames; returns whether anything
    /// was queued back.
    fn drain(&mut self) -> bool {
        let mut mac = [0u8; 6];
        frames::meta(&self.rx, &mut mac);
        let host = Host { mac, ip: GUEST_IP };
        let mut answered = false;
        loop {
            let mut batch = Verdicts::empty();
            while (batch.count as usize) < BATCH {
                let Some(tag) = frames::peek_tag(&self.rx, batch.count) else { break };
                batch.verdicts[batch.count as usize] = Verdict::from_tag(tag);
                batch.count += 1;
            }
            if batch.count == 0 {
                return answered;
            }
            // A failed filter call admits nothing.
            let admitted = self.filter.admit_batch(&batch).map(|a| a.allowed).unwrap_or(0);
            for i in 0..batch.count as usize {
                let Some((_, len)) = frames::pop(&self.rx, &mut self.frame) else { break };
                let (tag, n) = if admitted & 1 << i == 0 {
                    (tx_tag::FILTERED, 0)
                } else {
                    match respond(&host, &self.frame[..len], &mut self.out, &mut self.apps) {
                        Ok(Action::Reply(n)) => (tx_tag::FRAME, n),
                        Err(_) => (tx_tag::REFUSED, 0),
                    }
                };
                // The driver empties this queue whenever notified; if it is full, wait for it.
                while frames::push(&self.tx, tag, &self.out[..n]) == Err(frames::QueueError::Full) {
                    let _ = DRIVER.notify();
                    tunnelkit_runtime::wait_for(DRIVER);
                }
                answered = true;
            }
        }
    }
}

impl Handler for Path {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        if channels.contains(DRIVER) && self.drain() {
            let _ = DRIVER.notify();
        }
        Ok(())
    }
}
