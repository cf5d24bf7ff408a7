//! `tunnelkit run --net`: QEMU networking for the network system, and the
//! readiness probe that tells when the pipeline answers.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::board::{Arch, Board};

/// The guest's address (QEMU user networking's default).
pub const GUEST_IP: &str = "10.0.2.15";
/// Host ports forwarded to the guest (loopback only): (host port, guest port, what).
pub const FORWARDS: [(u16, u16, &str); 3] = [(5007, 7, "UDP echo"), (5008, 8, "sealed echo"), (5009, 9, "stats (JSON)")];

/// The default `-netdev` spec without `id=`: user networking with the forwards.
pub fn default_netdev() -> String {
    let mut spec = String::from("user");
    for (host, guest, _) in FORWARDS {
        spec.push_str(&format!(",hostfwd=udp:127.0.0.1:{host}-{GUEST_IP}:{guest}"));
    }
    spec
}

/// The PCI slot of the NIC on x86_64_generic (i440fx `pc`): fixed, so that
/// the IRQ line the firmware routes its INTA# to (11) is known in advance and
/// the x86 network systems name the matching IOAPIC pin.
pub const X86_NIC_SLOT: u8 = 3;

/// QEMU arguments adding the virtio-net device the driver expects on `board`,
/// on `netdev` (a spec without `id=`; tunnelkit adds it): on
/// qemu_virt_aarch64 a modern virtio-mmio device, on x86_64_generic a legacy
/// virtio-pci device (I/O BAR, INTx) at slot [`X86_NIC_SLOT`].
pub fn qemu_args(board: Board, netdev: &str) -> Vec<String> {
    let device = match board.arch() {
        Arch::Aarch64 | Arch::Riscv64 => "virtio-net-device,netdev=net0".to_string(),
        Arch::X86_64 => format!("virtio-net-pci,netdev=net0,disable-modern=on,addr={X86_NIC_SLOT:02x}.0"),
    };
    let mut args: Vec<String> = Vec::new();
    if board.arch() != Arch::X86_64 {
        args.extend(["-global".into(), "virtio-mmio.force-legacy=false".into()]);
    }
    args.extend(["-netdev".into(), format!("{netdev},id=net0"), "-device".into(), device]);
    args
}

/// The network system on `board`: the tunnel pipeline, or with
/// `async_transport` the async one (net.xml / net-async.xml on
/// qemu_virt_aarch64, net.<board>.xml / net-async.<board>.xml on the
/// others). Relative to the repository root. `None` for a board without
/// one: every board but the three built-in ones, whose NICs tunnelkit does
/// not drive.
pub fn system_file(board: Board, async_transport: bool) -> Option<&'static str> {
    match (board, async_transport) {
        (Board::QEMU_VIRT_AARCH64, false) => Some("net.xml"),
        (Board::QEMU_VIRT_AARCH64, true) => Some("net-async.xml"),
        (Board::X86_64_GENERIC, false) => Some("net.x86_64_generic.xml"),
        (Board::X86_64_GENERIC, true) => Some("net-async.x86_64_generic.xml"),
        (Board::QEMU_VIRT_RISCV64, false) => Some("net.qemu_virt_riscv64.xml"),
        (Board::QEMU_VIRT_RISCV64, true) => Some("net-async.qemu_virt_riscv64.xml"),
        _ => None,
    }
}

/// Sends `payload` to 127.0.0.1:`port` and waits up to `wait` for an answer.
pub fn exchange(port: u16, payload: &[u8], wait: Duration) -> std::io::Result<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(wait))?;
    socket.send_to(payload, ("127.0.0.1", port))?;
    let mut buf = vec![0u8; 65536];
    let (n, _) = socket.recv_from(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Fails if something already answers on the UDP echo port (an earlier QEMU
/// still running would take the host-forwarded ports).
pub fn ensure_echo_port_free() -> anyhow::Result<()> {
    if exchange(FORWARDS[0].0, b"anyone?", Duration::from_millis(300)).is_ok() {
        anyhow::bail!("something already answers on 127.0.0.1:{} (an earlier QEMU?); stop it first", FORWARDS[0].0);
    }
    Ok(())
}

/// The console line the NIC driver prints once every path of the pipeline
/// has started.
pub const PIPELINE_UP: &str = "net: pipeline up";

/// When `run --net` is ready: the guest printed [`PIPELINE_UP`] and, with
/// the default user netdev, 127.0.0.1:5007 answers. Then it prints
/// `tunnelkit: net ready` (and, with user networking, the forwards).
#[derive(Debug)]
pub struct Readiness {
    /// Also wait for the echo port to answer (user networking's forwards).
    probe: bool,
    deadline: Instant,
    pipeline_up: bool,
    ready: Arc<AtomicBool>,
}

impl Readiness {
    /// `probe`: the default user netdev, whose forwards can be probed from the host.
    pub fn new(probe: bool, timeout: Duration) -> Self {
        Readiness { probe, deadline: Instant::now() + timeout, pipeline_up: false, ready: Arc::new(AtomicBool::new(false)) }
    }

    /// Shows one console line; on the first [`PIPELINE_UP`] line either
    /// reports readiness (custom netdev) or starts probing the echo port in
    /// the background and reports readiness when it answers.
    pub fn line(&mut self, line: &str) {
        if self.pipeline_up || !line.contains(PIPELINE_UP) {
            return;
        }
        self.pipeline_up = true;
        if !self.probe {
            self.ready.store(true, Ordering::SeqCst);
            eprintln!("tunnelkit: net ready");
            eprintln!("tunnelkit:   custom -netdev: the guest is {GUEST_IP}/24 (no host forwards)");
            return;
        }
        let (ready, deadline) = (self.ready.clone(), self.deadline);
        std::thread::spawn(move || {
            while Instant::now() < deadline {
                if exchange(FORWARDS[0].0, b"tunnelkit readiness probe", Duration::from_millis(300))
                    .is_ok_and(|a| a == b"tunnelkit readiness probe")
                {
                    ready.store(true, Ordering::SeqCst);
                    eprintln!("tunnelkit: net ready");
                    for (host, guest, what) in FORWARDS {
                        eprintln!(
                            "tunnelkit:   {what}: udp 127.0.0.1:{host} -> {GUEST_IP}:{guest}  (e.g. `echo hi | nc -u -w1 127.0.0.1 {host}`)"
                        );
                    }
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
    }

    /// Whether `tunnelkit: net ready` was printed.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Why the system never became ready within `timeout` (`None` if it did).
    pub fn failure(&self, timeout: Duration) -> Option<String> {
        let secs = timeout.as_secs();
        if self.is_ready() {
            None
        } else if !self.pipeline_up {
            Some(format!(
                "the network system never reported its pipeline up: no console line '{PIPELINE_UP}' within {secs}s \
                 (the NIC driver prints it once every path has started)"
            ))
        } else {
            Some(format!("the guest printed '{PIPELINE_UP}', but 127.0.0.1:{} never answered within {secs}s", FORWARDS[0].0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_board_gets_its_nic_and_its_network_systems() {
        let arm = qemu_args(Board::QEMU_VIRT_AARCH64, "user");
        assert_eq!(
            arm,
            ["-global", "virtio-mmio.force-legacy=false", "-netdev", "user,id=net0", "-device", "virtio-net-device,netdev=net0"]
        );
        let x86 = qemu_args(Board::X86_64_GENERIC, "dgram,local.type=inet");
        assert_eq!(x86, ["-netdev", "dgram,local.type=inet,id=net0", "-device", "virtio-net-pci,netdev=net0,disable-modern=on,addr=03.0"]);
        assert_eq!(
            (system_file(Board::QEMU_VIRT_AARCH64, false), system_file(Board::QEMU_VIRT_AARCH64, true)),
            (Some("net.xml"), Some("net-async.xml"))
        );
        assert_eq!(
            (system_file(Board::X86_64_GENERIC, false), system_file(Board::X86_64_GENERIC, true)),
            (Some("net.x86_64_generic.xml"), Some("net-async.x86_64_generic.xml"))
        );
        assert_eq!(system_file(Board::QEMU_VIRT_RISCV64, false), Some("net.qemu_virt_riscv64.xml"));
        // The x86 systems name the IOAPIC pin of the slot's IRQ line (SeaBIOS: slot 3 INTA# -> PIRQC -> 11).
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for b in Board::BUILT_IN {
            for a in [false, true] {
                let Some(file) = system_file(b, a) else { continue };
                let text = std::fs::read_to_string(root.join(file)).unwrap();
                let x86 = b == Board::X86_64_GENERIC;
                assert_eq!(text.contains(r#"<irq id="0" pin="11" trigger="level" polarity="high""#), x86, "{file}");
                assert_eq!(text.contains(r#"setvar_addr="virtio_port""#), x86, "{file}");
                assert_eq!(text.contains(r#"setvar_vaddr="mmio_vaddr""#), !x86, "{file}");
            }
        }
    }

    /// The x86 and RISC-V network systems mirror the AArch64 ones: the same text once
    /// the header comment, the NIC's device parts (virtio-mmio region and
    /// map, I/O ports, IRQ) and the DMA region's fixed address are left out.
    #[test]
    fn the_x86_network_systems_mirror_the_aarch64_ones() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let common = |file: &str| -> String {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let body = &text[text.find("-->").expect("a header comment") + 3..];
            body.lines()
                .filter(|l| !["virtio_mmio", "<ioport", "<irq "].iter().any(|device| l.contains(device)))
                .map(|l| {
                    if l.contains(r#"<memory_region name="net_dma""#) { l.replace(r#" phys_addr="0x30000000""#, "") } else { l.to_string() }
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        for a in [false, true] {
            let arm = system_file(Board::QEMU_VIRT_AARCH64, a).unwrap();
            for other in [Board::X86_64_GENERIC, Board::QEMU_VIRT_RISCV64] {
                let other = system_file(other, a).unwrap();
                assert_eq!(common(arm), common(other), "{other} must mirror {arm} except for the NIC's device parts");
            }
        }
    }

    #[test]
    fn a_custom_netdev_is_ready_on_the_pipeline_line_alone() {
        let mut r = Readiness::new(false, Duration::from_secs(5));
        r.line("virtio-net: slot 31 mac 52:54:00:12:34:56 ip 10.0.2.15");
        assert!(!r.is_ready());
        let why = r.failure(Duration::from_secs(5)).unwrap();
        assert!(why.contains("no console line 'net: pipeline up' within 5s"), "{why}");
        r.line("net: pipeline up (3 paths)\r");
        assert!(r.is_ready());
        assert_eq!(r.failure(Duration::from_secs(5)), None);
    }

    #[test]
    fn user_networking_also_needs_the_echo_port_to_answer() {
        // Nothing answers on a port no QEMU forwards within this short deadline.
        let mut r = Readiness::new(true, Duration::from_millis(50));
        r.line("net: pipeline up");
        std::thread::sleep(Duration::from_millis(100));
        if !r.is_ready() {
            let why = r.failure(Duration::from_millis(50)).unwrap();
            assert!(why.contains("printed 'net: pipeline up', but 127.0.0.1:5007 never answered"), "{why}");
        }
    }
}
