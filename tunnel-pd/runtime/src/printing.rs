//! Debug printing through the kernel console (`seL4_DebugPutChar`).
//!
//! Only the `debug` kernel configuration has a kernel console; in `release`
//! and `benchmark` these macros print nothing.

use core::fmt;

struct KernelConsole;

impl fmt::Write for KernelConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        #[cfg(target_os = "none")]
        for b in s.bytes() {
            tunnelkit_sys::syscall::debug_put_char(b);
        }
        #[cfg(not(target_os = "none"))]
        let _ = s;
        Ok(())
    }
}

/// Writes formatted text to the kernel console. Use [`debug_print!`](crate::debug_print).
pub fn print(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut KernelConsole, args);
}

/// Prints to the kernel console (debug config only).
#[macro_export]
macro_rules! debug_print {
    ($($arg:tt)*) => { $crate::printing::print(format_args!($($arg)*)) };
}

/// Prints a line to the kernel console (debug config only).
#[macro_export]
macro_rules! debug_println {
    () => { $crate::printing::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::printing::print(format_args!("{}\n", format_args!($($arg)*))) };
}
