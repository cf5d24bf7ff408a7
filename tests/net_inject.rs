//! Raw frames injected through `-netdev dgram` (needs MICROKIT_SDK), on both
//! boards (qemu_virt_aarch64: virtio-mmio; x86_64_generic: legacy
//! virtio-pci): the guest answers ARP, ICMP echo and UDP echo sent to it,
//! drops each kind of malformed frame and counts it under the right reason
//! (read back from the stats port), after a flood every buffer is free
//! again, and no PD faulted or panicked meanwhile.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netstack::{build, checksum};
use serde_json::Value;
use tunnelkit::board::Board;
use tunnelkit_tests::{qemu_lock, repo_root, say, sdk_or_skip};

const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
const GUEST_IP: [u8; 4] = [10, 0, 2, 15];
const ME_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const ME_IP: [u8; 4] = [10, 0, 2, 2];

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn eth(dst: [u8; 6], ethertype: u16, body: &[u8]) -> Vec<u8> {
    build::ethernet(dst, ME_MAC, ethertype, body)
}

fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    build::ipv4(ME_IP, GUEST_IP, protocol, 1, payload)
}

fn udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
    build::udp(ME_IP, GUEST_IP, 33333, dst_port, payload)
}

fn udp_frame(port: u16, payload: &[u8]) -> Vec<u8> {
    eth(GUEST_MAC, 0x0800, &ipv4(17, &udp(port, payload)))
}

struct Guest {
    child: Child,
    socket: UdpSocket,
    qemu_port: u16,
    /// The run's console and messages (stdout and stderr).
    log: PathBuf,
}

impl Guest {
    fn boot(test: &str, board: Board, system: &str) -> Guest {
        let (mine, qemu) = (free_port(), free_port());
        let socket = UdpSocket::bind(("127.0.0.1", mine)).unwrap();
        let netdev = format!(
            "dgram,local.type=inet,local.host=127.0.0.1,local.port={qemu},remote.type=inet,remote.host=127.0.0.1,remote.port={mine}"
        );
        let (log, file) = tunnelkit_tests::console_file(test);
        let child = tunnelkit_tests::spawn_group(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .current_dir(repo_root())
                .args(["run", "-q", "-p", "tunnelkit", "--", "run", "--net", "--board", board.name(), "--system", system])
                .args(["--netdev", &netdev, "--timeout", "300"])
                .env_remove("RUSTFLAGS")
                .stdin(Stdio::null())
                .stdout(file.try_clone().unwrap())
                .stderr(file),
        );
        Guest { child, socket, qemu_port: qemu, log }
    }

    /// What the run printed so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn send(&self, frame: &[u8]) {
        self.socket.send_to(frame, ("127.0.0.1", self.qemu_port)).unwrap();
    }

    /// The next frame from the guest, if one arrives within `wait`.
    fn receive(&self, wait: Duration) -> Option<Vec<u8>> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 4096];
        let (n, _) = self.socket.recv_from(&mut buf).ok()?;
        buf.truncate(n);
        Some(buf)
    }

    /// Sends `frame` until an answer of its EtherType comes (the guest may
    /// still be booting). Frames of another type are left out: answers to
    /// earlier repeats of an ARP request (the guest answers each) may still
    /// be on their way when the next exchange starts.
    fn exchange(&self, frame: &[u8], attempts: usize) -> Option<Vec<u8>> {
        for _ in 0..attempts {
            self.send(frame);
            let until = Instant::now() + Duration::from_millis(500);
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                match self.receive(left.max(Duration::from_millis(1))) {
                    Some(f) if f.len() >= 14 && f[12..14] == frame[12..14] => return Some(f),
                    Some(_) => {}
                    None => break,
                }
            }
        }
        None
    }

    fn stats(&self) -> Value {
        let reply = self.exchange(&udp_frame(9, b"stats?"), 10).expect("the stats port answers");
        serde_json::from_slice(&reply[42..]).expect("stats are one JSON object")
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        tunnelkit_tests::kill_group(&mut self.child);
        let _ = std::fs::remove_file(&self.log);
    }
}

#[test]
fn injected_frames_are_answered_or_dropped_by_reason() {
    injected_frames("injected_frames_are_answered_or_dropped_by_reason", Board::QEMU_VIRT_AARCH64, false);
}

#[test]
fn injected_frames_through_the_async_pipeline() {
    injected_frames("injected_frames_through_the_async_pipeline", Board::QEMU_VIRT_AARCH64, true);
}

#[test]
fn injected_frames_are_answered_or_dropped_by_reason_on_x86_64_generic() {
    injected_frames("injected_frames_are_answered_or_dropped_by_reason_on_x86_64_generic", Board::X86_64_GENERIC, false);
}

#[test]
fn injected_frames_through_the_async_pipeline_on_x86_64_generic() {
    injected_frames("injected_frames_through_the_async_pipeline_on_x86_64_generic", Board::X86_64_GENERIC, true);
}

fn injected_frames(test: &str, board: Board, async_transport: bool) {
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let system = tunnelkit::net::system_file(board, async_transport).expect("the board has a network system");
    let built = tunnelkit_tests::tunnelkit(&["build", "--board", board.name(), "--system", system]);
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let mut guest = Guest::boot(test, board, system);

    // ARP for the guest's address: a reply with its MAC, retried while it boots.
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&ME_MAC);
    arp.extend_from_slice(&ME_IP);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&GUEST_IP);
    let start = Instant::now();
    let Some(reply) = guest.exchange(&eth([0xff; 6], 0x0806, &arp), 120) else {
        panic!("{test}: no ARP reply within a minute:\n{}", guest.log());
    };
    assert_eq!(&reply[0..6], &ME_MAC);
    assert_eq!(&reply[12..14], &[8, 6]);
    assert_eq!(&reply[20..22], &[0, 2]);
    assert_eq!(&reply[22..28], &GUEST_MAC);
    assert_eq!(&reply[28..32], &GUEST_IP);
    say(&format!("{test}: ARP answered after {:.1}s", start.elapsed().as_secs_f64()));
    // With a custom -netdev the tool cannot probe the guest; it says ready when the driver reports its pipeline up.
    let said = Instant::now();
    while !guest.log().contains("tunnelkit: net ready") && said.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = guest.log();
    assert!(log.contains("net: pipeline up"), "{test}: the driver never said 'net: pipeline up':\n{log}");
    assert!(log.contains("tunnelkit: net ready"), "{test}: with --netdev the tool never said 'tunnelkit: net ready':\n{log}");

    // ICMP echo (host-to-guest ICMP cannot pass user networking; here it is injected).
    let mut icmp = vec![8, 0, 0, 0, 0xbe, 0xef, 0, 7];
    icmp.extend_from_slice(b"tunnelkit ping");
    let sum = checksum::of(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let reply = guest.exchange(&eth(GUEST_MAC, 0x0800, &ipv4(1, &icmp)), 5).expect("no ICMP echo reply");
    assert_eq!(checksum::of(&reply[14..34]), 0, "IP header checksum");
    assert_eq!(reply[34], 0, "echo reply");
    assert_eq!(checksum::of(&reply[34..]), 0, "ICMP checksum");
    assert_eq!(&reply[38..], &icmp[4..]);

    // UDP echo.
    let reply = guest.exchange(&udp_frame(7, b"injected datagram"), 5).expect("no UDP echo");
    assert_eq!(&reply[42..], b"injected datagram");

    // Malformed frames, each with the reason it must be counted under.
    let good = udp_frame(7, b"payload!");
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    cases.push(("truncated", good[..30].to_vec()));
    let mut f = good.clone();
    f[14] = 0x44;
    cases.push(("bad_ip_header", f));
    let mut f = good.clone();
    f[16..18].copy_from_slice(&2000u16.to_be_bytes());
    cases.push(("bad_ip_length", f));
    let mut f = good.clone();
    f[22] ^= 0x10;
    cases.push(("bad_ip_checksum", f));
    let mut f = good.clone();
    let n = f.len();
    f[n - 1] ^= 0xff;
    cases.push(("bad_udp_checksum", f));
    let mut ip = ipv4(17, &udp(7, b"frag"));
    ip[6] = 0x20;
    ip[10..12].copy_from_slice(&[0, 0]);
    let sum = checksum::of(&ip[..20]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    cases.push(("fragment", eth(GUEST_MAC, 0x0800, &ip)));
    cases.push(("oversized", udp_frame(7, &[0u8; 1600])));
    cases.push((
        "bad_arp",
        eth([0xff; 6], 0x0806, &[0, 1, 8, 0, 6, 4, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]),
    ));
    cases.push(("unknown_ethertype", eth(GUEST_MAC, 0x86dd, &[0u8; 40])));
    cases.push(("closed_port", udp_frame(4444, b"nobody")));
    let before = guest.stats();
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for (reason, frame) in &cases {
        for _ in 0..3 {
            guest.send(frame);
            *expected.entry(reason).or_default() += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(guest.receive(Duration::from_millis(500)).is_none(), "a malformed frame was answered");
    let after = guest.stats();
    for (reason, n) in &expected {
        let got = after["drops"][reason].as_u64().unwrap() - before["drops"][reason].as_u64().unwrap();
        assert_eq!(got, *n, "drops[{reason}]: {after}");
    }

    // A flood through the echo path (driver, classifier, path queues, filter,
    // answers): afterwards every buffer and queue slot is free again.
    let flood = udp_frame(7, b"flood");
    for _ in 0..100_000 {
        guest.send(&flood);
    }
    std::thread::sleep(Duration::from_secs(2));
    while guest.receive(Duration::from_millis(200)).is_some() {}
    let stats = guest.stats();
    assert_eq!(stats["free_buffers"], stats["total_buffers"], "{stats}");
    // No PD faulted or panicked (either would also have ended the run).
    let log = guest.log();
    assert!(guest.child.try_wait().unwrap().is_none(), "{test}: tunnelkit run ended:\n{log}");
    for bad in ["MON|ERROR", "panicked"] {
        assert!(!log.contains(bad), "{test}: '{bad}' on the console:\n{log}");
    }
    let irq = match board {
        Board::X86_64_GENERIC => match tunnelkit_tests::assert_nic_irq_matches_sdf(test, &log, system) {
            Some(line) => format!(", IRQ line {line} = the SDF's pin"),
            None => ", IRQ line unreadable on the interleaved console".to_string(),
        },
        _ => String::new(),
    };
    let delivered = stats["rx"].as_u64().unwrap() - after["rx"].as_u64().unwrap();
    assert!(stats["completed"]["echo"].as_u64().unwrap() > after["completed"]["echo"].as_u64().unwrap(), "the flood was echoed: {stats}");
    say(&format!(
        "{test}: 10 malformed kinds counted exactly; flood of 100000 frames: {delivered} reached the guest (QEMU drops the rest), all {} buffers free, no PD fault ({system}{irq})",
        stats["total_buffers"]
    ));
}
