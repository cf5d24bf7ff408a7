//! A long fuzz run of the parsers (ignored by default; run it with
//! `cargo test -p netstack --release --test fuzz -- --ignored --nocapture`):
//! one million frames, random and mutated from valid ones, through
//! `classify` and `respond`. Nothing may panic, and both must agree.

use netstack::build;
use netstack::respond::{Host, MAX_FRAME, classify, respond};

const HOST: Host = Host { mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], ip: [10, 0, 2, 15] };

/// xorshift64*: a fast, seedable generator (the run is reproducible).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let peer_mac = [2, 0, 0, 0, 0, 1];
    let peer_ip = [10, 0, 2, 2];
    let udp = |port: u16| {
        let datagram = build::udp(peer_ip, HOST.ip, 1234, port, b"fuzzing the tunnelkit parsers");
        build::ethernet(HOST.mac, peer_mac, 0x0800, &build::ipv4(peer_ip, HOST.ip, 17, 1, &datagram))
    };
    let arp = build::ethernet([0xff; 6], peer_mac, 0x0806, &build::arp_request(peer_mac, peer_ip, HOST.ip));
    vec![udp(7), udp(8), udp(9), arp]
}

#[test]
#[ignore = "long run: 1 000 000 inputs"]
fn one_million_frames() {
    let seeds = seeds();
    let mut rng = Rng(0x7475_6e6e_656c_6b69);
    let mut out = [0u8; MAX_FRAME];
    let mut accepted = 0u64;
    let start = std::time::Instant::now();
    for i in 0..1_000_000u64 {
        let frame: Vec<u8> = if i % 4 == 0 {
            (0..rng.below(1600)).map(|_| rng.next() as u8).collect()
        } else {
            let mut f = seeds[rng.below(seeds.len())].clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(f.len());
                f[at] = rng.next() as u8;
            }
            if rng.below(8) == 0 {
                f.truncate(rng.below(f.len() + 1));
            }
            f
        };
        let mut any = |_: u16, p: &[u8], r: &mut [u8]| {
            let n = p.len().min(r.len());
            r[..n].copy_from_slice(&p[..n]);
            Some(n)
        };
        let answered = respond(&HOST, &frame, &mut out, &mut any);
        assert_eq!(classify(&HOST, &frame).map(drop), answered.map(drop), "input {i}: {frame:02x?}");
        accepted += u64::from(answered.is_ok());
    }
    println!("fuzz: 1000000 frames in {:.2?}, {accepted} accepted, no panic, classify == respond on all", start.elapsed());
}
