//! Wire headers as zerocopy types (network byte order).

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// An Ethernet II header.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct Ethernet {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// EtherType.
    pub ethertype: U16,
}

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;

/// An ARP packet for IPv4 over Ethernet.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct Arp {
    /// Hardware type (1 = Ethernet).
    pub htype: U16,
    /// Protocol type (0x0800).
    pub ptype: U16,
    /// Hardware address length (6).
    pub hlen: u8,
    /// Protocol address length (4).
    pub plen: u8,
    /// 1 = request, 2 = reply.
    pub oper: U16,
    /// Sender MAC.
    pub sha: [u8; 6],
    /// Sender IP.
    pub spa: [u8; 4],
    /// Target MAC.
    pub tha: [u8; 6],
    /// Target IP.
    pub tpa: [u8; 4],
}

/// An IPv4 header without options.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct Ipv4 {
    /// Version (4 bits) and header length in words (4 bits).
    pub version_ihl: u8,
    /// DSCP / ECN.
    pub tos: u8,
    /// Datagram length including the header.
    pub total_len: U16,
    /// Identification.
    pub id: U16,
    /// Flags (3 bits) and fragment offset (13 bits).
    pub flags_fragment: U16,
    /// Time to live.
    pub ttl: u8,
    /// Payload protocol.
    pub protocol: u8,
    /// Header checksum.
    pub checksum: U16,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
}

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// An ICMP header (echo: identifier and sequence in `rest`).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct Icmp {
    /// Type (8 = echo request, 0 = echo reply).
    pub kind: u8,
    /// Code.
    pub code: u8,
    /// Checksum over the ICMP message.
    pub checksum: U16,
    /// Type-specific word.
    pub rest: [u8; 4],
}

/// A UDP header.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct Udp {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Length of header and payload.
    pub len: U16,
    /// Checksum (0 = none).
    pub checksum: U16,
}
