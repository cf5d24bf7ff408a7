//! `tunnelkit`: build tunnelkit systems into Microkit images and boot them in QEMU.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use tunnelkit::board::{Board, KernelConfig, parse_board, parse_config};
use tunnelkit::build::{BuildRequest, build_accounted, build_adding_console, build_traced};
use tunnelkit::console::Judge;
use tunnelkit::sdk::Sdk;
use tunnelkit::workspace::Workspace;
use tunnelkit::{qemu, sdk};

/// Build and run tunnelkit systems (Microkit 2.3 on seL4 16, MCS).
#[derive(Parser)]
#[command(name = "tunnelkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile every PD image the system names and run the microkit tool.
    Build {
        #[command(flatten)]
        target: Target,
        /// Build for tracing (docs/trace.md): every PD records its events and
        /// a dumper PD prints them at the end; into target/tunnelkit/<board>/<config>-trace/.
        #[arg(long)]
        trace: bool,
        /// Build for accounting (README "Accounting"): every PD keeps
        /// counters of where its time went and an accountant PD reads them
        /// and every path's scheduling context; into target/tunnelkit/<board>/<config>-account/.
        #[arg(long, conflicts_with = "trace")]
        accounting: bool,
    },
    /// Build, boot in QEMU, stream the console; exit 0 on the pass line.
    Run {
        #[command(flatten)]
        target: Target,
        /// Seconds to wait for the pass line.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// The console line that means the system passed (default: any line
        /// `tunnelkit: <what> passed`, which every tunnelkit system prints).
        #[arg(long)]
        pass_line: Option<String>,
        /// Boot the board's network system (net.xml, on x86_64_generic
        /// net.x86_64_generic.xml, unless --system is given) with a
        /// virtio-net device on QEMU user networking, forwarding
        /// 127.0.0.1:5007/5008/5009 to the guest's UDP ports 7/8/9; prints
        /// `tunnelkit: net ready` once the guest prints `net: pipeline up`
        /// (and, with user networking, 127.0.0.1:5007 answers), then runs
        /// until killed or the timeout (exit 0 if it became ready).
        #[arg(long)]
        net: bool,
        /// With --net: a QEMU `-netdev` spec without `id=` replacing user
        /// networking (e.g. `dgram,local.type=inet,…`); the NIC stays.
        #[arg(long, requires = "net")]
        netdev: Option<String>,
        /// Do not fail on PD panic lines: for fault-injection systems whose
        /// pods panic on purpose under a supervisor (faults the monitor
        /// reports still fail the run).
        #[arg(long)]
        allow_pd_panics: bool,
        /// Trace the run (docs/trace.md): build with tracing, and once the
        /// system passed, collect every PD's trace dump from the console and
        /// write them, merged, to FILE as JSON lines.
        #[arg(long, value_name = "FILE", conflicts_with = "net")]
        trace: Option<PathBuf>,
        /// With --trace: seconds to wait for the dumps after the pass line.
        #[arg(long, default_value_t = 300, requires = "trace")]
        trace_timeout: u64,
        /// Account for every path's CPU (README "Accounting"): build with
        /// accounting, and when the system has passed (or at the timeout)
        /// write the table to FILE as JSON and print it.
        #[arg(long, value_name = "FILE", conflicts_with = "trace")]
        accounting: Option<PathBuf>,
    },
    /// Measure crossings and crosstalk in the benchmark config under QEMU
    /// `-icount shift=0`; write results.json, results.md and SVG plots. With
    /// `--config smp-benchmark`: the multicore measurements (pod migration,
    /// crosstalk on two cores, throughput on 1..4 cores) on host time with
    /// `-smp`; write smp.json, smp.md and throughput.svg.
    Bench {
        /// Board: qemu_virt_aarch64 or x86_64_generic.
        #[arg(long, default_value = "qemu_virt_aarch64", value_parser = parse_board)]
        board: Board,
        /// Kernel configuration: benchmark (one core, under icount) or
        /// smp-benchmark (every core, host time).
        #[arg(long, default_value = "benchmark", value_parser = parse_config)]
        config: KernelConfig,
        /// Output directory (default: bench-results/<board>, or bench-results/<board>/smp with smp-benchmark).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Boots per benchmark system (default 2: two or more also checks that
        /// runs are instruction-exact; with smp-benchmark default 5, the
        /// spread over which is reported).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        runs: Option<u32>,
        /// Seconds allowed per boot (default 900; with smp-benchmark 180).
        #[arg(long)]
        timeout: Option<u64>,
        /// Also replace the Results section of README.md with these results
        /// (with smp-benchmark: the text between the multicore results markers).
        #[arg(long)]
        update_readme: bool,
        /// Measure nothing: regenerate the README's generated results sections
        /// (benchmarks, multicore, network) from what bench-results/ holds.
        #[arg(long, conflicts_with_all = ["update_readme", "only", "net", "out", "runs"])]
        readme_only: bool,
        /// Run only these systems of the benchmark config: `crossings` (the
        /// crossing costs) or `crosstalk` (the four crosstalk designs). The
        /// results then hold only their part; not with --update-readme.
        #[arg(long, value_parser = ["crossings", "crosstalk"], conflicts_with_all = ["update_readme", "net"])]
        only: Option<String>,
        /// Measure the network systems from the host instead (release config):
        /// the floor (net-floor.xml), the tunnel and the async pipeline, under
        /// UDP load up to 50 000 datagrams/s; writes net.json, net.md and net.svg.
        #[arg(long)]
        net: bool,
        /// Build every benchmark system with accounting (README
        /// "Accounting"), to measure its cost; needs --out (the committed
        /// results are of systems without it).
        #[arg(long, requires = "out", conflicts_with_all = ["update_readme", "net", "readme_only"])]
        accounting: bool,
    },
    /// Model-check the tunnel semantics (stateright, exhaustive); exit 0 when
    /// every property holds (exercised or vacuously) or fails exactly as expected.
    Model {
        /// `small` (seconds) or `large` (a third path; 10–20 s in a debug build).
        #[arg(long, default_value = "small", value_parser = ["small", "large"])]
        config: String,
        /// Print the README's tables for the configuration (scenario bounds, states, each
        /// property's outcome) instead of the report.
        #[arg(long)]
        markdown: bool,
        /// Replay a trace of a real run (`tunnelkit run --trace FILE`) as a behaviour of the
        /// model instead: exit 0 when it conforms, 1 at the first event the model does not allow.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "markdown"])]
        check_trace: Option<PathBuf>,
    },
    /// Check a system description statically (Microkit 2.3 rules + tunnelkit's); exit 1 if invalid.
    Check(CheckArgs),
    /// Make a new project in DIR (new or empty): a cargo workspace with a
    /// client PD, a pod serving a small service, a system.xml and a README,
    /// depending on tunnelkit's crates; `tunnelkit run` in it boots it.
    New(NewArgs),
}

#[derive(Args)]
struct NewArgs {
    /// The project's directory (must not exist or be empty); its name names the project.
    dir: PathBuf,
    /// Depend on the tunnelkit checkout at PATH (default: the checkout this
    /// tool was built from).
    #[arg(long, value_name = "PATH", conflicts_with = "git")]
    tunnelkit: Option<PathBuf>,
    /// Depend on tunnelkit from this git repository instead of a checkout.
    #[arg(long, value_name = "URL")]
    git: Option<String>,
    /// With --git: follow this branch.
    #[arg(long, requires = "git", conflicts_with = "rev")]
    branch: Option<String>,
    /// With --git: pin this commit or tag.
    #[arg(long, requires = "git")]
    rev: Option<String>,
}

#[derive(Args)]
struct CheckArgs {
    /// The system description file.
    file: PathBuf,
    /// An authority policy (TOML) to check the system against.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Write the authority graph: DOT, or SVG if the name ends in .svg.
    #[arg(long)]
    graph: Option<PathBuf>,
    /// Board, for board-dependent rules (stack bottom, cores, x86-only IRQ forms and I/O ports); skipped without it.
    #[arg(long, value_parser = parse_board)]
    board: Option<Board>,
    /// Kernel configuration (debug, release, benchmark, smp-debug, smp-release, smp-benchmark): its core
    /// count bounds every PD's `cpu` (without it, the board's largest).
    #[arg(long, value_parser = parse_config)]
    config: Option<KernelConfig>,
    /// A directory program images and prefill files are looked for in, as the microkit tool looks
    /// (repeatable, searched in order, then the current directory). Default: the system file's
    /// directory, then the current directory.
    #[arg(long = "search-path", value_name = "DIR")]
    search_path: Vec<PathBuf>,
    /// Do not look at program images or prefill files: the rules about them are skipped (and listed).
    #[arg(long, conflicts_with = "search_path")]
    no_images: bool,
}

#[derive(Args)]
struct Target {
    /// Board: qemu_virt_aarch64 or x86_64_generic.
    #[arg(long, default_value = "qemu_virt_aarch64", value_parser = parse_board)]
    board: Board,
    /// Kernel configuration: debug, release, benchmark, or a multicore
    /// twin: smp-debug, smp-release, smp-benchmark.
    #[arg(long, default_value = "debug", value_parser = parse_config)]
    config: KernelConfig,
    /// Cores QEMU gives an smp kernel (`-smp`): on x86_64_generic 1..16
    /// (default 4, or more if a PD's cpu needs it); qemu_virt_aarch64's
    /// kernel always takes its 4.
    #[arg(long)]
    cores: Option<u32>,
    /// The system description (default: system.xml, or with --net the
    /// board's network system: net.xml, net.x86_64_generic.xml).
    #[arg(long)]
    system: Option<PathBuf>,
}

impl Target {
    fn system(&self, net: bool) -> Result<PathBuf> {
        if let Some(s) = &self.system {
            return Ok(s.clone());
        }
        if !net {
            return Ok(PathBuf::from("system.xml"));
        }
        match tunnelkit::net::system_file(self.board, false) {
            Some(file) => Ok(PathBuf::from(file)),
            None => bail!(
                "{} has no network system: tunnelkit's are for the virtio-net devices of {}; pass --system with one of your own",
                self.board.name(),
                Board::BUILT_IN.map(|b| b.name()).join(", ")
            ),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Check(c) = &cli.command {
        return check(c);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tunnelkit: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Build { target: t, trace, accounting } => {
            if t.cores.is_some() {
                bail!("--cores is for run: the image does not depend on it");
            }
            let (ws, sdk) = setup()?;
            let built = if trace {
                build_traced(&ws, &sdk, &request(&t, false)?)?
            } else if accounting {
                build_accounted(&ws, &sdk, &request(&t, false)?)?
            } else {
                build_adding_console(&ws, &sdk, &request(&t, false)?)?
            };
            if !tunnelkit::board::boots_in_qemu(t.board) {
                let kind = tunnelkit::boot::image_kind(&sdk, t.board, t.config, &built.image)?;
                for line in tunnelkit::boot::instructions(t.board, &built.image, kind) {
                    eprintln!("tunnelkit: {line}");
                }
            }
            Ok(())
        }
        Cmd::Run { target: t, timeout, pass_line, net, netdev, allow_pd_panics, trace, trace_timeout, accounting } => {
            tunnelkit::board::require_qemu(t.board).map_err(anyhow::Error::msg)?;
            let system = t.system(net)?;
            // Without a kernel console (release, benchmark, smp-release,
            // smp-benchmark) the build adds the console pod if the system has none.
            let sdf = tunnelkit::sdf::System::read(&system)?;
            let (ws, sdk) = setup()?;
            let built = if trace.is_some() {
                build_traced(&ws, &sdk, &request(&t, net)?)?
            } else if accounting.is_some() {
                build_accounted(&ws, &sdk, &request(&t, net)?)?
            } else {
                build_adding_console(&ws, &sdk, &request(&t, net)?)?
            };
            let cores = tunnelkit::board::qemu_cores(t.board, t.config, t.cores, built.highest_cpu).map_err(anyhow::Error::msg)?;
            let kernel32 = sdk.qemu_kernel32(t.board, t.config)?;
            eprintln!(
                "tunnelkit: booting {} in QEMU{} (timeout {timeout}s)",
                built.image.display(),
                if cores > 1 { format!(" with -smp {cores}") } else { String::new() }
            );
            if accounting.is_some()
                && let Some(host) = host_cores()
                && cores as u64 > host
            {
                eprintln!(
                    "tunnelkit: warning: QEMU runs {cores} virtual CPUs on {host} host cores: the kernel charges a thread for the time its virtual CPU waits on the host (paused, or spinning on the kernel lock another paused CPU holds), so paths on some cores show more than they used; the checks flag what they can. For exact multicore figures give QEMU at most {host} cores{}",
                    if t.board == Board::X86_64_GENERIC {
                        " (--cores)"
                    } else {
                        " (qemu_virt_aarch64's smp kernel needs 4: use a host with 4 or more)"
                    }
                );
            }
            let timeout = Duration::from_secs(timeout);
            let mut extra = if net {
                tunnelkit::net::qemu_args(t.board, netdev.as_deref().unwrap_or(&tunnelkit::net::default_netdev()))
            } else {
                Vec::new()
            };
            if sdf.icount {
                if cores > 1 {
                    eprintln!(
                        "tunnelkit: {} asks for QEMU's instruction counter, but {cores} cores run on multi-threaded TCG, which has none: running on host time",
                        system.display()
                    );
                } else if tunnelkit::bench::run::budgets_work_under_icount(t.board) {
                    extra.extend(tunnelkit::bench::run::ICOUNT.map(String::from));
                    eprintln!(
                        "tunnelkit: {} asks for QEMU's instruction counter as its clock: {}",
                        system.display(),
                        tunnelkit::bench::run::ICOUNT.join(" ")
                    );
                } else {
                    eprintln!(
                        "tunnelkit: {} asks for QEMU's instruction counter, but seL4's timer on {} does not fire under it: running on host time",
                        system.display(),
                        t.board.name()
                    );
                }
            }
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            if net && netdev.is_none() {
                tunnelkit::net::ensure_echo_port_free()?;
            }
            // Ready once the guest prints its pipeline up (and, with user
            // networking, 127.0.0.1:5007 answers).
            let mut ready = net.then(|| tunnelkit::net::Readiness::new(netdev.is_none(), timeout));
            let mut judge = match &pass_line {
                Some(line) => Judge::new(line),
                None => Judge::any_system_passed(),
            }
            .allowing_panics_of(built.supervised.clone());
            if allow_pd_panics {
                judge = judge.allowing_panics();
            }
            // With --trace: the dumps the system prints after its pass line.
            let collector = std::cell::RefCell::new(
                built.trace.as_ref().map(|a| tunnelkit::trace::Collector::new(a.traced.iter().map(|t| (t.region, t.pd.clone())))),
            );
            // With --accounting: the accountant's snapshots.
            let accountant = std::cell::RefCell::new(tunnelkit::account::Collector::default());
            // On x86_64 the kernel's TSC rate, from its boot line (configs with a kernel console).
            let kernel_tsc = std::cell::Cell::new(None);
            let pass_judge = judge.clone();
            let mut watch = |line: &str| {
                ready.iter_mut().for_each(|r| r.line(line));
                if let Some(c) = collector.borrow_mut().as_mut() {
                    c.line(line);
                }
                if accounting.is_some() {
                    if pass_judge.passes(line) {
                        accountant.borrow_mut().pass_seen();
                    }
                    accountant.borrow_mut().line(line);
                    if kernel_tsc.get().is_none() {
                        kernel_tsc.set(tunnelkit::account::kernel_tsc_hz(line));
                    }
                }
            };
            let dumps_done = || collector.borrow().as_ref().is_none_or(tunnelkit::trace::Collector::complete);
            let final_snapshot = || accountant.borrow().has_final();
            let linger = if trace.is_some() {
                Some(qemu::Linger { timeout: Duration::from_secs(trace_timeout), done: &dumps_done as &dyn Fn() -> bool })
            } else {
                accounting.is_some().then(|| qemu::Linger {
                    timeout: Duration::from_secs(ACCOUNTING_TIMEOUT_S),
                    done: &final_snapshot as &dyn Fn() -> bool,
                })
            };
            let mut stdout = std::io::stdout();
            let mut without_dumps = if trace.is_some() {
                tunnelkit::trace::WithoutDumpLines::new(std::io::stdout())
            } else {
                tunnelkit::trace::WithoutDumpLines::leaving_out(std::io::stdout(), tunnelkit::account::is_account_line)
            };
            let echo: &mut dyn std::io::Write = if trace.is_some() || accounting.is_some() { &mut without_dumps } else { &mut stdout };
            let run = qemu::run_lingering(t.board, cores, &built.image, &kernel32, &extra, &mut judge, timeout, echo, &mut watch, linger)?;
            if let (Some(file), Some(added)) = (&accounting, &built.account)
                && (run.outcome == qemu::Outcome::TimedOut || accountant.borrow().has_final())
            {
                // The TSC's rate on x86; the other boards' PDs read theirs.
                let clock = match t.board.arch() {
                    tunnelkit::board::Arch::X86_64 => {
                        kernel_tsc.get().map(|hz| (hz, "kernel")).or_else(|| tunnelkit::account::host_tsc_hz().map(|hz| (hz, "host")))
                    }
                    _ => None,
                };
                write_accounting(file, &accountant.borrow(), added, &t, &run, clock, cores as u64)?;
            }
            if let Some(r) = &ready
                && run.outcome == qemu::Outcome::TimedOut
            {
                if let Some(why) = r.failure(timeout) {
                    bail!("{why}");
                }
                eprintln!("tunnelkit: timeout reached, QEMU stopped");
                return Ok(());
            }
            qemu::require_pass(&run, judge.pass_line(), timeout)?;
            eprintln!("tunnelkit: passed in {:.1}s", run.elapsed.as_secs_f64());
            if let Some(file) = &accounting
                && !accountant.borrow().has_final()
            {
                bail!(
                    "the run passed, but no accounting snapshot begun after its pass line arrived within {ACCOUNTING_TIMEOUT_S}s, so {} was not written",
                    file.display()
                );
            }
            if let (Some(file), Some(collector), Some(added)) = (&trace, collector.into_inner(), &built.trace) {
                write_trace(file, collector, added, &t, &system, &built, &run, trace_timeout)?;
            }
            Ok(())
        }
        Cmd::Bench { readme_only: true, .. } => {
            use tunnelkit::bench::{net, report, smp_report};
            let ws = Workspace::current()?;
            let readme = ws.root.join("README.md");
            let mut text = std::fs::read_to_string(&readme).with_context(|| format!("reading {}", readme.display()))?;
            let boards = report::measured_boards(&ws.root)?;
            if !boards.is_empty() {
                text = report::update_readme(&text, &report::readme_section_for_boards(&boards));
            }
            let smp = smp_report::measured_boards(&ws.root)?;
            if !smp.is_empty() {
                text = smp_report::update_readme(&text, &smp_report::section(&smp)).with_context(|| readme.display().to_string())?;
            }
            let nets = net::measured_boards(&ws.root);
            if !nets.is_empty() {
                text = net::update_readme(&text, &nets);
            }
            std::fs::write(&readme, text).with_context(|| format!("writing {}", readme.display()))?;
            eprintln!(
                "tunnelkit: regenerated the results in {} from bench-results/ ({} benchmark, {} multicore, {} network board(s))",
                readme.display(),
                boards.len(),
                smp.len(),
                nets.len()
            );
            Ok(())
        }
        Cmd::Bench { board, readme_only: false, .. } if !tunnelkit::board::boots_in_qemu(board) => {
            Err(anyhow::Error::msg(tunnelkit::board::require_qemu(board).unwrap_err()).context("benchmarks boot in QEMU"))
        }
        Cmd::Bench { board, config, out, net: true, update_readme, .. } => {
            if config != KernelConfig::Benchmark {
                bail!("--net measures the network systems in the release config; --config does not apply to it");
            }
            use tunnelkit::bench::net;
            let (ws, sdk) = setup()?;
            let default_out = out.is_none();
            let results = net::run(&ws, &sdk, board, KernelConfig::Release)?;
            let out = out.unwrap_or_else(|| PathBuf::from("bench-results").join(board.name()));
            let (json, md) = net::write(&results, &out)?;
            println!("{}", net::markdown(&results));
            if let Some(w) = results.budget_warning() {
                eprintln!("tunnelkit: {w}");
            }
            eprintln!("tunnelkit: wrote {}, {} and net.svg", json.display(), md.display());
            if update_readme {
                if !default_out {
                    bail!("--update-readme takes results from bench-results/<board>/; run without --out to put them there");
                }
                // Every board measured into bench-results/ so far, this one included.
                let boards = net::measured_boards(&ws.root);
                if !boards.iter().any(|r| r.board == board.name()) {
                    bail!("--update-readme takes results from bench-results/<board>/ of the workspace root; run there");
                }
                let readme = ws.root.join("README.md");
                let text = std::fs::read_to_string(&readme).with_context(|| format!("reading {}", readme.display()))?;
                std::fs::write(&readme, net::update_readme(&text, &boards)).with_context(|| format!("writing {}", readme.display()))?;
                eprintln!("tunnelkit: updated the network results in {}", readme.display());
            }
            Ok(())
        }
        Cmd::Bench { board, config: KernelConfig::Benchmark, out, runs, timeout, update_readme, net: false, only, accounting, .. } => {
            let only = only
                .map(|o| if o == "crossings" { tunnelkit::bench::run::Only::Crossings } else { tunnelkit::bench::run::Only::Crosstalk });
            bench(board, out, runs.unwrap_or(2), timeout.unwrap_or(900), update_readme, only, accounting)
        }
        Cmd::Bench { config: KernelConfig::SmpBenchmark, only: Some(_), .. } => {
            bail!("--only selects systems of the benchmark config; smp-benchmark runs its own set")
        }
        Cmd::Bench { board, config: KernelConfig::SmpBenchmark, out, runs, timeout, update_readme, net: false, .. } => {
            bench_smp(board, out, runs, timeout, update_readme)
        }
        Cmd::Bench { config, .. } => bail!(
            "bench measures in the benchmark config (one core, under QEMU's icount) or in smp-benchmark (every core, \
             host time), not in '{}': only those kernels let PDs read the cycle counter",
            config.name()
        ),
        Cmd::Check(c) => std::process::exit(i32::from(check(&c) != ExitCode::SUCCESS)),
        Cmd::New(n) => new_project(&n),
        Cmd::Model { check_trace: Some(file), .. } => {
            let report = tunnelkit::trace_check::check_file(&file)?;
            print!("{report}");
            std::process::exit(i32::from(!report.conforms()));
        }
        Cmd::Model { config, markdown, check_trace: None } => {
            let cfg = if config == "large" { tunnelkit_model::ModelConfig::large() } else { tunnelkit_model::ModelConfig::small() };
            let step = tunnelkit::progress::Step::start(format!("model checking ({config})"));
            let report = tunnelkit_model::check(cfg);
            step.finish(if report.as_expected() { "every property as expected" } else { "UNEXPECTED outcome" });
            if markdown {
                print!("{}", report.markdown());
            } else {
                print!("{report}");
            }
            if !report.as_expected() {
                bail!("a property did not hold or fail as expected");
            }
            Ok(())
        }
    }
}

/// `tunnelkit new`.
fn new_project(n: &NewArgs) -> Result<()> {
    use tunnelkit::scaffold::{self, Source};
    let source = match (&n.git, &n.tunnelkit) {
        (Some(url), _) => Source::Git { url: url.clone(), branch: n.branch.clone(), rev: n.rev.clone() },
        (None, Some(path)) => Source::Path(scaffold::checkout(path).with_context(|| format!("--tunnelkit {}", path.display()))?),
        (None, None) => Source::Path(scaffold::own_checkout()?),
    };
    let name = scaffold::create(&n.dir, &source)?;
    let from = match &source {
        Source::Path(p) => format!("the tunnelkit checkout at {}", p.display()),
        Source::Git { url, .. } => url.clone(),
    };
    eprintln!("tunnelkit: created the project '{name}' in {} (tunnelkit's crates from {from})", n.dir.display());
    eprintln!("tunnelkit: next: cd {} && MICROKIT_SDK=/path/to/sdk tunnelkit run [--board x86_64_generic]", n.dir.display());
    Ok(())
}

/// `tunnelkit check`: prints every finding; 0 = valid (warnings allowed), 1 = invalid.
fn check(c: &CheckArgs) -> ExitCode {
    let target = tunnelkit::check::Target { board: c.board, config: c.config };
    let search = tunnelkit::check::search_path(&c.file, &c.search_path);
    let report = tunnelkit::check::check_file_with(&c.file, c.policy.as_deref(), target, (!c.no_images).then_some(search.as_slice()));
    print!("{report}");
    let (errors, warnings) = (report.errors().count(), report.warnings().count());
    let mut ok = report.is_valid();
    if let (Some(out), Some(g)) = (&c.graph, &report.graph) {
        match g.write(out) {
            Ok(()) => eprintln!("tunnelkit: wrote the authority graph to {}", out.display()),
            Err(e) => {
                eprintln!("tunnelkit: error: writing {}: {e:#}", out.display());
                ok = false;
            }
        }
    }
    println!("{}: {errors} error(s), {warnings} warning(s)", c.file.display());
    for s in &report.skipped {
        println!("note: skipped {s}");
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn bench(
    board: Board,
    out: Option<PathBuf>,
    runs: u32,
    timeout: u64,
    update_readme: bool,
    only: Option<tunnelkit::bench::run::Only>,
    accounting: bool,
) -> Result<()> {
    use tunnelkit::bench::{report, run};
    let (ws, sdk) = setup()?;
    let out = out.unwrap_or_else(|| PathBuf::from("bench-results").join(board.name()));
    let outcome = run::run(&ws, &sdk, &run::BenchRequest { board, runs, timeout: Duration::from_secs(timeout), only, accounting })?;
    for (system, same) in &outcome.repeatable {
        println!("repeatability: {system}: {}", if *same { "identical in every run" } else { "DIFFERENT between runs" });
    }
    if runs == 1 {
        println!("repeatability: not checked (one run per system)");
    }
    // Nothing is written from runs that disagree: under icount they must not.
    let differing: Vec<&str> = outcome.repeatable.iter().filter(|(_, same)| !same).map(|(s, _)| s.as_str()).collect();
    if !differing.is_empty() {
        bail!(
            "benchmark runs of {} differed; under -icount shift=0 they must be instruction-exact (nothing was written)",
            differing.join(", ")
        );
    }
    let written = report::write_all(&outcome.results, &out)?;
    println!("{}", report::markdown(&outcome.results));
    eprintln!("tunnelkit: wrote {}, {} and {} plots", written.json.display(), written.markdown.display(), written.svgs.len());
    if update_readme {
        // Every board measured into bench-results/ so far, this one included.
        let boards = report::measured_boards(&ws.root)?;
        if !boards.iter().any(|(r, _)| r.board == board.name()) {
            bail!("--update-readme takes results from bench-results/<board>/; run without --out to put them there");
        }
        let readme = ws.root.join("README.md");
        let text = std::fs::read_to_string(&readme)?;
        std::fs::write(&readme, report::update_readme(&text, &report::readme_section_for_boards(&boards)))?;
        eprintln!("tunnelkit: updated the Results section of {}", readme.display());
    }
    Ok(())
}

/// `tunnelkit bench --config smp-benchmark`.
fn bench_smp(board: Board, out: Option<PathBuf>, runs: Option<u32>, timeout: Option<u64>, update_readme: bool) -> Result<()> {
    use tunnelkit::bench::{smp, smp_report};
    let (ws, sdk) = setup()?;
    let runs = runs.unwrap_or(smp::DEFAULT_RUNS);
    let timeout = timeout.map(Duration::from_secs).unwrap_or(smp::DEFAULT_TIMEOUT);
    let image_dir = format!("bench-results/{}/smp", board.name());
    let out = out.unwrap_or_else(|| PathBuf::from(&image_dir));
    let started = std::time::Instant::now();
    let results = smp::run(&ws, &sdk, &smp::SmpRequest { board, runs, timeout })?;
    let written = smp_report::write_all(&results, &out, &image_dir)?;
    println!("{}", smp_report::section(&[(results.clone(), image_dir.clone())]));
    eprintln!(
        "tunnelkit: wrote {}, {} and {} plot{} in {:.0}s ({} boots, host with {} cores)",
        written.json.display(),
        written.markdown.display(),
        written.svgs.len(),
        if written.svgs.len() == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        runs * results.boot_seconds.len() as u32,
        results.host_cores
    );
    if update_readme {
        // Every board measured into bench-results/<board>/smp/ so far, this one included.
        let boards = smp_report::measured_boards(&ws.root)?;
        if !boards.iter().any(|(r, _)| r.board == board.name()) {
            bail!("--update-readme takes results from bench-results/<board>/smp/; run without --out to put them there");
        }
        let readme = ws.root.join("README.md");
        let text = std::fs::read_to_string(&readme).with_context(|| format!("reading {}", readme.display()))?;
        let updated = smp_report::update_readme(&text, &smp_report::section(&boards)).with_context(|| readme.display().to_string())?;
        std::fs::write(&readme, updated).with_context(|| format!("writing {}", readme.display()))?;
        eprintln!("tunnelkit: updated the multicore results in {}", readme.display());
    }
    Ok(())
}

/// Merges the collected trace dumps and writes them to `file`.
/// The host's cores, as the scheduler lets this process use them.
fn host_cores() -> Option<u64> {
    std::thread::available_parallelism().ok().map(|n| n.get() as u64)
}

/// Seconds `run --accounting` waits after the pass line for the accountant's
/// final snapshot (it looks every 100 ms, and prints on 1 ms of every 100).
const ACCOUNTING_TIMEOUT_S: u64 = 120;

/// Computes the accounting from the accountant's last snapshot, writes it
/// to `file` as JSON and prints the table.
fn write_accounting(
    file: &std::path::Path,
    collector: &tunnelkit::account::Collector,
    added: &tunnelkit::account_pd::Added,
    t: &Target,
    run: &qemu::Run,
    clock: Option<(u64, &str)>,
    qemu_cores: u64,
) -> Result<()> {
    for line in collector.corrupt.iter().take(5) {
        eprintln!("tunnelkit: warning: a damaged accounting line (another PD's output broke into it): {line}");
    }
    let Some(snap) = collector.snapshot() else {
        bail!(
            "no complete accounting snapshot arrived in {:.1}s (the accountant prints one every 2 s and when the system passes), so {} was not written",
            run.elapsed.as_secs_f64(),
            file.display()
        );
    };
    let mut acc = tunnelkit::account::Accounting::compute(snap, added, t.board.name(), t.config.name(), clock)?;
    acc.at = if collector.has_final() { "pass" } else { "timeout" }.into();
    acc.qemu_cores = qemu_cores;
    acc.host_cores = host_cores().unwrap_or(0);
    let json = serde_json::to_string_pretty(&acc)?;
    std::fs::write(file, json + "\n").with_context(|| format!("writing {}", file.display()))?;
    print!("{}", acc.table());
    for c in acc.failed() {
        eprintln!("tunnelkit: warning: accounting check failed: {}: {}", c.name, c.detail);
    }
    eprintln!(
        "tunnelkit: wrote the accounting {} ({} paths, {} active servers; {})",
        file.display(),
        acc.paths.len(),
        acc.servers.len(),
        if acc.at == "pass" { "when the system passed".to_string() } else { format!("at the timeout, snapshot {}", snap.seq) }
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_trace(
    file: &std::path::Path,
    collector: tunnelkit::trace::Collector,
    added: &tunnelkit::trace_pd::Added,
    t: &Target,
    system: &std::path::Path,
    built: &tunnelkit::build::Built,
    run: &qemu::Run,
    trace_timeout: u64,
) -> Result<()> {
    use tunnelkit::trace;
    let waited = run.lingered.unwrap_or_default().as_secs_f64();
    for line in collector.corrupt().iter().take(5) {
        eprintln!("tunnelkit: warning: a damaged trace line (another PD's output broke into it): {line}");
    }
    let collected = collector.finish().with_context(|| {
        format!("the run passed, but its trace is incomplete after waiting {waited:.1}s (--trace-timeout {trace_timeout})")
    })?;
    let sys = tunnelkit::sdf::System::read(&built.system)?;
    let info = trace::RunInfo {
        board: t.board,
        config: t.config,
        system: system.display().to_string(),
        built_system: built.system.display().to_string(),
        dumper: added.dumper.clone(),
    };
    let (header, events) = trace::merge(&collected, &sys, &info);
    trace::write(file, &header, &events)?;
    let dropped: u64 = header.pds.iter().map(|p| p.dropped).sum();
    eprintln!(
        "tunnelkit: wrote the trace {}: {} events from {} PDs (dumps collected in {waited:.1}s){}{}",
        file.display(),
        header.events,
        header.pds.iter().filter(|p| p.traced).count(),
        if dropped > 0 {
            format!(
                "; {dropped} events dropped where buffers were full (complete until t={})",
                header.complete_until.map_or("?".into(), |t| t.to_string())
            )
        } else {
            String::new()
        },
        if header.corrupt_lines > 0 { format!("; {} damaged lines", header.corrupt_lines) } else { String::new() }
    );
    Ok(())
}

fn setup() -> Result<(Workspace, Sdk)> {
    let sdk = Sdk::from_env()?;
    if let Some(v) = sdk.version()
        && !v.starts_with("2.3")
    {
        eprintln!("tunnelkit: warning: the SDK says version {v}; tunnelkit targets Microkit 2.3.0 ({})", sdk::SDK_HINT);
    }
    Ok((Workspace::current()?, sdk))
}

fn request(t: &Target, net: bool) -> Result<BuildRequest> {
    Ok(BuildRequest { system: t.system(net)?, board: t.board, config: t.config })
}
