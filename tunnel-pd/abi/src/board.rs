//! Boards and kernel configurations tunnelkit supports, and the one this PD
//! is built for (chosen by `TUNNELKIT_BOARD` / `TUNNELKIT_CONFIG`, see
//! `build.rs`).

/// CPU architecture of a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// AArch64, kernel at EL2 (hypervisor build) on `qemu_virt_aarch64`.
    Aarch64,
    /// x86_64 (`pc99`, syscall/sysret, IOMMU on).
    X86_64,
    /// RV64GC, kernel in S-mode under OpenSBI, Sv39.
    Riscv64,
}

/// A Microkit board tunnelkit builds for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// QEMU `virt`, Cortex-A53, 40-bit PA, seL4 in hypervisor mode.
    QemuVirtAarch64,
    /// Generic x86_64 PC without VT-x.
    X86_64Generic,
    /// QEMU `virt`, RV64GC, Sv39, booted by QEMU's OpenSBI.
    QemuVirtRiscv64,
}

impl Board {
    /// Every supported board.
    pub const ALL: [Board; 3] = [Board::QemuVirtAarch64, Board::X86_64Generic, Board::QemuVirtRiscv64];

    /// The board's name as the microkit tool spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Board::QemuVirtAarch64 => "qemu_virt_aarch64",
            Board::X86_64Generic => "x86_64_generic",
            Board::QemuVirtRiscv64 => "qemu_virt_riscv64",
        }
    }

    /// Looks a board up by its microkit name.
    pub fn from_name(name: &str) -> Option<Board> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The board's architecture.
    pub const fn arch(self) -> Arch {
        match self {
            Board::QemuVirtAarch64 => Arch::Aarch64,
            Board::X86_64Generic => Arch::X86_64,
            Board::QemuVirtRiscv64 => Arch::Riscv64,
        }
    }

    /// `seL4_UserVSpaceTop` (the SDK's `address_space_constants.json`
    /// `vspace_user_top`).
    pub const fn vspace_user_top(self) -> u64 {
        match self {
            Board::QemuVirtAarch64 => 0xFF_FFFF_FFFF,
            Board::X86_64Generic => 0x7FFF_FFFF_EFFF,
            Board::QemuVirtRiscv64 => 0x3F_FFFF_EFFF,
        }
    }

    /// Address of the IPC buffer Microkit 2.3 maps for every PD: the highest
    /// user page.
    pub const fn ipc_buffer_addr(self) -> u64 {
        self.vspace_user_top() & !0xFFF
    }

    /// The rate of the platform timer a PD reads as its clock, where the
    /// PD cannot read it from the hardware: RISC-V's `time` CSR (the
    /// kernel's `TIMER_FREQUENCY`, 10 MHz on QEMU `virt`). `None`: AArch64
    /// reads `CNTFRQ_EL0`; the x86 TSC's rate is measured.
    pub const fn timer_hz(self) -> Option<u64> {
        match self {
            Board::QemuVirtRiscv64 => Some(10_000_000),
            Board::QemuVirtAarch64 | Board::X86_64Generic => None,
        }
    }

    /// Initial stack pointer of every PD (one guard page below the IPC buffer).
    pub const fn stack_top(self) -> u64 {
        self.ipc_buffer_addr() - 0x1000
    }
}

/// A Microkit kernel configuration: one of the three single-core ones or its
/// multicore (`smp-`) twin, which Microkit 2.3 builds with
/// `KernelMaxNumNodes` = the board's core count and one scheduling domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelConfig {
    /// Debug kernel: printing, debug syscalls, hardware debug API.
    Debug,
    /// Release kernel: no printing, no debug syscalls.
    Release,
    /// Release kernel plus utilisation tracking and the PMU exported to user.
    Benchmark,
    /// `debug` on every core of the board.
    SmpDebug,
    /// `release` on every core of the board.
    SmpRelease,
    /// `benchmark` on every core of the board.
    SmpBenchmark,
}

impl KernelConfig {
    /// Every supported configuration.
    pub const ALL: [KernelConfig; 6] = [
        KernelConfig::Debug,
        KernelConfig::Release,
        KernelConfig::Benchmark,
        KernelConfig::SmpDebug,
        KernelConfig::SmpRelease,
        KernelConfig::SmpBenchmark,
    ];

    /// The name as the microkit tool spells it.
    pub const fn name(self) -> &'static str {
        match self {
            KernelConfig::Debug => "debug",
            KernelConfig::Release => "release",
            KernelConfig::Benchmark => "benchmark",
            KernelConfig::SmpDebug => "smp-debug",
            KernelConfig::SmpRelease => "smp-release",
            KernelConfig::SmpBenchmark => "smp-benchmark",
        }
    }

    /// Looks a configuration up by name.
    pub fn from_name(name: &str) -> Option<KernelConfig> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// `CONFIG_ENABLE_SMP_SUPPORT`: a multicore kernel.
    pub const fn is_smp(self) -> bool {
        matches!(self, KernelConfig::SmpDebug | KernelConfig::SmpRelease | KernelConfig::SmpBenchmark)
    }

    /// The single-core configuration with the same kernel options.
    pub const fn base(self) -> KernelConfig {
        match self {
            KernelConfig::Debug | KernelConfig::SmpDebug => KernelConfig::Debug,
            KernelConfig::Release | KernelConfig::SmpRelease => KernelConfig::Release,
            KernelConfig::Benchmark | KernelConfig::SmpBenchmark => KernelConfig::Benchmark,
        }
    }

    /// The multicore twin of this configuration.
    pub const fn smp(self) -> KernelConfig {
        match self.base() {
            KernelConfig::Debug => KernelConfig::SmpDebug,
            KernelConfig::Release => KernelConfig::SmpRelease,
            _ => KernelConfig::SmpBenchmark,
        }
    }

    /// `CONFIG_PRINTING`: `seL4_DebugPutChar` exists.
    pub const fn has_printing(self) -> bool {
        matches!(self.base(), KernelConfig::Debug)
    }

    /// `CONFIG_HARDWARE_DEBUG_API` where the architecture has it (see
    /// [`Board::has_hardware_debug_api`]): four extra TCB invocations shift
    /// later labels.
    pub const fn has_hardware_debug_api(self) -> bool {
        matches!(self.base(), KernelConfig::Debug)
    }

    /// `CONFIG_ENABLE_BENCHMARKS`: benchmark syscalls, and Microkit gives each PD
    /// its own TCB cap in slot 6.
    pub const fn has_benchmarks(self) -> bool {
        matches!(self.base(), KernelConfig::Benchmark)
    }
}

impl Board {
    /// `CONFIG_MAX_NUM_NODES` of `config`'s kernel for this board: the cores
    /// a PD's `cpu` may name (Microkit 2.3: 4 on qemu_virt_aarch64 and
    /// qemu_virt_riscv64, 16 on x86_64_generic in the smp configs; 1
    /// otherwise).
    pub const fn cores(self, config: KernelConfig) -> u32 {
        if !config.is_smp() {
            return 1;
        }
        match self {
            Board::QemuVirtAarch64 | Board::QemuVirtRiscv64 => 4,
            Board::X86_64Generic => 16,
        }
    }

    /// `CONFIG_HARDWARE_DEBUG_API` of `config`'s kernel on this board: the
    /// debug configs on ARM and x86; seL4 has none on RISC-V.
    pub const fn has_hardware_debug_api(self, config: KernelConfig) -> bool {
        config.has_hardware_debug_api() && !matches!(self.arch(), Arch::Riscv64)
    }

    /// Whether QEMU may boot this board's smp kernel with fewer cores than
    /// [`Board::cores`] (x86 counts the CPUs it finds; the ARM kernel waits
    /// for every core its configuration names).
    pub const fn cores_are_a_choice(self) -> bool {
        matches!(self, Board::X86_64Generic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipc_buffer_and_stack_match_microkit_layout() {
        assert_eq!(Board::QemuVirtAarch64.ipc_buffer_addr(), 0xFF_FFFF_F000);
        assert_eq!(Board::QemuVirtAarch64.stack_top(), 0xFF_FFFF_E000);
        assert_eq!(Board::X86_64Generic.ipc_buffer_addr(), 0x7FFF_FFFF_E000);
        assert_eq!(Board::X86_64Generic.stack_top(), 0x7FFF_FFFF_D000);
        assert_eq!(Board::QemuVirtRiscv64.ipc_buffer_addr(), 0x3F_FFFF_E000);
        assert_eq!(Board::QemuVirtRiscv64.stack_top(), 0x3F_FFFF_D000);
    }

    #[test]
    fn names_round_trip() {
        for b in Board::ALL {
            assert_eq!(Board::from_name(b.name()), Some(b));
        }
        for c in KernelConfig::ALL {
            assert_eq!(KernelConfig::from_name(c.name()), Some(c));
        }
        assert_eq!(Board::from_name("qemu_virt_aarch64_el1"), None);
    }
}
