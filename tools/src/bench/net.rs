//! `tunnelkit bench --net`: the network pipeline measured from the host, on
//! the same QEMU set-up `run --net` uses (user networking, hostfwd), once per
//! transport: `net.xml` (tunnels) and `net-async.xml` (async queues), on
//! x86_64_generic `net.x86_64_generic.xml` and `net-async.x86_64_generic.xml`.
//!
//! Measured: round-trip latency of UDP echo (sequential requests), the
//! answered rate at several offered rates, and crosstalk with real traffic:
//! sealed-echo latency and answer ratio while UDP echo is flooded.
//! Host-time figures (TCG, no icount: real traffic): they vary between runs.

use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::board::{Board, KernelConfig, qemu_args};
use crate::build::{BuildRequest, build};
use crate::net::{self, exchange};
use crate::progress::Step;
use crate::sdk::Sdk;
use crate::workspace::Workspace;

/// Microseconds: min, median, max.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Micros {
    /// Smallest.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Largest.
    pub max: f64,
}

/// The answered rate at one offered rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Datagrams per second sent.
    pub offered_pps: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Answers received.
    pub answered: u64,
    /// Answers per second.
    pub answered_pps: f64,
}

/// Crosstalk with real traffic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crosstalk {
    /// Offered flood rate on the echo port.
    pub flood_pps: u64,
    /// Sealed-echo round trip without the flood.
    pub quiet_rtt_us: Micros,
    /// Sealed-echo round trip during the flood.
    pub flooded_rtt_us: Micros,
    /// Sealed-echo requests answered during the flood, as a fraction.
    pub flooded_answer_ratio: f64,
}

/// One transport's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetSystem {
    /// `tunnel` or `async`.
    pub transport: String,
    /// The system description.
    pub system: String,
    /// UDP echo round trip, sequential requests of 64 bytes.
    pub echo_rtt_us: Micros,
    /// Answered rate per offered rate (UDP echo, 64 bytes).
    pub rates: Vec<Rate>,
    /// Crosstalk: flood on the echo path, sealed path measured.
    pub crosstalk: Crosstalk,
}

/// Everything `bench --net` measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetResults {
    /// Board.
    pub board: String,
    /// Kernel configuration.
    pub config: String,
    /// QEMU version and flags.
    pub qemu: super::model::QemuInfo,
    /// Per transport.
    pub systems: Vec<NetSystem>,
}

/// Offered rates of the throughput sweep (datagrams per second).
const RATES: [u64; 4] = [500, 1000, 2000, 4000];
/// Seconds per offered rate.
const RATE_SECONDS: f64 = 2.0;
/// Sequential round trips per latency figure.
const ROUND_TRIPS: usize = 300;
/// Flood rate of the crosstalk case.
const FLOOD_PPS: u64 = 4000;
/// Sealed-echo requests per crosstalk figure.
const CROSSTALK_REQUESTS: usize = 100;

/// Builds, boots and measures both network systems.
pub fn run(ws: &Workspace, sdk: &Sdk, board: Board, config: KernelConfig) -> Result<NetResults> {
    let mut systems = Vec::new();
    let extra = net::qemu_args(board, &net::default_netdev());
    let kernel32 = match board {
        Board::X86_64Generic => sdk.kernel32(board, config)?,
        Board::QemuVirtAarch64 => PathBuf::new(),
    };
    for (transport, file) in [("tunnel", net::system_file(board, false)), ("async", net::system_file(board, true))] {
        let system = ws.root.join(file);
        let built = build(ws, sdk, &BuildRequest { system: system.clone(), board, config })?;
        net::ensure_echo_port_free()?;
        let step = Step::start(format!("{transport}: booting {file}"));
        let log = built.dir.join(format!("{}-bench-net.log", file.trim_end_matches(".xml")));
        let _qemu = boot(board, &built.image, &kernel32, &extra, &log)?;
        wait_ready(&log)?;
        step.detail("measuring");
        let (echo_rtt_us, _) = round_trips(5007, 64, ROUND_TRIPS)?;
        let mut rates = Vec::new();
        for offered in RATES {
            step.detail(&format!("offering {offered} datagrams/s"));
            rates.push(offered_rate(offered, RATE_SECONDS)?);
        }
        step.detail("crosstalk");
        let crosstalk = crosstalk()?;
        step.finish(&format!("echo median {:.0} µs", echo_rtt_us.median));
        systems.push(NetSystem { transport: transport.into(), system: file.into(), echo_rtt_us, rates, crosstalk });
    }
    Ok(NetResults {
        board: board.name().into(),
        config: config.name().into(),
        qemu: super::model::QemuInfo {
            version: crate::qemu::version(board)?,
            flags: {
                let mut a = qemu_args(board, Path::new("<image>"), Path::new(""), 1);
                a.extend(extra);
                a.join(" ")
            },
        },
        systems,
    })
}

/// Starts QEMU with its console in `log`; it is killed when the returned
/// guard drops (and on SIGTERM, SIGINT or SIGHUP, see [`crate::qemu::Qemu`]).
fn boot(board: Board, image: &Path, kernel32: &Path, extra: &[String], log: &Path) -> Result<crate::qemu::Qemu> {
    let out = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    crate::qemu::spawn(board, 1, image, kernel32, extra, Stdio::from(out.try_clone()?), Stdio::from(out))
}

fn wait_ready(log: &Path) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if exchange(5007, b"ready?", Duration::from_millis(300)).is_ok_and(|a| a == b"ready?") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the network system never answered on 127.0.0.1:5007; console log: {}", log.display())
}

fn micros(mut samples: Vec<f64>) -> Micros {
    if samples.is_empty() {
        return Micros { min: f64::NAN, median: f64::NAN, max: f64::NAN };
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Micros { min: samples[0], median: samples[samples.len() / 2], max: samples[samples.len() - 1] }
}

/// Sequential requests of `size` bytes to `port`, each tagged with its
/// number and answered within 500 ms or counted as lost: (round trips, answered).
fn round_trips(port: u16, size: usize, count: usize) -> Result<(Micros, usize)> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut samples = Vec::with_capacity(count);
    let mut buf = [0u8; 2048];
    for i in 0..count {
        let mut payload = vec![0u8; size];
        payload[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let start = Instant::now();
        socket.send_to(&payload, ("127.0.0.1", port))?;
        // Skip stale answers to earlier requests.
        while let Ok((n, _)) = socket.recv_from(&mut buf) {
            if n >= 8 && buf[..8] == payload[..8] {
                samples.push(start.elapsed().as_secs_f64() * 1e6);
                break;
            }
        }
    }
    let answered = samples.len();
    Ok((micros(samples), answered))
}

/// Sends 64-byte echo requests at `pps` for `seconds` and counts answers.
fn offered_rate(pps: u64, seconds: f64) -> Result<Rate> {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0")?);
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
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
    let sent = pace(&socket, 5007, pps, seconds, 64)?;
    std::thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::SeqCst);
    let _ = receiver.join();
    let answered = answered.load(Ordering::SeqCst);
    Ok(Rate { offered_pps: pps, sent, answered, answered_pps: answered as f64 / seconds })
}

/// Sends datagrams of `size` bytes to `port` at `pps` for `seconds`; returns how many.
fn pace(socket: &UdpSocket, port: u16, pps: u64, seconds: f64, size: usize) -> Result<u64> {
    let payload = vec![0x42u8; size];
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        let due = (start.elapsed().as_secs_f64() * pps as f64) as u64;
        while sent < due {
            socket.send_to(&payload, ("127.0.0.1", port))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(sent)
}

/// Sealed-echo latency quiet and during an echo flood.
fn crosstalk() -> Result<Crosstalk> {
    let (quiet_rtt_us, _) = round_trips(5008, 64, CROSSTALK_REQUESTS)?;
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let flooding = flooding.clone();
        std::thread::spawn(move || -> Result<u64> {
            let socket = UdpSocket::bind("127.0.0.1:0")?;
            let mut total = 0;
            while flooding.load(Ordering::SeqCst) {
                total += pace(&socket, 5007, FLOOD_PPS, 0.5, 64)?;
            }
            Ok(total)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let (flooded_rtt_us, answered) = round_trips(5008, 64, CROSSTALK_REQUESTS)?;
    flooding.store(false, Ordering::SeqCst);
    let _ = flood.join();
    Ok(Crosstalk { flood_pps: FLOOD_PPS, quiet_rtt_us, flooded_rtt_us, flooded_answer_ratio: answered as f64 / CROSSTALK_REQUESTS as f64 })
}

/// A markdown table of the results.
pub fn markdown(r: &NetResults) -> String {
    let mut s = format!(
        "Board `{}`, kernel configuration `{}`, QEMU `{}` with flags `{}`. Host-time measurements (TCG, no icount: real traffic through user networking); they vary between runs.\n\n",
        r.board, r.config, r.qemu.version, r.qemu.flags
    );
    s.push_str("| transport | echo RTT min / median / max (µs) |");
    for rate in RATES {
        s.push_str(&format!(" answered at {rate}/s |"));
    }
    s.push_str(&format!(
        " sealed RTT quiet (median µs) | sealed RTT during {FLOOD_PPS}/s echo flood (median µs) | sealed answered during flood |\n"
    ));
    s.push_str("|---|--:|");
    for _ in RATES {
        s.push_str("--:|");
    }
    s.push_str("--:|--:|--:|\n");
    for sys in &r.systems {
        s.push_str(&format!(
            "| {} | {:.0} / {:.0} / {:.0} |",
            sys.transport, sys.echo_rtt_us.min, sys.echo_rtt_us.median, sys.echo_rtt_us.max
        ));
        for rate in &sys.rates {
            s.push_str(&format!(" {:.0}/s |", rate.answered_pps));
        }
        let c = &sys.crosstalk;
        s.push_str(&format!(
            " {:.0} | {:.0} | {:.0} % |\n",
            c.quiet_rtt_us.median,
            c.flooded_rtt_us.median,
            100.0 * c.flooded_answer_ratio
        ));
    }
    s
}

/// Writes `net.json`, `net.md` and `net.svg` to `dir`.
pub fn write(r: &NetResults, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(dir)?;
    let (json, md) = (dir.join("net.json"), dir.join("net.md"));
    fs::write(&json, serde_json::to_string_pretty(r)? + "\n").with_context(|| format!("writing {}", json.display()))?;
    fs::write(&md, markdown(r)).with_context(|| format!("writing {}", md.display()))?;
    plot(r, &dir.join("net.svg"))?;
    Ok((json, md))
}

/// Answered against offered rate per transport (left), and the sealed-echo
/// answer ratio quiet and under the flood (right).
pub fn plot(r: &NetResults, path: &Path) -> Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(560);
    let max = RATES.iter().copied().max().unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(&left)
        .caption("UDP echo: answered vs offered (datagrams/s)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..max * 1.05, 0.0..max * 1.05)?;
    chart.configure_mesh().x_desc("offered").y_desc("answered").draw()?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (max, max)], BLACK.mix(0.3)))?
        .label("offered = answered")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.3)));
    for (i, sys) in r.systems.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = sys.rates.iter().map(|x| (x.offered_pps as f64, x.answered_pps)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(sys.transport.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::UpperLeft).draw()?;

    let n = r.systems.len().max(1);
    let mut bars = ChartBuilder::on(&right)
        .caption(format!("Sealed echo answered under a {FLOOD_PPS}/s echo flood"), ("sans-serif", 14))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..105.0)?;
    bars.configure_mesh()
        .y_desc("answered (%)")
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => r.systems.get(*i).map(|s| s.transport.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    bars.draw_series(r.systems.iter().enumerate().map(|(i, sys)| {
        let v = (100.0 * sys.crosstalk.flooded_answer_ratio).clamp(0.0, 100.0);
        let mut bar = Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), v)], Palette99::pick(i).filled());
        bar.set_margin(0, 0, 15, 15);
        bar
    }))?;
    root.present()?;
    Ok(())
}

/// First line of the README's network-results section.
pub const BEGIN_MARKER: &str = "<!-- tunnelkit-net-results:begin -->";
/// Last line of it.
pub const END_MARKER: &str = "<!-- tunnelkit-net-results:end -->";

/// Replaces the README's network-results section (between the markers, kept;
/// appended at the end if absent) with `results`.
pub fn update_readme(readme: &str, results: &NetResults) -> String {
    let section = format!(
        "### Network pipeline (`bench --net`)\n\nThis section is generated by `cargo run -p tunnelkit -- bench --net --update-readme` and is not edited by hand.\n\n{}\n![network pipeline on {b}](bench-results/{b}/net.svg)\n",
        markdown(results),
        b = results.board
    );
    match (readme.find(BEGIN_MARKER), readme.find(END_MARKER)) {
        (Some(b), Some(e)) if b < e => {
            let start = b + BEGIN_MARKER.len();
            format!("{}\n{section}{}", &readme[..start], &readme[e..])
        }
        _ => format!("{}\n{BEGIN_MARKER}\n{section}{END_MARKER}\n", readme.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NetResults {
        let m = Micros { min: 1.0, median: 2.0, max: 3.0 };
        NetResults {
            board: "qemu_virt_aarch64".into(),
            config: "release".into(),
            qemu: super::super::model::QemuInfo { version: "v".into(), flags: "f".into() },
            systems: vec![NetSystem {
                transport: "tunnel".into(),
                system: "net.xml".into(),
                echo_rtt_us: m,
                rates: RATES.iter().map(|&r| Rate { offered_pps: r, sent: r, answered: r, answered_pps: r as f64 }).collect(),
                crosstalk: Crosstalk { flood_pps: FLOOD_PPS, quiet_rtt_us: m, flooded_rtt_us: m, flooded_answer_ratio: 0.5 },
            }],
        }
    }

    #[test]
    fn the_readme_section_is_replaced_between_markers_and_idempotent() {
        let readme = format!("# T\n\n{BEGIN_MARKER}\nold\n{END_MARKER}\ntail\n");
        let once = update_readme(&readme, &sample());
        assert!(once.contains("| tunnel | 1 / 2 / 3 |"), "{once}");
        assert!(!once.contains("old"));
        assert!(once.ends_with(&format!("{END_MARKER}\ntail\n")));
        assert_eq!(update_readme(&once, &sample()), once);
        let svg = std::env::temp_dir().join(format!("tunnelkit-net-{}.svg", std::process::id()));
        plot(&sample(), &svg).unwrap();
        assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
        std::fs::remove_file(svg).unwrap();
        let appended = update_readme("# T\n", &sample());
        assert!(appended.contains(BEGIN_MARKER) && appended.contains(END_MARKER));
    }
}
