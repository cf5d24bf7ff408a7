//! Reports made from [`Results`]: `results.json`, markdown tables, SVG plots
//! and the generated "Results" section of the README.
//!
//! Nothing here panics on odd input: empty vectors give "not measured" notes
//! and empty plot panels, non-finite shares are shown as "—" and left out of
//! the plots, and a zero raw floor gives no ratio.

use std::fmt::Write as _;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::{Crossing, CrosstalkPath, Cycles, Latency, Results, SplitPart};

/// The line that opens the generated section in a README.
pub const BEGIN_MARKER: &str = "<!-- tunnelkit-bench-results:begin -->";
/// The line that closes the generated section in a README.
pub const END_MARKER: &str = "<!-- tunnelkit-bench-results:end -->";

/// Placeholder for a value that is missing or not a number.
/// What a table cell shows for a missing figure.
pub(super) const NONE: &str = "—";
/// Size of each SVG plot, in pixels.
const PLOT_SIZE: (u32, u32) = (900, 500);
/// Line colours, one per transport in order of first appearance (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Bar colour of the configured share.
const CONFIGURED: RGBColor = RGBColor(190, 190, 190);
/// Bar colour of the achieved share.
const ACHIEVED: RGBColor = RGBColor(31, 119, 180);

/// The files [`write_all`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `results.json`: the [`Results`] as pretty-printed JSON.
    pub json: PathBuf,
    /// `results.md`: the tables of [`markdown`].
    pub markdown: PathBuf,
    /// `crossings.svg` and `crosstalk.svg`, in that order.
    pub svgs: Vec<PathBuf>,
}

/// Writes `results.json`, `results.md`, `crossings.svg` and `crosstalk.svg`
/// into `out_dir`, creating it if needed.
///
/// Non-finite shares are written to the JSON as `null` (JSON has no NaN).
pub fn write_all(results: &Results, out_dir: &Path) -> Result<Written> {
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let json = out_dir.join("results.json");
    let mut text = serde_json::to_string_pretty(results).context("serialising the benchmark results")?;
    text.push('\n');
    fs::write(&json, text).with_context(|| format!("writing {}", json.display()))?;

    let markdown_path = out_dir.join("results.md");
    fs::write(&markdown_path, markdown(results)).with_context(|| format!("writing {}", markdown_path.display()))?;

    let crossings = out_dir.join("crossings.svg");
    plot_crossings(results, &crossings)?;
    let crosstalk = out_dir.join("crosstalk.svg");
    plot_crosstalk(results, &crosstalk)?;

    Ok(Written { json, markdown: markdown_path, svgs: vec![crossings, crosstalk] })
}

/// Renders the results as a markdown fragment: a line naming the board,
/// configuration and emulator, then the "Crossings", "Crosstalk" and
/// "Light-path latency under flood" tables (rows in input order; a table whose
/// data is empty is replaced by a "not measured" note).
pub fn markdown(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Board {}, kernel configuration {}, QEMU {} with flags {}.",
        code(&results.board),
        code(&results.config),
        code(&results.qemu.version),
        code(&results.qemu.flags)
    );
    out.push('\n');
    if let Some(counter) = &results.counter {
        let _ = writeln!(out, "{counter}\n");
    }
    let h = headlines(results);
    if !h.is_empty() {
        out.push_str(&h);
        out.push('\n');
    }
    crossings_table(&mut out, &results.crossings);
    out.push('\n');
    crosstalk_table(&mut out, &results.crosstalk);
    out.push('\n');
    latency_table(&mut out, &results.light_path_latency);
    if !results.user_mode.is_empty() {
        out.push('\n');
        user_mode_table(&mut out, &results.user_mode);
    }
    if !results.split.is_empty() {
        out.push('\n');
        split_table(&mut out, results);
    }
    out
}

/// The goal for the tunnel's null round trip, as a multiple of the raw floor.
pub const TUNNEL_GOAL: f64 = 1.05;

/// The smallest async batch whose cost per request is below the tunnel's
/// null round trip (the batched-async crossover), if any batch is.
pub fn async_crossover(crossings: &[Crossing]) -> Option<(u32, u64)> {
    let tunnel = null_median(crossings, "tunnel")?;
    let mut batches: Vec<&Crossing> =
        crossings.iter().filter(|c| c.transport == "async" && c.depth == 1 && c.payload_bytes == 0 && c.lent_bytes == 0).collect();
    batches.sort_by_key(|c| c.batch);
    batches.iter().find(|c| c.cycles.median < tunnel).map(|c| (c.batch, c.cycles.median))
}

/// The headline figures as sentences, every number taken from `results`
/// (the README's prose about the benchmarks is this, not typed by hand).
pub fn headlines(results: &Results) -> String {
    let c = &results.crossings;
    let mut out = String::new();
    let (Some(floor), Some(tunnel)) = (raw_floor(c), null_median(c, "tunnel")) else { return out };
    let ratio = |v: u64| v as f64 / floor as f64;
    let _ = write!(
        out,
        "**Headlines.** The tunnel's null round trip costs {tunnel} cycles against the raw floor's {floor}: {:.3}× (goal: at most {TUNNEL_GOAL:.2}×, {}).",
        ratio(tunnel),
        if ratio(tunnel) <= TUNNEL_GOAL { "met" } else { "missed" }
    );
    if let (Some(ipc), Some(asy)) = (null_median(c, "ipc"), null_median(c, "async")) {
        let _ = write!(
            out,
            " Plain IPC to an active server costs {ipc} ({:.2}×: on an MCS kernel only a call to a passive server takes the IPC fastpath) \
             and async at one request per notification {asy} ({:.2}×).",
            ratio(ipc),
            ratio(asy)
        );
    }
    match async_crossover(c) {
        Some((batch, cost)) => {
            let _ = write!(
                out,
                " Batched, async is cheaper per request than a tunnel call from a batch of {batch} on ({cost} against {tunnel} cycles), \
                 and a request then waits for its batch."
            );
        }
        None => out.push_str(" No measured async batch is cheaper per request than a tunnel call."),
    }
    let user = |t: &str| results.user_mode.iter().find(|x| x.transport == t).map(|x| x.cycles.median);
    if let (Some(ut), Some(uf)) = (user("tunnel"), user("raw")) {
        let _ = write!(
            out,
            " In user mode alone the tunnel's round trip executes {ut} instructions against the floor's {uf}, {} more (the split below says where they go).",
            ut.saturating_sub(uf)
        );
    }
    let payload = |bytes: u64| {
        c.iter().find(|x| x.transport == "tunnel" && x.depth == 1 && x.lent_bytes == 0 && x.payload_bytes == bytes).map(|x| x.cycles.median)
    };
    if let (Some(a), Some(b)) = (payload(32), payload(64)) {
        let _ = write!(
            out,
            " Messages of more than 4 words leave the kernel's fastpath: the tunnel round trip goes from {a} cycles at 32 B to {b} at 64 B."
        );
    }
    out.push('\n');
    crosstalk_headline(&mut out, &results.crosstalk, results.qemu.flags.contains(HOST_TIME_CROSSTALK));
    out
}

/// What [`super::run::describe_flags`] says of crosstalk systems that ran on host time.
pub const HOST_TIME_CROSSTALK: &str = "crosstalk: on host time";

/// The crosstalk headline: how far each design's achieved shares are from
/// the configured ones, and the least any path got.
fn crosstalk_headline(out: &mut String, paths: &[CrosstalkPath], host_time: bool) {
    let mut designs: Vec<&str> = Vec::new();
    for p in paths {
        if !designs.contains(&p.design.as_str()) {
            designs.push(&p.design);
        }
    }
    let worst = |d: &str| {
        paths
            .iter()
            .filter(|p| p.design == d && p.achieved_share.is_finite())
            .map(|p| ((p.achieved_share - p.configured_share) * 100.0).abs())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    let parts: Vec<String> = designs.iter().filter_map(|d| Some(format!("{d} {:.1}", worst(d)?))).collect();
    if parts.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "\nIn the crosstalk experiment{} the largest distance of a path's achieved share from its configured share, in percentage points, is: {}.",
        if host_time { " (on host time: indicative only)" } else { "" },
        parts.join(", ")
    );
    if let Some(least) = paths
        .iter()
        .filter(|p| p.design != "tunnel" && p.achieved_share.is_finite())
        .min_by(|a, b| a.achieved_share.total_cmp(&b.achieved_share))
    {
        let _ = write!(
            out,
            " In the shared designs the least any path got is {} ({}, path {}, configured {}).",
            percent(least.achieved_share),
            least.design,
            least.path,
            percent(least.configured_share)
        );
    }
    out.push('\n');
}

/// One group of the crossing split: its name, what it does, and how it is
/// derived from the measured parts (parts added and subtracted).
struct SplitGroup {
    name: &'static str,
    does: &'static str,
    plus: &'static [&'static str],
    minus: &'static [&'static str],
}

/// The groups of the tunnel's null round trip, from the `split` parts.
const SPLIT_GROUPS: [SplitGroup; 5] = [
    SplitGroup {
        name: "kernel floor",
        does: "`seL4_Call` to a server answering from `seL4_ReplyRecv`: the kernel, both system-call stubs, the four message registers moved each way, the reply check, the measuring loop",
        plus: &["floor"],
        minus: &[],
    },
    SplitGroup {
        name: "client marshalling",
        does: "the typed client: the request encoded, the channel's checked `pp` handle, the reply's info word compared, the response decoded",
        plus: &["client"],
        minus: &["marked"],
    },
    SplitGroup {
        name: "bookkeeping: nested flag",
        does: "the caller's nested flag for the supervisor, set around the call",
        plus: &["marked"],
        minus: &["floor"],
    },
    SplitGroup {
        name: "event loop and bookkeeping: call state",
        does: "the callee's runtime loop: badge test, call state published at start and end, the check for deferred work",
        plus: &["loop"],
        minus: &["floor"],
    },
    SplitGroup {
        name: "dispatch",
        does: "label to operation (one indexed jump), the request's length check, the reply encoded",
        plus: &["server"],
        minus: &["loop"],
    },
];

/// A split group's value from the parts' (cycles, user-mode) medians.
fn split_value(parts: &[SplitPart], g: &SplitGroup, pick: impl Fn(&SplitPart) -> Option<u64>) -> Option<i64> {
    let get = |name: &str| parts.iter().find(|p| p.part == name).and_then(&pick).map(|v| v as i64);
    let plus: Option<i64> = g.plus.iter().map(|n| get(n)).sum();
    let minus: Option<i64> = g.minus.iter().map(|n| get(n)).sum();
    Some(plus? - minus?)
}

/// Appends the split of the tunnel's null round trip into its groups.
fn split_table(out: &mut String, results: &Results) {
    let parts = &results.split;
    out.push_str(
        "### Where the tunnel's null round trip goes

",
    );
    out.push_str(
        "Each piece measured on its own against the raw floor (raw client or raw server on the other side; the \
         `split` parts in results.json). Cycles include the kernel; user-mode instructions (AArch64: the counter \
         excluding EL1 and EL2) are the code of the runtime and tunnel alone.\n\n",
    );
    out.push_str("| group | what it does | cycles | user-mode instructions |\n|---|---|--:|--:|\n");
    let user = |p: &SplitPart| p.user.map(|u| u.median);
    let cycles = |p: &SplitPart| Some(p.cycles.median);
    let (mut sum_c, mut sum_u) = (Some(0i64), Some(0i64));
    for g in &SPLIT_GROUPS {
        let c = split_value(parts, g, cycles);
        let u = split_value(parts, g, user);
        sum_c = sum_c.zip(c).map(|(a, b)| a + b);
        sum_u = sum_u.zip(u).map(|(a, b)| a + b);
        let show = |v: Option<i64>| v.map_or(NONE.to_string(), |v| v.to_string());
        let _ = writeln!(out, "| {} | {} | {} | {} |", g.name, g.does, show(c), show(u));
    }
    let show = |v: Option<i64>| v.map_or(NONE.to_string(), |v| v.to_string());
    let _ = writeln!(out, "| sum of the groups | | {} | {} |", show(sum_c), show(sum_u));
    let tunnel = null_median(&results.crossings, "tunnel");
    let tunnel_user = results.user_mode.iter().find(|c| c.transport == "tunnel").map(|c| c.cycles.median);
    let _ = writeln!(
        out,
        "| the tunnel, measured whole | | {} | {} |",
        tunnel.map_or(NONE.to_string(), |v| v.to_string()),
        tunnel_user.map_or(NONE.to_string(), |v| v.to_string())
    );
}

/// The median of `transport`'s null crossing (depth 1, batch 1, nothing carried).
pub(super) fn null_median(crossings: &[Crossing], transport: &str) -> Option<u64> {
    crossings
        .iter()
        .find(|c| c.transport == transport && c.depth == 1 && c.batch == 1 && c.payload_bytes == 0 && c.lent_bytes == 0)
        .map(|c| c.cycles.median)
}

/// Appends the user-mode-only null crossings (framework cost without the kernel).
fn user_mode_table(out: &mut String, rows: &[Crossing]) {
    out.push_str(
        "### User-mode instructions per null crossing

",
    );
    out.push_str("The same null round trips with the counter excluding the kernel: the instructions of the runtime and tunnel code on both sides.\n\n");
    out.push_str("| transport | min | median | max |\n");
    out.push_str("|---|--:|--:|--:|\n");
    for r in rows {
        let Cycles { min, median, max } = r.cycles;
        let _ = writeln!(out, "| {} | {min} | {median} | {max} |", cell(&r.transport));
    }
}

/// Appends the "Crossings" table.
fn crossings_table(out: &mut String, crossings: &[Crossing]) {
    out.push_str("### Crossings\n\n");
    if crossings.is_empty() {
        out.push_str("Crossings: not measured.\n");
        return;
    }
    out.push_str(
        "Round-trip cycles per crossing. × raw floor is the median over the median of the raw, depth-1, \
         zero-payload crossing. Batch: async requests per notification (figures per request).\n\n",
    );
    out.push_str("| transport | payload (B) | lent (B) | depth | batch | iterations | min | median | max | × raw floor |\n");
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    let floor = raw_floor(crossings);
    for c in crossings {
        let ratio = match floor {
            Some(floor) => format!("{:.2}", c.cycles.median as f64 / floor as f64),
            None => NONE.to_string(),
        };
        let Cycles { min, median, max } = c.cycles;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {min} | {median} | {max} | {ratio} |",
            cell(&c.transport),
            c.payload_bytes,
            c.lent_bytes,
            c.depth,
            c.batch,
            c.iterations
        );
    }
}

/// The median of the first raw, depth-1, zero-payload, nothing-lent crossing,
/// if there is one and it is not zero.
fn raw_floor(crossings: &[Crossing]) -> Option<u64> {
    null_median(crossings, "raw").filter(|&median| median > 0)
}

/// Appends the "Crosstalk" table.
fn crosstalk_table(out: &mut String, paths: &[CrosstalkPath]) {
    out.push_str("### Crosstalk\n\n");
    if paths.is_empty() {
        out.push_str("Crosstalk: not measured.\n");
        return;
    }
    out.push_str(
        "Shares are fractions of one CPU; deviation is achieved minus configured, in percentage points. Service CPU: \
         what the shared service has of its own (pods have none: they run on their callers' budgets).\n\n",
    );
    out.push_str("| design | service CPU | path | configured share | achieved share | deviation (pp) | completed |\n");
    out.push_str("|---|--:|---|--:|--:|--:|--:|\n");
    for p in paths {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&p.design),
            p.server_share.map_or("callers'".to_string(), percent),
            cell(&p.path),
            percent(p.configured_share),
            percent(p.achieved_share),
            deviation(p.configured_share, p.achieved_share),
            p.completed
        );
    }
}

/// Appends the "Light-path latency under flood" table.
fn latency_table(out: &mut String, latencies: &[Latency]) {
    out.push_str("### Light-path latency under flood\n\n");
    if latencies.is_empty() {
        out.push_str("Light-path latency: not measured.\n");
        return;
    }
    out.push_str("| design | min | median | max |\n");
    out.push_str("|---|--:|--:|--:|\n");
    for l in latencies {
        let Cycles { min, median, max } = l.cycles;
        let _ = writeln!(out, "| {} | {min} | {median} | {max} |", cell(&l.design));
    }
}

/// A share (fraction of one CPU) as a percentage with one decimal, or "—".
pub(super) fn percent(share: f64) -> String {
    if share.is_finite() { format!("{:.1}%", share * 100.0) } else { NONE.to_string() }
}

/// Achieved minus configured share in signed percentage points, or "—".
pub(super) fn deviation(configured: f64, achieved: f64) -> String {
    let points = (achieved - configured) * 100.0;
    if !points.is_finite() {
        return NONE.to_string();
    }
    // Avoid "-0.0" for deviations that round to zero.
    let points = if (points * 10.0).round() == 0.0 { 0.0 } else { points };
    format!("{points:+.1}")
}

/// Text made safe for a table cell: no line breaks, pipes escaped.
pub(super) fn cell(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('|', "\\|")
}

/// Text as an inline code span (fenced so that backticks inside survive), or
/// "(none)" for blank text.
pub(super) fn code(text: &str) -> String {
    let text = text.replace(['\r', '\n'], " ");
    if text.trim().is_empty() {
        return "(none)".to_string();
    }
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// One line of the crossings plot.
struct Line {
    /// Legend text.
    label: String,
    /// Line and marker colour.
    color: RGBColor,
    /// (bytes, median cycles), sorted by bytes.
    points: Vec<(f64, f64)>,
}

/// Groups the crossings that `keep` selects into one line per transport and
/// depth, with `x` giving each point's abscissa.
fn lines(crossings: &[Crossing], keep: impl Fn(&Crossing) -> bool, x: impl Fn(&Crossing) -> u64) -> Vec<Line> {
    // Colours follow the transport's first appearance in all crossings, so both panels agree.
    let mut transports: Vec<&str> = Vec::new();
    for c in crossings {
        if !transports.contains(&c.transport.as_str()) {
            transports.push(&c.transport);
        }
    }
    let mut keys: Vec<(&str, u32)> = Vec::new();
    let mut lines: Vec<Line> = Vec::new();
    for c in crossings.iter().filter(|c| keep(c)) {
        let key = (c.transport.as_str(), c.depth);
        let point = (x(c) as f64, c.cycles.median as f64);
        match keys.iter().position(|k| *k == key) {
            Some(i) => lines[i].points.push(point),
            None => {
                let (transport, depth) = key;
                let index = transports.iter().position(|t| *t == transport).unwrap_or(0);
                let label = if depth == 1 { transport.to_string() } else { format!("{transport} (depth {depth})") };
                keys.push(key);
                lines.push(Line { label, color: PALETTE[index % PALETTE.len()], points: vec![point] });
            }
        }
    }
    for line in &mut lines {
        line.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    lines
}

/// Draws the crossing cost plot to an SVG file at `path`: median cycles
/// against message-register payload (left panel: nothing lent, depth 1) and
/// against bytes lent through a shared region (right panel), one line per
/// transport.
pub fn plot_crossings(results: &Results, path: &Path) -> Result<()> {
    draw_crossings(results, path).with_context(|| format!("drawing {}", path.display()))
}

/// [`plot_crossings`] without the error context.
fn draw_crossings(results: &Results, path: &Path) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let root = SVGBackend::new(path, PLOT_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let body = root.titled("Cost per crossing (median cycles)", ("sans-serif", 28))?;
    let half = i32::try_from(body.dim_in_pixel().0 / 2).unwrap_or(0);
    let (left, right) = body.split_horizontally(half);

    let payload = lines(&results.crossings, |c| c.lent_bytes == 0 && c.depth == 1 && c.batch == 1, |c| c.payload_bytes);
    line_panel(&left, "Message-register payload (depth 1)", "payload bytes each way", &payload)?;
    let lent = lines(&results.crossings, |c| c.lent_bytes > 0, |c| c.lent_bytes);
    line_panel(&right, "Lent through a shared region", "bytes lent", &lent)?;
    root.present()
}

/// Draws one panel of the crossings plot.
fn line_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    caption: &str,
    x_desc: &str,
    lines: &[Line],
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let points = || lines.iter().flat_map(|l| l.points.iter());
    let x_max = (points().map(|p| p.0).fold(0.0, f64::max) * 1.05).max(10.0);
    let y_max = (points().map(|p| p.1).fold(0.0, f64::max) * 1.1).max(10.0);

    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .x_desc(x_desc)
        .y_desc("median cycles")
        .light_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()?;

    if lines.is_empty() {
        let style = ("sans-serif", 20).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
        chart.draw_series(std::iter::once(Text::new("not measured", (x_max / 2.0, y_max / 2.0), style)))?;
        return Ok(());
    }
    for line in lines {
        let color = line.color;
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), color.stroke_width(2)))?
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
}

/// A tick label: whole numbers without decimals, others with up to two.
fn tick(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Draws the crosstalk plot to an SVG file at `path`: one group of bars per
/// design, and in it, per path, the configured share next to the achieved
/// share, in percent of one CPU.
pub fn plot_crosstalk(results: &Results, path: &Path) -> Result<()> {
    draw_crosstalk(results, path).with_context(|| format!("drawing {}", path.display()))
}

/// [`plot_crosstalk`] without the error context.
fn draw_crosstalk(results: &Results, path: &Path) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    /// Space between design groups, in path slots.
    const GAP: f64 = 0.6;

    let mut groups: Vec<(&str, Vec<&CrosstalkPath>)> = Vec::new();
    for p in &results.crosstalk {
        match groups.iter_mut().find(|(design, _)| *design == p.design) {
            Some((_, paths)) => paths.push(p),
            None => groups.push((&p.design, vec![p])),
        }
    }

    // Lay out one slot of width 1 per path, with a gap between designs.
    let mut bars = Vec::new(); // (slot start, configured %, achieved %)
    let mut ticks = Vec::new(); // (slot centre, path name)
    let mut headings = Vec::new(); // (group centre, design name)
    let mut x = GAP / 2.0;
    for (design, paths) in &groups {
        let start = x;
        for p in paths {
            bars.push((x, p.configured_share * 100.0, p.achieved_share * 100.0));
            ticks.push((x + 0.5, p.path.replace(['\r', '\n'], " ")));
            x += 1.0;
        }
        headings.push(((start + x) / 2.0, design.replace(['\r', '\n'], " ")));
        x += GAP;
    }
    let x_max = (x - GAP / 2.0).max(1.0);

    let largest = bars.iter().flat_map(|&(_, c, a)| [c, a]).filter(|v| v.is_finite()).fold(100.0, f64::max);
    let top = if largest <= 100.0 { 100.0 } else { (largest / 20.0).ceil() * 20.0 };
    // Headroom above `top` for the design names and the legend.
    let y_max = top * 1.3;
    let y_ticks: Vec<f64> = (0..=5).map(|i| top * f64::from(i) / 5.0).collect();

    let root = SVGBackend::new(path, PLOT_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("CPU share per path by design", ("sans-serif", 28))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(Ticked::new(0.0..x_max, ticks.iter().map(|t| t.0).collect()), Ticked::new(0.0..y_max, y_ticks))?;
    let label_of = |v: &f64| ticks.iter().find(|t| (t.0 - v).abs() < 1e-9).map(|t| t.1.clone()).unwrap_or_default();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .x_desc("path (grouped by design)")
        .y_desc("share of one CPU")
        .x_label_formatter(&label_of)
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .draw()?;

    let heading_style = ("sans-serif", 20).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
    if groups.is_empty() {
        chart.draw_series(std::iter::once(Text::new("not measured", (x_max / 2.0, top / 2.0), heading_style)))?;
        return root.present();
    }
    chart.draw_series(headings.iter().map(|(centre, design)| Text::new(design.clone(), (*centre, top * 1.07), heading_style.clone())))?;

    let clamp = |v: f64| v.clamp(0.0, y_max);
    chart
        .draw_series(
            bars.iter()
                .filter(|b| b.1.is_finite())
                .map(|&(x, configured, _)| Rectangle::new([(x + 0.08, 0.0), (x + 0.46, clamp(configured))], CONFIGURED.filled())),
        )?
        .label("configured (budget / period)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], CONFIGURED.filled()));
    chart
        .draw_series(
            bars.iter()
                .filter(|b| b.2.is_finite())
                .map(|&(x, _, achieved)| Rectangle::new([(x + 0.54, 0.0), (x + 0.92, clamp(achieved))], ACHIEVED.filled())),
        )?
        .label("achieved")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], ACHIEVED.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()?;
    root.present()
}

/// A linear `f64` axis whose tick marks (and mesh lines) are exactly the given points.
struct Ticked {
    /// The underlying linear axis.
    linear: RangedCoordf64,
    /// Where the ticks go.
    ticks: Vec<f64>,
}

impl Ticked {
    /// An axis over `range` with ticks at `ticks`.
    fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Self { linear: range.into(), ticks }
    }
}

impl Ranged for Ticked {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold points only: no extra light mesh lines between the ticks.
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

/// The README's "## Results" section: a note that it is generated (and by
/// which command), the [`markdown`] tables, and links to the two plots in
/// `image_dir` (relative to the README, e.g. `bench-results/qemu_virt_aarch64`).
/// The README "Results" section for several boards: one subsection per
/// board, each with its tables and plots (`image_dir` relative to the README).
pub fn readme_section_for_boards(boards: &[(Results, String)]) -> String {
    let mut out = String::from("## Results\n\n");
    let _ = writeln!(
        out,
        "This section is generated by {} (once per board) and is not edited by hand.\n",
        code("cargo run -p tunnelkit -- bench --board <board> --update-readme")
    );
    if boards.len() > 1 {
        out.push_str(&side_by_side(boards));
        out.push('\n');
    }
    for (results, image_dir) in boards {
        let _ = writeln!(out, "### {}\n", results.board);
        let body = markdown(results).replace("\n### ", "\n#### ");
        let body = body.strip_prefix("### ").map(|b| format!("#### {b}")).unwrap_or(body);
        out.push_str(&body);
        let dir = image_dir.trim_end_matches('/');
        let _ =
            writeln!(out, "\n![crossings on {b}]({dir}/crossings.svg)\n\n![crosstalk on {b}]({dir}/crosstalk.svg)\n", b = results.board);
    }
    out
}

/// The headline figures of every measured board in one table, a column per
/// board (each board's own section says what its counter counts).
pub fn side_by_side(boards: &[(Results, String)]) -> String {
    let mut out = String::from(
        "### The boards side by side

",
    );
    let names: Vec<&str> = boards.iter().map(|(r, _)| r.board.as_str()).collect();
    let _ = writeln!(
        out,
        "Medians of the null round trip in counter cycles, one per instruction under icount on every board (RISC-V: its `time` CSR scaled to instructions, see its section), and the crosstalk shares.\n"
    );
    let _ = writeln!(out, "| figure | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|{}", "--:|".repeat(names.len()));
    let cell = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
    let mut row = |label: &str, f: &dyn Fn(&Results) -> Option<String>| {
        let cells: Vec<String> = boards.iter().map(|(r, _)| cell(f(r))).collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    };
    let null = |t: &'static str| move |r: &Results| null_median(&r.crossings, t).map(|v| v.to_string());
    row("raw floor (`seL4_Call` to a passive server)", &null("raw"));
    row("tunnel", &null("tunnel"));
    row("tunnel ÷ raw floor", &|r| Some(format!("{:.3}×", null_median(&r.crossings, "tunnel")? as f64 / raw_floor(&r.crossings)? as f64)));
    row("plain IPC (active server)", &null("ipc"));
    row("async (one request per notification)", &null("async"));
    for path in PATHS_SHOWN {
        row(&format!("tunnel crosstalk: {path}'s share of its configured one"), &move |r: &Results| {
            let p = r.crosstalk.iter().find(|p| p.design == "tunnel" && p.path == path)?;
            Some(format!("{:.0}%", 100.0 * p.achieved_share / p.configured_share))
        });
    }
    row("shared-server crosstalk: light path's share of its configured one (ipc)", &|r: &Results| {
        let p = r.crosstalk.iter().find(|p| p.design == "ipc" && p.path == "light")?;
        Some(format!("{:.0}%", 100.0 * p.achieved_share / p.configured_share))
    });
    out
}

/// The crosstalk paths in the side-by-side table.
const PATHS_SHOWN: [&str; 3] = ["light", "medium", "heavy"];

/// Every board measured into `<root>/bench-results/<board>/results.json`,
/// with its image directory relative to the README, in board order.
pub fn measured_boards(root: &Path) -> Result<Vec<(Results, String)>> {
    let mut boards = Vec::new();
    for b in crate::board::Board::BUILT_IN {
        let json = root.join("bench-results").join(b.name()).join("results.json");
        if let Ok(text) = fs::read_to_string(&json) {
            let results = serde_json::from_str(&text).with_context(|| format!("parsing {}", json.display()))?;
            boards.push((results, format!("bench-results/{}", b.name())));
        }
    }
    Ok(boards)
}

/// The README "Results" section for one board (see [`readme_section_for_boards`]).
pub fn readme_section(results: &Results, image_dir: &str) -> String {
    let command = format!("cargo run -p tunnelkit -- bench --board {} --out bench-results", results.board);
    let dir = image_dir.trim_end_matches('/');
    let image = |name: &str| {
        let target = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
        if target.contains(|c: char| c.is_whitespace() || c == '(' || c == ')') { format!("<{target}>") } else { target }
    };
    format!(
        "## Results\n\nThis section is generated by {} and is not edited by hand.\n\n{}\n![crossings]({})\n\n![crosstalk]({})\n",
        code(&command),
        markdown(results),
        image("crossings.svg"),
        image("crosstalk.svg")
    )
}

/// Replaces the text between the [`BEGIN_MARKER`] and [`END_MARKER`] lines
/// of `readme` (the marker lines themselves are kept) with `section`. Without
/// such a pair of lines, appends the markers and `section` at the end.
/// Applying the same section twice gives the same text as applying it once.
pub fn update_readme(readme: &str, section: &str) -> String {
    let mut block = section.to_string();
    if !block.is_empty() && !block.ends_with('\n') {
        block.push('\n');
    }
    if let Some((start, end)) = marked_region(readme) {
        return format!("{}{block}{}", &readme[..start], &readme[end..]);
    }
    let mut out = readme.to_string();
    if !out.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    let _ = write!(out, "{BEGIN_MARKER}\n{block}{END_MARKER}\n");
    out
}

/// Byte range between the end of a begin-marker line and the start of the
/// next end-marker line (taking the last begin marker before that end marker,
/// so that a stray marker does not swallow the text after it).
fn marked_region(text: &str) -> Option<(usize, usize)> {
    let mut after_begin = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        match line.trim() {
            BEGIN_MARKER => after_begin = Some(offset),
            END_MARKER => {
                if let Some(after_begin) = after_begin {
                    return Some((after_begin, start));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::bench::model::QemuInfo;

    fn crossing(transport: &str, payload_bytes: u64, lent_bytes: u64, depth: u32, median: u64) -> Crossing {
        Crossing {
            transport: transport.into(),
            payload_bytes,
            lent_bytes,
            depth,
            batch: 1,
            iterations: 1000,
            cycles: Cycles { min: median.saturating_sub(10), median, max: median.saturating_add(50) },
        }
    }

    fn share(design: &str, path: &str, configured_share: f64, achieved_share: f64) -> CrosstalkPath {
        CrosstalkPath { design: design.into(), path: path.into(), configured_share, achieved_share, completed: 42, server_share: None }
    }

    fn sample() -> Results {
        Results {
            board: "qemu_virt_aarch64".into(),
            config: "benchmark".into(),
            qemu: QemuInfo { version: "QEMU emulator version 9.2.0".into(), flags: "-machine virt -icount shift=0".into() },
            counter: None,
            crossings: vec![
                crossing("raw", 0, 0, 1, 400),
                crossing("raw", 64, 0, 1, 440),
                crossing("tunnel", 0, 0, 1, 1000),
                crossing("tunnel", 64, 0, 1, 1100),
                crossing("tunnel", 0, 0, 2, 2000),
                crossing("ipc", 0, 4096, 1, 1333),
                crossing("ipc", 0, 1024, 1, 1200),
            ],
            crosstalk: vec![
                share("tunnel", "light", 0.1, 0.098),
                share("tunnel", "heavy", 0.5, 0.49),
                share("ipc", "light", 0.1, 0.02),
                share("ipc", "heavy", 0.5, 0.8),
            ],
            light_path_latency: vec![
                Latency { design: "tunnel".into(), cycles: Cycles { min: 900, median: 1000, max: 1500 } },
                Latency { design: "ipc".into(), cycles: Cycles { min: 1000, median: 90000, max: 200000 } },
            ],
            user_mode: Vec::new(),
            split: Vec::new(),
        }
    }

    fn empty() -> Results {
        Results {
            board: String::new(),
            config: String::new(),
            qemu: QemuInfo { version: String::new(), flags: String::new() },
            counter: None,
            crossings: Vec::new(),
            crosstalk: Vec::new(),
            light_path_latency: Vec::new(),
            user_mode: Vec::new(),
            split: Vec::new(),
        }
    }

    /// A fresh directory under the system temporary directory.
    fn temp_dir(name: &str) -> PathBuf {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("tunnelkit-report-{name}-{}-{nanos}-{n}", std::process::id()))
    }

    /// Parses the SVG file at `path` and returns its trimmed text contents.
    fn svg_texts(path: &Path) -> Vec<String> {
        let text = fs::read_to_string(path).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg", "{}", path.display());
        doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).map(|t| t.trim().to_string()).collect()
    }

    #[test]
    fn boards_side_by_side_have_a_column_each() {
        let mut other = sample();
        other.board = "qemu_virt_riscv64".into();
        let t = side_by_side(&[(sample(), String::new()), (other, String::new())]);
        assert!(t.contains("| figure | qemu_virt_aarch64 | qemu_virt_riscv64 |"), "{t}");
        let tunnel = t.lines().find(|l| l.starts_with("| tunnel |")).unwrap();
        assert_eq!(tunnel.matches('|').count(), 4, "{tunnel}");
    }

    #[test]
    fn markdown_has_header_line_and_ratio_column() {
        let md = markdown(&sample());
        assert!(md.contains(
            "Board `qemu_virt_aarch64`, kernel configuration `benchmark`, QEMU `QEMU emulator version 9.2.0` \
             with flags `-machine virt -icount shift=0`."
        ));
        assert!(md.contains("| transport | payload (B) | lent (B) | depth | batch | iterations | min | median | max | × raw floor |"));
        assert!(md.contains("| raw | 0 | 0 | 1 | 1 | 1000 | 390 | 400 | 450 | 1.00 |"), "{md}");
        assert!(md.contains("| raw | 64 | 0 | 1 | 1 | 1000 | 430 | 440 | 490 | 1.10 |"), "{md}");
        assert!(md.contains("| tunnel | 0 | 0 | 1 | 1 | 1000 | 990 | 1000 | 1050 | 2.50 |"), "{md}");
        assert!(md.contains("| tunnel | 0 | 0 | 2 | 1 | 1000 | 1990 | 2000 | 2050 | 5.00 |"), "{md}");
        assert!(md.contains("| ipc | 0 | 4096 | 1 | 1 | 1000 | 1323 | 1333 | 1383 | 3.33 |"), "{md}");
        // Rows keep the input order.
        let tunnel = md.find("| tunnel | 0 | 0 | 1 |").unwrap();
        let ipc = md.find("| ipc | 0 | 4096 |").unwrap();
        assert!(tunnel < ipc);
    }

    #[test]
    fn markdown_crosstalk_and_latency_tables() {
        let md = markdown(&sample());
        assert!(md.contains("| design | service CPU | path | configured share | achieved share | deviation (pp) | completed |"));
        assert!(md.contains("| tunnel | callers' | light | 10.0% | 9.8% | -0.2 | 42 |"), "{md}");
        assert!(md.contains("| ipc | callers' | heavy | 50.0% | 80.0% | +30.0 | 42 |"), "{md}");
        assert!(md.contains("### Light-path latency under flood"));
        assert!(md.contains("| ipc | 1000 | 90000 | 200000 |"), "{md}");
        assert!(!md.contains("not measured"));
    }

    #[test]
    fn markdown_without_raw_floor_or_with_odd_values() {
        let mut results = sample();
        results.crossings.retain(|c| c.transport != "raw");
        results.crosstalk =
            vec![share("tun|nel", "light", f64::NAN, 0.5), share("ipc", "heavy", 0.5, f64::INFINITY), share("ipc", "x", 0.2, 0.2)];
        let md = markdown(&results);
        assert!(md.contains("| tunnel | 0 | 0 | 1 | 1 | 1000 | 990 | 1000 | 1050 | — |"), "{md}");
        assert!(md.contains("| tun\\|nel | callers' | light | — | 50.0% | — | 42 |"), "{md}");
        assert!(md.contains("| ipc | callers' | heavy | 50.0% | — | — | 42 |"), "{md}");
        assert!(md.contains("| ipc | callers' | x | 20.0% | 20.0% | +0.0 | 42 |"), "{md}");

        // A zero raw floor gives no ratio rather than infinity.
        let mut results = sample();
        results.crossings[0].cycles = Cycles { min: 0, median: 0, max: 0 };
        let md = markdown(&results);
        assert!(md.contains("| raw | 0 | 0 | 1 | 1 | 1000 | 0 | 0 | 0 | — |"), "{md}");
        assert!(!md.contains("inf"));
    }

    #[test]
    fn headlines_and_the_split_come_from_the_figures() {
        let mut r = empty();
        let batch = |b: u32, median: u64| Crossing { batch: b, ..crossing("async", 0, 0, 1, median) };
        r.crossings = vec![
            crossing("raw", 0, 0, 1, 747),
            crossing("tunnel", 0, 0, 1, 781),
            crossing("tunnel", 32, 0, 1, 848),
            crossing("tunnel", 64, 0, 1, 2502),
            crossing("ipc", 0, 0, 1, 2523),
            crossing("async", 0, 0, 1, 2025),
            batch(2, 1127),
            batch(4, 664),
        ];
        r.user_mode = vec![crossing("raw", 0, 0, 1, 19), crossing("tunnel", 0, 0, 1, 52)];
        r.crosstalk = vec![share("tunnel", "light", 0.1, 0.099), share("ipc", "light", 0.1, 0.011), share("ipc", "heavy", 0.6, 0.3)];
        let h = headlines(&r);
        for s in [
            "costs 781 cycles against the raw floor's 747: 1.046× (goal: at most 1.05×, met)",
            "costs 2523 (3.38×",
            "from a batch of 4 on (664 against 781 cycles)",
            "executes 52 instructions against the floor's 19, 33 more",
            "from 848 cycles at 32 B to 2502 at 64 B",
            "tunnel 0.1, ipc 30.0",
            "the least any path got is 1.1% (ipc, path light, configured 10.0%)",
        ] {
            assert!(h.contains(s), "{s:?} not in {h}");
        }
        assert_eq!(async_crossover(&r.crossings), Some((4, 664)));
        r.crossings[1].cycles.median = 800;
        assert!(headlines(&r).contains("1.071× (goal: at most 1.05×, missed)"));
        r.crossings.retain(|c| c.batch == 1);
        assert_eq!(async_crossover(&r.crossings), None);

        let part = |p: &str, c: u64, u: u64| SplitPart {
            part: p.into(),
            cycles: Cycles { min: c, median: c, max: c },
            user: Some(Cycles { min: u, median: u, max: u }),
        };
        r.split =
            vec![part("floor", 747, 19), part("client", 754, 24), part("marked", 750, 22), part("loop", 765, 36), part("server", 772, 43)];
        let md = markdown(&r);
        assert!(md.contains("| client marshalling |"), "{md}");
        assert!(md.contains("| 4 | 2 |"), "client minus marked: {md}");
        assert!(md.contains("| sum of the groups | | 779 | 48 |"), "{md}");
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("  "), "(none)");
    }

    #[test]
    fn empty_results_do_not_panic_and_still_plot() {
        let results = empty();
        let md = markdown(&results);
        assert_eq!(md.matches("not measured").count(), 3, "{md}");
        assert!(!md.contains("| transport |"));

        let dir = temp_dir("empty");
        let written = write_all(&results, &dir).unwrap();
        assert_eq!(written.svgs.len(), 2);
        for svg in &written.svgs {
            svg_texts(svg);
        }
        assert!(fs::read_to_string(&written.markdown).unwrap().contains("not measured"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn odd_values_still_plot() {
        let mut results = sample();
        results.crossings.push(crossing("a<b&c", 0, 0, 1, 0));
        results.crossings.push(crossing("big", u64::MAX, u64::MAX, 1, u64::MAX));
        results.crosstalk.push(share("x<y", "p&q", f64::NAN, f64::INFINITY));
        results.crosstalk.push(share("x<y", "neg", -1.0, 1e300));
        let dir = temp_dir("odd");
        let written = write_all(&results, &dir).unwrap();
        for svg in &written.svgs {
            svg_texts(svg);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn write_all_writes_everything_and_json_round_trips() {
        let results = sample();
        let dir = temp_dir("sample");
        let written = write_all(&results, &dir).unwrap();
        assert_eq!(written.json, dir.join("results.json"));
        assert_eq!(written.markdown, dir.join("results.md"));
        assert_eq!(written.svgs, vec![dir.join("crossings.svg"), dir.join("crosstalk.svg")]);

        let json = fs::read_to_string(&written.json).unwrap();
        let back: Results = serde_json::from_str(&json).unwrap();
        assert_eq!(back, results);
        assert_eq!(fs::read_to_string(&written.markdown).unwrap(), markdown(&results));

        for svg in &written.svgs {
            svg_texts(svg);
        }
        let crossings = svg_texts(&written.svgs[0]);
        for text in ["Cost per crossing (median cycles)", "raw", "tunnel", "ipc", "payload bytes each way", "bytes lent"] {
            assert!(crossings.iter().any(|t| t == text), "{text} missing from {crossings:?}");
        }
        let crosstalk = svg_texts(&written.svgs[1]);
        for text in ["CPU share per path by design", "tunnel", "ipc", "light", "heavy", "100%", "achieved"] {
            assert!(crosstalk.iter().any(|t| t == text), "{text} missing from {crosstalk:?}");
        }
        assert!(fs::read_to_string(&written.svgs[1]).unwrap().contains("<rect"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn readme_section_links_images() {
        let section = readme_section(&sample(), "bench-results/qemu_virt_aarch64/");
        assert!(section.starts_with("## Results\n"));
        assert!(section.contains("`cargo run -p tunnelkit -- bench --board qemu_virt_aarch64 --out bench-results`"));
        assert!(section.contains("not edited by hand"));
        assert!(section.contains(&markdown(&sample())));
        assert!(section.contains("![crossings](bench-results/qemu_virt_aarch64/crossings.svg)"));
        assert!(section.contains("![crosstalk](bench-results/qemu_virt_aarch64/crosstalk.svg)"));
        assert!(readme_section(&sample(), "").contains("![crossings](crossings.svg)"));
        assert!(readme_section(&sample(), "my dir").contains("![crossings](<my dir/crossings.svg>)"));
    }

    #[test]
    fn update_readme_replaces_between_markers() {
        let readme = format!("# Title\n\nIntro.\n\n{BEGIN_MARKER}\nold stuff\nmore old\n{END_MARKER}\n\n## After\n");
        let updated = update_readme(&readme, "## Results\n\nnew");
        assert_eq!(updated, format!("# Title\n\nIntro.\n\n{BEGIN_MARKER}\n## Results\n\nnew\n{END_MARKER}\n\n## After\n"));
        assert_eq!(update_readme(&updated, "## Results\n\nnew"), updated);
        // Replacing again with a different section leaves only the new one.
        let other = update_readme(&updated, "other\n");
        assert_eq!(other, format!("# Title\n\nIntro.\n\n{BEGIN_MARKER}\nother\n{END_MARKER}\n\n## After\n"));
    }

    #[test]
    fn update_readme_appends_without_markers() {
        let readme = "# Title\n\nNo results yet.";
        let updated = update_readme(readme, "## Results\n");
        assert_eq!(updated, format!("# Title\n\nNo results yet.\n\n{BEGIN_MARKER}\n## Results\n{END_MARKER}\n"));
        assert_eq!(update_readme(&updated, "## Results\n"), updated);
        assert_eq!(update_readme("", "x"), format!("{BEGIN_MARKER}\nx\n{END_MARKER}\n"));

        // A stray begin marker without an end does not swallow the text after it.
        let stray = format!("{BEGIN_MARKER}\nkeep me\n");
        let updated = update_readme(&stray, "s\n");
        assert!(updated.contains("keep me"));
        assert_eq!(update_readme(&updated, "s\n"), updated);
        assert!(update_readme(&updated, "t\n").contains("keep me"));
    }

    #[test]
    fn update_readme_with_real_section_is_idempotent() {
        let section = readme_section(&sample(), "bench-results/qemu_virt_aarch64");
        let once = update_readme("# tunnelkit\n", &section);
        let twice = update_readme(&once, &section);
        assert_eq!(once, twice);
        assert!(once.contains(&section));
    }
}
