//! Accounting (`tunnelkit run --accounting`, README "Accounting"): in a
//! build with accounting, every PD can read the accountant's summary — each
//! PD's CPU so far (its scheduling context's total, the kernel's count) —
//! e.g. to report it (the network system's stats port does). Without
//! accounting there is no summary.

/// Whether this image keeps accounting counters.
pub use tunnelkit_sys::account::ENABLED;
#[cfg(target_os = "none")]
pub use tunnelkit_sys::account::{Summary, SummaryEntry, summary};
