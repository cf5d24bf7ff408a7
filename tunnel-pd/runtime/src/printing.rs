//! Printing: to the console pod when the system description gives this PD a
//! console channel (`tunnelkit build` gives every PD one, in every config:
//! lines stay whole), otherwise to the kernel console (`seL4_DebugPutChar`,
//! debug configs only; another PD's output can interleave a line there, as
//! the kernel prints a byte per system call). Without either, output is
//! dropped.

use core::fmt;

/// Bytes formatted before they are written out.
const LINE: usize = crate::console::CHUNK;

struct LineBuffer {
    buf: [u8; LINE],
    len: usize,
}

impl LineBuffer {
    fn flush(&mut self) {
        #[cfg(target_os = "none")]
        {
            let bytes = &self.buf[..self.len];
            match tunnelkit_sys::symbols::console_channel() {
                Some(ch) if tunnelkit_sys::symbols::pps() & (1 << ch) != 0 => crate::console::write(crate::Channel::new(ch), bytes),
                _ => bytes.iter().for_each(|&b| tunnelkit_sys::syscall::debug_put_char(b)),
            }
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

/// Writes `bytes` as they are where this PD prints (see the module doc): the
/// console pod's own way out to the kernel console in the debug configs.
pub fn write_bytes(bytes: &[u8]) {
    for part in bytes.chunks(LINE) {
        let mut line = LineBuffer { buf: [0; LINE], len: part.len() };
        line.buf[..part.len()].copy_from_slice(part);
        line.flush();
    }
}

/// Writes formatted text where this PD prints. Use [`debug_print!`](crate::debug_print).
pub fn print(args: fmt::Arguments<'_>) {
    let mut line = LineBuffer { buf: [0; LINE], len: 0 };
    let _ = fmt::Write::write_fmt(&mut line, args);
    // A traced or accounted run ends with its pass line (docs/trace.md,
    // README "Accounting").
    let ends_run = (crate::trace::ENABLED || tunnelkit_sys::account::ENABLED) && crate::trace::is_pass_line(&line.buf[..line.len]);
    line.flush();
    if ends_run {
        crate::trace::finish();
    }
}

/// Prints where this PD prints: through the console pod (every config), or
/// on the kernel console (debug configs).
#[macro_export]
macro_rules! debug_print {
    ($($arg:tt)*) => { $crate::printing::print(format_args!($($arg)*)) };
}

/// Prints a line where this PD prints (see [`debug_print!`]): whole, when
/// it prints through the console pod.
#[macro_export]
macro_rules! debug_println {
    () => { $crate::printing::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::printing::print(format_args!("{}\n", format_args!($($arg)*))) };
}
