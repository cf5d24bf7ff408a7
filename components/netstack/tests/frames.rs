//! Frames in, answers out: well-formed requests get byte-exact answers,
//! malformed ones are dropped with the right reason, nothing panics.

use netstack::respond::{Action, Class, Drop, Host, MAX_FRAME, classify, respond};
use netstack::{build, checksum};
use proptest::prelude::*;

const HOST: Host = Host { mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], ip: [10, 0, 2, 15] };
const PEER_MAC: [u8; 6] = [0x52, 0x55, 10, 0, 2, 2];
const PEER_IP: [u8; 4] = [10, 0, 2, 2];

fn echo_app(port: u16, payload: &[u8], reply: &mut [u8]) -> Option<usize> {
    (port == 7).then(|| {
        reply[..payload.len()].copy_from_slice(payload);
        payload.len()
    })
}

fn ethernet(dst: [u8; 6], ethertype: u16, body: &[u8]) -> Vec<u8> {
    build::ethernet(dst, PEER_MAC, ethertype, body)
}

fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    build::ipv4(PEER_IP, HOST.ip, protocol, 0x1234, payload)
}

fn udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
    build::udp(PEER_IP, HOST.ip, 40000, dst_port, payload)
}

/// `cases` proptest cases, or `miri_cases` under Miri, which interprets every
/// case (a native case takes microseconds, an interpreted one up to seconds).
/// Miri runs with isolation: there no regression file is read or written.
fn cases(cases: u32, miri_cases: u32) -> ProptestConfig {
    if cfg!(miri) {
        ProptestConfig { cases: miri_cases, failure_persistence: None, ..ProptestConfig::default() }
    } else {
        ProptestConfig::with_cases(cases)
    }
}

fn answer(frame: &[u8]) -> Result<Vec<u8>, Drop> {
    let mut out = [0u8; MAX_FRAME];
    let Action::Reply(n) = respond(&HOST, frame, &mut out, &mut echo_app)?;
    Ok(out[..n].to_vec())
}

#[test]
fn answers_arp_for_our_address() {
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&PEER_MAC);
    arp.extend_from_slice(&PEER_IP);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&HOST.ip);
    let reply = answer(&ethernet([0xff; 6], 0x0806, &arp)).unwrap();
    assert_eq!(&reply[0..6], &PEER_MAC);
    assert_eq!(&reply[6..12], &HOST.mac);
    assert_eq!(&reply[20..22], &[0, 2], "an ARP reply");
    assert_eq!(&reply[22..28], &HOST.mac);
    assert_eq!(&reply[28..32], &HOST.ip);
    assert_eq!(&reply[32..38], &PEER_MAC);
    let mut other = arp.clone();
    other[24..28].copy_from_slice(&[10, 0, 2, 16]);
    assert_eq!(answer(&ethernet([0xff; 6], 0x0806, &other)), Err(Drop::NotForUs));
}

#[test]
fn echoes_icmp_with_a_valid_checksum() {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend_from_slice(b"ping payload");
    let sum = checksum::of(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let reply = answer(&ethernet(HOST.mac, 0x0800, &ipv4(1, &icmp))).unwrap();
    let ip = &reply[14..34];
    assert_eq!(checksum::of(ip), 0, "IP header checksum");
    assert_eq!(&ip[12..16], &HOST.ip);
    assert_eq!(&ip[16..20], &PEER_IP);
    let echo = &reply[34..];
    assert_eq!(echo[0], 0, "echo reply");
    assert_eq!(checksum::of(echo), 0, "ICMP checksum");
    assert_eq!(&echo[4..], &icmp[4..]);
}

#[test]
fn echoes_udp_on_port_7_byte_for_byte() {
    for size in [0usize, 1, 17, 512, 1472] {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
        let reply = answer(&ethernet(HOST.mac, 0x0800, &ipv4(17, &udp(7, &payload)))).unwrap();
        let udp = &reply[34..];
        assert_eq!(&udp[0..2], &7u16.to_be_bytes());
        assert_eq!(&udp[2..4], &40000u16.to_be_bytes());
        assert_eq!(&udp[8..], &payload[..]);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&HOST.ip);
        pseudo.extend_from_slice(&PEER_IP);
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(udp);
        assert_eq!(checksum::of(&pseudo), 0, "UDP checksum of a {size}-byte echo");
    }
    assert_eq!(answer(&ethernet(HOST.mac, 0x0800, &ipv4(17, &udp(9999, b"x")))), Err(Drop::ClosedPort));
}

#[test]
fn malformed_frames_are_dropped_for_the_right_reason() {
    let good = ethernet(HOST.mac, 0x0800, &ipv4(17, &udp(7, b"hello")));
    assert!(answer(&good).is_ok());
    assert_eq!(answer(&good[..10]), Err(Drop::Truncated));
    assert_eq!(answer(&good[..20]), Err(Drop::Truncated));
    let mut ihl = good.clone();
    ihl[14] = 0x44;
    assert_eq!(answer(&ihl), Err(Drop::BadIpHeader));
    let mut long = good.clone();
    long[16..18].copy_from_slice(&1000u16.to_be_bytes());
    assert_eq!(answer(&long), Err(Drop::BadIpLength));
    let mut sum = good.clone();
    sum[24] ^= 1;
    assert_eq!(answer(&sum), Err(Drop::BadIpChecksum));
    let mut udp_sum = good.clone();
    let last = udp_sum.len() - 1;
    udp_sum[last] ^= 0x55;
    assert_eq!(answer(&udp_sum), Err(Drop::BadUdpChecksum));
    let mut frag = ipv4(17, &udp(7, b"hello"));
    frag[6] = 0x20; // MF
    frag[10..12].copy_from_slice(&[0, 0]);
    let s = checksum::of(&frag[..20]);
    frag[10..12].copy_from_slice(&s.to_be_bytes());
    assert_eq!(answer(&ethernet(HOST.mac, 0x0800, &frag)), Err(Drop::Fragment));
    assert_eq!(answer(&ethernet([1, 2, 3, 4, 5, 6], 0x0800, &ipv4(17, &udp(7, b"x")))), Err(Drop::NotForUs));
    assert_eq!(answer(&ethernet(HOST.mac, 0x86dd, b"v6")), Err(Drop::UnknownEthertype));
    assert_eq!(answer(&vec![0u8; 2000]), Err(Drop::Oversized));
    assert_eq!(answer(&ethernet(HOST.mac, 0x0806, &[0, 1, 8, 0, 6, 4, 0, 9])), Err(Drop::Truncated));
}

#[test]
fn classify_names_what_respond_answers() {
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&PEER_MAC);
    arp.extend_from_slice(&PEER_IP);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&HOST.ip);
    assert_eq!(classify(&HOST, &ethernet([0xff; 6], 0x0806, &arp)), Ok(Class::Arp));
    let mut icmp = vec![8, 0, 0, 0, 0, 1, 0, 1];
    let sum = checksum::of(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(classify(&HOST, &ethernet(HOST.mac, 0x0800, &ipv4(1, &icmp))), Ok(Class::IcmpEcho));
    assert_eq!(classify(&HOST, &ethernet(HOST.mac, 0x0800, &ipv4(17, &udp(8, b"x")))), Ok(Class::Udp { port: 8 }));
}

/// Every port open: respond then fails exactly where classify does.
fn answer_all(frame: &[u8]) -> Result<(), Drop> {
    let mut out = [0u8; MAX_FRAME];
    let mut any = |_: u16, p: &[u8], r: &mut [u8]| {
        r[..p.len()].copy_from_slice(p);
        Some(p.len())
    };
    respond(&HOST, frame, &mut out, &mut any).map(drop)
}

proptest! {
    #![proptest_config(cases(5_000, 32))]

    #[test]
    fn classify_and_respond_agree(flips in proptest::collection::vec((0usize..60, any::<u8>()), 0..4)) {
        let mut f = ethernet(HOST.mac, 0x0800, &ipv4(17, &udp(7, b"agreement")));
        for (i, v) in flips {
            let n = f.len();
            f[i % n] = v;
        }
        prop_assert_eq!(classify(&HOST, &f).map(drop), answer_all(&f));
    }
}

proptest! {
    #![proptest_config(cases(20_000, 8))]

    #[test]
    fn random_bytes_never_panic(frame in proptest::collection::vec(any::<u8>(), 0..1600)) {
        let _ = answer(&frame);
    }
}

proptest! {
    #![proptest_config(cases(20_000, 32))]

    #[test]
    fn mutated_frames_never_panic(flips in proptest::collection::vec((0usize..60, any::<u8>()), 1..6), cut in 0usize..80) {
        let mut f = ethernet(HOST.mac, 0x0800, &ipv4(17, &udp(7, b"some payload bytes")));
        for (i, v) in flips {
            let n = f.len();
            f[i % n] = v;
        }
        f.truncate(f.len().saturating_sub(cut % 10));
        let _ = answer(&f);
    }
}
