//! Answering frames addressed to this host: ARP requests, ICMP echo
//! requests, and UDP datagrams handed to an application callback.

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, IntoBytes};

use crate::checksum;
use crate::headers::{Arp, ETHERTYPE_ARP, ETHERTYPE_IPV4, Ethernet, Icmp, Ipv4, PROTO_ICMP, PROTO_UDP, Udp};

/// Largest Ethernet frame handled (1500-byte MTU plus the 14-byte header).
pub const MAX_FRAME: usize = 1514;

/// This host's addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Host {
    /// MAC address.
    pub mac: [u8; 6],
    /// IPv4 address.
    pub ip: [u8; 4],
}

/// Why a frame was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Drop {
    /// Shorter than the headers it claims.
    Truncated,
    /// Larger than [`MAX_FRAME`].
    Oversized,
    /// Not addressed to this host (MAC or IP).
    NotForUs,
    /// Neither IPv4 nor ARP.
    UnknownEthertype,
    /// Malformed ARP, or not a request for our address.
    BadArp,
    /// IP version ≠ 4 or header length < 5 words.
    BadIpHeader,
    /// IP total length beyond the frame or below the header.
    BadIpLength,
    /// IP header checksum wrong.
    BadIpChecksum,
    /// A fragment (MF set or non-zero offset): not reassembled.
    Fragment,
    /// Neither ICMP nor UDP.
    UnknownProtocol,
    /// Not an echo request, or malformed.
    BadIcmp,
    /// ICMP checksum wrong.
    BadIcmpChecksum,
    /// UDP length beyond the datagram or below the header.
    BadUdpLength,
    /// UDP checksum wrong.
    BadUdpChecksum,
    /// No application on the UDP port.
    ClosedPort,
}

impl Drop {
    /// Every reason, for counters.
    pub const ALL: [Drop; 15] = [
        Drop::Truncated,
        Drop::Oversized,
        Drop::NotForUs,
        Drop::UnknownEthertype,
        Drop::BadArp,
        Drop::BadIpHeader,
        Drop::BadIpLength,
        Drop::BadIpChecksum,
        Drop::Fragment,
        Drop::UnknownProtocol,
        Drop::BadIcmp,
        Drop::BadIcmpChecksum,
        Drop::BadUdpLength,
        Drop::BadUdpChecksum,
        Drop::ClosedPort,
    ];

    /// A short name for counters.
    pub fn name(self) -> &'static str {
        match self {
            Drop::Truncated => "truncated",
            Drop::Oversized => "oversized",
            Drop::NotForUs => "not_for_us",
            Drop::UnknownEthertype => "unknown_ethertype",
            Drop::BadArp => "bad_arp",
            Drop::BadIpHeader => "bad_ip_header",
            Drop::BadIpLength => "bad_ip_length",
            Drop::BadIpChecksum => "bad_ip_checksum",
            Drop::Fragment => "fragment",
            Drop::UnknownProtocol => "unknown_protocol",
            Drop::BadIcmp => "bad_icmp",
            Drop::BadIcmpChecksum => "bad_icmp_checksum",
            Drop::BadUdpLength => "bad_udp_length",
            Drop::BadUdpChecksum => "bad_udp_checksum",
            Drop::ClosedPort => "closed_port",
        }
    }

    /// Index into a counter array of [`Drop::ALL`].
    pub fn index(self) -> usize {
        Drop::ALL.iter().position(|d| *d == self).unwrap_or(0)
    }
}

/// What to do with a frame that passed every check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send the first `len` bytes of the output buffer.
    Reply(usize),
}

/// A UDP application: `(port, payload, reply buffer) -> reply length`, or
/// `None` if no application listens on the port.
pub trait UdpApp {
    /// Handles one datagram to `port`.
    fn datagram(&mut self, port: u16, payload: &[u8], reply: &mut [u8]) -> Option<usize>;
}

impl<F: FnMut(u16, &[u8], &mut [u8]) -> Option<usize>> UdpApp for F {
    fn datagram(&mut self, port: u16, payload: &[u8], reply: &mut [u8]) -> Option<usize> {
        self(port, payload, reply)
    }
}

/// UDP echo on one port: the reply is the payload (if it fits).
#[derive(Clone, Copy, Debug)]
pub struct Echo {
    /// The port it listens on.
    pub port: u16,
}

impl UdpApp for Echo {
    fn datagram(&mut self, port: u16, payload: &[u8], reply: &mut [u8]) -> Option<usize> {
        if port != self.port || payload.len() > reply.len() {
            return None;
        }
        reply[..payload.len()].copy_from_slice(payload);
        Some(payload.len())
    }
}

const ETH: usize = size_of::<Ethernet>();
const IP: usize = size_of::<Ipv4>();

/// The class of a frame that passed every check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// An ARP request for this host.
    Arp,
    /// An ICMP echo request to this host.
    IcmpEcho,
    /// A UDP datagram to this host's `port`.
    Udp {
        /// Destination port.
        port: u16,
    },
}

/// A checked frame, with the parts its answer needs.
enum Parsed<'a> {
    Arp(Ethernet, Arp),
    Icmp(Ethernet, Ipv4, &'a [u8]),
    Udp(Ethernet, Ipv4, Udp, &'a [u8]),
}

/// Checks `frame` (every length and checksum) and says what it is.
pub fn classify(host: &Host, frame: &[u8]) -> Result<Class, Drop> {
    Ok(match parse(host, frame)? {
        Parsed::Arp(..) => Class::Arp,
        Parsed::Icmp(..) => Class::IcmpEcho,
        Parsed::Udp(_, _, h, _) => Class::Udp { port: h.dst_port.get() },
    })
}

fn parse<'a>(host: &Host, frame: &'a [u8]) -> Result<Parsed<'a>, Drop> {
    if frame.len() > MAX_FRAME {
        return Err(Drop::Oversized);
    }
    let (eth, body) = Ethernet::read_from_prefix(frame).map_err(|_| Drop::Truncated)?;
    if eth.dst != host.mac && eth.dst != [0xff; 6] {
        return Err(Drop::NotForUs);
    }
    match eth.ethertype.get() {
        ETHERTYPE_ARP => {
            let (a, _) = Arp::read_from_prefix(body).map_err(|_| Drop::Truncated)?;
            if a.htype.get() != 1 || a.ptype.get() != ETHERTYPE_IPV4 || a.hlen != 6 || a.plen != 4 || a.oper.get() != 1 {
                return Err(Drop::BadArp);
            }
            if a.tpa != host.ip {
                return Err(Drop::NotForUs);
            }
            Ok(Parsed::Arp(eth, a))
        }
        ETHERTYPE_IPV4 => {
            let (ip, _) = Ipv4::read_from_prefix(body).map_err(|_| Drop::Truncated)?;
            let ihl = usize::from(ip.version_ihl & 0x0f) * 4;
            if ip.version_ihl >> 4 != 4 || ihl < IP {
                return Err(Drop::BadIpHeader);
            }
            let total = usize::from(ip.total_len.get());
            if total < ihl || total > body.len() {
                return Err(Drop::BadIpLength);
            }
            if checksum::of(&body[..ihl]) != 0 {
                return Err(Drop::BadIpChecksum);
            }
            if ip.dst != host.ip {
                return Err(Drop::NotForUs);
            }
            if ip.flags_fragment.get() & 0x3fff != 0 {
                return Err(Drop::Fragment);
            }
            let payload = &body[ihl..total];
            match ip.protocol {
                PROTO_ICMP => {
                    let (h, _) = Icmp::read_from_prefix(payload).map_err(|_| Drop::Truncated)?;
                    if h.kind != 8 || h.code != 0 {
                        return Err(Drop::BadIcmp);
                    }
                    if checksum::of(payload) != 0 {
                        return Err(Drop::BadIcmpChecksum);
                    }
                    Ok(Parsed::Icmp(eth, ip, payload))
                }
                PROTO_UDP => {
                    const UDP: usize = size_of::<Udp>();
                    let (h, _) = Udp::read_from_prefix(payload).map_err(|_| Drop::Truncated)?;
                    let len = usize::from(h.len.get());
                    if len < UDP || len > payload.len() {
                        return Err(Drop::BadUdpLength);
                    }
                    let datagram = &payload[..len];
                    if h.checksum.get() != 0 && checksum::finish(checksum::add(pseudo_header_sum(&ip, len), datagram)) != 0 {
                        return Err(Drop::BadUdpChecksum);
                    }
                    Ok(Parsed::Udp(eth, ip, h, &datagram[UDP..]))
                }
                _ => Err(Drop::UnknownProtocol),
            }
        }
        _ => Err(Drop::UnknownEthertype),
    }
}

/// Checks `frame` and writes the answer, if any, into `out` (which must hold
/// [`MAX_FRAME`] bytes).
pub fn respond(host: &Host, frame: &[u8], out: &mut [u8; MAX_FRAME], app: &mut impl UdpApp) -> Result<Action, Drop> {
    match parse(host, frame)? {
        Parsed::Arp(eth, a) => {
            reply_ethernet(host, &eth, ETHERTYPE_ARP, out);
            let reply = Arp { oper: U16::new(2), sha: host.mac, spa: host.ip, tha: a.sha, tpa: a.spa, ..a };
            out[ETH..ETH + size_of::<Arp>()].copy_from_slice(reply.as_bytes());
            Ok(Action::Reply(ETH + size_of::<Arp>()))
        }
        Parsed::Icmp(eth, ip, payload) => {
            let len = icmp(payload, &mut out[ETH + IP..])?;
            Ok(Action::Reply(ip_reply(host, &eth, &ip, PROTO_ICMP, len, out)))
        }
        Parsed::Udp(eth, ip, h, body) => {
            const UDP: usize = size_of::<Udp>();
            let (head, rest) = out[ETH + IP..].split_at_mut(UDP);
            let n = app.datagram(h.dst_port.get(), body, rest).ok_or(Drop::ClosedPort)?;
            let header = Udp { src_port: h.dst_port, dst_port: h.src_port, len: U16::new((UDP + n) as u16), checksum: U16::new(0) };
            head.copy_from_slice(header.as_bytes());
            Ok(Action::Reply(ip_reply(host, &eth, &ip, PROTO_UDP, UDP + n, out)))
        }
    }
}

fn reply_ethernet(host: &Host, eth: &Ethernet, ethertype: u16, out: &mut [u8]) {
    let header = Ethernet { dst: eth.src, src: host.mac, ethertype: U16::new(ethertype) };
    out[..ETH].copy_from_slice(header.as_bytes());
}

/// Writes the Ethernet and IPv4 headers of an answer whose `len` payload
/// bytes are already in place (and the UDP checksum); returns the frame length.
fn ip_reply(host: &Host, eth: &Ethernet, ip: &Ipv4, protocol: u8, len: usize, out: &mut [u8; MAX_FRAME]) -> usize {
    reply_ethernet(host, eth, ETHERTYPE_IPV4, out);
    let mut header = Ipv4 {
        version_ihl: 0x45,
        tos: 0,
        total_len: U16::new((IP + len) as u16),
        id: ip.id,
        flags_fragment: U16::new(0x4000),
        ttl: 64,
        protocol,
        checksum: U16::new(0),
        src: host.ip,
        dst: ip.src,
    };
    header.checksum = U16::new(checksum::of(header.as_bytes()));
    out[ETH..ETH + IP].copy_from_slice(header.as_bytes());
    if protocol == PROTO_UDP {
        let sum = udp_checksum(&header, &out[ETH + IP..ETH + IP + len]);
        out[ETH + IP + 6..ETH + IP + 8].copy_from_slice(&sum.to_be_bytes());
    }
    ETH + IP + len
}

fn icmp(payload: &[u8], reply: &mut [u8]) -> Result<usize, Drop> {
    let (h, _) = Icmp::read_from_prefix(payload).map_err(|_| Drop::Truncated)?;
    if h.kind != 8 || h.code != 0 {
        return Err(Drop::BadIcmp);
    }
    if checksum::of(payload) != 0 {
        return Err(Drop::BadIcmpChecksum);
    }
    let n = payload.len();
    if n > reply.len() {
        return Err(Drop::Oversized);
    }
    reply[..n].copy_from_slice(payload);
    reply[0] = 0;
    reply[2..4].copy_from_slice(&[0, 0]);
    let sum = checksum::of(&reply[..n]);
    reply[2..4].copy_from_slice(&sum.to_be_bytes());
    Ok(n)
}

fn pseudo_header_sum(ip: &Ipv4, udp_len: usize) -> u32 {
    let mut sum = checksum::add(0, &ip.src);
    sum = checksum::add(sum, &ip.dst);
    sum + u32::from(PROTO_UDP) + udp_len as u32
}

fn udp_checksum(ip: &Ipv4, datagram: &[u8]) -> u16 {
    let sum = checksum::finish(checksum::add(pseudo_header_sum(ip, datagram.len()), datagram));
    if sum == 0 { 0xffff } else { sum }
}
