//! Booting an image in QEMU and watching its serial console.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, Once, OnceLock, PoisonError, mpsc};
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
    /// Wall-clock time until the verdict.
    pub elapsed: Duration,
    /// How long the console was read on after it ([`run_lingering`]).
    pub lingered: Option<Duration>,
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
    run_watching(board, cores, image, kernel32, extra, judge, timeout, echo, &mut |_| {})
}

/// [`run`], also showing `watch` every console line (after `echo`, before
/// the judge).
#[allow(clippy::too_many_arguments)]
pub fn run_watching(
    board: Board,
    cores: u32,
    image: &Path,
    kernel32: &Path,
    extra: &[&str],
    judge: &mut Judge,
    timeout: Duration,
    echo: &mut dyn Write,
    watch: &mut dyn FnMut(&str),
) -> Result<Run> {
    run_lingering(board, cores, image, kernel32, extra, judge, timeout, echo, watch, None)
}

/// After a run passed, keep reading the console for at most `timeout`,
/// until `done()` (what `tunnelkit run --trace` does to collect the trace
/// dumps the system prints after its pass line).
pub struct Linger<'a> {
    /// The longest wait after the pass line.
    pub timeout: Duration,
    /// Whether everything awaited has arrived (asked after each line).
    pub done: &'a dyn Fn() -> bool,
}

/// [`run_watching`], and once the judge passed the run, with `linger`, the
/// console is read on (each line echoed and watched) until `linger.done()`
/// or its timeout or QEMU's exit. [`Run::lingered`] says how long it took.
#[allow(clippy::too_many_arguments)]
pub fn run_lingering(
    board: Board,
    cores: u32,
    image: &Path,
    kernel32: &Path,
    extra: &[&str],
    judge: &mut Judge,
    timeout: Duration,
    echo: &mut dyn Write,
    watch: &mut dyn FnMut(&str),
    linger: Option<Linger<'_>>,
) -> Result<Run> {
    let mut qemu = spawn(board, cores, image, kernel32, extra, Stdio::piped(), Stdio::piped())?;
    let (tx, rx) = mpsc::channel();
    let stdout = qemu.stdout.take().context("QEMU stdout")?;
    let stderr = qemu.stderr.take().context("QEMU stderr")?;
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
    let keep = |line: String, last: &mut VecDeque<String>, console: &mut Vec<String>| {
        if last.len() == KEPT_LINES {
            last.pop_front();
        }
        last.push_back(line.clone());
        console.push(line);
    };
    let outcome = loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            break Outcome::TimedOut;
        }
        match rx.recv_timeout(left) {
            Ok(line) => {
                let _ = writeln!(echo, "{line}");
                watch(&line);
                let verdict = judge.line(&line);
                keep(line, &mut last, &mut console);
                if let Some(v) = verdict {
                    break Outcome::Decided(v);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break Outcome::TimedOut,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = qemu.wait().ok().and_then(|s| s.code());
                break Outcome::QemuExited(status);
            }
        }
    };
    let elapsed = start.elapsed();
    let mut lingered = None;
    if let (Some(linger), Outcome::Decided(Verdict::Passed)) = (linger, &outcome) {
        let since = Instant::now();
        while !(linger.done)() {
            let left = linger.timeout.saturating_sub(since.elapsed());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let _ = writeln!(echo, "{line}");
                    watch(&line);
                    keep(line, &mut last, &mut console);
                }
                Err(_) => break,
            }
        }
        lingered = Some(since.elapsed());
    }
    drop(qemu); // kills and reaps it
    Ok(Run { outcome, last_lines: last.into(), console, elapsed, lingered })
}

/// Starts QEMU booting `image` on `board` with `cores` CPUs, `extra`
/// arguments and the given stdout / stderr; says how to install QEMU if it
/// is missing. The returned [`Qemu`] kills and reaps it when dropped, and
/// so does this process on SIGTERM, SIGINT or SIGHUP (see [`Qemu`]).
pub fn spawn<S: AsRef<std::ffi::OsStr>>(
    board: Board,
    cores: u32,
    image: &Path,
    kernel32: &Path,
    extra: &[S],
    stdout: Stdio,
    stderr: Stdio,
) -> Result<Qemu> {
    let bin = qemu_binary(board);
    let not_found =
        || anyhow::anyhow!("{bin} not found: install QEMU for {} (Debian/Ubuntu: apt install {})", board.name(), qemu_package(board));
    let mut cmd = match parent_death_wrapper() {
        Some(setpriv) => {
            // setpriv execs QEMU in its place, so a missing QEMU would only
            // show as setpriv's exit status: look for it first.
            if find_in_path(bin).is_none() {
                return Err(not_found());
            }
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--", bin]);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(qemu_args(board, image, kernel32, cores).map_err(anyhow::Error::msg)?)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    Qemu::start(&mut cmd).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found(),
        _ => anyhow::Error::new(e).context(format!("starting {bin}")),
    })
}

/// A QEMU this process started. Dropping it kills and reaps it. Every live
/// one is also in a registry that a signal thread empties on SIGTERM, SIGINT
/// or SIGHUP (kill and reap each, then exit with 128 + the signal), so that
/// no QEMU outlives `tunnelkit` holding the host ports of `run --net`.
///
/// If `setpriv` (util-linux) is on the PATH, QEMU also runs under
/// `setpriv --pdeathsig KILL`: the kernel kills it if `tunnelkit` dies
/// without a chance to clean up (SIGKILL). The death signal follows the
/// *thread* that started QEMU, so start it from a thread that outlives it
/// (every caller here runs QEMU on the thread that waits for it).
#[derive(Debug)]
pub struct Qemu {
    key: u64,
    pid: u32,
    /// QEMU's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// QEMU's stderr, if piped.
    pub stderr: Option<ChildStderr>,
}

/// The live QEMUs of this process.
struct Live {
    next: u64,
    children: BTreeMap<u64, Child>,
}

static LIVE: Mutex<Live> = Mutex::new(Live { next: 0, children: BTreeMap::new() });

fn live() -> MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Qemu {
    /// Spawns `cmd` and registers the child. The registry's lock is held
    /// across the spawn, so a signal either stops this child too or comes
    /// before it exists (the signal thread exits holding the lock).
    fn start(cmd: &mut Command) -> std::io::Result<Qemu> {
        watch_signals();
        let mut live = live();
        let mut child = cmd.spawn()?;
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let key = live.next;
        live.next += 1;
        let pid = child.id();
        live.children.insert(key, child);
        Ok(Qemu { key, pid, stdout, stderr })
    }

    /// QEMU's process id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&self) -> std::io::Result<Option<ExitStatus>> {
        match live().children.get_mut(&self.key) {
            Some(child) => child.try_wait(),
            None => Err(std::io::Error::other("QEMU was already stopped")),
        }
    }

    /// Waits for QEMU to exit (polling, so that the registry stays free for
    /// the signal thread).
    pub fn wait(&self) -> std::io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let mut live = live();
        if let Some(mut child) = live.children.remove(&self.key) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How many QEMUs this process has running (for tests).
pub fn live_count() -> usize {
    live().children.len()
}

/// Kills and reaps every live QEMU; returns the registry, still locked, so
/// that no other can start before the process exits.
fn stop_all() -> (MutexGuard<'static, Live>, usize) {
    let mut live = live();
    let n = live.children.len();
    for child in live.children.values_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    live.children.clear();
    (live, n)
}

/// Starts (once) the thread that turns SIGTERM, SIGINT and SIGHUP into:
/// stop every QEMU, exit with 128 + the signal.
fn watch_signals() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("tunnelkit: warning: cannot watch for SIGTERM/SIGINT/SIGHUP ({e}); a signal would leave QEMU running");
                return;
            }
        };
        let spawned = std::thread::Builder::new().name("tunnelkit-signals".into()).spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let (_live, n) = stop_all();
                let name = signal_hook::low_level::signal_name(signal).unwrap_or("signal");
                eprintln!("tunnelkit: {name}: stopped {n} QEMU process{}; exiting", if n == 1 { "" } else { "es" });
                std::process::exit(128 + signal);
            }
        });
        if let Err(e) = spawned {
            eprintln!("tunnelkit: warning: cannot start the signal thread ({e}); a signal would leave QEMU running");
        }
    });
}

/// `setpriv` if it is on the PATH and takes `--pdeathsig` (checked once).
fn parent_death_wrapper() -> Option<&'static Path> {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            let setpriv = find_in_path("setpriv")?;
            let works = Command::new(&setpriv)
                .args(["--pdeathsig", "KILL", "--", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            works.then_some(setpriv)
        })
        .as_deref()
}

/// The executable `name` in a directory of `$PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
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
