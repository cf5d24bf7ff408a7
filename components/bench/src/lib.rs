//! The benchmark service: null calls, payload echoes of 1..64 words, lent
//! windows, nested calls and CPU-bound work units. One server image serves it
//! as a tunnel pod, an active IPC server or an async server.

#![no_std]
#![forbid(unsafe_code)]

use tunnelkit_tunnel::{Window, service};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Remaining depth of a nested call (1 = answer here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Depth {
    /// Pods still to cross, this one included.
    pub remaining: u64,
}

/// A batch of CPU-bound work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Units {
    /// Iterations of the work loop.
    pub n: u64,
}

/// What a work batch cost the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Done {
    /// The loop's result (so it cannot be optimised away).
    pub value: u64,
    /// Counter cycles the service spent in the loop.
    pub cycles: u64,
}

service! {
    /// The benchmark service.
    pub mod bench {
        /// Nothing in, nothing out.
        1 => fn null(()) -> ();
        /// Echo 1 word.
        11 => fn echo1([u64; 1]) -> [u64; 1];
        /// Echo 2 words.
        12 => fn echo2([u64; 2]) -> [u64; 2];
        /// Echo 4 words.
        13 => fn echo4([u64; 4]) -> [u64; 4];
        /// Echo 8 words.
        14 => fn echo8([u64; 8]) -> [u64; 8];
        /// Echo 16 words.
        15 => fn echo16([u64; 16]) -> [u64; 16];
        /// Echo 32 words.
        16 => fn echo32([u64; 32]) -> [u64; 32];
        /// Echo 64 words.
        17 => fn echo64([u64; 64]) -> [u64; 64];
        /// Sum of the words of a lent window (the callee reads every byte).
        20 => fn lent(Window) -> u64;
        /// Cross `remaining` pods: forward to the next pod until 1.
        30 => fn nested(Depth) -> ();
        /// Run a batch of work.
        40 => fn work(Units) -> Done;
    }
}

/// The work loop: `n` rounds of xorshift (about 6 instructions each).
pub fn spin(n: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 | 1;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// A span of `cycles` on the instruction-counted clock of the benchmarks
/// (`-icount shift=0`: one instruction per nanosecond), in ticks of the
/// counter this board's PDs read: the same where that counter counts
/// instructions (AArch64, x86); on RISC-V, whose PDs read the `time` CSR at
/// the kernel's timer rate, the ticks of the same virtual time
/// (`cycles × rate / 1 GHz`).
pub const fn counter_ticks(cycles: u64) -> u64 {
    match tunnelkit_runtime::BOARD.timer_hz() {
        Some(hz) => (cycles as u128 * hz as u128 / 1_000_000_000) as u64,
        None => cycles,
    }
}

/// Work loop iterations per `work` call in the multicore throughput
/// experiment (`bench-smp-worker`).
pub const THROUGHPUT_UNITS: u64 = 500_000;

/// Work loop iterations per `work` call in the crosstalk experiments (single
/// core: `bench-path`; two cores: `bench-smp-path`).
pub const CROSSTALK_UNITS: u64 = 20_000;

/// Cores the two-core crosstalk experiment spreads its paths over (one
/// starter PD per core, `starter0`, `starter1`).
pub const CROSSTALK_CORES: usize = 2;

/// The number a PD name ends with (`worker3` → 3, `starter0` → 0): how the
/// multicore benchmark PDs, which share one image, tell their slot.
pub fn index_from_name(name: &str) -> Option<usize> {
    let digits = name.len() - name.bytes().rev().take_while(u8::is_ascii_digit).count();
    name[digits..].parse().ok()
}

/// A text line carried through a shared page, for PDs that cannot print
/// themselves: on the multicore kernel only the PDs of core 0 call the
/// console pod (a passive pod called from two cores at once can hang on seL4
/// 16), so the others post their result lines to a reporter on core 0.
///
/// Layout: the line's length (an acquire/release word) at 0, its bytes from 8.
pub mod mailbox {
    /// Longest line a mailbox carries (the rest is cut).
    pub const LINE: usize = 240;

    /// A line formatted into a fixed buffer.
    pub struct Line {
        /// The bytes.
        pub buf: [u8; LINE],
        /// How many are used.
        pub len: usize,
    }

    impl Line {
        /// An empty line.
        pub const fn new() -> Self {
            Line { buf: [0; LINE], len: 0 }
        }

        /// The text (up to the first invalid byte).
        pub fn as_str(&self) -> &str {
            match core::str::from_utf8(&self.buf[..self.len]) {
                Ok(s) => s,
                Err(e) => core::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
            }
        }
    }

    impl Default for Line {
        fn default() -> Self {
            Self::new()
        }
    }

    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(LINE - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }

    /// Formats `args` into a [`Line`].
    pub fn format(args: core::fmt::Arguments<'_>) -> Line {
        let mut line = Line::new();
        let _ = core::fmt::Write::write_fmt(&mut line, args);
        line
    }

    /// Writes `line` into `region` (waits until the previous line was taken).
    #[cfg(target_os = "none")]
    pub fn post(region: &tunnelkit_runtime::SharedMemory, line: &Line) {
        while region.load_acquire_u64(0).expect("the mailbox holds a word") != 0 {
            core::hint::spin_loop();
        }
        region.write(8, &line.buf[..line.len]).expect("the mailbox holds a line");
        region.store_release_u64(0, line.len as u64).expect("the mailbox holds a word");
    }

    /// Takes the line in `region`, if there is one.
    #[cfg(target_os = "none")]
    pub fn take(region: &tunnelkit_runtime::SharedMemory) -> Option<Line> {
        let len = region.load_acquire_u64(0).ok()? as usize;
        if len == 0 {
            return None;
        }
        let mut line = Line::new();
        line.len = len.min(LINE);
        region.read(8, &mut line.buf[..line.len]).ok()?;
        region.store_release_u64(0, 0).ok()?;
        Some(line)
    }
}
