//! `_start`: the ELF entry point. The capDL initialiser starts every PD with
//! SP = the Microkit stack top and every other register zero, so no set-up is
//! needed; AArch64 and RISC-V branch to Rust, x86_64 `call`s for SysV stack
//! alignment. RISC-V code here uses no global pointer (the linker script
//! defines no `__global_pointer$`), so `gp` needs no set-up.

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(".section .text.start, \"ax\"", ".global _start", "_start:", "    bl __tunnelkit_main", "1:  udf #0", "    b 1b",);

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(".section .text.start, \"ax\"", ".global _start", "_start:", "    call __tunnelkit_main", "1:  ud2", "    jmp 1b",);

#[cfg(target_arch = "riscv64")]
core::arch::global_asm!(".section .text.start, \"ax\"", ".global _start", "_start:", "    call __tunnelkit_main", "1:  unimp", "    j 1b",);
