//! Demo client path: an active PD that checks the encryption service twice,
//! once through a tunnel into the passive pod and once by plain IPC to the
//! active twin, then tells the reporter it passed.
//!
//! Calls: `crypt` on channel 1 (tunnel) and 2 (plain IPC), lending the region
//! mapped on each; `checksum` on channel 3 only to see it refused.
//! Notifies: the reporter on channel 0.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;
use core::fmt;

use demo_services::cipher::{Crc32, crc32};
use demo_services::{CryptReply, CryptRequest, checksum, crypt, kat, refusal};
use tunnelkit_runtime::{Channel, ChannelError, Handler, debug_println, pd_name, protection_domain};
use tunnelkit_tunnel::{CallError, LentRegion, Window};

/// The reporter.
const REPORT: Channel = Channel::new(0);
/// The encryption pod (passive: a tunnel).
const CRYPT_TUNNEL: Channel = Channel::new(1);
/// The encryption pod's active twin (plain IPC).
const CRYPT_IPC: Channel = Channel::new(2);
/// A channel to the checksum pod, which serves only the encryption pods.
const CHECKSUM_DIRECT: Channel = Channel::new(3);
/// Encrypt/decrypt round trips per transport.
const ROUNDS: u32 = 24;
/// Bytes checked per copy out of the lent region.
const CHUNK: usize = 256;

protection_domain!(init);

struct Client;

fn init() -> Client {
    let name = pd_name();
    let mut nonces = NonceSource::new(name.as_str());
    for (transport, channel) in [("tunnel", CRYPT_TUNNEL), ("ipc", CRYPT_IPC)] {
        match check_service(channel, &mut nonces) {
            Ok(summary) => debug_println!("{}: {transport}: {summary}", name.as_str()),
            Err(e) => panic!("{transport} check failed: {e}"),
        }
    }
    if let Err(e) = check_channel_errors() {
        panic!("channel error check failed: {e}");
    }
    debug_println!("{}: pass", name.as_str());
    REPORT.notify().expect("report channel must be notifiable");
    Client
}

impl Handler for Client {
    type Error = Infallible;
}

/// A failed expectation.
enum Failure {
    Call(&'static str, CallError),
    Mismatch(&'static str, u32),
    Unexpected(&'static str, Result<CryptReply, CallError>),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::Call("call", e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Call(what, e) => write!(f, "{what}: {e}"),
            Failure::Mismatch(what, round) => write!(f, "{what} wrong in round {round}"),
            Failure::Unexpected(what, got) => write!(f, "{what}: unexpected result {got:?}"),
        }
    }
}

/// What one transport's check did.
struct Summary {
    rounds: u32,
    bytes: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "known answer ok, {} encrypt/decrypt round trips ok ({} bytes), checksums ok, errors ok", self.rounds, self.bytes)
    }
}

fn check_service(channel: Channel, nonces: &mut NonceSource) -> Result<Summary, Failure> {
    let mut service = crypt::Client::on(channel);
    let region = LentRegion::on(channel)?;
    let size = region.size().min(u64::from(u32::MAX)) as u32;

    // Known answer through the whole path (lent memory, nested checksum call).
    let w = Window::new(0, kat::PLAINTEXT.len() as u32);
    region.write(w, 0, kat::PLAINTEXT)?;
    let reply = service.known_answer(&w)?;
    let mut out = [0u8; 114];
    region.read(w, 0, &mut out)?;
    if out != kat::CIPHERTEXT || reply.checksum != crc32(&kat::CIPHERTEXT) || reply.len != w.len {
        return Err(Failure::Mismatch("known answer", 0));
    }

    // Round trips over windows of varied size and offset.
    let mut bytes = 0;
    for round in 0..ROUNDS {
        let len = [1, 7, 63, 64, 65, 255, 1000, size][round as usize % 8].min(size);
        let offset = (round * 97) % (size - len + 1);
        let window = Window::new(offset, len);
        let seed = u64::from(round) << 32 | u64::from(channel.index());
        fill(&region, window, seed)?;

        let request = CryptRequest { window, nonce: nonces.next(), reserved: 0 };
        let sealed = service.encrypt(&request)?;
        let (sum, same) = scan(&region, window, seed)?;
        if sealed.checksum != sum || sealed.len != len || (len >= 16 && same == len) {
            return Err(Failure::Mismatch("encryption", round));
        }
        let opened = service.decrypt(&request)?;
        let (sum, same) = scan(&region, window, seed)?;
        if same != len || opened.checksum != sum {
            return Err(Failure::Mismatch("decryption", round));
        }
        bytes += u64::from(len) * 2;
    }

    // Errors are values, and the service keeps serving after each one.
    let outside = CryptRequest { window: Window::new(size - 8, 16), nonce: nonces.next(), reserved: 0 };
    expect(service.encrypt(&outside), CallError::BadWindow, "window outside the region")?;
    let reserved = CryptRequest { window: Window::new(0, 1), nonce: nonces.next(), reserved: 1 };
    expect(service.encrypt(&reserved), CallError::Refused(refusal::RESERVED_NOT_ZERO), "reserved field")?;
    let unknown: Result<(), CallError> = tunnelkit_tunnel::call(service.transport(), 99, &());
    if unknown != Err(CallError::UnknownOperation { op: 99 }) {
        return Err(Failure::Call("unknown operation accepted", unknown.err().unwrap_or(CallError::BadReply(0))));
    }
    let bad_length: Result<CryptReply, CallError> = tunnelkit_tunnel::call(service.transport(), crypt::ops::encrypt, &[0u64; 5]);
    expect(bad_length, CallError::BadLength { expected: 3, got: 5 }, "oversized request")?;
    service.known_answer(&w)?;

    Ok(Summary { rounds: ROUNDS, bytes })
}

fn check_channel_errors() -> Result<(), Failure> {
    let refused = checksum::Client::on(CHECKSUM_DIRECT).crc32(&Window::new(0, 0)).map(|r| CryptReply { checksum: r.crc32, len: r.len });
    expect(refused, CallError::WrongChannel, "call on a channel the callee does not serve")?;
    let not_pp = crypt::Client::on(REPORT).encrypt(&CryptRequest { window: Window::new(0, 0), nonce: [0; 12], reserved: 0 });
    expect(not_pp, CallError::Channel(ChannelError::NotCallable(REPORT.index())), "call on a notify-only channel")
}

fn expect(got: Result<CryptReply, CallError>, want: CallError, what: &'static str) -> Result<(), Failure> {
    if got == Err(want) { Ok(()) } else { Err(Failure::Unexpected(what, got)) }
}

/// Byte `j` of the test pattern for `seed`.
fn pattern(seed: u64, j: u32) -> u8 {
    let mut z = seed ^ u64::from(j / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).to_le_bytes()[(j % 8) as usize]
}

/// Writes the pattern into `window`.
fn fill(region: &LentRegion, window: Window, seed: u64) -> Result<(), CallError> {
    let mut buf = [0u8; CHUNK];
    let mut at = 0;
    while at < window.len {
        let n = CHUNK.min((window.len - at) as usize);
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern(seed, at + k as u32);
        }
        region.write(window, at, &buf[..n])?;
        at += n as u32;
    }
    Ok(())
}

/// CRC-32 of `window` and how many of its bytes equal the pattern.
fn scan(region: &LentRegion, window: Window, seed: u64) -> Result<(u32, u32), CallError> {
    let mut buf = [0u8; CHUNK];
    let (mut crc, mut same, mut at) = (Crc32::default(), 0, 0);
    while at < window.len {
        let n = CHUNK.min((window.len - at) as usize);
        region.read(window, at, &mut buf[..n])?;
        crc.update(&buf[..n]);
        same += buf[..n].iter().enumerate().filter(|(k, b)| **b == pattern(seed, at + *k as u32)).count() as u32;
        at += n as u32;
    }
    Ok((crc.finish(), same))
}

/// Distinct nonces: this PD's name hash, then a counter.
struct NonceSource {
    prefix: u64,
    counter: u32,
}

impl NonceSource {
    fn new(name: &str) -> Self {
        Self { prefix: name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)), counter: 0 }
    }

    fn next(&mut self) -> [u8; 12] {
        self.counter += 1;
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&self.prefix.to_le_bytes());
        n[8..].copy_from_slice(&self.counter.to_le_bytes());
        n
    }
}
