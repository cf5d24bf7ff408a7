//! Debug printing through the kernel console (`seL4_DebugPutChar`).
//!
//! Only the `debug` kernel configuration has a kernel console; in `release`
//! and `benchmark` these macros print nothing. Output is formatted into a
//! line buffer first and then written out, which keeps the window in which
//! another PD's output can interleave small (the kernel prints one byte per
//! system call, so it cannot be closed entirely).

use core::fmt;

/// Bytes formatted before they are written out.
const LINE: usize = 256;

struct LineBuffer {
    buf: [u8; LINE],
    len: usize,
}

impl LineBuffer {
    fn flush(&mut self) {
        #[cfg(target_os = "none")]
        for &b in &self.buf[..self.len] {
            tunnelkit_sys::syscall::debug_put_char(b);
        }
        self.len = 0;
    }
}

impl fmt::Write for LineBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == LINE {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// Writes formatted text to the kernel console. Use [`debug_print!`](crate::debug_print).
pub fn print(args: fmt::Arguments<'_>) {
    let mut line = LineBuffer { buf: [0; LINE], len: 0 };
    let _ = fmt::Write::write_fmt(&mut line, args);
    line.flush();
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
