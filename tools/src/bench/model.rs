//! The benchmark results, as written to `results.json`.

use serde::{Deserialize, Serialize};

/// Everything one `tunnelkit bench` run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Board name (`qemu_virt_aarch64`, `x86_64_generic`).
    pub board: String,
    /// Kernel configuration (always `benchmark`).
    pub config: String,
    /// The emulator.
    pub qemu: QemuInfo,
    /// What the figures count where it is not the cycle counter under
    /// icount (RISC-V: the `time` CSR, scaled to instructions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// Cost of one crossing per transport, payload and depth.
    pub crossings: Vec<Crossing>,
    /// Work completed per path in the crosstalk experiment.
    pub crosstalk: Vec<CrosstalkPath>,
    /// Latency of the light path while the heavy path floods, per design.
    pub light_path_latency: Vec<Latency>,
    /// Null crossings counted in user mode only (AArch64: the PMU can exclude
    /// the kernel), i.e. what the runtime and tunnel code cost on both sides.
    #[serde(default)]
    pub user_mode: Vec<Crossing>,
    /// The tunnel's null crossing taken apart ([`SplitPart`]).
    #[serde(default)]
    pub split: Vec<SplitPart>,
}

/// One measurement of the crossing split: a piece of the tunnel's null round
/// trip against the rest of the raw floor (`bench-client`'s `split`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitPart {
    /// `floor` (raw client, raw server), `client` (typed tunnel client, raw
    /// server), `marked` (raw client with the nested flag, raw server),
    /// `loop` (raw client, the runtime's event loop answering directly),
    /// `server` (raw client, the bench pod's `null`).
    pub part: String,
    /// Round-trip counter cycles.
    pub cycles: Cycles,
    /// The same round trip counting user mode only (AArch64; `None` where
    /// the counter cannot exclude the kernel).
    pub user: Option<Cycles>,
}

/// QEMU version and the exact flags used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuInfo {
    /// `qemu-system-… --version`, first line.
    pub version: String,
    /// The flags, space-separated.
    pub flags: String,
}

/// Min / median / max of a sample, in counter cycles (instructions under `-icount shift=0`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cycles {
    /// Smallest sample.
    pub min: u64,
    /// Median sample.
    pub median: u64,
    /// Largest sample.
    pub max: u64,
}

impl Cycles {
    /// Each figure × `num` / `den`, rounded to the nearest.
    pub fn scaled(self, num: u64, den: u64) -> Cycles {
        let s = |v: u64| ((u128::from(v) * u128::from(num) + u128::from(den) / 2) / u128::from(den.max(1))) as u64;
        Cycles { min: s(self.min), median: s(self.median), max: s(self.max) }
    }
}

/// One measured crossing variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crossing {
    /// `raw`, `tunnel`, `ipc` or `async`.
    pub transport: String,
    /// Bytes carried in message registers each way.
    pub payload_bytes: u64,
    /// Bytes lent through a shared region (read by the callee).
    pub lent_bytes: u64,
    /// Nesting depth (1 = client → server).
    pub depth: u32,
    /// Requests per notification (async only; the figures are per request).
    #[serde(default = "one")]
    pub batch: u32,
    /// Measured calls (after warm-up).
    pub iterations: u64,
    /// Round-trip cost.
    pub cycles: Cycles,
}

/// One path of one design in the crosstalk experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrosstalkPath {
    /// `tunnel`, `ipc` or `async`.
    pub design: String,
    /// Path name (`light`, `medium`, `heavy`).
    pub path: String,
    /// Budget / period of the path, as a fraction of one CPU.
    pub configured_share: f64,
    /// CPU spent on the path's work in the shared service, as a fraction of one CPU over the window.
    pub achieved_share: f64,
    /// Work units completed in the window.
    pub completed: u64,
    /// The CPU the shared service has of its own, as a fraction of one CPU
    /// (`None`: a pod, which runs on its callers' budgets).
    #[serde(default)]
    pub server_share: Option<f64>,
}

/// Light-path latency under a flood, per design.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// `tunnel`, `ipc` or `async`.
    pub design: String,
    /// Round-trip latency of the light path's calls.
    pub cycles: Cycles,
}

fn one() -> u32 {
    1
}
