//! Building well-formed frames (with correct lengths and checksums), for
//! tests, fuzzing and traffic generators on the host (feature
//! `frame-builder`, which needs `alloc`).

extern crate alloc;

use alloc::vec::Vec;

use crate::checksum;

/// An Ethernet II frame.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + body.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// An IPv4 datagram (no options, don't-fragment, TTL 64) with its header checksum.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], protocol: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = Vec::with_capacity(usize::from(total));
    h.extend_from_slice(&[0x45, 0]);
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&[0x40, 0, 64, protocol, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let sum = checksum::of(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// A UDP datagram with its checksum over the IPv4 pseudo header.
pub fn udp(src: [u8; 4], dst: [u8; 4], src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut d = Vec::with_capacity(usize::from(len));
    d.extend_from_slice(&src_port.to_be_bytes());
    d.extend_from_slice(&dst_port.to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    let mut sum = checksum::add(0, &src);
    sum = checksum::add(sum, &dst);
    sum += u32::from(crate::headers::PROTO_UDP) + u32::from(len);
    let sum = checksum::finish(checksum::add(sum, &d));
    d[6..8].copy_from_slice(&sum.to_be_bytes());
    d
}

/// An ICMP echo request with its checksum (`rest`: identifier and sequence).
pub fn icmp_echo(rest: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + payload.len());
    m.extend_from_slice(&[8, 0, 0, 0]);
    m.extend_from_slice(&rest);
    m.extend_from_slice(payload);
    let sum = checksum::of(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// An ARP request from (`sha`, `spa`) for `tpa`.
pub fn arp_request(sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut a = Vec::with_capacity(28);
    a.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&tpa);
    a
}
