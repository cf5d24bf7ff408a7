//! A spinner: an active PD that never blocks, so its core is never idle and
//! enters the kernel at every budget expiry (the control experiment of
//! docs/smp.md: with it, a pod stranded on this core's ready queue runs at
//! the next expiry instead of never).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tunnelkit_runtime::raw_protection_domain;

raw_protection_domain!(main);

fn main() -> ! {
    let mut x: u64 = 0;
    loop {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}
