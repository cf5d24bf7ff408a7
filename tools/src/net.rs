//! `tunnelkit run --net`: QEMU networking for the network system, and the
//! readiness probe that tells when the pipeline answers.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::board::Board;

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
    let device = match board {
        Board::QemuVirtAarch64 => "virtio-net-device,netdev=net0".to_string(),
        Board::X86_64Generic => format!("virtio-net-pci,netdev=net0,disable-modern=on,addr={X86_NIC_SLOT:02x}.0"),
    };
    let mut args: Vec<String> = Vec::new();
    if board == Board::QemuVirtAarch64 {
        args.extend(["-global".into(), "virtio-mmio.force-legacy=false".into()]);
    }
    args.extend(["-netdev".into(), format!("{netdev},id=net0"), "-device".into(), device]);
    args
}

/// The network system on `board`: the tunnel pipeline, or with
/// `async_transport` the async one (net.xml / net-async.xml on
/// qemu_virt_aarch64, net.x86_64_generic.xml / net-async.x86_64_generic.xml
/// on x86_64_generic). Relative to the repository root.
pub fn system_file(board: Board, async_transport: bool) -> &'static str {
    match (board, async_transport) {
        (Board::QemuVirtAarch64, false) => "net.xml",
        (Board::QemuVirtAarch64, true) => "net-async.xml",
        (Board::X86_64Generic, false) => "net.x86_64_generic.xml",
        (Board::X86_64Generic, true) => "net-async.x86_64_generic.xml",
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

/// Probes the UDP echo port in the background until it answers (or `limit`
/// passes); prints `tunnelkit: net ready` and how to reach the system, and
/// sets the returned flag.
pub fn probe_until_ready(limit: Duration) -> Arc<AtomicBool> {
    let ready = Arc::new(AtomicBool::new(false));
    let flag = ready.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if exchange(FORWARDS[0].0, b"tunnelkit readiness probe", Duration::from_millis(300))
                .is_ok_and(|a| a == b"tunnelkit readiness probe")
            {
                flag.store(true, Ordering::SeqCst);
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
    ready
}
