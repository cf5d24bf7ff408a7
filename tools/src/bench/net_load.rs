//! Host-side traffic for `bench --net`: paced UDP load at a given offered
//! rate (with the rate the host actually achieved), sequential request /
//! answer probes with their round-trip times, and the guest's counters read
//! from the stats port.
//!
//! Pacing sleeps between short bursts rather than spinning: the host's cores
//! are shared with QEMU, whose speed is what is measured.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Receive buffer asked for each load socket, so that answers arriving while
/// the receiving thread waits for a core are not dropped on the host (the
/// kernel caps it at `net.core.rmem_max`).
const RECV_BUFFER: usize = 4 << 20;
/// Offered datagrams per second one sending thread paces at most.
const PPS_PER_SENDER: u64 = 10_000;
/// Longest a pacing thread sleeps before checking what is due.
const MAX_SLEEP: Duration = Duration::from_millis(1);
/// How often the receiving thread drains the load's sockets.
const RECEIVE_POLL: Duration = Duration::from_millis(1);
/// Shortest sleep between bursts: fewer wake-ups leave more of the host to
/// QEMU; at 10 000/s per thread a burst is then about 3 datagrams.
const MIN_SLEEP: Duration = Duration::from_micros(250);

/// Microseconds: min, median, max (NaN without samples, `null` in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Micros {
    /// Smallest.
    #[serde(deserialize_with = "nan_if_null")]
    pub min: f64,
    /// Median.
    #[serde(deserialize_with = "nan_if_null")]
    pub median: f64,
    /// Largest.
    #[serde(deserialize_with = "nan_if_null")]
    pub max: f64,
}

/// serde_json writes NaN as `null`; read it back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl Micros {
    /// Min, median and max of `samples` (NaN if empty).
    pub fn of(mut samples: Vec<f64>) -> Micros {
        if samples.is_empty() {
            return Micros { min: f64::NAN, median: f64::NAN, max: f64::NAN };
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        Micros { min: samples[0], median: samples[samples.len() / 2], max: samples[samples.len() - 1] }
    }
}

/// A UDP socket on 127.0.0.1 with a large receive buffer.
pub fn socket() -> Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).context("creating a UDP socket")?;
    s.set_recv_buffer_size(RECV_BUFFER).context("setting SO_RCVBUF")?;
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).context("binding 127.0.0.1:0")?;
    Ok(s.into())
}

/// What one paced load did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadOutcome {
    /// Datagrams per second asked for.
    pub offered_pps: u64,
    /// Sending threads (one socket each).
    pub senders: u32,
    /// Datagrams sent (`send_to` succeeded).
    pub sent: u64,
    /// Seconds from the first send to the last.
    pub seconds: f64,
    /// Answers received (during the load and the drain after it).
    pub answered: u64,
}

impl LoadOutcome {
    /// The rate the host achieved.
    pub fn sent_pps(&self) -> f64 {
        if self.seconds > 0.0 { self.sent as f64 / self.seconds } else { 0.0 }
    }
    /// Answers per second of load.
    pub fn answered_pps(&self) -> f64 {
        if self.seconds > 0.0 { self.answered as f64 / self.seconds } else { 0.0 }
    }
}

/// A paced load running in the background: `size`-byte datagrams to
/// 127.0.0.1:`port` at `pps`, split over enough threads (one socket each),
/// and one thread counting the answers.
pub struct Load {
    offered_pps: u64,
    stop: Arc<AtomicBool>,
    stop_receiving: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    senders: Vec<JoinHandle<Result<(u64, Instant, Instant)>>>,
    receiver: JoinHandle<()>,
}

impl Load {
    /// Starts the load.
    pub fn start(port: u16, size: usize, pps: u64) -> Result<Load> {
        let n = pps.div_ceil(PPS_PER_SENDER).max(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_receiving = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let sockets = (0..n).map(|_| socket()).collect::<Result<Vec<_>>>()?;
        // One thread counts the answers on every socket: it drains them all,
        // then sleeps (the receive buffers hold what arrives meanwhile), so
        // it wakes a thousand times a second rather than once per answer.
        let mut inboxes = Vec::new();
        for s in &sockets {
            let inbox = s.try_clone()?;
            inbox.set_nonblocking(true)?;
            inboxes.push(inbox);
        }
        let receiver = {
            let (stop_receiving, answered) = (stop_receiving.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                loop {
                    // Read the flag first: a last drain follows it.
                    let last = stop_receiving.load(Ordering::SeqCst);
                    for s in &inboxes {
                        while s.recv_from(&mut buf).is_ok() {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if last {
                        return;
                    }
                    std::thread::sleep(RECEIVE_POLL);
                }
            })
        };
        // Thread i paces its share; the shares add up to `pps`.
        let start = Instant::now() + Duration::from_millis(5);
        let senders = sockets
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let share = pps / n + u64::from((i as u64) < pps % n);
                let stop = stop.clone();
                std::thread::spawn(move || pace(&s, port, size, share, start, &stop))
            })
            .collect();
        Ok(Load { offered_pps: pps, stop, stop_receiving, answered, senders, receiver })
    }

    /// Stops sending, waits `drain` for late answers, and returns the counts.
    pub fn stop(self, drain: Duration) -> Result<LoadOutcome> {
        self.stop.store(true, Ordering::SeqCst);
        let mut sent = 0;
        let mut span: Option<(Instant, Instant)> = None;
        let mut failure = None;
        let senders = self.senders.len() as u32;
        for s in self.senders {
            match s.join() {
                Ok(Ok((n, first, last))) => {
                    sent += n;
                    span = Some(match span {
                        Some((a, b)) => (a.min(first), b.max(last)),
                        None => (first, last),
                    });
                }
                Ok(Err(e)) => failure = Some(e),
                Err(_) => failure = Some(anyhow::anyhow!("a sending thread panicked")),
            }
        }
        std::thread::sleep(drain);
        self.stop_receiving.store(true, Ordering::SeqCst);
        let _ = self.receiver.join();
        if let Some(e) = failure {
            return Err(e);
        }
        let seconds = span.map(|(a, b)| (b - a).as_secs_f64()).unwrap_or(0.0);
        Ok(LoadOutcome { offered_pps: self.offered_pps, senders, sent, seconds, answered: self.answered.load(Ordering::SeqCst) })
    }
}

/// Runs a load for `seconds`, then drains.
pub fn offered(port: u16, size: usize, pps: u64, seconds: f64, drain: Duration) -> Result<LoadOutcome> {
    let load = Load::start(port, size, pps)?;
    std::thread::sleep(Duration::from_secs_f64(seconds));
    load.stop(drain)
}

/// Sends at `pps` from `start` until `stop`: at every wake-up, every
/// datagram due by then (so a thread that lost its core catches up), then a
/// sleep until the next one is due. Returns (sent, first send, last send).
fn pace(socket: &UdpSocket, port: u16, size: usize, pps: u64, start: Instant, stop: &AtomicBool) -> Result<(u64, Instant, Instant)> {
    let mut payload = vec![0x42u8; size];
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let mut sent = 0u64;
    let now = Instant::now();
    if start > now {
        std::thread::sleep(start - now);
    }
    let mut last = start;
    if pps == 0 {
        return Ok((0, start, start));
    }
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * pps as f64) as u64 + 1;
        while sent < due {
            if size >= 8 {
                payload[..8].copy_from_slice(&sent.to_le_bytes());
            }
            match socket.send_to(&payload, to) {
                Ok(_) => sent += 1,
                // Loopback send buffer full: try again at the next wake-up.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(anyhow::Error::new(e).context(format!("sending to 127.0.0.1:{port}"))),
            }
        }
        last = Instant::now();
        let next = start + Duration::from_secs_f64(sent as f64 / pps as f64);
        let now = Instant::now();
        std::thread::sleep(next.saturating_duration_since(now).clamp(MIN_SLEEP, MAX_SLEEP));
    }
    Ok((sent, start, last))
}

/// Sequential request / answer exchanges.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Requests sent.
    pub requests: u32,
    /// Requests answered within the wait.
    pub answered: u32,
    /// Round trips of the answered ones.
    pub rtt_us: Micros,
}

impl Probe {
    /// Answered fraction.
    pub fn ratio(&self) -> f64 {
        if self.requests == 0 { 0.0 } else { f64::from(self.answered) / f64::from(self.requests) }
    }
}

/// What a probe sends and which answer it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// UDP echo: 64 bytes whose first 8 are the request number; the answer
    /// is the same bytes.
    Echo,
    /// Sealed echo: a 12-byte nonce (the request number) and 52 bytes of
    /// plaintext; an answer of the same length starting with the nonce.
    Sealed,
    /// Stats: any datagram; the answer is a JSON object.
    Stats,
}

impl Request {
    fn payload(self, i: u64) -> Vec<u8> {
        match self {
            Request::Echo => {
                let mut p = vec![0x45u8; 64];
                p[..8].copy_from_slice(&i.to_le_bytes());
                p
            }
            Request::Sealed => {
                let mut p = i.to_le_bytes().to_vec();
                p.extend_from_slice(b"benc");
                p.extend(b"tunnelkit bench --net sealed-echo probe. ".iter().cycle().take(64 - 12));
                p
            }
            Request::Stats => b"stats?".to_vec(),
        }
    }

    fn accepts(self, request: &[u8], answer: &[u8]) -> bool {
        match self {
            Request::Echo => answer == request,
            Request::Sealed => answer.len() == request.len() && answer[..12] == request[..12],
            Request::Stats => answer.first() == Some(&b'{'),
        }
    }
}

/// One request to 127.0.0.1:`port` from a fresh socket (so a late answer to
/// an earlier request cannot be taken for this one's): its round trip in µs,
/// or None if no acceptable answer came within `wait`.
pub fn exchange(port: u16, kind: Request, i: u64, wait: Duration) -> Result<Option<f64>> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let payload = kind.payload(i);
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    socket.send_to(&payload, ("127.0.0.1", port))?;
    loop {
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv_from(&mut buf) {
            Ok((n, _)) if kind.accepts(&payload, &buf[..n]) => return Ok(Some(start.elapsed().as_secs_f64() * 1e6)),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// `count` sequential exchanges of each kind in `kinds`, interleaved (so
/// every kind sees the same conditions); one probe per kind.
pub fn probes(kinds: &[(u16, Request)], count: u32, wait: Duration) -> Result<Vec<Probe>> {
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    for i in 0..count {
        for (k, &(port, kind)) in kinds.iter().enumerate() {
            if let Some(us) = exchange(port, kind, u64::from(i), wait)? {
                samples[k].push(us);
            }
        }
    }
    Ok(samples.into_iter().map(|s| Probe { requests: count, answered: s.len() as u32, rtt_us: Micros::of(s) }).collect())
}

/// The guest's frame counters (`rx`, `tx`) from the stats port, if it
/// answers with them within `wait`.
pub fn guest_counters(port: u16, wait: Duration) -> Option<(u64, u64)> {
    for _ in 0..3 {
        let Ok(answer) = crate::net::exchange(port, b"counters?", wait) else { continue };
        let v: serde_json::Value = serde_json::from_slice(&answer).ok()?;
        return Some((v.get("rx")?.as_u64()?, v.get("tx")?.as_u64()?));
    }
    None
}

/// Linux's system-wide count of UDP datagrams dropped because a receive
/// buffer was full (`/proc/net/snmp`, `Udp: RcvbufErrors`): on the host,
/// datagrams QEMU's forwarding socket could not take in time.
pub fn host_udp_rcvbuf_errors() -> Option<u64> {
    parse_rcvbuf_errors(&std::fs::read_to_string("/proc/net/snmp").ok()?)
}

fn parse_rcvbuf_errors(snmp: &str) -> Option<u64> {
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (names, values) = (udp.next()?, udp.next()?);
    let at = names.split_whitespace().position(|n| n == "RcvbufErrors")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// The host's load average over 1, 5 and 15 minutes.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host echo server on an ephemeral port, answering everything.
    fn echo_server() -> (u16, Arc<AtomicBool>) {
        let s = socket().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let port = s.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    let _ = s.send_to(&buf[..n], from);
                }
            }
        });
        (port, stop)
    }

    #[test]
    fn a_paced_load_reaches_its_rate_and_counts_answers() {
        let (port, stop) = echo_server();
        let out = offered(port, 64, 3000, 0.4, Duration::from_millis(100)).unwrap();
        assert_eq!(out.senders, 1);
        // Pacing sends what is due by each wake-up: never far ahead of the rate.
        assert!(out.sent_pps() > 2000.0 && out.sent_pps() < 3300.0, "{out:?}");
        assert!(out.answered <= out.sent && out.answered as f64 > 0.9 * out.sent as f64, "{out:?}");
        let fast = Load::start(port, 64, 25_000).unwrap();
        assert_eq!(fast.senders.len(), 3);
        assert_eq!(fast.stop(Duration::ZERO).unwrap().senders, 3);
        stop.store(true, Ordering::Relaxed);
    }

    #[test]
    fn probes_match_answers_to_requests() {
        let (port, stop) = echo_server();
        let p = probes(&[(port, Request::Echo), (port, Request::Sealed)], 5, Duration::from_millis(500)).unwrap();
        // The echo server answers stats requests with their own bytes, which are not JSON.
        let s = probes(&[(port, Request::Stats)], 2, Duration::from_millis(50)).unwrap();
        stop.store(true, Ordering::Relaxed);
        assert_eq!((p[0].answered, p[1].answered, s[0].answered), (5, 5, 0));
        assert!(p[0].rtt_us.median > 0.0 && s[0].rtt_us.median.is_nan());
        assert_eq!(p[1].ratio(), 1.0);
        let sealed = Request::Sealed.payload(7);
        assert_eq!(sealed.len(), 64);
        let mut answer = sealed.clone();
        answer[20] ^= 0xff;
        assert!(Request::Sealed.accepts(&sealed, &answer));
        assert!(!Request::Sealed.accepts(&sealed, &Request::Sealed.payload(8)));
        assert!(Request::Stats.accepts(b"x", b"{\"rx\":1}"));
    }

    #[test]
    fn reads_linux_udp_counters() {
        let snmp = "Ip: Forwarding\nIp: 1\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 10 0 3 9 42 0\nUdpLite: InDatagrams\nUdpLite: 0\n";
        assert_eq!(parse_rcvbuf_errors(snmp), Some(42));
        assert_eq!(parse_rcvbuf_errors("Ip: x\n"), None);
    }
}
