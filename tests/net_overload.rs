//! No receive livelock, in the release config on both boards (needs
//! MICROKIT_SDK): `tunnelkit run --net --config release` is offered 64-byte
//! UDP echo requests at rising rates up to 20 000/s; the answered rate at
//! 20 000/s stays at least 90 % of the most the system answered at any rate.
//! While echo is flooded at 20 000/s, the other ports still answer (sealed
//! echo and stats, at least 90 % of the requests each), the early drops are
//! charged to the echo path alone, and after the flood every buffer is free
//! and no PD has faulted or panicked.

use std::io::Read;
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tunnelkit::board::Board;
use tunnelkit::net::exchange;
use tunnelkit_tests::{qemu_lock, say, sdk_or_skip};

/// Offered rates of the sweep (datagrams per second).
const RATES: [u64; 4] = [2_000, 5_000, 10_000, 20_000];
/// Seconds per offered rate.
const SECONDS: f64 = 2.0;
/// The answered rate at the highest offered rate, as a fraction of the peak.
const HELD: f64 = 0.9;
/// The fraction of sealed-echo and stats requests answered during the flood.
const ANSWERED: f64 = 0.9;

#[test]
fn no_livelock_and_other_ports_answer_under_a_flood() {
    overload("no_livelock_and_other_ports_answer_under_a_flood", Board::QemuVirtAarch64);
}

#[test]
fn no_livelock_and_other_ports_answer_under_a_flood_on_x86_64_generic() {
    overload("no_livelock_and_other_ports_answer_under_a_flood_on_x86_64_generic", Board::X86_64Generic);
}

/// `tunnelkit run --net --config release`, its stderr collected in the background.
struct Run {
    child: Child,
    stderr: Arc<Mutex<String>>,
    console: std::path::PathBuf,
}

impl Run {
    fn start(test: &str, board: Board) -> Run {
        let (console, file) = tunnelkit_tests::console_file(test);
        let mut cmd = Command::new(tunnelkit_tests::tunnelkit_binary());
        cmd.current_dir(tunnelkit_tests::repo_root())
            .args(["run", "--net", "--config", "release", "--board", board.name(), "--timeout", "300"])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::piped());
        let mut child = tunnelkit_tests::spawn_group(&mut cmd);
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Run { child, stderr, console }
    }

    fn log(&self) -> String {
        let console = std::fs::read_to_string(&self.console).unwrap_or_default();
        format!("{console}{}", self.stderr.lock().unwrap())
    }

    fn wait_ready(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.stderr.lock().unwrap().contains("tunnelkit: net ready") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        tunnelkit_tests::kill_group(&mut self.child);
        let _ = std::fs::remove_file(&self.console);
    }
}

/// Sends 64-byte datagrams to `port` at `pps` until `stop` (or `seconds`);
/// returns how many.
fn pace(socket: &UdpSocket, port: u16, pps: u64, seconds: f64, stop: &AtomicBool) -> u64 {
    let payload = [0x42u8; 64];
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed().as_secs_f64() < seconds && !stop.load(Ordering::SeqCst) {
        let due = (start.elapsed().as_secs_f64() * pps as f64) as u64;
        while sent < due {
            let _ = socket.send_to(&payload, ("127.0.0.1", port));
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    sent
}

/// Offers `pps` for [`SECONDS`]: (sent, answered per second).
fn offer(pps: u64) -> (u64, f64) {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let answered = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (socket, answered, done) = (socket.clone(), answered.clone(), done.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !done.load(Ordering::SeqCst) {
                if socket.recv_from(&mut buf).is_ok() {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let sent = pace(&socket, 5007, pps, SECONDS, &AtomicBool::new(false));
    std::thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::SeqCst);
    receiver.join().unwrap();
    (sent, answered.load(Ordering::SeqCst) as f64 / SECONDS)
}

/// Waits until echo answers again after a load step.
fn settle() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if exchange(5007, b"settled?", Duration::from_millis(300)).is_ok_and(|a| a == b"settled?") {
            return;
        }
    }
}

/// Sequential requests to `port` (500 ms each); returns how many were answered by `ok`.
fn requests(port: u16, count: usize, make: impl Fn(usize) -> Vec<u8>, ok: impl Fn(&[u8], &[u8]) -> bool) -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 2048];
    let mut answered = 0;
    for i in 0..count {
        let request = make(i);
        socket.send_to(&request, ("127.0.0.1", port)).unwrap();
        // Skip late answers to earlier requests.
        while let Ok((n, _)) = socket.recv_from(&mut buf) {
            if ok(&request, &buf[..n]) {
                answered += 1;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    answered
}

fn sealed_request(i: usize) -> Vec<u8> {
    let mut r = vec![0u8; 12 + 32];
    r[..8].copy_from_slice(&(i as u64).to_le_bytes());
    r
}

fn stats() -> serde_json::Value {
    let answer = exchange(5009, b"stats", Duration::from_secs(2)).expect("stats answer");
    serde_json::from_slice(&answer).expect("stats JSON")
}

fn overload(test: &str, board: Board) {
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let run = Run::start(test, board);
    assert!(run.wait_ready(Duration::from_secs(240)), "{test}: the network system never became ready:\n{}", run.log());

    let mut sweep = Vec::new();
    for pps in RATES {
        let (sent, answered) = offer(pps);
        sweep.push((pps, sent as f64 / SECONDS, answered));
        settle();
    }
    let peak = sweep.iter().map(|s| s.2).fold(0.0, f64::max);
    let (top, top_sent, held) = *sweep.last().unwrap();
    let table: Vec<String> = sweep.iter().map(|(o, s, a)| format!("{o}/s offered ({s:.0}/s sent): {a:.0}/s answered")).collect();
    assert!(top_sent >= 0.9 * top as f64, "{test}: the host sent only {top_sent:.0}/s of {top}/s; the check needs the offered rate");
    assert!(
        held >= HELD * peak,
        "{test}: receive livelock: {held:.0}/s answered at {top}/s offered, below {HELD} of the peak {peak:.0}/s\n{}\n{}",
        table.join("\n"),
        run.log()
    );

    // A flood on echo; sealed echo and stats must still answer.
    let before = stats();
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            pace(&socket, 5007, 20_000, 60.0, &stop)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let sealed = requests(5008, 40, sealed_request, |req, ans| ans.len() == req.len() && ans[..12] == req[..12]);
    let stats_answered = requests(5009, 20, |_| b"stats".to_vec(), |_, ans| ans.starts_with(b"{\"rx\""));
    stop.store(true, Ordering::SeqCst);
    let flooded = flood.join().unwrap();
    settle();
    std::thread::sleep(Duration::from_millis(500));
    let after = stats();
    let log = run.log();
    assert!(
        sealed as f64 >= ANSWERED * 40.0 && stats_answered as f64 >= ANSWERED * 20.0,
        "{test}: under a 20000/s echo flood ({flooded} sent) sealed echo answered {sealed}/40 and stats {stats_answered}/20\n{after}\n{log}"
    );
    let early = |s: &serde_json::Value, p: &str| s["paths"][p]["dropped_early"].as_u64().unwrap_or(0);
    for other in ["control", "sealed"] {
        assert_eq!(early(&after, other), early(&before, other), "{test}: the flood's early drops were charged to the {other} path: {after}");
    }
    assert_eq!(after["free_buffers"], after["total_buffers"], "{test}: buffers still in use after the flood: {after}");
    for bad in ["panicked", "VM fault", "cap fault", "unknown syscall", "user exception", "MON|ERROR"] {
        assert!(!log.contains(bad), "{test}: the console says '{bad}':\n{log}");
    }
    say(&format!(
        "{test}: {}; held {:.0} % of the peak {peak:.0}/s; during a 20000/s echo flood sealed echo {sealed}/40 and stats {stats_answered}/20 answered, \
         {} echo frames dropped early (charged to the echo path only); {} of {} buffers free afterwards",
        table.join(", "),
        100.0 * held / peak,
        early(&after, "echo") - early(&before, "echo"),
        after["free_buffers"],
        after["total_buffers"]
    ));
}
