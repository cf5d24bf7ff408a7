//! The authority graph: who can pp-call or notify whom, who maps which region
//! with which permissions. Printed as DOT, or as SVG (graphviz if on PATH,
//! otherwise a simple circular layout drawn with plotters).

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use super::parse::System;

/// A PD in the graph.
#[derive(Clone, Debug)]
pub struct PdNode {
    /// Name.
    pub name: String,
    /// Priority.
    pub priority: u64,
    /// Passive.
    pub passive: bool,
    /// Budget µs.
    pub budget: u64,
    /// Period µs.
    pub period: u64,
}

/// What an edge allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// `from` may pp-call `to`.
    Pp,
    /// `from` may notify `to`.
    Notify,
}

/// One authority edge between PDs (indices into `pds`).
#[derive(Clone, Debug)]
pub struct Edge {
    /// Source PD.
    pub from: usize,
    /// Target PD.
    pub to: usize,
    /// pp or notify.
    pub kind: EdgeKind,
}

/// A mapping of a region into a PD.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// PD index.
    pub pd: usize,
    /// Region name.
    pub mr: String,
    /// Permissions.
    pub perms: String,
}

/// The whole graph.
#[derive(Clone, Debug, Default)]
pub struct AuthorityGraph {
    /// PDs.
    pub pds: Vec<PdNode>,
    /// pp / notify edges.
    pub edges: Vec<Edge>,
    /// Region mappings.
    pub maps: Vec<Mapping>,
}

impl AuthorityGraph {
    /// Builds the graph of `sys`.
    pub fn of(sys: &System) -> AuthorityGraph {
        let pds: Vec<PdNode> = sys
            .pds
            .iter()
            .map(|p| PdNode { name: p.name.clone(), priority: p.priority, passive: p.passive, budget: p.budget, period: p.period })
            .collect();
        let by_name: HashMap<&str, usize> = sys.pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
        let mut edges = Vec::new();
        for ch in sys.channels.iter().filter(|c| c.ends.len() == 2) {
            let (a, b) = (&ch.ends[0], &ch.ends[1]);
            let (Some(&ia), Some(&ib)) = (by_name.get(a.pd.as_str()), by_name.get(b.pd.as_str())) else { continue };
            for (e, from, to) in [(a, ia, ib), (b, ib, ia)] {
                if e.pp {
                    edges.push(Edge { from, to, kind: EdgeKind::Pp });
                }
                if e.notify {
                    edges.push(Edge { from, to, kind: EdgeKind::Notify });
                }
            }
        }
        let mut maps = Vec::new();
        for (i, p) in sys.pds.iter().enumerate() {
            for m in &p.maps {
                maps.push(Mapping { pd: i, mr: m.mr.clone(), perms: m.perms.clone() });
            }
        }
        AuthorityGraph { pds, edges, maps }
    }

    /// Index of the PD named `name`.
    pub fn pd(&self, name: &str) -> Option<usize> {
        self.pds.iter().position(|p| p.name == name)
    }

    /// A shortest pp/notify path from `from` to `to` avoiding `avoid`, as PD indices.
    pub fn path(&self, from: usize, to: usize, avoid: Option<usize>) -> Option<Vec<usize>> {
        let n = self.pds.len();
        let mut prev = vec![usize::MAX; n];
        let mut seen = vec![false; n];
        let mut q = VecDeque::from([from]);
        seen[from] = true;
        while let Some(v) = q.pop_front() {
            if v == to {
                let mut path = vec![to];
                let mut c = to;
                while c != from {
                    c = prev[c];
                    path.push(c);
                }
                path.reverse();
                return Some(path);
            }
            for e in self.edges.iter().filter(|e| e.from == v) {
                if !seen[e.to] && Some(e.to) != avoid {
                    seen[e.to] = true;
                    prev[e.to] = v;
                    q.push_back(e.to);
                }
            }
        }
        None
    }

    /// Renders a path with edge kinds: `a -pp-> b -notify-> c`.
    pub fn show_path(&self, path: &[usize]) -> String {
        let mut s = self.pds[path[0]].name.clone();
        for w in path.windows(2) {
            let kind = if self.edges.iter().any(|e| e.from == w[0] && e.to == w[1] && e.kind == EdgeKind::Pp) { "pp" } else { "notify" };
            s.push_str(&format!(" -{kind}-> {}", self.pds[w[1]].name));
        }
        s
    }

    /// The graph in graphviz DOT.
    pub fn dot(&self) -> String {
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut s = String::from("digraph authority {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n");
        for p in &self.pds {
            let label = if p.passive {
                format!("{}\\nprio {} (passive)", p.name, p.priority)
            } else {
                format!("{}\\nprio {} {}/{} µs", p.name, p.priority, p.budget, p.period)
            };
            let style = if p.passive { "shape=box, style=dashed" } else { "shape=box" };
            s.push_str(&format!("  {} [label=\"{}\", {style}];\n", q(&p.name), label.replace('"', "\\\"")));
        }
        let mut mrs: Vec<&str> = self.maps.iter().map(|m| m.mr.as_str()).collect();
        mrs.sort();
        mrs.dedup();
        for m in mrs {
            s.push_str(&format!("  {} [label={}, shape=ellipse, style=filled, fillcolor=\"#eeeeee\"];\n", q(&format!("mr:{m}")), q(m)));
        }
        for e in &self.edges {
            let (label, style) = match e.kind {
                EdgeKind::Pp => ("pp", "color=red, penwidth=2"),
                EdgeKind::Notify => ("notify", "color=blue, style=dashed"),
            };
            s.push_str(&format!("  {} -> {} [label=\"{label}\", {style}];\n", q(&self.pds[e.from].name), q(&self.pds[e.to].name)));
        }
        for m in &self.maps {
            s.push_str(&format!(
                "  {} -> {} [label={}, dir=none, color=gray];\n",
                q(&self.pds[m.pd].name),
                q(&format!("mr:{}", m.mr)),
                q(&m.perms)
            ));
        }
        s.push_str("}\n");
        s
    }

    /// Writes the graph to `out`: DOT, or SVG if `out` ends in `.svg`.
    pub fn write(&self, out: &Path) -> anyhow::Result<()> {
        let is_svg = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        if !is_svg {
            std::fs::write(out, self.dot())?;
            return Ok(());
        }
        if let Ok(mut child) = std::process::Command::new("dot")
            .args(["-Tsvg", "-o"])
            .arg(out)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(self.dot().as_bytes());
            }
            if child.wait().is_ok_and(|s| s.success()) {
                return Ok(());
            }
        }
        self.svg(out)
    }

    /// A simple SVG: PDs on a circle, pp (red) and notify (blue) arrows, regions listed per PD.
    pub fn svg(&self, out: &Path) -> anyhow::Result<()> {
        use plotters::prelude::*;
        let (w, h) = (900i32, 900i32);
        let root = SVGBackend::new(out, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = self.pds.len().max(1);
        let (cx, cy, r) = (w as f64 / 2.0, h as f64 / 2.0, 320.0);
        let at: Vec<(i32, i32)> = (0..self.pds.len())
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
                ((cx + r * a.cos()) as i32, (cy + r * a.sin()) as i32)
            })
            .collect();
        for e in &self.edges {
            let (a, b) = (at[e.from], at[e.to]);
            let (colour, off) = match e.kind {
                EdgeKind::Pp => (RED, 4.0),
                EdgeKind::Notify => (BLUE, -4.0),
            };
            let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ux, uy) = (dx / len, dy / len);
            let (px, py) = (-uy * off, ux * off);
            // leave the 120×44 boxes: distance from the centre to the box edge along (ux, uy)
            let m = (62.0 / ux.abs().max(1e-9)).min(24.0 / uy.abs().max(1e-9)) + 2.0;
            let s = ((a.0 as f64 + ux * m + px) as i32, (a.1 as f64 + uy * m + py) as i32);
            let t = ((b.0 as f64 - ux * m + px) as i32, (b.1 as f64 - uy * m + py) as i32);
            root.draw(&PathElement::new(vec![s, t], colour.stroke_width(2)))?;
            let head = |ang: f64| {
                let (c, si) = (ang.cos(), ang.sin());
                ((t.0 as f64 - 12.0 * (ux * c - uy * si)) as i32, (t.1 as f64 - 12.0 * (uy * c + ux * si)) as i32)
            };
            root.draw(&Polygon::new(vec![t, head(0.4), head(-0.4)], colour.filled()))?;
        }
        let font = ("sans-serif", 14).into_font();
        for (i, p) in self.pds.iter().enumerate() {
            let (x, y) = at[i];
            let style = if p.passive { ShapeStyle::from(&BLACK.mix(0.5)).stroke_width(1) } else { BLACK.stroke_width(2) };
            root.draw(&Rectangle::new([(x - 60, y - 22), (x + 60, y + 22)], style))?;
            root.draw(&Text::new(p.name.clone(), (x - 55, y - 18), font.clone()))?;
            let sub =
                if p.passive { format!("prio {} passive", p.priority) } else { format!("prio {} {}/{}", p.priority, p.budget, p.period) };
            root.draw(&Text::new(sub, (x - 55, y), ("sans-serif", 11).into_font()))?;
            let maps: Vec<String> = self.maps.iter().filter(|m| m.pd == i).map(|m| format!("{}({})", m.mr, m.perms)).collect();
            for (k, m) in maps.iter().enumerate() {
                root.draw(&Text::new(m.clone(), (x - 55, y + 26 + 12 * k as i32), ("sans-serif", 10).into_font().color(&BLACK.mix(0.6))))?;
            }
        }
        root.draw(&Text::new("red: pp call   blue: notify   (region(perms) under each PD)", (10, 10), font))?;
        root.present()?;
        Ok(())
    }
}
