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

/// A Microkit board and the facts about it a PD needs: the three boards
/// tunnelkit boots in QEMU are built in ([`Board::BUILT_IN`]); the host tool
/// reads any other board's facts from the SDK (`board/<board>/<config>/`)
/// and hands them to the PD build (`TUNNELKIT_BOARD_FACTS`, see
/// `tunnelkit-sys`'s build script).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    name: &'static str,
    arch: Arch,
    vspace_user_top: u64,
    timer_hz: Option<u64>,
    smp_cores: u32,
    hypervisor: bool,
    debug_api: bool,
}

impl Board {
    /// QEMU `virt`, Cortex-A53, 40-bit PA, seL4 in hypervisor mode.
    pub const QEMU_VIRT_AARCH64: Board = Board::new("qemu_virt_aarch64", Arch::Aarch64, 0xFF_FFFF_FFFF, None, 4, true, true);
    /// Generic x86_64 PC without VT-x.
    pub const X86_64_GENERIC: Board = Board::new("x86_64_generic", Arch::X86_64, 0x7FFF_FFFF_EFFF, None, 16, false, true);
    /// QEMU `virt`, RV64GC, Sv39, booted by QEMU's OpenSBI; `time` at 10 MHz.
    pub const QEMU_VIRT_RISCV64: Board = Board::new("qemu_virt_riscv64", Arch::Riscv64, 0x3F_FFFF_EFFF, Some(10_000_000), 4, false, false);

    /// The boards whose facts tunnelkit carries: the ones it boots in QEMU,
    /// tests and benchmarks on.
    pub const BUILT_IN: [Board; 3] = [Board::QEMU_VIRT_AARCH64, Board::X86_64_GENERIC, Board::QEMU_VIRT_RISCV64];

    /// A board from its facts: its microkit name, architecture,
    /// `seL4_UserVSpaceTop` (`address_space_constants.json`), the rate of the
    /// `time` CSR on RISC-V (the kernel's `TIMER_FREQUENCY`; `None`
    /// elsewhere), the cores of its smp kernels (`MAX_NUM_NODES`), whether
    /// its kernel is a hypervisor (`ARM_HYPERVISOR_SUPPORT`, `VTX`) and
    /// whether its debug kernel has the hardware debug API
    /// (`HARDWARE_DEBUG_API`: on ARM and x86 but not every platform).
    pub const fn new(
        name: &'static str,
        arch: Arch,
        vspace_user_top: u64,
        timer_hz: Option<u64>,
        smp_cores: u32,
        hypervisor: bool,
        debug_api: bool,
    ) -> Board {
        Board { name, arch, vspace_user_top, timer_hz, smp_cores, hypervisor, debug_api }
    }

    /// Whether the board's kernel is built as a hypervisor: EL2 on AArch64
    /// (`ARM_HYPERVISOR_SUPPORT`), VT-x on x86 (`VTX`, which moves the
    /// I/O port invocation labels).
    pub const fn hypervisor(self) -> bool {
        self.hypervisor
    }

    /// The board's name as the microkit tool spells it.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// Looks a built-in board up by its microkit name (any other board's
    /// facts come from the SDK).
    pub fn from_name(name: &str) -> Option<Board> {
        Self::BUILT_IN.into_iter().find(|b| b.name() == name)
    }

    /// Whether `self` and `other` have the same facts (in constants, where
    /// `==` cannot be called).
    pub const fn same_facts(self, other: Board) -> bool {
        let (a, b) = (self.name.as_bytes(), other.name.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        let same_hz = match (self.timer_hz, other.timer_hz) {
            (Some(a), Some(b)) => a == b,
            (None, None) => true,
            _ => false,
        };
        self.arch as u8 == other.arch as u8
            && self.vspace_user_top == other.vspace_user_top
            && same_hz
            && self.smp_cores == other.smp_cores
            && self.hypervisor == other.hypervisor
            && self.debug_api == other.debug_api
    }

    /// Whether this is one of [`Board::BUILT_IN`].
    pub fn is_built_in(self) -> bool {
        Self::from_name(self.name) == Some(self)
    }

    /// The board's architecture.
    pub const fn arch(self) -> Arch {
        self.arch
    }

    /// `seL4_UserVSpaceTop` (the SDK's `address_space_constants.json`
    /// `vspace_user_top`).
    pub const fn vspace_user_top(self) -> u64 {
        self.vspace_user_top
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
        self.timer_hz
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
        self.smp_cores
    }

    /// `CONFIG_HARDWARE_DEBUG_API` of `config`'s kernel on this board: the
    /// debug configs on ARM and x86 where the platform has it (not zcu102,
    /// for one); seL4 has none on RISC-V.
    pub const fn has_hardware_debug_api(self, config: KernelConfig) -> bool {
        config.has_hardware_debug_api() && self.debug_api
    }

    /// Whether QEMU may boot this board's smp kernel with fewer cores than
    /// [`Board::cores`] (x86 counts the CPUs it finds; the ARM kernel waits
    /// for every core its configuration names).
    pub const fn cores_are_a_choice(self) -> bool {
        matches!(self.arch, Arch::X86_64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipc_buffer_and_stack_match_microkit_layout() {
        assert_eq!(Board::QEMU_VIRT_AARCH64.ipc_buffer_addr(), 0xFF_FFFF_F000);
        assert_eq!(Board::QEMU_VIRT_AARCH64.stack_top(), 0xFF_FFFF_E000);
        assert_eq!(Board::X86_64_GENERIC.ipc_buffer_addr(), 0x7FFF_FFFF_E000);
        assert_eq!(Board::X86_64_GENERIC.stack_top(), 0x7FFF_FFFF_D000);
        assert_eq!(Board::QEMU_VIRT_RISCV64.ipc_buffer_addr(), 0x3F_FFFF_E000);
        assert_eq!(Board::QEMU_VIRT_RISCV64.stack_top(), 0x3F_FFFF_D000);
    }

    #[test]
    fn names_round_trip() {
        for b in Board::BUILT_IN {
            assert_eq!(Board::from_name(b.name()), Some(b));
        }
        for c in KernelConfig::ALL {
            assert_eq!(KernelConfig::from_name(c.name()), Some(c));
        }
        assert_eq!(Board::from_name("qemu_virt_aarch64_el1"), None);
    }
}
