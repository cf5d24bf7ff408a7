//! The floor configuration answers by itself, and no receive livelock, in
//! the release config on both boards (needs
//! MICROKIT_SDK): `tunnelkit run --net --config release` is offered 64-byte
//! UDP echo requests at rising rates up to 20 000/s; the answered rate at
//! 20 000/s stays at least 90 % of the most the system answered at any rate.
//! While echo is flooded at 20 000/s, the other ports still answer (sealed
//! echo and stats, at least 90 % of the requests each), the early drops are
//! charged to the echo path alone, and after the flood every buffer is free
//! and no PD has faulted or panicked.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tunnelkit::bench::net::Kind;
use tunnelkit::bench::net_load::{self, Request};
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
/// Sealed-echo and stats requests each, one at a time, during the flood.
const PROBES: u32 = 40;

/// The floor (`bench --net`'s baseline: the NIC driver alone) answers UDP
/// echo and stats itself, and the sealed-echo port is closed there.
#[test]
fn the_floor_answers_echo_and_stats_itself() {
    floor("the_floor_answers_echo_and_stats_itself", Board::QEMU_VIRT_AARCH64);
}

#[test]
fn the_floor_answers_echo_and_stats_itself_on_x86_64_generic() {
    floor("the_floor_answers_echo_and_stats_itself_on_x86_64_generic", Board::X86_64_GENERIC);
}

fn floor(test: &str, board: Board) {
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let system = tunnelkit::bench::net::system_file(board, Kind::Floor).expect("the board has a network floor");
    let run = Run::start(test, board, system);
    assert!(run.wait_ready(Duration::from_secs(240)), "{test}: {system} never became ready:\n{}", run.log());
    let probes = net_load::probes(&[(5007, Request::Echo), (5009, Request::Stats)], 20, Duration::from_secs(1)).expect("probes");
    let sealed = net_load::exchange(5008, Request::Sealed, 0, Duration::from_millis(500)).expect("a sealed-echo request");
    let after = stats();
    let log = run.log();
    assert!(log.contains("net: pipeline up (floor)"), "{test}: the driver did not say it is the floor:\n{log}");
    assert_eq!((probes[0].answered, probes[1].answered), (20, 20), "{test}: echo and stats answered of 20 each\n{log}");
    assert_eq!(sealed, None, "{test}: the floor has no sealed-echo path, yet port 8 answered");
    assert!(after["drops"]["closed_port"].as_u64().unwrap_or(0) >= 1, "{test}: the sealed request was not counted as closed_port: {after}");
    assert_eq!(after["free_buffers"], after["total_buffers"], "{test}: {after}");
    say(&format!("{test}: {system}: 20/20 echoes and 20/20 stats answered by the driver alone; port 8 closed (counted); all buffers free"));
}

#[test]
fn no_livelock_and_other_ports_answer_under_a_flood() {
    overload("no_livelock_and_other_ports_answer_under_a_flood", Board::QEMU_VIRT_AARCH64);
}

#[test]
fn no_livelock_and_other_ports_answer_under_a_flood_on_x86_64_generic() {
    overload("no_livelock_and_other_ports_answer_under_a_flood_on_x86_64_generic", Board::X86_64_GENERIC);
}

/// `tunnelkit run --net --config release` of `system`, its stderr collected in the background.
struct Run {
    child: Child,
    stderr: Arc<Mutex<String>>,
    console: std::path::PathBuf,
}

impl Run {
    fn start(test: &str, board: Board, system: &str) -> Run {
        let (console, file) = tunnelkit_tests::console_file(test);
        let mut cmd = Command::new(tunnelkit_tests::tunnelkit_binary());
        cmd.current_dir(tunnelkit_tests::repo_root())
            .args(["run", "--net", "--config", "release", "--board", board.name(), "--system", system, "--timeout", "300"])
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

/// Offers 64-byte UDP echo at `pps` for [`SECONDS`] (the bench's paced
/// load): (sent per second, answered per second).
fn offer(pps: u64) -> (f64, f64) {
    let outcome = net_load::offered(5007, 64, pps, SECONDS, Duration::from_millis(500)).expect("a paced load");
    (outcome.sent_pps(), outcome.answered_pps())
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

fn stats() -> serde_json::Value {
    let answer = exchange(5009, b"stats", Duration::from_secs(2)).expect("stats answer");
    serde_json::from_slice(&answer).expect("stats JSON")
}

fn overload(test: &str, board: Board) {
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let run = Run::start(test, board, tunnelkit::net::system_file(board, false).expect("the board has a network system"));
    assert!(run.wait_ready(Duration::from_secs(240)), "{test}: the network system never became ready:\n{}", run.log());

    let mut sweep = Vec::new();
    for pps in RATES {
        let (sent, answered) = offer(pps);
        sweep.push((pps, sent, answered));
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
    let flood = net_load::Load::start(5007, 64, 20_000).expect("the flood");
    std::thread::sleep(Duration::from_millis(300));
    let probes = net_load::probes(&[(5008, Request::Sealed), (5009, Request::Stats)], PROBES, Duration::from_millis(500))
        .expect("sealed-echo and stats probes");
    let flooded = flood.stop(Duration::from_millis(100)).expect("the flood").sent;
    let (sealed, stats_answered) = (probes[0].answered, probes[1].answered);
    settle();
    std::thread::sleep(Duration::from_millis(500));
    let after = stats();
    let log = run.log();
    assert!(
        probes.iter().all(|p| p.ratio() >= ANSWERED),
        "{test}: under a 20000/s echo flood ({flooded} sent) sealed echo answered {sealed}/{PROBES} and stats {stats_answered}/{PROBES}\n{after}\n{log}"
    );
    let early = |s: &serde_json::Value, p: &str| s["paths"][p]["dropped_early"].as_u64().unwrap_or(0);
    for other in ["control", "sealed"] {
        assert_eq!(
            early(&after, other),
            early(&before, other),
            "{test}: the flood's early drops were charged to the {other} path: {after}"
        );
    }
    assert_eq!(after["free_buffers"], after["total_buffers"], "{test}: buffers still in use after the flood: {after}");
    for bad in ["panicked", "VM fault", "cap fault", "unknown syscall", "user exception", "MON|ERROR"] {
        assert!(!log.contains(bad), "{test}: the console says '{bad}':\n{log}");
    }
    say(&format!(
        "{test}: {}; held {:.0} % of the peak {peak:.0}/s; during a 20000/s echo flood sealed echo {sealed}/{PROBES} and stats {stats_answered}/{PROBES} answered, \
         {} echo frames dropped early (charged to the echo path only); {} of {} buffers free afterwards",
        table.join(", "),
        100.0 * held / peak,
        early(&after, "echo") - early(&before, "echo"),
        after["free_buffers"],
        after["total_buffers"]
    ));
}
