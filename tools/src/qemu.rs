//! Booting an image in QEMU and watching its serial console.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::board::{Board, qemu_args, qemu_binary, qemu_package};
use crate::console::{Judge, Verdict};

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A line decided the run.
    Decided(Verdict),
    /// No deciding line within the timeout.
    TimedOut,
    /// QEMU exited before any deciding line.
    QemuExited(Option<i32>),
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Run {
    /// How it ended.
    pub outcome: Outcome,
    /// The last console lines.
    pub last_lines: Vec<String>,
    /// Every console line.
    pub console: Vec<String>,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// Lines kept for the failure report.
const KEPT_LINES: usize = 25;

/// Boots `image` on `board` with `cores` CPUs and reads the console until
/// `judge` decides, QEMU exits or `timeout` passes; QEMU is killed at the
/// end. `echo` receives every console line as it arrives.
#[allow(clippy::too_many_arguments)]
pub fn run(
    board: Board,
    cores: u32,
    image: &Path,
    kernel32: &Path,
    extra: &[&str],
    judge: &mut Judge,
    timeout: Duration,
    echo: &mut dyn Write,
) -> Result<Run> {
    let mut child = spawn(board, cores, image, kernel32, extra, Stdio::piped(), Stdio::piped())?;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().context("QEMU stdout")?;
    let stderr = child.stderr.take().context("QEMU stderr")?;
    for stream in [Box::new(stdout) as Box<dyn std::io::Read + Send>, Box::new(stderr)] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            while reader.read_until(b'\n', &mut buf).map(|n| n > 0).unwrap_or(false) {
                let line = String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string();
                if tx.send(line).is_err() {
                    break;
                }
                buf.clear();
            }
        });
    }
    drop(tx);

    let start = Instant::now();
    let mut last = VecDeque::new();
    let mut console = Vec::new();
    let outcome = loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            break Outcome::TimedOut;
        }
        match rx.recv_timeout(left) {
            Ok(line) => {
                let _ = writeln!(echo, "{line}");
                if last.len() == KEPT_LINES {
                    last.pop_front();
                }
                last.push_back(line.clone());
                console.push(line.clone());
                if let Some(v) = judge.line(&line) {
                    break Outcome::Decided(v);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break Outcome::TimedOut,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().ok().and_then(|s| s.code());
                break Outcome::QemuExited(status);
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    Ok(Run { outcome, last_lines: last.into(), console, elapsed: start.elapsed() })
}

/// Starts QEMU booting `image` on `board` with `cores` CPUs, `extra`
/// arguments and the given stdout / stderr; says how to install QEMU if it
/// is missing.
pub fn spawn<S: AsRef<std::ffi::OsStr>>(
    board: Board,
    cores: u32,
    image: &Path,
    kernel32: &Path,
    extra: &[S],
    stdout: Stdio,
    stderr: Stdio,
) -> Result<std::process::Child> {
    let bin = qemu_binary(board);
    Command::new(bin)
        .args(qemu_args(board, image, kernel32, cores))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow::anyhow!("{bin} not found: install QEMU for {} (Debian/Ubuntu: apt install {})", board.name(), qemu_package(board))
            }
            _ => anyhow::Error::new(e).context(format!("starting {bin}")),
        })
}

/// Turns a run into `Ok` (passed) or an error that says why and shows the last lines.
pub fn require_pass(run: &Run, pass_line: &str, timeout: Duration) -> Result<()> {
    let why = match &run.outcome {
        Outcome::Decided(Verdict::Passed) => return Ok(()),
        Outcome::Decided(Verdict::Panicked { line, .. }) => line.trim_start_matches("tunnelkit: ").to_string(),
        Outcome::Decided(Verdict::Faulted { pd }) => format!("PD '{pd}' faulted (reported by the Microkit monitor)"),
        Outcome::TimedOut => format!("timed out after {}s without '{pass_line}'", timeout.as_secs()),
        Outcome::QemuExited(code) => format!("QEMU exited (status {code:?}) without '{pass_line}'"),
    };
    bail!("{why}\nlast console lines:\n{}", run.last_lines.iter().map(|l| format!("  | {l}")).collect::<Vec<_>>().join("\n"))
}

/// The first line of `<qemu> --version` for `board`.
pub fn version(board: Board) -> Result<String> {
    let bin = qemu_binary(board);
    let out = Command::new(bin).arg("--version").output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            anyhow::anyhow!("{bin} not found: install QEMU for {} (Debian/Ubuntu: apt install {})", board.name(), qemu_package(board))
        }
        _ => anyhow::Error::new(e).context(format!("running {bin} --version")),
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("unknown").trim().to_string())
}
