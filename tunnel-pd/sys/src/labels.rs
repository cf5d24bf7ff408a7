//! seL4 invocation labels (the message label that selects a kernel-object
//! method), for each architecture and Microkit kernel configuration.
//!
//! Labels are positions in seL4's interface XML files; methods whose config
//! condition is false take no number. In Microkit's `debug` config
//! `CONFIG_HARDWARE_DEBUG_API` adds four TCB methods after
//! `TCBUnbindNotification` on ARM and x86 (seL4 has no hardware debug API on
//! RISC-V), so every label from `TCBSetTLSBase` (16) onward is 4 higher than
//! in `release` / `benchmark`. A test checks every value here
//! against the SDK's `invocations_all.json` when `MICROKIT_SDK` is set.

use crate::board::{Arch, Board, KernelConfig};

/// Labels `CONFIG_VTX` inserts before the x86 I/O port methods
/// (`X86PageMapEPT` and the x86_64 EPT methods).
const VTX_METHODS_BEFORE_IOPORTS: u64 = 3;

/// The invocation labels a tunnelkit PD uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvocationLabels {
    /// `TCBReadRegisters`
    pub tcb_read_registers: u64,
    /// `TCBWriteRegisters` (restart a child PD at a new PC).
    pub tcb_write_registers: u64,
    /// `TCBSetPriority`
    pub tcb_set_priority: u64,
    /// `TCBSetTimeoutEndpoint` (where a thread's timeout faults go; MCS).
    pub tcb_set_timeout_endpoint: u64,
    /// `TCBSuspend` (stop a child PD).
    pub tcb_suspend: u64,
    /// `TCBResume` (resume a child PD).
    pub tcb_resume: u64,
    /// `IRQAckIRQ` (acknowledge an IRQ).
    pub irq_ack_irq: u64,
    /// `SchedContextBind`
    pub sched_context_bind: u64,
    /// `SchedContextUnbind`
    pub sched_context_unbind: u64,
    /// `SchedContextUnbindObject`
    pub sched_context_unbind_object: u64,
    /// `SchedContextConsumed` (time consumed since the last query, in µs).
    pub sched_context_consumed: u64,
    /// `SchedContextYieldTo`
    pub sched_context_yield_to: u64,
    /// Architecture-specific labels.
    pub arch: ArchLabels,
}

/// Labels that exist on one architecture only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchLabels {
    /// AArch64 (`arm` + `aarch64` interface files).
    Aarch64 {
        /// `ARMVSpaceClean_Data`
        vspace_clean_data: u64,
        /// `ARMVSpaceInvalidate_Data`
        vspace_invalidate_data: u64,
        /// `ARMVSpaceCleanInvalidate_Data`
        vspace_clean_invalidate_data: u64,
        /// `ARMVSpaceUnify_Instruction`
        vspace_unify_instruction: u64,
    },
    /// x86_64 (`x86` + `x86_64` interface files, IOMMU on, no VT-x).
    X86_64 {
        /// `X86IOPortIn8`
        ioport_in8: u64,
        /// `X86IOPortIn16`
        ioport_in16: u64,
        /// `X86IOPortIn32`
        ioport_in32: u64,
        /// `X86IOPortOut8`
        ioport_out8: u64,
        /// `X86IOPortOut16`
        ioport_out16: u64,
        /// `X86IOPortOut32`
        ioport_out32: u64,
    },
    /// RISC-V 64 (`riscv` interface files): no method a tunnelkit PD uses
    /// (memory is coherent for devices on `qemu_virt_riscv64`).
    Riscv64,
}

/// First label moved by `CONFIG_HARDWARE_DEBUG_API` (`TCBSetTLSBase` in release).
const FIRST_SHIFTED_LABEL: u64 = 16;
/// Number of TCB methods `CONFIG_HARDWARE_DEBUG_API` inserts.
const HARDWARE_DEBUG_METHODS: u64 = 4;

/// The label of a method numbered `release` in `release`, under a config
/// with (`debug`) or without the hardware debug API.
const fn shifted(release: u64, debug: bool) -> u64 {
    if debug && release >= FIRST_SHIFTED_LABEL { release + HARDWARE_DEBUG_METHODS } else { release }
}

impl InvocationLabels {
    /// The labels of `arch` under `config`, on a kernel that is not built
    /// with VT-x (see [`InvocationLabels::for_board`]).
    pub const fn new(arch: Arch, config: KernelConfig) -> Self {
        // seL4 has no hardware debug API on RISC-V (`Board::has_hardware_debug_api`).
        Self::with_debug_api(arch, config.has_hardware_debug_api() && !matches!(arch, Arch::Riscv64))
    }

    /// The labels of `arch` with (`debug`) or without the hardware debug API.
    const fn with_debug_api(arch: Arch, debug: bool) -> Self {
        Self {
            tcb_read_registers: shifted(2, debug),
            tcb_write_registers: shifted(3, debug),
            tcb_set_priority: shifted(6, debug),
            tcb_set_timeout_endpoint: shifted(9, debug),
            tcb_suspend: shifted(12, debug),
            tcb_resume: shifted(13, debug),
            irq_ack_irq: shifted(27, debug),
            sched_context_bind: shifted(34, debug),
            sched_context_unbind: shifted(35, debug),
            sched_context_unbind_object: shifted(36, debug),
            sched_context_consumed: shifted(37, debug),
            sched_context_yield_to: shifted(38, debug),
            arch: match arch {
                Arch::Aarch64 => ArchLabels::Aarch64 {
                    vspace_clean_data: shifted(39, debug),
                    vspace_invalidate_data: shifted(40, debug),
                    vspace_clean_invalidate_data: shifted(41, debug),
                    vspace_unify_instruction: shifted(42, debug),
                },
                Arch::X86_64 => ArchLabels::X86_64 {
                    ioport_in8: shifted(54, debug),
                    ioport_in16: shifted(55, debug),
                    ioport_in32: shifted(56, debug),
                    ioport_out8: shifted(57, debug),
                    ioport_out16: shifted(58, debug),
                    ioport_out32: shifted(59, debug),
                },
                Arch::Riscv64 => ArchLabels::Riscv64,
            },
        }
    }

    /// The labels of `board`'s kernel under `config`: with the hardware
    /// debug API where the board's kernel has it, the x86 I/O port methods
    /// moved on a VT-x kernel.
    pub const fn for_board(board: Board, config: KernelConfig) -> Self {
        let mut labels = Self::with_debug_api(board.arch(), board.has_hardware_debug_api(config));
        if let (ArchLabels::X86_64 { ioport_in8, ioport_in16, ioport_in32, ioport_out8, ioport_out16, ioport_out32 }, true) =
            (labels.arch, board.hypervisor())
        {
            let v = VTX_METHODS_BEFORE_IOPORTS;
            labels.arch = ArchLabels::X86_64 {
                ioport_in8: ioport_in8 + v,
                ioport_in16: ioport_in16 + v,
                ioport_in32: ioport_in32 + v,
                ioport_out8: ioport_out8 + v,
                ioport_out16: ioport_out16 + v,
                ioport_out32: ioport_out32 + v,
            };
        }
        labels
    }

    /// Every label with the name seL4's generator gives it (the keys of the
    /// SDK's `invocations_all.json`).
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> {
        let common = [
            ("TCBReadRegisters", self.tcb_read_registers),
            ("TCBWriteRegisters", self.tcb_write_registers),
            ("TCBSetPriority", self.tcb_set_priority),
            ("TCBSetTimeoutEndpoint", self.tcb_set_timeout_endpoint),
            ("TCBSuspend", self.tcb_suspend),
            ("TCBResume", self.tcb_resume),
            ("IRQAckIRQ", self.irq_ack_irq),
            ("SchedContextBind", self.sched_context_bind),
            ("SchedContextUnbind", self.sched_context_unbind),
            ("SchedContextUnbindObject", self.sched_context_unbind_object),
            ("SchedContextConsumed", self.sched_context_consumed),
            ("SchedContextYieldTo", self.sched_context_yield_to),
        ];
        let arch: [(&'static str, u64); 6] = match self.arch {
            ArchLabels::Aarch64 { vspace_clean_data, vspace_invalidate_data, vspace_clean_invalidate_data, vspace_unify_instruction } => [
                ("ARMVSpaceClean_Data", vspace_clean_data),
                ("ARMVSpaceInvalidate_Data", vspace_invalidate_data),
                ("ARMVSpaceCleanInvalidate_Data", vspace_clean_invalidate_data),
                ("ARMVSpaceUnify_Instruction", vspace_unify_instruction),
                ("", 0),
                ("", 0),
            ],
            ArchLabels::X86_64 { ioport_in8, ioport_in16, ioport_in32, ioport_out8, ioport_out16, ioport_out32 } => [
                ("X86IOPortIn8", ioport_in8),
                ("X86IOPortIn16", ioport_in16),
                ("X86IOPortIn32", ioport_in32),
                ("X86IOPortOut8", ioport_out8),
                ("X86IOPortOut16", ioport_out16),
                ("X86IOPortOut32", ioport_out32),
            ],
            ArchLabels::Riscv64 => [("", 0); 6],
        };
        common.into_iter().chain(arch.into_iter().filter(|(n, _)| !n.is_empty()))
    }
}

/// The labels of the board and configuration this PD is built for.
pub const LABELS: InvocationLabels = InvocationLabels::for_board(crate::board::BOARD, crate::board::CONFIG);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shifts_labels_from_tcb_set_tls_base_on() {
        let rel = InvocationLabels::new(Arch::Aarch64, KernelConfig::Release);
        let dbg = InvocationLabels::new(Arch::Aarch64, KernelConfig::Debug);
        assert_eq!((rel.irq_ack_irq, dbg.irq_ack_irq), (27, 31));
        assert_eq!((rel.sched_context_consumed, dbg.sched_context_consumed), (37, 41));
        assert_eq!((rel.tcb_write_registers, dbg.tcb_write_registers), (3, 3));
        assert_eq!(
            InvocationLabels::new(Arch::X86_64, KernelConfig::Benchmark),
            InvocationLabels::new(Arch::X86_64, KernelConfig::Release)
        );
    }

    #[test]
    fn x86_ioport_labels_match_the_abi_reference() {
        let dbg = InvocationLabels::new(Arch::X86_64, KernelConfig::Debug);
        let named: std::collections::HashMap<_, _> = dbg.named().collect();
        assert_eq!(named["X86IOPortIn8"], 58);
        assert_eq!(named["X86IOPortOut32"], 63);
        assert_eq!(named.len(), 18);
    }

    #[test]
    fn riscv_debug_labels_are_not_shifted() {
        assert_eq!(InvocationLabels::new(Arch::Riscv64, KernelConfig::Debug), InvocationLabels::new(Arch::Riscv64, KernelConfig::Release));
        assert_eq!(InvocationLabels::new(Arch::Riscv64, KernelConfig::SmpDebug).sched_context_consumed, 37);
    }
}
