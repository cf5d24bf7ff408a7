//! Early demultiplexing: where a frame would go, read from a few header
//! bytes without checking anything, so that a driver can drop a frame whose
//! destination has no room before it pays for a full classification (the
//! receive-livelock cure: drop early and cheaply). A frame it steers still
//! goes through the checking classifier before anything uses it.

use crate::headers::{ETHERTYPE_ARP, ETHERTYPE_IPV4};

/// IPv4 protocol number of ICMP.
const PROTO_ICMP: u8 = 1;
/// IPv4 protocol number of UDP.
const PROTO_UDP: u8 = 17;
/// Bytes of an Ethernet header.
const ETH: usize = 14;

/// The flow a frame claims to belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// ARP or ICMP: the control flow.
    Control,
    /// UDP to this destination port.
    Udp(u16),
}

/// The flow `frame`'s headers name, or `None` if they name none we serve
/// (the classifier decides what to do with it). Reads at most 38 bytes.
pub fn steer(frame: &[u8]) -> Option<Flow> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match ethertype {
        ETHERTYPE_ARP => Some(Flow::Control),
        ETHERTYPE_IPV4 => {
            let ihl = usize::from(frame.get(ETH)? & 0x0f) * 4;
            match *frame.get(ETH + 9)? {
                PROTO_ICMP => Some(Flow::Control),
                PROTO_UDP => {
                    let at = ETH + ihl + 2;
                    Some(Flow::Udp(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?])))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(protocol: u8, ihl_words: u8, dst_port: u16) -> Vec<u8> {
        let mut f = vec![0u8; 80];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[ETH] = 0x40 | ihl_words;
        f[ETH + 9] = protocol;
        let at = ETH + usize::from(ihl_words) * 4 + 2;
        f[at..at + 2].copy_from_slice(&dst_port.to_be_bytes());
        f
    }

    #[test]
    fn steers_by_ethertype_protocol_and_port() {
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        assert_eq!(steer(&arp), Some(Flow::Control));
        assert_eq!(steer(&ipv4(PROTO_ICMP, 5, 0)), Some(Flow::Control));
        assert_eq!(steer(&ipv4(PROTO_UDP, 5, 7)), Some(Flow::Udp(7)));
        // IP options move the UDP header.
        assert_eq!(steer(&ipv4(PROTO_UDP, 6, 8)), Some(Flow::Udp(8)));
        assert_eq!(steer(&ipv4(6, 5, 7)), None);
    }

    #[test]
    fn short_or_foreign_frames_steer_nowhere() {
        assert_eq!(steer(&[]), None);
        assert_eq!(steer(&[0u8; 13]), None);
        let mut v6 = vec![0u8; 64];
        v6[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        assert_eq!(steer(&v6), None);
        let f = ipv4(PROTO_UDP, 15, 7);
        assert_eq!(steer(&f[..ETH + 60 + 3]), None);
    }
}
