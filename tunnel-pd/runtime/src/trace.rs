//! Tracing (`tunnelkit run --trace`, docs/trace.md): with the `trace`
//! feature the runtime records every tunnel-relevant event of the PD — calls
//! made and their replies, calls served and their answers, notifications
//! sent and received, starts and restarts, and in a supervisor its
//! children's faults, overruns and restarts — into the PD's trace region,
//! which the trace dumper prints at the end of the run. Without the feature
//! every recording point compiles to nothing.
//!
//! The run ends when a PD prints a pass line (`tunnelkit: <what> passed`,
//! what `tunnelkit run` passes on) or calls [`finish`].

pub use tunnelkit_sys::trace::{ENABLED, Kind, Record};

/// Ends the traced or accounted run: the dumper prints every PD's trace,
/// the accountant its final snapshot. Printing a pass line does this too;
/// call it in a system whose run ends otherwise (a custom `--pass-line`).
/// Nothing without the `trace` or `account` feature.
pub fn finish() {
    tunnelkit_sys::trace::end();
    tunnelkit_sys::account::end();
}

/// Records an event of `kind` (fields as in the dump line, docs/trace.md)
/// when tracing is compiled in; nothing otherwise. For code outside the
/// runtime that records events of its own (the supervisor's watchdog).
#[inline(always)]
pub fn record(kind: Kind, ch: u8, depth: u8, a: u32, b: u64) {
    if ENABLED {
        tunnelkit_sys::trace::record(kind, ch, depth, a, b);
    }
}

/// Records an event when tracing is compiled in; its arguments are not even
/// evaluated otherwise. (Used by the target-only event loop and channels.)
#[cfg_attr(not(target_os = "none"), allow(unused_macros))]
macro_rules! event {
    ($kind:ident, $ch:expr, $depth:expr, $a:expr, $b:expr) => {
        if tunnelkit_sys::trace::ENABLED {
            tunnelkit_sys::trace::record(tunnelkit_sys::trace::Kind::$kind, $ch, $depth, $a, $b);
        }
    };
}
#[cfg_attr(not(target_os = "none"), allow(unused_imports))]
pub(crate) use event;

/// Whether `line` is a pass line as `tunnelkit run` recognises it by
/// default: `tunnelkit: <what> passed`, not a PD's panic line.
pub(crate) fn is_pass_line(line: &[u8]) -> bool {
    let Ok(text) = core::str::from_utf8(line) else { return false };
    let text = text.trim();
    text.starts_with("tunnelkit: ") && text.ends_with(" passed") && !text.starts_with("tunnelkit: PD '")
}

#[cfg(test)]
mod tests {
    #[test]
    fn pass_lines_are_recognised_like_tunnelkit_run_does() {
        assert!(super::is_pass_line(b"tunnelkit: demo passed\n"));
        assert!(super::is_pass_line(b"tunnelkit: containment passed"));
        assert!(!super::is_pass_line(b"tunnelkit: PD 'x' passed\n"));
        assert!(!super::is_pass_line(b"client_a: pass\n"));
        assert!(!super::is_pass_line(b"tunnelkit: demo passed later\n"));
    }
}
