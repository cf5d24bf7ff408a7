//! Demo reporter: waits for a notification on every one of its channels (one
//! per client path, each sent after that client's checks passed) and then
//! prints the demo's pass line, `tunnelkit: demo passed`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tunnelkit_runtime::{PassReporter, protection_domain};

protection_domain!(init);

fn init() -> PassReporter {
    PassReporter::new("demo")
}
